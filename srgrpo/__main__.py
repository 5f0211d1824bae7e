"""``python -m srgrpo``: the kit's main job in one command, ending with its verdict.

What runs is planned for the machine by :func:`srgrpo.train.main_job.plan_main_job` (the same plan notebook 4 follows):

1. the model's greedy answers to the held-out problems, *before* training (:func:`srgrpo.eval_gsm8k.evaluate`);
2. training with :class:`srgrpo.SRGRPOTrainer` (``python -m srgrpo.train`` with the plan's preset);
3. the same held-out problems, *after*;
4. two figures (:mod:`srgrpo.plots`): the training curves and the before/after rates;
5. the verdict in three lines, in the words of :mod:`srgrpo.glossary`: held-out *correct* with 95 % intervals and
   how many of them are *sound*, *in format* and *cut off*, before -> after; where the figures are.

On a CPU that is SmolLM2-135M-Instruct (offline, from its wheel) for 16 steps on synthetic word problems; on a CUDA
GPU it is the ``gsm8k_t4`` preset on GSM8K. Everything lands in one new folder a run (``runs/main-<preset>-<time>``):
an earlier run is never overwritten. ``--output_dir`` names the folder instead; one that already holds files is
refused unless ``--resume_from_checkpoint true`` (continue from its last checkpoint: a Colab session can end any time)
or ``--overwrite true`` (delete it first). ``--use_cpu true`` runs the CPU job (every part of it on the CPU) on a
machine with a CUDA GPU.

The parts stay commands of their own: ``python -m srgrpo.train`` (train only), ``python -m srgrpo.eval_gsm8k``,
``python -m srgrpo.plots``.
"""

from __future__ import annotations

import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

__all__ = ["MainJobSettings", "main", "verdict_lines"]


@dataclass
class MainJobSettings:
    """``python -m srgrpo --help`` lists these."""

    output_dir: str | None = field(default=None, metadata={
        "help": "folder for the whole run (adapter, evaluations, figures); default: a new runs/main-<preset>-<time>"})
    seed: int | None = field(default=None, metadata={"help": "training seed (default: the preset's)"})
    max_steps: int | None = field(default=None, metadata={"help": "optimizer steps (default: the preset's)"})
    eval_limit: int | None = field(default=None, metadata={
        "help": "held-out problems evaluated before and after (default: 64 on a CPU, 200 on a GPU)"})
    use_cpu: bool = field(default=False, metadata={
        "help": "run the CPU job (SmolLM2, training and both evaluations on the CPU) even where a CUDA GPU is visible"})
    resume_from_checkpoint: str | None = field(default=None, metadata={
        "help": "true: continue the run in --output_dir from its last checkpoint; or a checkpoint folder"})
    overwrite: bool = field(default=False, metadata={"help": "delete --output_dir first if it holds an earlier run"})


def _rate(summary: dict[str, Any], key: str, with_interval: bool = False) -> str:
    """``15/64 (23.4%)``, with ``[14.7, 35.1]`` (the 95 % Wilson interval) when asked."""
    from srgrpo.glossary import eval_count
    from srgrpo.plumbing.stats import wilson_interval

    n, k = summary["n"], eval_count(summary, key)
    text = f"{k}/{n} ({100 * k / n:.1f}%"
    if with_interval:
        low, high = wilson_interval(k, n)
        text += f" [{100 * low:.1f}, {100 * high:.1f}]"
    return text + ")"


def verdict_lines(before: dict[str, Any], after: dict[str, Any], figures: Sequence[str | Path]) -> list[str]:
    """The main job's last three lines: held-out correct with 95 % intervals and how many of them are sound, in
    format and cut off, the figures.

    *Sound* (correct, and no equation in the work is false) sits beside *correct* because the reward pays for the
    last number only: the gap between the two is the right answers reached by wrong work. Summaries written before
    the kit counted it leave it out."""
    from srgrpo.glossary import EVAL_KEYS, eval_count

    correct, sound, in_format, cut_off = (EVAL_KEYS[k] for k in ("accuracy", "sound_rate", "format_rate",
                                                                 "truncated_rate"))
    counts = [eval_count(s, "sound_rate") for s in (before, after)]
    sound_part = "" if None in counts else f";   {sound}: {counts[0]} -> {counts[1]}"
    return [
        f"{correct}:   {_rate(before, 'accuracy', True)} -> {_rate(after, 'accuracy', True)}{sound_part}   "
        f"(held-out, greedy; [95% interval])",
        f"{in_format}: {_rate(before, 'format_rate')} -> {_rate(after, 'format_rate')};   "
        f"{cut_off}: {_rate(before, 'truncated_rate')} -> {_rate(after, 'truncated_rate')}",
        "figures:   " + ", ".join(str(f) for f in figures),
    ]


def _resuming(settings: MainJobSettings) -> bool:
    value = settings.resume_from_checkpoint
    return value is not None and value.strip().lower() not in ("false", "0", "no", "off", "none", "")


def _output_dir(settings: MainJobSettings, preset: str) -> Path | str:
    """The run's folder, or an error message when it would overwrite or silently mix with an earlier run."""
    if settings.output_dir is None:
        from srgrpo.plumbing.runtime import new_run_dir

        return Path(new_run_dir(Path("runs") / f"main-{preset}"))
    folder = Path(settings.output_dir)
    if folder.is_dir() and any(folder.iterdir()):
        if settings.overwrite:
            shutil.rmtree(folder)
        elif not _resuming(settings):
            return (f"{folder} already holds a run. Pass --resume_from_checkpoint true to continue it from its last "
                    "checkpoint, "
                    f"--overwrite true to delete it and start again, or leave --output_dir out for a new folder.")
    return folder


def main(argv: Sequence[str] | None = None) -> int:
    from transformers import HfArgumentParser

    from srgrpo.plumbing.flags import parse_flags

    parser = HfArgumentParser(MainJobSettings, prog="python -m srgrpo", allow_abbrev=False,
                              description="The main job: evaluate, train with SR-GRPO, evaluate again, plot, verdict.")
    settings = parse_flags(parser, sys.argv[1:] if argv is None else argv)[0]
    if _resuming(settings) and settings.overwrite:
        print("error: --resume_from_checkpoint and --overwrite contradict each other; choose one", file=sys.stderr)
        return 2

    from srgrpo.train.main_job import plan_main_job

    plan = plan_main_job("cpu" if settings.use_cpu else None, cpu_steps=settings.max_steps, gsm8k_check=0)
    folder = _output_dir(settings, plan.preset)
    if isinstance(folder, str):
        print(f"error: {folder}", file=sys.stderr)
        return 2
    plan.output_dir = str(folder)
    if settings.max_steps is not None:
        plan.max_steps = settings.max_steps
    if settings.eval_limit is not None:
        if settings.eval_limit < 1:
            print(f"error: --eval_limit must be at least 1, got {settings.eval_limit}", file=sys.stderr)
            return 2
        plan.eval_limit = settings.eval_limit
        plan.eval_batch_size = min(plan.eval_batch_size, settings.eval_limit)
    print(plan.describe(), flush=True)

    from srgrpo.train import command as train
    from srgrpo.eval_gsm8k import evaluate

    def held_out(adapter: str | None, name: str) -> dict[str, Any]:
        print(f"\n== held-out problems, {name} training ==", flush=True)
        return evaluate(plan.model, adapter, dataset=plan.eval_dataset, split="test", limit=plan.eval_limit,
                        batch_size=plan.eval_batch_size, max_new_tokens=plan.eval_max_new_tokens,
                        output=folder / f"eval_{name}.json", progress=False, system_prompt=plan.system_prompt,
                        use_cpu=not plan.gpu)

    began = time.time()
    before = held_out(None, "before")
    print("\n== training ==", flush=True)
    flags = plan.train_flags()
    if settings.seed is not None:
        flags += ["--seed", str(settings.seed)]
    if _resuming(settings):
        flags += ["--resume_from_checkpoint", settings.resume_from_checkpoint]
    status = train.main(flags, suggest_next=False)
    if status != 0:
        print(f"training stopped (exit {status}); the evaluation before training is in {folder / 'eval_before.json'}",
              file=sys.stderr)
        return status
    after = held_out(str(folder), "after")

    from srgrpo.plots import plot_accuracy, plot_training

    figures = [folder / "training.png", folder / "held_out.png"]
    plot_training(str(folder)).savefig(figures[0], dpi=110, bbox_inches="tight")
    plot_accuracy(before, after, labels=plan.labels).savefig(figures[1], dpi=110, bbox_inches="tight")
    minutes = (time.time() - began) / 60
    print(f"\n== verdict: {plan.model}, {plan.eval_limit} held-out problems, before -> after "
          f"({minutes:.1f} min in all; the run is in {folder}) ==")
    print("\n".join(verdict_lines(before, after, figures)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
