"""Seconds per RL step and peak memory of the ``smollm2_cpu`` preset: LoRA (the preset) against full fine-tuning.

    python benchmarks/bench_smollm2_step.py [--steps 4] [--threads 1] [--full_lr 2e-5]

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
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def run_variant(name: str, extra: list[str], steps: int, threads: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        env = dict(os.environ, HF_HUB_OFFLINE="1", TQDM_DISABLE="1", OMP_NUM_THREADS=str(threads),
                   CUDA_VISIBLE_DEVICES="", PYTHONPATH=str(REPO))
        cmd = [sys.executable, "-m", "srgrpo.train", "--preset", "smollm2_cpu", "--max_steps", str(steps),
               "--save_strategy", "no", "--output_dir", str(out), *extra]
        subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        history = json.loads((out / "trainer_state.json").read_text())["log_history"]
    times = [h["step_time"] for h in history if "step_time" in h][1:]
    peak_gb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024**2  # KiB on Linux
    return {"variant": name, "steps_timed": len(times), "median_step_s": statistics.median(times),
            "peak_rss_gb": round(peak_gb, 2)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=4)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--full_lr", type=float, default=2e-5, help="learning rate of the full fine-tuning variant")
    p.add_argument("--variant", choices=["lora", "full"], help=argparse.SUPPRESS)  # one variant per process
    a = p.parse_args()
    if a.variant:
        extra = [] if a.variant == "lora" else ["--use_lora", "false", "--learning_rate", str(a.full_lr)]
        print(json.dumps(run_variant(a.variant, extra, a.steps, a.threads)))
        return
    results = {}
    for variant in ("lora", "full"):
        proc = subprocess.run([sys.executable, __file__, "--variant", variant, "--steps", str(a.steps),
                               "--threads", str(a.threads), "--full_lr", str(a.full_lr)],
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
