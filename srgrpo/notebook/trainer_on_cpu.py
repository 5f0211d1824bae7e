"""Notebook 3, ``03_trainer_on_cpu``: SRGRPOTrainer on the offline tiny model, on the arithmetic lab's task.

The lab's problems as the model sees them (:func:`show_problems`), its training split as a dataset
(:func:`arithmetic_data`), a smaller supervised warm start (:func:`tiny_warm_start`, :func:`load_warm_start`), and the
committed full comparison read through sentences, a slider and plain checks computed from its numbers
(:func:`arithmetic_highlights`, :func:`arithmetic_explorer`, :func:`arithmetic_checks`). What else the notebook calls
is re-exported here.
"""

from __future__ import annotations

import contextlib
import sys
from typing import Any, Mapping

from srgrpo.lab.arithmetic_figures import format_table, plot_arithmetic_accuracy, plot_arithmetic_curves
from srgrpo.lab.arithmetic_settings import DEFAULTS
from srgrpo.lab.methods import SOFT_METHODS
from srgrpo.lab.warm_start import greedy_accuracy, load_warm_start
from srgrpo.notebook.setup import load_results, setup_notebook
from srgrpo.notebook.slider import FigureSlider, tau_slider
from srgrpo.palette import same_tau

__all__ = [
    "show_problems",
    "arithmetic_data",
    "tiny_warm_start",
    "load_warm_start",
    "arithmetic_highlights",
    "arithmetic_explorer",
    "arithmetic_checks",
    "DEFAULTS",
    "format_table",
    "greedy_accuracy",
    "plot_arithmetic_accuracy",
    "load_results",
    "setup_notebook",
]


def show_problems(n: int = 2, seed: int = 1) -> str:
    """A few of the lab's arithmetic problems exactly as the model sees them: prompt, then target completion
    (notebook 3)."""
    from srgrpo.lab.tasks import format_completion, format_prompt, generate_problems

    blocks = []
    for p in generate_problems(n, seed=seed):
        blocks.append(f"{format_prompt(p['question'])}{format_completion(p['solution'])}")
    return "\n\n".join(blocks)


def arithmetic_data(n_heldout: int = 100, seed: int | None = None):
    """The lab's training prompts as a ``datasets.Dataset`` (``prompt``, ``answer``) and its held-out problems.

    The same split as :func:`srgrpo.lab.arithmetic.compare_arithmetic` (its ``n_train`` and ``data_seed``), with
    ``n_heldout`` held-out problems (the held-out set depends only on the seed and its size).
    """
    from srgrpo.lab.tasks import make_splits, prompt_dataset

    seed = DEFAULTS["data_seed"] if seed is None else seed
    train, heldout = make_splits(DEFAULTS["n_train"], n_heldout, seed)
    return prompt_dataset(train), heldout


def tiny_warm_start(warm_steps: int, n_heldout: int = 100, **settings):
    """The lab's supervised warm start (:func:`srgrpo.lab.warm_start.warm_start`) with a smaller budget.

    Trained once and cached (like the lab's own); its progress lines go to stdout, not stderr. Returns
    ``(folder, info)`` where ``info["accuracy"]`` is the greedy held-out accuracy in percent.
    """
    from srgrpo.lab.warm_start import warm_start

    with contextlib.redirect_stderr(sys.stdout):
        return warm_start({"warm_steps": warm_steps, "n_heldout": n_heldout, **settings})


def arithmetic_highlights(summary: Mapping[str, Any]) -> str:
    """The settings and the headline numbers of a committed arithmetic-lab summary, printed from the JSON
    (notebook 3)."""
    cfg = summary["config"]
    warm = summary.get("warm_start", {})
    seeds = summary.get("seeds", [])
    lines = [
        f"warm start: {warm.get('steps')} supervised steps, held-out accuracy {warm.get('accuracy'):.1f}% "
        f"on {cfg.get('n_heldout')} problems",
        f"RL: {cfg.get('rl_steps')} steps per run, {cfg.get('prompts_per_step')} prompts x "
        f"{cfg.get('num_generations')} completions per step, lr {cfg.get('learning_rate')}, "
        f"temperature {cfg.get('temperature')}, beta {cfg.get('beta')}, {len(seeds)} seeds per method",
        "",
        "held-out accuracy after RL (mean over seeds), change from the warm start in points [95% interval]:",
    ]
    for run in summary["runs"].values():
        after, change = run.get("after"), run.get("change")
        if not after or not change:
            continue
        label = run["label"] + (" (control)" if run.get("control") else "")
        interval = "" if change.get("low") is None else f" [{change['low']:+.1f}, {change['high']:+.1f}]"
        lines.append(f"  {label:<30} {after['mean']:5.1f}%   {change['mean']:+5.1f}{interval}")
    return "\n".join(lines)


def arithmetic_explorer(summary: Mapping[str, Any], tau: float | None = None) -> FigureSlider:
    """A ``SelectionSlider`` over an arithmetic summary's temperatures redrawing its reward curves
    (:func:`srgrpo.lab.arithmetic_figures.plot_arithmetic_curves`); ``update(tau)`` returns the drawn labels' last
    reward (notebook 3)."""
    taus = sorted({r["tau"] for r in summary["runs"].values() if r["method"] in SOFT_METHODS})

    def render(value):
        drawn = {
            label: run["curve"]["mean"][-1]
            for label, run in summary["runs"].items()
            if run.get("curve") and run["curve"].get("mean")
            and (run["method"] not in SOFT_METHODS or same_tau(run["tau"], value))
        }
        return plot_arithmetic_curves(summary, tau=value), drawn

    return tau_slider(render, taus=taus, tau=tau)


def arithmetic_checks(summary: Mapping[str, Any]) -> str:
    """Plain yes/no statements about a committed arithmetic-lab summary, computed from its numbers.

    The markdown of notebook 3 reads the results through these lines, so its text cannot drift from the JSON.
    """
    runs = [r for r in summary["runs"].values() if r.get("change")]

    def mean(run):
        return run["change"]["mean"]

    def of(method):
        return [r for r in runs if r["method"] == method]

    def excludes_zero(run):
        low, high = run["change"].get("low"), run["change"].get("high")
        return low is not None and (low > 0 or high < 0)

    shared, per, grpo = of("shared"), of("per_sample"), of("grpo")
    controls = [r for r in runs if r.get("control")]
    sure = [r["label"] for r in runs if excludes_zero(r)]
    good = grpo + [p for p in per if p["tau"] >= 0.5]
    facts = [
        ("every shared run ends below the warm start", bool(shared) and all(mean(r) < 0 for r in shared)),
        ("every control ends below the warm start", bool(controls) and all(mean(r) < 0 for r in controls)),
        ("GRPO ends above the warm start", bool(grpo) and all(mean(r) > 0 for r in grpo)),
        ("per_sample ends above the warm start for tau >= 0.5",
         any(p["tau"] >= 0.5 for p in per) and all(mean(r) > 0 for r in per if r["tau"] >= 0.5)),
        ("the best shared run is below the worst GRPO / per_sample(tau >= 0.5) run",
         bool(shared) and bool(good) and max(mean(r) for r in shared) < min(mean(r) for r in good)),
    ]
    width = max(len(text) for text, _ in facts) + 1
    lines = [f"{text + ':':<{width}} {value}" for text, value in facts]
    lines.append(f"changes whose 95% interval excludes zero: {', '.join(sure) if sure else 'none'}")
    return "\n".join(lines)
