"""The benchmarks speak the kit's command-line language: their own flags, and the commands they run as subprocesses.

Nothing is measured here (benchmarks/ are timed by hand, docs/development.md); each script is imported and its
settings parsed, and the command lines it builds for ``python -m srgrpo.train``, ``python -m srgrpo.eval_gsm8k`` and
``python -m srgrpo`` are parsed by those commands' own parsers.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SCRIPTS = sorted(p.stem for p in (REPO / "benchmarks").glob("*.py"))

#: Each script's old flags (before #35) and the names that replaced them.
OLD_FLAGS = {
    "bench_advantages": {"--k": "--num_generations"},
    "bench_cpu_step": {"--steps": "--max_steps", "--json": "--output"},
    "bench_eval": {"--limit": "--eval_limit", "--batch_size": "--eval_batch_size"},
    "bench_smollm2_step": {"--steps": "--max_steps", "--full_lr": "--full_learning_rate"},
    "bench_trainer_step": {"--steps": "--max_steps", "--mode": "--soft_advantage"},
    "compare_fast_path_learning": {"--steps": "--max_steps", "--limit": "--eval_limit", "--workdir": "--work_dir",
                                   "--json": "--output"},
    "main_job_seeds": {"--json": "--output", "--workdir": "--work_dir"},
    "bench_4bit_cpu": {"--json": "--output"},
    "two_process_exit": {},
}


def load(name: str):
    spec = importlib.util.spec_from_file_location(f"benchmark_{name}", REPO / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


def test_every_benchmark_is_listed():
    assert set(OLD_FLAGS) == set(SCRIPTS)


@pytest.mark.parametrize("name", SCRIPTS)
def test_a_benchmark_parses_its_settings_and_refuses_its_old_names(name, capsys):
    module = load(name)
    settings = module.parse_settings([])
    assert type(settings).__name__ == "Settings"
    with pytest.raises(SystemExit) as help_exit:
        module.parse_settings(["--help"])
    assert help_exit.value.code == 0
    shown = capsys.readouterr().out
    assert f"python benchmarks/{name}.py" in shown and "--variant " not in shown  # the hidden one stays hidden
    for old, new in OLD_FLAGS[name].items():
        assert new in shown
        with pytest.raises(SystemExit) as refused:
            module.parse_settings([old, "1"])
        assert refused.value.code == 2
        assert f"{old} is now {new}" in capsys.readouterr().err


def test_the_evaluations_compare_fast_path_learning_runs_parse(tmp_path):
    from transformers import HfArgumentParser

    from srgrpo.eval_gsm8k.command import EvalSettings
    from srgrpo.plumbing.flags import parse_flags

    compare = load("compare_fast_path_learning")
    parser = HfArgumentParser(EvalSettings, allow_abbrev=False)
    flags = compare.eval_flags(["--model_name_or_path", "smollm2", "--adapter", str(tmp_path)], 64, tmp_path / "e.json")
    settings = parse_flags(parser, flags)[0]
    assert (settings.model_name_or_path, settings.adapter, settings.dataset_name, settings.eval_limit,
            settings.max_new_tokens, settings.eval_batch_size, settings.progress, settings.output) == (
        "smollm2", str(tmp_path), "arithmetic", 64, 96, 32, False, str(tmp_path / "e.json"))


def test_the_training_runs_the_benchmarks_start_parse(tmp_path, monkeypatch):
    """Every ``python -m srgrpo.train`` command line the benchmarks build, through the train command's own parser."""
    monkeypatch.setenv("SRGRPO_CPU_PRECISION", "float32")  # no probe of this CPU
    from srgrpo.train.settings import parse_args, preset_settings

    compare, cpu_step, smollm2 = load("compare_fast_path_learning"), load("bench_cpu_step"), load("bench_smollm2_step")
    for path in compare.PATHS:
        script, training = parse_args(compare.train_flags(path, 3, 5, tmp_path / path))
        assert (script.model_name_or_path, training.max_steps, training.seed) == ("smollm2", 5, 3)
        assert training.cpu_fast_generation == training.cpu_shared_prompt == (path == "fast")
    for name in cpu_step.VARIANTS:
        script, training = parse_args(cpu_step.train_flags(name, 2, tmp_path / name))
        assert training.max_steps == 2 and training.cpu_fast_generation == (name == "kit") and training.disable_tqdm
    for variant in ("lora", "full"):
        script, training = parse_args(smollm2.train_flags(variant, 4, tmp_path / variant, 2e-5))
        assert script.use_peft == (variant == "lora") and training.max_steps == 4
        preset_rate = preset_settings("smollm2_cpu")["learning_rate"]
        assert training.learning_rate == (preset_rate if variant == "lora" else 2e-5)
