"""Unsloth's real rewrite of TRL's GRPOTrainer, applied on a CPU: the one place the ``unsloth`` tests do it.

Unsloth rewrites TRL at ``import unsloth`` on a CUDA machine only. On a CPU it has its own switch for CPU-only CI,
``UNSLOTH_ALLOW_CPU=1`` (its source calls it a CUDA-shaped test spoof): the GPU import path runs, but the two calls
that rewrite TRL return early. :func:`apply_rewrite` imports Unsloth that way and then makes those two calls itself
with the switch briefly off, exactly as the GPU import makes them (read from Unsloth's source; the notes are not part of the repository).

The rewrite is process-wide (it rebinds ``trl.GRPOTrainer``), so it is only ever applied in a child interpreter:
:func:`run_child` (the test side) starts one with ``SRGRPO_DISABLE_UNSLOTH`` cleared, one thread, offline, and with
this folder importable; the child calls :func:`apply_rewrite` before importing the kit.

Every Unsloth internal the tests and the kit rely on is named in :data:`INTERNALS`. When one moves in a new Unsloth
release, the failure says which (:class:`UnslothInternalMoved`), so a version bump is a short fix.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

#: The Unsloth internals these tests (and the kit, for for_training/for_inference) rely on, and what each is for.
INTERNALS = {
    "UNSLOTH_ALLOW_CPU": "environment switch: Unsloth's GPU import path on a CPU (its CPU-only CI spoof)",
    "unsloth.models.rl.PatchFastRL": "rewrites TRL's trainers as text and rebinds trl.GRPOTrainer",
    "unsloth.trainer._patch_trl_trainer": "the second call of Unsloth's GPU import (config / trainer wrappers)",
    "UNSLOTH_COMPILE_LOCATION": "environment variable: where the generated trainer source is written",
    "unsloth.models.vision.FastBaseModel.for_training/for_inference": "bound onto models Unsloth did not load "
    "(srgrpo.models.unsloth_compat.ensure_unsloth_model_methods)",
    "grpo_accumulated_loss in UnslothGRPOTrainer.compute_loss.__globals__": "unsloth_zoo's loss, which receives "
    "the advantages (wrapped by the tests to read them)",
    "GRPOTrainer._calculate_rewards called by the rewritten _generate_and_score_completions": "where SRGRPOTrainer "
    "reads the rewards",
    "GRPOTrainer._tokenize_prompts called by the rewritten trainer": "where SRGRPOTrainer truncates prompts",
}


class UnslothInternalMoved(RuntimeError):
    """An Unsloth internal that the kit or its tests rely on is not where Unsloth 2026.10.9 had it."""

    def __init__(self, internal: str, detail: str):
        super().__init__(
            f"Unsloth internal moved: {internal} ({INTERNALS.get(internal, 'see tests/unsloth_support.py')}): "
            f"{detail}. Installed: unsloth {_version('unsloth')}, unsloth_zoo {_version('unsloth_zoo')}, "
            f"trl {_version('trl')}; pinned set: requirements/colab-unsloth.txt."
        )
        self.internal = internal


def _version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return "not installed"


def unsloth_installed() -> bool:
    return importlib.util.find_spec("unsloth") is not None


def _internal(module: str, name: str):
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise UnslothInternalMoved(f"{module}.{name}", f"{type(exc).__name__}: {exc}") from exc


def apply_rewrite(compile_dir: str | os.PathLike) -> type:
    """In THIS (child) process: import Unsloth on the CPU and apply its real rewrite of TRL's trainers.

    Returns the class ``trl.trainer.grpo_trainer.GRPOTrainer`` is bound to afterwards (Unsloth's trainer). Must run
    before the kit is imported, like ``import unsloth`` on a GPU.
    """
    os.environ.pop("SRGRPO_DISABLE_UNSLOTH", None)
    os.environ["UNSLOTH_COMPILE_LOCATION"] = str(compile_dir)
    os.environ["UNSLOTH_ALLOW_CPU"] = "1"
    import unsloth  # noqa: F401  (with the switch on: the GPU import path, no rewrite yet)

    patch_fast_rl = _internal("unsloth.models.rl", "PatchFastRL")
    patch_trl_trainer = _internal("unsloth.trainer", "_patch_trl_trainer")
    os.environ["UNSLOTH_ALLOW_CPU"] = "0"
    try:
        patch_fast_rl()
        patch_trl_trainer()
    finally:
        os.environ["UNSLOTH_ALLOW_CPU"] = "1"

    import trl
    import trl.trainer
    from trl.trainer import grpo_trainer

    cls = grpo_trainer.GRPOTrainer
    if "unsloth" not in cls.__name__.lower():
        raise UnslothInternalMoved(
            "unsloth.models.rl.PatchFastRL",
            f"it ran, but trl.trainer.grpo_trainer.GRPOTrainer is still {cls.__module__}.{cls.__name__}: "
            "Unsloth no longer rewrites GRPOTrainer this way (or UNSLOTH_ALLOW_CPU now blocks it)",
        )
    for where in (trl, trl.trainer):
        if where.GRPOTrainer is not cls:
            raise UnslothInternalMoved(
                "unsloth.models.rl.PatchFastRL", f"{where.__name__}.GRPOTrainer was not rebound to {cls.__name__}"
            )
    generated = list(Path(compile_dir).rglob("*GRPOTrainer*.py"))
    if not generated:
        raise UnslothInternalMoved(
            "UNSLOTH_COMPILE_LOCATION", f"no generated GRPOTrainer source was written under {compile_dir}"
        )
    return cls


def wrap_loss(trainer_cls: type, record) -> None:
    """Wrap unsloth_zoo's ``grpo_accumulated_loss`` where Unsloth's replaced ``compute_loss`` looks it up, so that
    ``record(kwargs)`` sees every call's arguments (``input_ids``, ``logits_to_keep``, ``completion_mask``,
    ``attention_mask``, ``advantages``) before the real loss runs."""
    internal = "grpo_accumulated_loss in UnslothGRPOTrainer.compute_loss.__globals__"
    compute_loss = getattr(trainer_cls, "compute_loss", None)
    namespace = getattr(compute_loss, "__globals__", {})
    if "unsloth" not in str(namespace.get("__name__", "")).lower() and "unsloth" not in str(
        namespace.get("__file__", "")
    ).lower():
        raise UnslothInternalMoved(
            internal, f"compute_loss comes from {namespace.get('__name__')!r}, not from Unsloth's generated trainer"
        )
    original = namespace.get("grpo_accumulated_loss")
    if original is None:
        raise UnslothInternalMoved(internal, "the name is not in the generated trainer's globals")

    def probe(*args, **kwargs):
        if args:
            raise UnslothInternalMoved(internal, "compute_loss now passes positional arguments to it")
        record(kwargs)
        return original(*args, **kwargs)

    namespace["grpo_accumulated_loss"] = probe


def loss_rows(kwargs) -> list[tuple[tuple, tuple, float]]:
    """(prompt ids, completion ids, advantage) of every row one ``grpo_accumulated_loss`` call received."""
    missing = [k for k in ("input_ids", "logits_to_keep", "completion_mask", "attention_mask", "advantages")
               if k not in kwargs]
    if missing:
        raise UnslothInternalMoved("grpo_accumulated_loss in UnslothGRPOTrainer.compute_loss.__globals__",
                                   f"it is no longer given {missing}")
    ids, keep = kwargs["input_ids"], int(kwargs["logits_to_keep"])
    att, cmask, adv = kwargs["attention_mask"], kwargs["completion_mask"], kwargs["advantages"]
    rows = []
    for i in range(ids.shape[0]):
        prompt = ids[i, :-keep][att[i, :-keep].bool()].tolist()
        completion = ids[i, -keep:][cmask[i].bool()].tolist()
        a = adv[i]
        rows.append((tuple(prompt), tuple(completion), float(a.flatten()[0] if a.dim() else a)))
    return rows


# -- the parent (test) side ------------------------------------------------------------------------------------


def child_env(tmp: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("SRGRPO_DISABLE_UNSLOTH", None)  # the repo's conftest sets it; the child must see Unsloth
    env.update({
        "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "tests")]),
        "CUDA_VISIBLE_DEVICES": "",
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "PYTHONUNBUFFERED": "1",
        "TMPDIR": str(tmp),
        "UNSLOTH_COMPILE_LOCATION": str(tmp / "unsloth_compiled_cache"),
        # torch 2.13 reads the variable CI to turn a deprecation warning (a custom op returning an aliased output)
        # into an error (torch._functorch.config.error_on_custom_op_aliasing). Its own inductor op alloc_from_pool
        # trips it when compiling unsloth_zoo's patched causal mask (beta > 0 runs), so under CI=true, as the
        # project's CI runs, the rewrite failed where a user's machine only warns. Keep the user's behaviour.
        "TORCHINDUCTOR_ERROR_ON_CUSTOM_OP_ALIASING": "0",
    })
    return env


def run_child(script: str, tmp: Path, *args: str, timeout: int = 600) -> dict:
    """Run ``tests/scripts/<script>`` in a fresh interpreter and return the JSON it writes to ``tmp/result.json``.

    The child's exit status and output tail go into the failure message when it wrote no result.
    """
    tmp.mkdir(parents=True, exist_ok=True)
    result = tmp / "result.json"
    cmd = [sys.executable, str(REPO / "tests" / "scripts" / script), str(result), *args]
    proc = subprocess.run(cmd, cwd=tmp, env=child_env(tmp), capture_output=True, text=True, timeout=timeout)
    if not result.is_file():
        raise AssertionError(
            f"{script} wrote no result (exit {proc.returncode}).\nstdout:\n{proc.stdout[-3000:]}\n"
            f"stderr:\n{proc.stderr[-6000:]}"
        )
    data = json.loads(result.read_text())
    data["_stdout"], data["_stderr"], data["_returncode"] = proc.stdout, proc.stderr, proc.returncode
    return data
