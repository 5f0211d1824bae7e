"""Where a CPU RL step of the ``smollm2_cpu`` main job spends its time: the kit against plain TRL + peft in float32.

    python benchmarks/bench_cpu_step.py [--max_steps 4] [--variants trl kit] [--threads 2] [--profile true]
                                        [--output FILE]

The work is the preset's step: 2 prompts x 8 completions of up to 64 tokens (temperature 0.7), LoRA r16 on every
linear layer of SmolLM2-135M-Instruct, the loss in 2 micro-batches of 8. Variants, each in a fresh process (so its
peak memory is its own), the same seed and problems:

* ``trl``: TRL's own ``GRPOTrainer`` + peft, float32 weights, ``model.generate`` (what the kit did before);
* ``kit``: ``python -m srgrpo.train``'s trainer as a user gets it: the CPU's precision (:mod:`srgrpo.models.cpu_precision`)
  and the fast sampler (:mod:`srgrpo.cpu.sampling`);
* ``kit_trl_generate``: the kit with ``--cpu_fast_generation false`` (to attribute the gain).

For each it prints the split of a step (generation, reward scoring, loss forward + backward, optimizer, the rest),
completion tokens per second of generation, the step's wall time (median over the timed steps; the first step is
warm-up and dropped), peak resident memory, then the ratios to ``trl``. The CPU's model and its native bf16 support
come first: ratios differ between CPUs. ``--profile true`` also prints the top operators of one step (torch.profiler).
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
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VARIANTS = {
    "trl": ["--cpu_precision", "float32", "--cpu_fast_generation", "false"],
    "kit": [],
    "kit_trl_generate": ["--cpu_fast_generation", "false"],
}
PHASES = ("generation", "rewards", "loss_forward", "loss_backward", "optimizer")


def _timed(owner, name: str, bucket: dict, key: str, after=None):
    """Wrap ``owner.name`` so that its wall time adds to ``bucket[key]`` (and ``after(result)`` sees its result)."""
    original = getattr(owner, name)

    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        result = original(*args, **kwargs)
        bucket[key] += time.perf_counter() - start
        if after is not None:
            after(result)
        return result

    setattr(owner, name, wrapper)


def train_flags(name: str, steps: int, output_dir: Path) -> list[str]:
    """``python -m srgrpo.train``'s flags of variant ``name``: the preset's step, nothing saved or reported."""
    return ["--preset", "smollm2_cpu", "--max_steps", str(steps), "--save_strategy", "no", "--output_dir",
            str(output_dir), "--disable_tqdm", "true", "--report_to", "none", *VARIANTS[name]]


def run_variant(name: str, steps: int, threads: int, profile: bool) -> dict:
    import torch
    import transformers

    torch.set_num_threads(threads)
    from srgrpo.models.cpu_precision import choose_cpu_precision
    from srgrpo.train.command import _build_trainer, parse_args, resolve_reward_funcs

    with tempfile.TemporaryDirectory() as tmp:
        script_args, training_args = parse_args(train_flags(name, steps, Path(tmp) / "run"))
        trainer = _build_trainer(script_args, training_args, resolve_reward_funcs(script_args.reward_funcs), {})
        if name == "trl":  # the same model, data and settings under TRL's own trainer
            from trl import GRPOTrainer

            trainer = GRPOTrainer(model=trainer.model, reward_funcs=trainer.reward_funcs, args=training_args,
                                  train_dataset=trainer.train_dataset, processing_class=trainer.processing_class)
        per_step: list[dict] = []
        current: dict = defaultdict(float)
        tokens = [0]
        _timed(trainer, "_generate_single_turn", current, "generation",
               after=lambda out: tokens.__setitem__(0, tokens[0] + sum(len(c) for c in out[0])))
        _timed(trainer, "_calculate_rewards", current, "rewards")
        _timed(trainer, "compute_loss", current, "loss_forward")
        _timed(trainer.accelerator, "backward", current, "loss_backward")

        class Clock(transformers.TrainerCallback):
            def on_step_begin(self, args, state, control, **kw):
                current.clear()
                tokens[0] = 0
                current["_start"] = time.perf_counter()

            def on_pre_optimizer_step(self, args, state, control, **kw):
                current["_opt"] = time.perf_counter()

            def on_optimizer_step(self, args, state, control, **kw):
                current["optimizer"] += time.perf_counter() - current.pop("_opt")

            def on_step_end(self, args, state, control, **kw):
                row = {k: v for k, v in current.items() if not k.startswith("_")}
                row["step"] = time.perf_counter() - current["_start"]
                row["other"] = row["step"] - sum(row.get(p, 0.0) for p in PHASES)
                row["completion_tokens"] = tokens[0]
                per_step.append(row)

        trainer.add_callback(Clock())
        if profile:
            from torch.profiler import ProfilerActivity
            from torch.profiler import profile as torch_profile

            class Profile(transformers.TrainerCallback):
                def on_step_begin(self, args, state, control, **kw):
                    if state.global_step == 1:
                        self.p = torch_profile(activities=[ProfilerActivity.CPU])
                        self.p.__enter__()

                def on_step_end(self, args, state, control, **kw):
                    if state.global_step == 2:
                        self.p.__exit__(None, None, None)
                        print(self.p.key_averages().table(sort_by="self_cpu_time_total", row_limit=15),
                              file=sys.stderr, flush=True)

            trainer.add_callback(Profile())
        trainer.train()
    timed = per_step[1:] or per_step
    med = {k: statistics.median(r.get(k, 0.0) for r in timed) for k in (*PHASES, "other", "step")}
    gen_tokens = sum(r["completion_tokens"] for r in timed)
    gen_seconds = sum(r.get("generation", 0.0) for r in timed)
    return {
        "variant": name,
        "steps_timed": len(timed),
        "median_s": {k: round(v, 2) for k, v in med.items()},
        "completion_tokens_per_s": round(gen_tokens / gen_seconds, 1) if gen_seconds else None,
        "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2, 2),
        "precision": choose_cpu_precision(script_args.cpu_precision).to_dict() if name != "trl" else "float32",
        "bf16_autocast": bool(training_args.bf16),
        "fast_generation": bool(training_args.cpu_fast_generation) and name != "trl",
        "threads": threads,
        "per_step": per_step,
    }


def _row(r: dict) -> str:
    m = r["median_s"]
    parts = " ".join(f"{p} {m[p]:5.2f}" for p in (*PHASES, "other"))
    return (f"{r['variant']:17s} step {m['step']:6.2f} s = {parts} | {r['completion_tokens_per_s']} tok/s | "
            f"peak {r['peak_rss_gb']:.2f} GB")


@dataclass
class Settings:
    """``python benchmarks/bench_cpu_step.py --help`` lists these."""

    max_steps: int = field(default=4, metadata={"help": "steps per variant (the first is dropped as warm-up)"})
    variants: list[str] = field(default_factory=lambda: ["trl", "kit"], metadata={
        "help": "the variants measured, each in a fresh process (see the module docstring)", "choices": list(VARIANTS)})
    threads: int = field(default=2, metadata={"help": "torch threads"})
    profile: bool = field(default=False, metadata={"help": "print the top operators of step 2 of each variant"})
    output: str | None = field(default=None, metadata={"help": "also write the results to this JSON file"})
    # One variant per process: how the benchmark runs itself; not a user's flag, so --help leaves it out.
    variant: str | None = field(default=None, metadata={"help": argparse.SUPPRESS, "choices": list(VARIANTS)})


def parse_settings(argv: list[str] | None = None) -> Settings:
    """The command line (HfArgumentParser; a renamed flag, such as the old ``--steps``, fails naming its new name)."""
    from transformers import HfArgumentParser

    from srgrpo.plumbing.flags import parse_flags

    parser = HfArgumentParser(Settings, prog="python benchmarks/bench_cpu_step.py", allow_abbrev=False,
                              description=__doc__.splitlines()[0])
    return parse_flags(parser, sys.argv[1:] if argv is None else argv)[0]


def main() -> None:
    a = parse_settings()
    if a.variant:
        print("RESULT " + json.dumps(run_variant(a.variant, a.max_steps, a.threads, a.profile)), flush=True)
        return
    from srgrpo.models.cpu_precision import choose_cpu_precision, cpu_model_name, native_bf16_flags

    import torch

    choice = choose_cpu_precision("auto")
    print(f"CPU: {cpu_model_name()}; native bf16: {', '.join(native_bf16_flags()) or 'none'}; "
          f"torch {torch.__version__} ({torch.backends.cpu.get_cpu_capability()}); {os.cpu_count()} cores; "
          f"{a.threads} threads; kit's precision: {choice.describe()}", flush=True)
    env = dict(os.environ, HF_HUB_OFFLINE="1", TQDM_DISABLE="1", CUDA_VISIBLE_DEVICES="", PYTHONPATH=str(REPO),
               TRANSFORMERS_VERBOSITY="error", PYTHONWARNINGS="ignore")
    results = []
    for variant in a.variants:
        cmd = [sys.executable, __file__, "--variant", variant, "--max_steps", str(a.max_steps), "--threads",
               str(a.threads), "--profile", str(a.profile).lower()]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if a.profile:
            print(proc.stderr[proc.stderr.find("----"):], flush=True)
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
        if proc.returncode != 0 or not lines:
            sys.exit(f"variant {variant} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
        results.append(json.loads(lines[-1][len("RESULT "):]))
        print(_row(results[-1]), flush=True)
    base = next((r for r in results if r["variant"] == "trl"), None)
    if base:
        for r in results:
            if r is base:
                continue
            ratio = {k: base["median_s"][k] / r["median_s"][k] for k in ("step", "generation", "loss_forward",
                                                                          "loss_backward") if r["median_s"][k]}
            print(f"{r['variant']} vs trl: step x{ratio['step']:.2f} faster; generation x{ratio['generation']:.2f}, "
                  f"loss forward x{ratio['loss_forward']:.2f}, backward x{ratio['loss_backward']:.2f}; peak memory "
                  f"x{r['peak_rss_gb'] / base['peak_rss_gb']:.2f}")
    if a.output:
        Path(a.output).write_text(json.dumps({"cpu": cpu_model_name(), "native_bf16": native_bf16_flags(),
                                            "torch": torch.__version__, "threads": a.threads,
                                            "results": results}, indent=2))


if __name__ == "__main__":
    main()
