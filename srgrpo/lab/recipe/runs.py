"""One run of the recipe study, made with the kit's real commands, and the pretrained model's answers.

A run of configuration ``c`` at tuning seed ``s`` is two subprocesses, exactly what a user would type:

1. ``python -m srgrpo.train --preset smollm2_cpu --seed s --output_dir ... <c's changes>``, then
2. ``python -m srgrpo.eval_gsm8k --model_name_or_path smollm2 --adapter <that folder> --dataset_name arithmetic
   --dataset_test_split validation ...``
   with the configuration's system message, the main job's 96 new tokens, greedy.

Its record (``<work_dir>/<config>/seed-<s>.json``, written atomically when both have finished) keeps the validation
counts, the minutes each part took, the training curve and the machine. A run interrupted half-way leaves no record and
is run again from the start; a finished one is never rerun.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from srgrpo.lab.recipe.plan import BASE_PRESET, CONFIGS, PRECISION, VALIDATION, config_id, train_overrides
from srgrpo.lab.results import machine_record, write_json

__all__ = ["run_file", "read_run", "run_one", "pretrained_file", "evaluate_pretrained", "counts"]

#: The training log's keys a record keeps, one value a step.
CURVE_KEYS = ("reward", "rewards/correctness_reward/mean", "rewards/format_reward/mean", "completions/mean_length",
              "completions/clipped_ratio")


def run_file(work_dir: Path, config: str, seed: int) -> Path:
    return Path(work_dir) / config / f"seed-{seed}.json"


def pretrained_file(work_dir: Path, system_prompt: str) -> Path:
    return Path(work_dir) / "pretrained" / f"{system_prompt}.json"


def read_run(path: Path) -> dict[str, Any] | None:
    """A finished run's record, or None; a record of another configuration id is an error (the plan is frozen)."""
    if not path.is_file():
        return None
    record = json.loads(path.read_text())
    if record["config_id"] != config_id(record["config"]):
        raise ValueError(f"{path} was made with configuration id {record['config_id']}, but {record['config']!r} is "
                         f"now {config_id(record['config'])}: the declared plan changed. Restore it (git) or use a new "
                         "--work_dir.")
    return record


def counts(summary: dict[str, Any]) -> dict[str, int]:
    """An evaluation summary's counts in the glossary's words."""
    n = summary["n"]
    return {"n": n, "correct": summary["correct"], "in_format": round(summary["format_rate"] * n),
            "cut_off": round(summary["truncated_rate"] * n)}


def _env(threads: int) -> dict[str, str]:
    return dict(os.environ, PYTHONUNBUFFERED="1", OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads),
                HF_HUB_OFFLINE=os.environ.get("HF_HUB_OFFLINE", "1"), TQDM_DISABLE="1",
                SRGRPO_CPU_PRECISION=PRECISION)


def _call(cmd: list[str], env: dict[str, str], log: Path) -> int:
    """One command as a subprocess, its output into ``log``; its exit status."""
    with open(log, "w", encoding="utf-8") as out:
        return subprocess.run(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, text=True).returncode


def _run(cmd: list[str], threads: int, log: Path) -> float:
    """Run a command, its output into ``log``; its seconds. A failure is an error that points at the log."""
    start = time.time()
    log.parent.mkdir(parents=True, exist_ok=True)
    if _call(cmd, _env(threads), log) != 0:
        raise RuntimeError(f"{' '.join(cmd[:4])} ... failed; its output: {log}")
    return time.time() - start


def _evaluate_cmd(system_prompt: str, output: Path, adapter: Path | None) -> list[str]:
    cmd = [sys.executable, "-m", "srgrpo.eval_gsm8k", "--model_name_or_path", "smollm2",
           "--dataset_name", VALIDATION["dataset"], "--dataset_test_split", VALIDATION["split"],
           "--eval_limit", str(VALIDATION["n"]), "--eval_batch_size", str(VALIDATION["n"]),
           "--max_new_tokens", str(VALIDATION["max_new_tokens"]), "--system_prompt", system_prompt,
           "--output", str(output), "--overwrite", "true", "--progress", "false"]
    return cmd + (["--adapter", str(adapter)] if adapter is not None else [])


def system_prompt_of(config: str) -> str:
    return str(CONFIGS[config].get("system_prompt", "instructions"))


def run_one(work_dir: Path, config: str, seed: int, threads: int = 1) -> dict[str, Any]:
    """Train ``config`` at ``seed`` and answer the validation problems with it; the record (also written to its file)."""
    done = read_run(run_file(work_dir, config, seed))
    if done is not None:
        return done
    scratch = Path(work_dir) / "scratch" / config / f"seed-{seed}"
    shutil.rmtree(scratch, ignore_errors=True)  # what an interrupted attempt left: the run starts again from scratch
    train_cmd = [sys.executable, "-m", "srgrpo.train", "--preset", BASE_PRESET, "--seed", str(seed),
                 "--output_dir", str(scratch), "--disable_tqdm", "true",
                 *train_overrides(config)]
    train_seconds = _run(train_cmd, threads, scratch.parent / f"seed-{seed}.train.log")
    eval_json = scratch / "eval_validation.json"
    eval_seconds = _run(_evaluate_cmd(system_prompt_of(config), eval_json, scratch), threads,
                        scratch.parent / f"seed-{seed}.eval.log")
    summary = json.loads(eval_json.read_text())
    state = json.loads((scratch / "trainer_state.json").read_text())
    steps = [row for row in state["log_history"] if "reward" in row]
    resolved = (scratch / "srgrpo_config.yaml").read_text()
    record = {
        "config": config,
        "config_id": config_id(config),
        "seed": seed,
        "validation": counts(summary),
        "minutes": round((train_seconds + eval_seconds) / 60, 2),
        "train_seconds": round(train_seconds, 1),
        "eval_seconds": round(eval_seconds, 1),
        "curves": {key: [row.get(key) for row in steps] for key in CURVE_KEYS},
        "precision": "bfloat16" if "bf16: true" in resolved else "float32",
        "threads": threads,
        "machine": machine_record(),
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    write_json(run_file(work_dir, config, seed), record)
    return record


def evaluate_pretrained(work_dir: Path, system_prompt: str, threads: int = 1) -> dict[str, Any]:
    """The pretrained model's validation answers with ``system_prompt`` (once; kept in its file)."""
    path = pretrained_file(work_dir, system_prompt)
    if path.is_file():
        return json.loads(path.read_text())
    scratch = Path(work_dir) / "scratch" / "pretrained"
    eval_json = scratch / f"{system_prompt}.json"
    seconds = _run(_evaluate_cmd(system_prompt, eval_json, None), threads, scratch / f"{system_prompt}.eval.log")
    record = {"system_prompt": system_prompt, "validation": counts(json.loads(eval_json.read_text())),
              "eval_seconds": round(seconds, 1), "machine": machine_record()}
    write_json(path, record)
    return record
