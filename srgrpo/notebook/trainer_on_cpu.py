"""Notebook 3, ``03_trainer_on_cpu``: ``SRGRPOTrainer`` on a real model, SmolLM2-135M-Instruct, on the CPU.

A problem as the model sees it (:func:`show_prompt`), the settings of a live run a few steps long
(:func:`live_settings`), the held-out answers before and after it (:func:`live_report`), then the committed
comparison of the real-model lab (``data/results/real.json``) read through sentences computed from its intervals
(:func:`real_highlights`, :func:`real_conclusions`). What else the notebook calls is re-exported here.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Mapping, Sequence

from srgrpo.glossary import label as word_for
from srgrpo.lab.real.figures import (ACCURACY_BAR, FORMAT_BAR, aim_misses, bounded_change, change_text,
                                     cost_text, format_comparisons,
                                     format_table, plot_real_comparisons, plot_real_curves, plot_real_heldout,
                                     seeds_at_format_bar)
from srgrpo.lab.real.runs import build_trainer, evaluate_start
from srgrpo.lab.real.settings import RealLabSettings, RunSpec
from srgrpo.lab.real.task import heldout_problems, heldout_records, heldout_summary
from srgrpo.notebook.setup import load_results, setup_notebook
from srgrpo.plots.palette import run_label
from srgrpo.train.step_table import attach_step_table

__all__ = [
    "show_prompt",
    "live_settings",
    "live_report",
    "live_examples",
    "real_highlights",
    "real_conclusions",
    "real_examples",
    "stability_paragraph",
    "attach_step_table",
    "RealLabSettings",
    "RunSpec",
    "build_trainer",
    "evaluate_start",
    "heldout_problems",
    "heldout_records",
    "heldout_summary",
    "format_table",
    "format_comparisons",
    "plot_real_comparisons",
    "plot_real_curves",
    "plot_real_heldout",
    "load_results",
    "setup_notebook",
]


def show_prompt(index: int = 0, model: str = "smollm2") -> str:
    """Held-out problem ``index`` exactly as the model reads it (its chat template, generation prompt included),
    followed by the gold answer."""
    from transformers import AutoTokenizer

    from srgrpo.models.loading import resolve_model_path

    problem = heldout_problems(index + 1)[index]
    tokenizer = AutoTokenizer.from_pretrained(resolve_model_path(model))
    text = tokenizer.apply_chat_template(problem["prompt"], tokenize=False, add_generation_prompt=True)
    n_tokens = len(tokenizer(text, add_special_tokens=False)["input_ids"])
    return f"{text}\n[{n_tokens} tokens; the gold answer is {problem['answer']}]"


def live_settings(committed: Mapping[str, Any] | None = None, *, max_steps: int = 6, eval_limit: int = 20,
                  **overrides: Any) -> RealLabSettings:
    """The lab's settings for a short live run: the committed comparison's (``committed["settings"]``, else the
    defaults) with ``max_steps`` steps, ``eval_limit`` held-out problems, and two torch threads."""
    settings = RealLabSettings()
    if committed is not None:
        keep = {k: v for k, v in committed["settings"].items() if k in settings.to_dict()}
        settings = replace(settings, **keep)
    return replace(settings, max_steps=max_steps, eval_limit=eval_limit, threads=2, workers=1, figures=False,
                   **overrides)


def _rates(summary: Mapping[str, Any]) -> str:
    return ", ".join(f"{word_for(name)} {summary[name]['count']}/{summary['n']}"
                     for name in ("accuracy", "strict_format", "answer_line", "stopped"))


def live_report(before: Mapping[str, Any], after: Mapping[str, Any], steps: int) -> str:
    """Two lines: the live run's held-out counts before and after its ``steps`` steps."""
    labels = ("before:", f"after {steps} step{'' if steps == 1 else 's'}:")
    width = max(map(len, labels))
    return "\n".join(f"{label:<{width}} {_rates(s)}" for label, s in zip(labels, (before, after)))


#: The live run's held-out marks, in the order :func:`live_report` counts them: the record field -> the rate's key.
_MARKS = {"correct": "accuracy", "strict_format": "strict_format", "any_answer_line": "answer_line",
          "stopped": "stopped"}


def live_examples(records: Sequence[Mapping[str, Any]], n: int = 2) -> str:
    """``n`` of the live run's greedy answers as the model wrote them, with their marks and format reward, so that
    :func:`live_report`'s counts explain themselves. Answers with an answer line that stopped but are not in format
    come first (the case a reader asks about when "answer line" and "stopped" rise while "in format" does not), then
    the others, each group in problem order."""
    def puzzling(r: Mapping[str, Any]) -> bool:
        return bool(r["any_answer_line"] and r["stopped"] and not r["strict_format"])

    shown = sorted(records, key=lambda r: not puzzling(r))[:n]  # a stable sort: problem order within each group
    blocks = []
    for r in shown:
        marks = ", ".join(f"{word_for(rate)}: {'yes' if r[key] else 'no'}" for key, rate in _MARKS.items())
        blocks.append(f"Q{r['index']}: {r['question']}  (gold {r['gold']})\n"
                      f"--- greedy answer after training ({marks}; format reward {r['format_score']:g})\n"
                      f"{r['completion'].rstrip()}")
    return "\n".join(blocks)


def real_highlights(summary: Mapping[str, Any]) -> str:
    """The committed comparison's settings, cost and per-method table (mean and per-seed values), from the JSON."""
    cfg, start = summary["settings"], summary["start"]["heldout"]
    seeds = len(cfg["seeds"])
    lines = [
        f"{cfg['model_name_or_path']}: {cfg['max_steps']} steps a run, {cfg['prompts_per_step']} problem"
        f"{'' if cfg['prompts_per_step'] == 1 else 's'} x {cfg['num_generations']} completions a step (at most "
        f"{cfg['max_completion_length']} tokens, temperature {cfg['temperature']:g}), LoRA r{cfg['lora_r']}, "
        f"lr {cfg['learning_rate']:g}, beta {cfg['beta']:g}, {cfg['num_iterations']} update(s) a batch; "
        f"{seeds} seeds per method",
        f"held-out: {start['n']} problems, greedy, at most {cfg['max_new_tokens']} new tokens",
        f"{cost_text(summary)}, on one core of {summary['metadata']['machine']['cpu_count']}",
        "",
        format_table(dict(summary)),
    ]
    return "\n".join(lines)


def _pick(examples, success: bool):
    return next((e for e in examples if bool(e["correct"] and e["strict_format"]) == success), None)


def real_examples(summary: Mapping[str, Any], label: str, seed: int = 0) -> str:
    """What the rates count: the pretrained model's first held-out answer, then run ``label``/``seed``'s answer to
    the same problem and, beside it, its first answer that is correct and in format (as stored in the JSON)."""
    run = next((r for r in summary["runs"] if r["label"] == label and r["seed"] == seed), None)
    if run is None:
        raise ValueError(f"no run {label!r} with seed {seed} in this summary")
    shown = [("the pretrained model", summary["start"]["examples"][0]), (f"{label}, seed {seed}", run["examples"][0])]
    success = _pick(run["examples"], True)
    if success is not None and success is not run["examples"][0]:
        shown.append((f"{label}, seed {seed}, a success", success))
    blocks = []
    asked = None
    for name, ex in shown:
        if ex["question"] != asked:
            blocks.append(f"Q{ex['index']}: {ex['question']}  (gold {ex['gold']})")
            asked = ex["question"]
        marks = ", ".join(f"{word_for(key)}: {'yes' if ex[key] else 'no'}"
                          for key in ("correct", "strict_format", "stopped"))
        blocks.append(f"--- {name} ({marks})\n{ex['completion'].rstrip()}")
    if success is None:
        blocks.append(f"(no answer of {label}, seed {seed} among the stored examples is correct and in format)")
    return "\n".join(blocks)


def real_conclusions(summary: Mapping[str, Any], format_bar: float = FORMAT_BAR, accuracy_bar: float = ACCURACY_BAR) -> str:
    """A compact table of what the JSON supports, method by method, then the declared comparisons.

    Columns: the change in correct answers from the pretrained model with its 95 % interval over seeds (clipped to
    what the rate allows, marked ``*``: :func:`srgrpo.lab.real.figures.bounded_change`); the seeds whose in format
    reached ``format_bar`` percent; and the lab's aim (in format of at least ``format_bar`` percent in every
    seed and an accuracy gain of at least ``accuracy_bar`` points whose interval lies above zero), with what missed it.
    Controls get no aim.
    """
    methods = list(summary["methods"].values())
    width = max(len(run_label(m)) for m in methods) + 2
    lines = [f"{'method':<{width}}{'accuracy change [95%]':<26}{f'in format >= {format_bar:.0f}%':<24}aim",
             "-" * (width + 70)]
    for m in methods:
        change, clipped = bounded_change(m["change"]["accuracy"], summary["start"]["heldout"]["accuracy"]["percent"])
        cell = change_text(change, "") + ("*" if clipped else "")
        reached = "{} of {} seeds".format(*seeds_at_format_bar(m, format_bar))
        misses = aim_misses(m, format_bar, accuracy_bar)
        aim = "(control)" if m["control"] else ("no: " + "; ".join(misses) if misses else "yes")
        lines.append(f"{run_label(m):<{width}}{cell:<26}{reached:<24}{aim}")
    if summary.get("comparisons"):
        lines += ["", format_comparisons(dict(summary))]
    return "\n".join(lines)


def stability_paragraph(stability: Mapping[str, Any] | None = None) -> str:
    """Notebook 3's paragraph on the stability experiment (``docs/stability.md``), read from
    ``data/results/stability.json``: what it declared, each hypothesis's verdict and what that means for a user
    choosing between the two methods, or, until all its runs are in,
    that they are in progress (the runs checkpointed so far are counted in docs/lab.md, not here: this output is
    compared by nbval and changes only with the results file)."""
    from srgrpo.lab.stability.figures import format_verdicts, meaning
    from srgrpo.lab.stability.plan import DECLARED, FRESH_SEEDS, METHODS

    if stability is None:
        stability = load_results("stability.json")
    wanted = len(METHODS) * len(FRESH_SEEDS)
    hypotheses = DECLARED["hypotheses"]
    head = (f"The stability experiment (declared in docs/stability.md before its first run) asks: "
            f"{DECLARED['question']} It declared {len(hypotheses)} hypotheses, tested on {wanted} runs, fresh seeds "
            f"{min(FRESH_SEEDS)}-{max(FRESH_SEEDS)} for each method.")
    if not stability.get("complete"):
        return head + (" Its runs are in progress (docs/lab.md counts those finished); the verdicts will be printed "
                       "here once all are in:\n" + "\n".join(f"- {h['id']}: {h['claim']}" for h in hypotheses))
    verdicts = format_verdicts(dict(stability)).splitlines()
    for_a_user = meaning(dict(stability)).replace("**", "").replace("`", "")  # printed, not rendered
    return "\n".join([head, *(f"- {v}" for v in verdicts), for_a_user])
