"""The Unsloth import order cannot go wrong: SR-GRPO subclasses whatever TRL's GRPOTrainer is after Unsloth.

Unsloth itself needs a CUDA GPU, so these tests stand in a small fake ``unsloth`` package that does
what the real one does to TRL at import (rebinds ``GRPOTrainer`` to a rewritten subclass) and run
each scenario in a fresh interpreter.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from conftest import subprocess_env

FAKE_UNSLOTH = textwrap.dedent(
    """
    import trl, trl.trainer, trl.trainer.grpo_trainer as gt, trl.trainer.grpo_config as gc
    class UnslothGRPOTrainer(gt.GRPOTrainer):
        pass
    class UnslothGRPOConfig(gc.GRPOConfig):
        pass
    for mod in (trl, trl.trainer, gt):
        mod.GRPOTrainer = UnslothGRPOTrainer
    for mod in (trl, trl.trainer, gc):
        mod.GRPOConfig = UnslothGRPOConfig
    """
)


def run_scenario(tmp_path, code: str, **env) -> str:
    pkg = tmp_path / "fake" / "unsloth"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(FAKE_UNSLOTH)
    e = subprocess_env(**env)
    e["PYTHONPATH"] = f"{tmp_path / 'fake'}:{e['PYTHONPATH']}"
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=e, capture_output=True, text=True,
                          timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_user_imported_unsloth_first(tmp_path):
    out = run_scenario(tmp_path, """
        import unsloth
        from trl import GRPOTrainer
        import srgrpo
        print(next(c for c in srgrpo.SRGRPOTrainer.__mro__[1:] if not c.__module__.startswith("srgrpo")).__name__, srgrpo.SRGRPOConfig.__mro__[1].__name__)
    """)
    assert out.split() == ["UnslothGRPOTrainer", "UnslothGRPOConfig"]


def test_srgrpo_imports_unsloth_itself_when_a_gpu_is_there(tmp_path):
    # The user imports TRL first, the classic mistake; srgrpo still puts Unsloth underneath.
    out = run_scenario(tmp_path, """
        from trl import GRPOTrainer
        import torch
        torch.cuda.is_available = lambda: True
        import sys, srgrpo
        from srgrpo.models.unsloth_compat import unsloth_active
        base = next(c for c in srgrpo.SRGRPOTrainer.__mro__[1:] if not c.__module__.startswith("srgrpo")).__name__
        print("unsloth" in sys.modules, base, unsloth_active())
    """, SRGRPO_DISABLE_UNSLOTH="")
    assert out.split() == ["True", "UnslothGRPOTrainer", "True"]


@pytest.mark.parametrize("disable, gpu", [("1", True), ("", False)])
def test_unsloth_left_alone_on_cpu_or_when_disabled(tmp_path, disable, gpu):
    # A faked GPU on a CPU build of torch: bitsandbytes (installed with the test extra) would load its CUDA back end
    # at import and fail, so the child does without it, as a machine without bitsandbytes does.
    out = run_scenario(tmp_path, f"""
        import sys
        sys.modules["bitsandbytes"] = None
        import torch
        torch.cuda.is_available = lambda: {gpu}
        import srgrpo
        base = next(c for c in srgrpo.SRGRPOTrainer.__mro__[1:] if not c.__module__.startswith("srgrpo")).__name__
        print("unsloth" in sys.modules, base)
    """, SRGRPO_DISABLE_UNSLOTH=disable)
    assert out.split() == ["False", "GRPOTrainer"]


def test_plain_models_left_alone_without_unsloth(tiny_dir):
    from srgrpo.models.tiny import load_tiny
    from srgrpo.models.unsloth_compat import ensure_unsloth_model_methods

    model, _ = load_tiny(tiny_dir)
    assert ensure_unsloth_model_methods(model) is False
    assert not hasattr(model, "for_training") and not hasattr(model, "for_inference")
    assert ensure_unsloth_model_methods("Qwen/Qwen2.5-1.5B-Instruct") is False  # a name: TRL loads it itself


def test_a_moved_for_training_is_named(tmp_path):
    # Under an "Unsloth" whose FastBaseModel is not where 2026.10.9 had it, the kit says which internal moved.
    # (The real binding is exercised by tests/test_unsloth.py in the Unsloth environment.)
    out = run_scenario(tmp_path, """
        import unsloth
        from srgrpo.models.tiny import load_tiny, tiny_model_dir
        from srgrpo.models.unsloth_compat import ensure_unsloth_model_methods
        model, _ = load_tiny(tiny_model_dir())
        try:
            ensure_unsloth_model_methods(model)
        except RuntimeError as exc:
            print(exc)
    """)
    assert "Unsloth internal moved: unsloth.models.vision.FastBaseModel.for_training" in out
