"""Does the CPU fast path learn what TRL's own path learns? Same preset, same seeds, both paths, held-out answers.

    python benchmarks/compare_fast_path_learning.py [--seeds 0 1] [--max_steps 16] [--eval_limit 64] [--output FILE]

For each seed, ``python -m srgrpo.train --preset smollm2_cpu`` runs twice, as a user runs it: the kit's default (this
CPU's precision, the fast sampler, the shared-prompt loss) and TRL's path (``--cpu_precision float32
--cpu_fast_generation false --cpu_shared_prompt false``). Each trained adapter is then evaluated with
``python -m srgrpo.eval_gsm8k`` on the first ``--eval_limit`` synthetic test problems (greedy, 96 new tokens), and
the pretrained model once. Finished runs and evaluations are kept in ``--work_dir`` and skipped on a rerun.

The two paths draw different random numbers (another sampler), so the same seed gives other completions: compare
the curves and the held-out rates within their noise (the Wilson intervals printed beside them), not token by token.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PATHS = {
    "fast": [],
    "trl": ["--cpu_precision", "float32", "--cpu_fast_generation", "false", "--cpu_shared_prompt", "false"],
}
EVAL = ["--dataset_name", "arithmetic", "--eval_limit", None, "--max_new_tokens", "96", "--eval_batch_size", "32",
        "--progress", "false"]


def train_flags(path: str, seed: int, steps: int, run: Path) -> list[str]:
    """``python -m srgrpo.train``'s flags of one run: the preset through ``path`` (a key of :data:`PATHS`)."""
    return ["--preset", "smollm2_cpu", "--max_steps", str(steps), "--seed", str(seed), "--save_strategy", "no",
            "--output_dir", str(run), *PATHS[path]]


def eval_flags(model_args: list[str], limit: int, out: Path) -> list[str]:
    """``python -m srgrpo.eval_gsm8k``'s flags: ``model_args`` (model, adapter) on the first ``limit`` problems."""
    return [*model_args, *[str(limit) if a is None else a for a in EVAL], "--output", str(out)]


def _run(cmd: list[str], env: dict) -> float:
    start = time.time()
    subprocess.run([sys.executable, "-m", *cmd], env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, cwd=REPO)
    return round(time.time() - start, 1)


def _evaluate(model_args: list[str], out: Path, limit: int, env: dict) -> dict:
    if not out.is_file():
        _run(["srgrpo.eval_gsm8k", *eval_flags(model_args, limit, out)], env)
    return json.loads(out.read_text())


def _rates(summary: dict) -> dict:
    keep = ("accuracy", "accuracy_ci95", "strict_accuracy", "format_rate", "truncated_rate", "answer_line_rate",
            "correct", "n")
    return {k: summary[k] for k in keep if k in summary}


def markdown_table(result: dict) -> str:
    """The comparison as a markdown table (it was the README's, at the preset's earlier tau 0.5; no longer shown)."""

    def pct(summary, key):
        return f"{100 * summary[key]:.0f}%"

    rows = ["| run | training reward, first 4 -> last 4 steps | held-out correct | answer line in format | cut off |",
            "|---|---|---|---|---|"]
    base = result["pretrained"]
    rows.append(f"| pretrained | | {base['correct']}/{base['n']} | {pct(base, 'format_rate')} | "
                f"{pct(base, 'truncated_rate')} |")
    for run in result["runs"]:
        r, a = run["reward"], run["after"]
        q = max(1, len(r) // 4)
        name = {"fast": "fast path", "trl": "TRL's path"}[run["path"]]
        rows.append(f"| {name}, seed {run['seed']} | {sum(r[:q]) / q:.2f} -> {sum(r[-q:]) / q:.2f} | "
                    f"{a['correct']}/{a['n']} | {pct(a, 'format_rate')} | {pct(a, 'truncated_rate')} |")
    return "\n".join(rows)


@dataclass
class Settings:
    """``python benchmarks/compare_fast_path_learning.py --help`` lists these."""

    seeds: list[int] = field(default_factory=lambda: [0, 1], metadata={
        "help": "training seeds, each through both paths"})
    max_steps: int = field(default=16, metadata={"help": "training steps of a run"})
    eval_limit: int = field(default=64, metadata={"help": "held-out synthetic test problems evaluated"})
    work_dir: str = field(default=".cache/fast_path_learning", metadata={
        "help": "runs and evaluations (relative to the repository); finished ones are kept and skipped on a rerun"})
    output: str | None = field(default=None, metadata={"help": "write the comparison here (JSON)"})
    table: str | None = field(default=None, metadata={"help": "print the markdown table of this JSON file and exit"})


def parse_settings(argv: list[str] | None = None) -> Settings:
    """The command line (HfArgumentParser; a renamed flag, such as the old ``--workdir``, fails naming its new name)."""
    from transformers import HfArgumentParser

    from srgrpo.plumbing.flags import parse_flags

    parser = HfArgumentParser(Settings, prog="python benchmarks/compare_fast_path_learning.py", allow_abbrev=False,
                              description=__doc__.splitlines()[0])
    return parse_flags(parser, sys.argv[1:] if argv is None else argv)[0]


def main() -> None:
    a = parse_settings()
    if a.table:
        print(markdown_table(json.loads(Path(a.table).read_text())))
        return
    work = REPO / a.work_dir  # an absolute --work_dir stays itself
    work.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, HF_HUB_OFFLINE="1", TQDM_DISABLE="1", CUDA_VISIBLE_DEVICES="", PYTHONPATH=str(REPO),
               PYTHONWARNINGS="ignore", TRANSFORMERS_VERBOSITY="error")
    result = {"command": "python benchmarks/compare_fast_path_learning.py " + " ".join(sys.argv[1:]),
              "max_steps": a.max_steps, "eval_limit": a.eval_limit, "runs": []}
    result["pretrained"] = _rates(_evaluate(["--model_name_or_path", "smollm2"], work / "pretrained.json", a.eval_limit,
                                            env))
    for seed in a.seeds:
        for path, flags in PATHS.items():
            run = work / f"{path}_seed{seed}"
            seconds = None
            if not (run / "trainer_state.json").is_file():
                seconds = _run(["srgrpo.train", *train_flags(path, seed, a.max_steps, run)], env)
            history = json.loads((run / "trainer_state.json").read_text())["log_history"]
            steps = [h for h in history if "reward" in h]
            after = _rates(_evaluate(["--model_name_or_path", "smollm2", "--adapter", str(run)],
                                     run / "eval_after.json", a.eval_limit, env))
            result["runs"].append({
                "path": path, "seed": seed, "train_seconds": seconds,
                "median_step_time": sorted(h["step_time"] for h in steps)[len(steps) // 2],
                "reward": [round(h["reward"], 4) for h in steps],
                "format": [round(h.get("rewards/format_reward/mean", float("nan")), 4) for h in steps],
                "correctness": [round(h.get("rewards/correctness_reward/mean", float("nan")), 4) for h in steps],
                "after": after,
            })
            r = result["runs"][-1]
            q = max(1, len(steps) // 4)
            print(f"seed {seed} {path:4s}: reward first {q} steps {sum(r['reward'][:q]) / q:.3f} -> last {q} "
                  f"{sum(r['reward'][-q:]) / q:.3f}; median step {r['median_step_time']:.1f} s; held-out accuracy "
                  f"{after['accuracy']:.3f} {after.get('accuracy_ci95')}, format {after.get('format_rate')}, "
                  f"cut off {after.get('truncated_rate')}", flush=True)
    print(f"pretrained: {result['pretrained']}")
    print(markdown_table(result))
    if a.output:
        Path(a.output).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
