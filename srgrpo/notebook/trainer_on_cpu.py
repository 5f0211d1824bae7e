"""Notebook 3, ``03_trainer_on_cpu``: ``SRGRPOTrainer`` on a real model, SmolLM2-135M-Instruct, on the CPU.

A problem as the model sees it (:func:`show_prompt`), the settings of a live run a few steps long
(:func:`live_settings`), the held-out answers before and after it (:func:`live_report`), then the committed
comparison of the real-model lab (``data/results/real.json``) read through sentences computed from its intervals
(:func:`real_highlights`, :func:`real_conclusions`). What else the notebook calls is re-exported here.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Mapping

from srgrpo.lab.real_comparison import excludes_zero
from srgrpo.lab.real_figures import format_table, plot_real_curves, plot_real_heldout
from srgrpo.lab.real_runs import build_trainer, evaluate_start
from srgrpo.lab.real_settings import RealLabSettings, RunSpec
from srgrpo.lab.real_task import heldout_problems, heldout_records, heldout_summary
from srgrpo.notebook.setup import load_results, setup_notebook
from srgrpo.palette import run_label
from srgrpo.step_table import attach_step_table

__all__ = [
    "show_prompt",
    "live_settings",
    "live_report",
    "real_highlights",
    "real_conclusions",
    "real_examples",
    "attach_step_table",
    "RealLabSettings",
    "RunSpec",
    "build_trainer",
    "evaluate_start",
    "heldout_problems",
    "heldout_records",
    "heldout_summary",
    "format_table",
    "plot_real_curves",
    "plot_real_heldout",
    "load_results",
    "setup_notebook",
]


def show_prompt(index: int = 0, model: str = "smollm2") -> str:
    """Held-out problem ``index`` exactly as the model reads it (its chat template, generation prompt included),
    followed by the gold answer."""
    from transformers import AutoTokenizer

    from srgrpo.models import resolve_model_path

    problem = heldout_problems(index + 1)[index]
    tokenizer = AutoTokenizer.from_pretrained(resolve_model_path(model))
    text = tokenizer.apply_chat_template(problem["prompt"], tokenize=False, add_generation_prompt=True)
    n_tokens = len(tokenizer(text, add_special_tokens=False)["input_ids"])
    return f"{text}\n[{n_tokens} tokens; the gold answer is {problem['answer']}]"


def live_settings(committed: Mapping[str, Any] | None = None, *, steps: int = 3, eval_problems: int = 20,
                  **overrides: Any) -> RealLabSettings:
    """The lab's settings for a short live run: the committed comparison's (``committed["settings"]``, else the
    defaults) with ``steps`` steps, ``eval_problems`` held-out problems, and two torch threads."""
    settings = RealLabSettings()
    if committed is not None:
        keep = {k: v for k, v in committed["settings"].items() if k in settings.to_dict()}
        settings = replace(settings, **keep)
    return replace(settings, steps=steps, eval_problems=eval_problems, threads=2, workers=1, figures=False,
                   **overrides)


def _rates(summary: Mapping[str, Any]) -> str:
    return ", ".join(f"{name.replace('_', ' ')} {summary[name]['count']}/{summary['n']}"
                     for name in ("accuracy", "strict_format", "answer_line", "stopped"))


def live_report(before: Mapping[str, Any], after: Mapping[str, Any], steps: int) -> str:
    """Two lines: the live run's held-out counts before and after its ``steps`` steps."""
    labels = ("before:", f"after {steps} step{'' if steps == 1 else 's'}:")
    width = max(map(len, labels))
    return "\n".join(f"{label:<{width}} {_rates(s)}" for label, s in zip(labels, (before, after)))


def _cell(stat: Mapping[str, Any], unit: str = "") -> str:
    text = f"{stat['mean']:+.1f}{unit}"
    if stat.get("low") is not None:
        text += f" [{stat['low']:+.1f}, {stat['high']:+.1f}]"
    return text


def real_highlights(summary: Mapping[str, Any]) -> str:
    """The committed comparison's settings and its headline numbers, printed from the JSON."""
    cfg, start = summary["settings"], summary["start"]["heldout"]
    seeds = len(cfg["seeds"])
    lines = [
        f"{cfg['model']}: {cfg['steps']} steps a run, {cfg['prompts_per_step']} problem"
        f"{'' if cfg['prompts_per_step'] == 1 else 's'} x {cfg['num_generations']} completions a step (at most {cfg['max_completion_length']} tokens, temperature {cfg['temperature']:g}), "
        f"LoRA r{cfg['lora_r']}, lr {cfg['learning_rate']:g}, beta {cfg['beta']:g}; {seeds} seeds per method",
        f"held-out: {start['n']} problems, greedy, at most {cfg['eval_max_new_tokens']} new tokens; "
        f"the pretrained model: accuracy {start['accuracy']['percent']:.1f}%, strict format "
        f"{start['strict_format']['percent']:.1f}%, stopped {start['stopped']['percent']:.1f}%",
        f"{len(summary['runs'])} runs, {summary['compute_s'] / 60:.0f} min of runs "
        f"(mean {sum(r['wall_s'] for r in summary['runs']) / len(summary['runs']) / 60:.1f} min each, "
        f"on one core of {summary['metadata']['machine']['cpu_count']})",
        "",
        "change from the pretrained model, points, mean [95% interval over seeds]:",
        f"  {'method':<30} {'accuracy':>22} {'strict format':>22} {'stopped':>22}",
    ]
    for m in summary["methods"].values():
        label = run_label(m)
        ch = m["change"]
        lines.append(f"  {label:<30} {_cell(ch['accuracy']):>22} {_cell(ch['strict_format']):>22} "
                     f"{_cell(ch['stopped']):>22}")
    return "\n".join(lines)


def real_examples(summary: Mapping[str, Any], labels, seed: int = 0, k: int = 1) -> str:
    """The first ``k`` held-out answers of the pretrained model and of each method in ``labels`` (run ``seed``),
    as stored in the JSON: what the rates count."""
    blocks = []
    for i in range(k):
        first = summary["start"]["examples"][i]
        blocks.append(f"Q: {first['question']}  (gold {first['gold']})")
        runs = [("pretrained model", summary["start"]["examples"][i])]
        for label in labels:
            run = next((r for r in summary["runs"] if r["label"] == label and r["seed"] == seed), None)
            if run is None:
                raise ValueError(f"no run {label!r} with seed {seed} in this summary")
            runs.append((f"{label}, seed {seed}", run["examples"][i]))
        for name, ex in runs:
            marks = ", ".join(f"{key.replace('_', ' ')}: {'yes' if ex[key] else 'no'}"
                              for key in ("correct", "strict_format", "stopped"))
            blocks.append(f"--- {name} ({marks})\n{ex['completion'].rstrip()}")
    return "\n".join(blocks)


def real_conclusions(summary: Mapping[str, Any], format_bar: float = 90.0, accuracy_bar: float = 10.0) -> str:
    """What the intervals support, one statement per method, computed from the JSON.

    For each method: does its accuracy change from the pretrained model exclude zero (and in which direction); does
    its mean strict format reach ``format_bar`` percent; does it meet the lab's aim (an accuracy gain of at least
    ``accuracy_bar`` points whose interval excludes zero, and the format bar). For each method that is not a control:
    its accuracy and strict format minus each control's, paired by seed, and whether that interval excludes zero.
    """
    lines = []
    for m in summary["methods"].values():
        label = run_label(m)
        acc, fmt = m["change"]["accuracy"], m["after"]["strict_format"]
        if excludes_zero(acc):
            verdict = "accuracy rose" if acc["low"] > 0 else "accuracy fell"
            verdict += f" ({_cell(acc, ' points')}: the interval excludes zero)"
        else:
            verdict = f"no accuracy change the seeds can tell from zero ({_cell(acc, ' points')})"
        aim = excludes_zero(acc) and acc["low"] > 0 and acc["mean"] >= accuracy_bar and fmt["mean"] >= format_bar
        lines.append(f"{label}: {verdict}; strict format {fmt['mean']:.0f}% "
                     f"({'at least' if fmt['mean'] >= format_bar else 'below'} {format_bar:.0f}%)"
                     f"{'; meets the aim' if aim else ''}")
        for rate, name in (("accuracy", "accuracy"), ("strict_format", "strict format")):
            parts = []
            for control, rates in m.get("vs", {}).items():
                diff = rates[rate]
                if m["control"] or diff["mean"] is None:
                    continue
                sign = "" if not excludes_zero(diff) else (", above" if diff["low"] > 0 else ", below")
                parts.append(f"{_cell(diff)} vs {control}{sign}")
            if parts:
                lines.append(f"    {name}, paired by seed: " + "; ".join(parts))
    return "\n".join(lines)
