"""What a user of ``python -m srgrpo`` should expect: the main job itself, run as a user runs it, over several seeds.

    python benchmarks/main_job_seeds.py [--seeds 0 1 2] [--json data/benchmarks/main_job_seeds.json]

Each seed runs ``python -m srgrpo --seed K --device cpu`` as a subprocess, into ``--workdir/seed-K`` (a finished
seed is read back, not rerun), and the results file keeps, per seed, the held-out counts before and after (correct, in
format, cut off), the minutes the job took, and the machine; its summary gives each count's range over the seeds, the
spread a user should expect from one run. The preset's own seed is 0.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from srgrpo.lab.results import run_metadata, write_json  # noqa: E402

#: The evaluation summary's keys the results file keeps (their words: srgrpo.glossary).
KEYS = ("correct", "format_rate", "truncated_rate")


@dataclass
class Settings:
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2], metadata={"help": "training seeds (0: the preset's)"})
    workdir: str = field(default="runs/main_job_seeds", metadata={"help": "one folder a seed; finished seeds are kept"})
    json: str = field(default="data/benchmarks/main_job_seeds.json", metadata={"help": "results file"})


def _counts(summary: dict) -> dict:
    n = summary["n"]
    return {"n": n, "correct": summary["correct"], "in_format": round(summary["format_rate"] * n),
            "cut_off": round(summary["truncated_rate"] * n)}


def run_seed(seed: int, folder: Path) -> dict:
    """One main job (or the finished one in ``folder``): its held-out counts before and after, and its minutes."""
    done = folder / "main_job_seed.json"
    if done.is_file():
        return json.loads(done.read_text())
    env = dict(os.environ, PYTHONUNBUFFERED="1", HF_HUB_OFFLINE=os.environ.get("HF_HUB_OFFLINE", "1"))
    start = time.time()
    proc = subprocess.run([sys.executable, "-m", "srgrpo", "--device", "cpu", "--seed", str(seed), "--output_dir",
                           str(folder), "--overwrite", "true"], env=env, cwd=REPO, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"seed {seed} failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
    result = {
        "seed": seed,
        "minutes": round((time.time() - start) / 60, 2),
        "before": _counts(json.loads((folder / "eval_before.json").read_text())),
        "after": _counts(json.loads((folder / "eval_after.json").read_text())),
        "verdict": proc.stdout.strip().splitlines()[-4:],
        "train_seconds": yaml.safe_load((folder / "srgrpo_config.yaml").read_text()).get("train_seconds"),
    }
    write_json(done, result)
    return result


def summarise(runs: list[dict]) -> dict:
    """Each count's range over the seeds, after training (the 'before' is one greedy evaluation: the same every seed)."""
    out = {"seeds": [r["seed"] for r in runs], "minutes": [r["minutes"] for r in runs]}
    for key in ("correct", "in_format", "cut_off"):
        values = [r["after"][key] for r in runs]
        out[key] = {"before": runs[0]["before"][key], "after": values, "min": min(values), "max": max(values),
                    "n": runs[0]["after"]["n"]}
    return out


def main() -> int:
    from transformers import HfArgumentParser

    settings = HfArgumentParser(Settings).parse_args_into_dataclasses()[0]
    runs = []
    for seed in settings.seeds:
        print(f"seed {seed}: running python -m srgrpo ...", flush=True)
        runs.append(run_seed(seed, REPO / settings.workdir / f"seed-{seed}"))
        print("\n".join(runs[-1]["verdict"]), flush=True)
    write_json(REPO / settings.json, {"benchmark": "main_job_seeds", "runs": runs, "summary": summarise(runs),
                                      "metadata": run_metadata(sys.argv[1:], prog="python benchmarks/main_job_seeds.py")})
    print(f"wrote {settings.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
