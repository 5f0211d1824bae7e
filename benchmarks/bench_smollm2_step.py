"""Seconds per RL step and peak memory of the ``smollm2_cpu`` preset: LoRA (the preset) against full fine-tuning.

    python benchmarks/bench_smollm2_step.py [--max_steps 4] [--threads 1] [--full_learning_rate 2e-5]

Each variant runs ``python -m srgrpo.train --preset smollm2_cpu --max_steps N`` as a subprocess, as a user would,
and reports TRL's own ``step_time`` from ``log_history`` (median, first step dropped as warm-up) and the child's peak
resident memory (``getrusage(RUSAGE_CHILDREN)``: each variant runs in a fresh benchmark process for that reason, so
one variant's peak does not hide the other's). The ratio full / LoRA is printed last.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
#: This script's own renamed flags (the kit's are srgrpo.plumbing.flags.RENAMED): the train command's name, prefixed.
RENAMED = {"--full_lr": "--full_learning_rate"}


def train_flags(variant: str, steps: int, output_dir: Path, full_learning_rate: float) -> list[str]:
    """``python -m srgrpo.train``'s flags of ``variant``: the preset (LoRA), or every weight at its own rate."""
    full = [] if variant == "lora" else ["--use_peft", "false", "--learning_rate", str(full_learning_rate)]
    return ["--preset", "smollm2_cpu", "--max_steps", str(steps), "--save_strategy", "no", "--output_dir",
            str(output_dir), *full]


def run_variant(name: str, steps: int, threads: int, full_learning_rate: float) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        env = dict(os.environ, HF_HUB_OFFLINE="1", TQDM_DISABLE="1", OMP_NUM_THREADS=str(threads),
                   CUDA_VISIBLE_DEVICES="", PYTHONPATH=str(REPO))
        cmd = [sys.executable, "-m", "srgrpo.train", *train_flags(name, steps, out, full_learning_rate)]
        subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        history = json.loads((out / "trainer_state.json").read_text())["log_history"]
    times = [h["step_time"] for h in history if "step_time" in h][1:]
    peak_gb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024**2  # KiB on Linux
    return {"variant": name, "steps_timed": len(times), "median_step_s": statistics.median(times),
            "peak_rss_gb": round(peak_gb, 2)}


@dataclass
class Settings:
    """``python benchmarks/bench_smollm2_step.py --help`` lists these."""

    max_steps: int = field(default=4, metadata={"help": "steps per variant (the first is dropped as warm-up)"})
    threads: int = field(default=1, metadata={"help": "OMP threads of the training process"})
    full_learning_rate: float = field(default=2e-5, metadata={"help": "learning rate of the full fine-tuning variant"})
    # One variant per process: how the benchmark runs itself; not a user's flag, so --help leaves it out.
    variant: str | None = field(default=None, metadata={"help": argparse.SUPPRESS, "choices": ["lora", "full"]})


def parse_settings(argv: list[str] | None = None) -> Settings:
    """The command line (HfArgumentParser; a renamed flag, such as the old ``--steps``, fails naming its new name)."""
    from transformers import HfArgumentParser

    from srgrpo.plumbing.flags import parse_flags

    parser = HfArgumentParser(Settings, prog="python benchmarks/bench_smollm2_step.py", allow_abbrev=False,
                              description=__doc__.splitlines()[0])
    return parse_flags(parser, sys.argv[1:] if argv is None else argv, RENAMED)[0]


def main() -> None:
    a = parse_settings()
    if a.variant:
        print(json.dumps(run_variant(a.variant, a.max_steps, a.threads, a.full_learning_rate)))
        return
    results = {}
    for variant in ("lora", "full"):
        proc = subprocess.run([sys.executable, __file__, "--variant", variant, "--max_steps", str(a.max_steps),
                               "--threads", str(a.threads), "--full_learning_rate", str(a.full_learning_rate)],
                              check=True, capture_output=True, text=True)
        results[variant] = json.loads(proc.stdout.strip().splitlines()[-1])
        r = results[variant]
        print(f"{variant:5s} median step {r['median_step_s']:6.1f} s over {r['steps_timed']} steps, "
              f"peak RSS {r['peak_rss_gb']:.2f} GB", flush=True)
    lora, full = results["lora"], results["full"]
    print(f"full / LoRA: step time x{full['median_step_s'] / lora['median_step_s']:.2f}, "
          f"peak memory x{full['peak_rss_gb'] / lora['peak_rss_gb']:.2f}")


if __name__ == "__main__":
    main()
