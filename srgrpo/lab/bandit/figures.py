"""The bandit lab's figure and table, drawn from a :func:`srgrpo.lab.bandit.runs.compare_bandit` summary (or its JSON
read back): mean learning curves with 95% bands in the kit's one palette (:mod:`srgrpo.plots.palette`), and a plain-text
table of the fraction of the optimum at each checkpoint.
"""

from __future__ import annotations

from typing import Any

from srgrpo.lab.methods import SOFT_METHODS
from srgrpo.plots.palette import method_style, run_label, same_tau

__all__ = ["THRESHOLD", "bandit_taus", "plot_bandit", "format_table"]

#: The fraction of the optimum whose first crossing ``compare_bandit`` reports (``steps_to_80``).
THRESHOLD = 0.8


def bandit_taus(summary: dict[str, Any]) -> list[float]:
    """The temperatures of a summary's soft runs, sorted (the values a notebook slider offers)."""
    return sorted({run["tau"] for run in summary["runs"].values() if run["method"] in SOFT_METHODS})


def plot_bandit(
    summary: dict[str, Any],
    tau: float | None = None,
    path=None,
    *,
    ax=None,
    title: str | None = None,
    bands: bool = True,
    overlap: float = 0.02,
):
    """Draw the mean learning curves of a :func:`srgrpo.lab.bandit.runs.compare_bandit` summary, with 95% bands.

    Args:
        summary: what :func:`srgrpo.lab.bandit.runs.compare_bandit` returned (or its ``"summary"`` read back from JSON).
        tau: if given, draw the soft methods at this temperature only (GRPO and the controls are
            always drawn): what a notebook's tau slider calls.
        path: if given, save the figure there (the format follows the suffix, e.g. ``.png``).
        ax: draw into these axes instead of a new figure.
        title: the axes' title (default: the run's size).
        bands: shade each curve's 95% interval over seeds.
        overlap: when every tau is drawn (``tau`` is None), a soft method whose mean curves all stay within this
            distance of each other at every step is drawn as one line (its first tau's) labelled with all its taus:
            four indistinguishable lines would only hide each other. 0 draws every curve.

    Returns:
        The ``matplotlib.figure.Figure`` (built without pyplot, so it never lingers in global
        state; a notebook displays it by leaving it as a cell's last expression).

    Raises:
        ValueError: ``tau`` matches none of the summary's soft runs.
    """
    from matplotlib.figure import Figure

    taus = bandit_taus(summary)
    runs = list(summary["runs"].values())
    if tau is not None:
        if taus and not any(same_tau(t, float(tau)) for t in taus):
            raise ValueError(f"no soft run with tau={tau:g} in this summary; it has tau in {taus}.")
        runs = [r for r in runs if r["method"] not in SOFT_METHODS or same_tau(r["tau"], float(tau))]
    if ax is None:
        fig = Figure(figsize=(8, 5), layout="constrained")
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    merged = _overlapping(runs, overlap) if tau is None and overlap else {}
    for run in runs:
        if run["label"] in merged and merged[run["label"]] is None:
            continue  # drawn as one line with the other temperatures of its method
        mean = run["curve"]["mean"]
        steps = range(len(mean))
        style = method_style(run, taus)
        label = run_label(run)
        if run["label"] in merged:
            group = merged[run["label"]]
            temperatures = ", ".join(format(r["tau"], "g") for r in group)
            label = f"{run['method']} (tau={temperatures}: {len(group)} curves within {overlap:g}, drawn as one)"
        ax.plot(steps, mean, label=label, **style)
        low, high = run["curve"]["low"], run["curve"]["high"]
        if bands and low and all(v is not None for v in low + high):
            ax.fill_between(steps, low, high, color=style["color"], alpha=0.12, linewidth=0)
    ax.axhline(THRESHOLD, color="0.6", linewidth=0.8, linestyle=(0, (4, 4)))
    ax.text(0, THRESHOLD, f" {THRESHOLD:.0%} of optimum", va="bottom", ha="left", fontsize=8, color="0.4")
    cfg = summary.get("config", {})
    if title is None and cfg:
        title = (
            f"Bandit: {cfg.get('prompts')} prompts x {cfg.get('answers')} answers, K={cfg.get('k')}, "
            f"lr={cfg.get('lr')}, {cfg.get('seeds')} seeds (mean, 95% band)"
        )
    if title:
        ax.set_title(title, fontsize=10)
    ax.set_xlabel("policy-gradient step")
    ax.set_ylabel("expected reward / optimum")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right", ncol=2 if len(runs) > 6 else 1)
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig


def _overlapping(runs: list[dict[str, Any]], overlap: float) -> dict[str, Any]:
    """``{label: [runs of its method] for the first run, None for the others}`` for each soft method with several
    temperatures whose mean curves all stay within ``overlap`` of each other at every step."""
    by_method: dict[str, list[dict[str, Any]]] = {}
    for run in runs:
        if run["method"] in SOFT_METHODS:
            by_method.setdefault(run["method"], []).append(run)
    out: dict[str, Any] = {}
    for group in by_method.values():
        if len(group) < 2:
            continue
        curves = [r["curve"]["mean"] for r in group]
        spread = max(max(column) - min(column) for column in zip(*curves))
        if spread <= overlap:
            out[group[0]["label"]] = group
            out.update({r["label"]: None for r in group[1:]})
    return out


def format_table(summary: dict[str, Any]) -> str:
    """A plain-text table of a summary: fraction of the optimum at each checkpoint, steps to 80%."""
    points = summary["config"]["checkpoints"]
    runs = list(summary["runs"].values())
    width = max([len("method")] + [len(r["label"]) + (10 if r.get("control") else 0) for r in runs])
    head = f"{'method':<{width}}  " + "  ".join(f"{'@' + str(p):>6}" for p in points) + "   steps to 80% (reached)"
    lines = [head, "-" * len(head)]
    for run in runs:
        label = run_label(run)
        cells = "  ".join(f"{c['mean']:6.3f}" for c in run["checkpoints"])
        s80 = run["steps_to_80"]
        n = s80["reached"] + s80["never"]
        if s80["reached"] == 0:
            reach = f"never (0/{n})"
        elif s80["low"] is None:
            reach = f"{s80['mean']:.0f} ({s80['reached']}/{n})"
        else:
            reach = f"{s80['mean']:.0f} [{s80['low']:.0f}, {s80['high']:.0f}] ({s80['reached']}/{n})"
        lines.append(f"{label:<{width}}  {cells}   {reach}")
    return "\n".join(lines)
