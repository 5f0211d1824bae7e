r"""The arithmetic lab's figures and table, drawn from a summary (what :func:`srgrpo.lab.arithmetic.compare_arithmetic`
returned, or its JSON read back): training reward per step, held-out accuracy after RL, and a plain-text table.
Colours and line styles are the kit's one palette (:mod:`srgrpo.palette`).
"""

from __future__ import annotations

from typing import Any

from srgrpo.lab.methods import SOFT_METHODS
from srgrpo.palette import method_style, run_label, same_tau
from srgrpo.stats import moving_average

__all__ = ["plot_arithmetic_curves", "plot_arithmetic_accuracy", "format_table"]


def _taus(summary: dict[str, Any]) -> list[float]:
    return sorted({r["tau"] for r in summary["runs"].values() if r["method"] in SOFT_METHODS})


def plot_arithmetic_curves(summary: dict[str, Any], path=None, *, ax=None, tau: float | None = None,
                           bands: bool = True, smooth: int = 1, title: str | None = None):
    """Mean training reward per RL step of every run (95% band over seeds).

    GRPO and the controls are drawn in every panel; with both soft methods present and no ``ax``
    given, ``shared`` and ``per_sample`` get a panel each, so eleven curves stay readable.

    Args:
        summary: what :func:`compare_arithmetic` returned, or the JSON read back.
        path: if given, save the figure there.
        ax: draw every run into these axes instead of a new figure.
        tau: draw the soft methods at this temperature only (GRPO and the controls always).
        bands: shade each curve's 95% interval over seeds.
        smooth: trailing moving average over this many steps (1: none), for mean and band alike.
        title: the figure's title (default: the run's size).

    Returns:
        The ``matplotlib.figure.Figure`` (built without pyplot).
    """
    from matplotlib.figure import Figure

    taus = _taus(summary)
    runs = [r for r in summary["runs"].values() if r.get("curve")]
    if tau is not None:
        runs = [r for r in runs if r["method"] not in SOFT_METHODS or same_tau(r["tau"], float(tau))]
    families = [m for m in SOFT_METHODS if any(r["method"] == m for r in runs)]
    if ax is not None:
        fig, panels = ax.figure, [(ax, runs)]
    else:
        groups = [[r for r in runs if r["method"] not in SOFT_METHODS or r["method"] == f] for f in families] or [runs]
        fig = Figure(figsize=(7 * len(groups), 5), layout="constrained")
        axes = fig.subplots(1, len(groups), sharey=True, squeeze=False)[0]
        panels = list(zip(axes, groups))
    top = 0.0
    for axis, group in panels:
        for run in group:
            curve = run["curve"]
            style = method_style(run, taus)
            label = run_label(run)
            mean = moving_average(curve["mean"], smooth)
            axis.plot(curve["step"], mean, label=label, **style)
            top = max([top] + [v for v in mean if v is not None])
            low, high = moving_average(curve["low"], smooth), moving_average(curve["high"], smooth)
            if bands and low and all(v is not None for v in low + high):
                axis.fill_between(curve["step"], low, high, color=style["color"], alpha=0.06, linewidth=0)
                top = max([top] + high)
        axis.set_xlabel("RL step")
        axis.grid(alpha=0.3)
        if group:
            axis.legend(fontsize=7, loc="upper left", ncol=2 if len(group) > 6 else 1)
    panels[0][0].set_ylabel("mean training reward (fraction correct)" + (f", {smooth}-step average" if smooth > 1 else ""))
    panels[0][0].set_ylim(0, min(1.02, 1.15 * top + 0.02) if top > 0 else 1.02)
    cfg = summary.get("config", {})
    if title is None and cfg:
        title = (f"Arithmetic, tiny LM: {cfg.get('prompts_per_step')} prompts x {cfg.get('num_generations')} samples "
                 f"per step, lr {cfg.get('learning_rate')}, T={cfg.get('temperature')}, {cfg.get('seeds')} seeds "
                 "(mean, 95% band)")
    if title:
        if ax is None:
            fig.suptitle(title, fontsize=10)
        else:
            ax.set_title(title, fontsize=9)
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig


def plot_arithmetic_accuracy(summary: dict[str, Any], path=None, *, ax=None, title: str | None = None):
    """Held-out greedy accuracy after RL per run (mean and 95% interval), against the warm start.

    The warm start's accuracy (the "before" of every run) is the dashed line. Returns the
    ``matplotlib.figure.Figure`` (built without pyplot); ``path`` saves it.
    """
    from matplotlib.figure import Figure

    taus = _taus(summary)
    runs = [r for r in summary["runs"].values() if r.get("after")]
    if ax is None:
        fig = Figure(figsize=(8, 0.9 + 0.38 * max(len(runs), 1)), layout="constrained")
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    for y, run in enumerate(runs):
        after = run["after"]
        style = method_style(run, taus)
        ax.barh(y, after["mean"], color=style["color"], alpha=0.75, height=0.6)
        if after["low"] is not None:
            ax.errorbar(after["mean"], y, xerr=[[after["mean"] - after["low"]], [after["high"] - after["mean"]]],
                        fmt="none", ecolor="black", capsize=3, linewidth=1)
        seeds = [d["after"] for d in run["per_seed"].values()]
        ax.plot(seeds, [y] * len(seeds), "o", color="black", markersize=2.5, alpha=0.6)
    before = summary.get("warm_start", {}).get("accuracy")
    if before is not None:
        ax.axvline(before, color="0.3", linestyle="--", linewidth=1, label=f"warm start (before RL): {before:.1f}%")
        ax.legend(fontsize=8, loc="lower right")
    ax.set_yticks(range(len(runs)), [run_label(r) for r in runs],
                  fontsize=8)
    ax.invert_yaxis()
    highest = [before or 0.0] + [v for r in runs for v in [r["after"]["high"] or r["after"]["mean"]]]
    highest += [d["after"] for r in runs for d in r["per_seed"].values()]
    ax.set_xlim(0, min(100.0, 1.15 * max(highest) + 2))
    ax.set_xlabel("held-out greedy accuracy after RL (%), mean and 95% interval over seeds (dots: seeds)")
    cfg = summary.get("config", {})
    if title is None and cfg:
        title = f"Arithmetic, tiny LM: {cfg.get('rl_steps')} RL steps from the same warm start, {cfg.get('seeds')} seeds"
    if title:
        ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3, axis="x")
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig


def format_table(summary: dict[str, Any]) -> str:
    """Plain-text table: held-out accuracy before, after [95% interval], change [interval], seconds per run."""

    def cell(interval, signed=False):
        if not interval:
            return "-"
        fmt = "{:+.1f}" if signed else "{:.1f}"
        text = fmt.format(interval["mean"])
        if interval.get("low") is not None:
            text += f" [{fmt.format(interval['low'])}, {fmt.format(interval['high'])}]"
        return text

    runs = list(summary["runs"].values())
    width = max([len("method")] + [len(r["label"]) + (10 if r.get("control") else 0) for r in runs])
    head = (f"{'method':<{width}}  {'before %':>8}  {'after % [95% CI]':>22}  {'change pts [95% CI]':>24}"
            f"  {'s/run':>6}  seeds")
    lines = [head, "-" * len(head)]
    for run in runs:
        label = run_label(run)
        before = run.get("before", {}).get("mean") if run.get("before") else None
        wall = run.get("wall_s", {}).get("mean") if run.get("wall_s") else None
        lines.append(
            f"{label:<{width}}  {before if before is None else f'{before:.1f}':>8}  {cell(run.get('after')):>22}  "
            f"{cell(run.get('change'), signed=True):>24}  {'-' if wall is None else f'{wall:.0f}':>6}  "
            f"{len(run['per_seed'])}"
        )
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------------------
