"""Notebook 2, ``02_advantage_lab``: the bandit learning lab, read from its committed results and rerun live.

:func:`bandit_explorer` is the tau slider over a bandit summary's learning curves, :func:`bandit_highlights` the
numbers worth reading as sentences, and :func:`compare_scaled_lr` separates the size of an update from its
direction: ``per_sample`` advantages scale with tau, so it reruns ``per_sample`` with the learning rate divided by
tau. The lab itself is :mod:`srgrpo.lab` (re-exported here: what the notebook calls).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from srgrpo.lab import compare_bandit, format_table, plot_bandit
from srgrpo.lab.bandit.runs import DEFAULTS, bandit_taus, run_bandit
from srgrpo.lab.methods import SOFT_METHODS
from srgrpo.notebook.setup import load_results, setup_notebook
from srgrpo.notebook.slider import FigureSlider, tau_slider
from srgrpo.plots.palette import same_tau

__all__ = [
    "bandit_explorer",
    "bandit_highlights",
    "compare_scaled_lr",
    "format_scaled_lr",
    "preset_tau",
    "preset_taus",
    "compare_bandit",
    "format_table",
    "plot_bandit",
    "load_results",
    "setup_notebook",
]


def bandit_explorer(summary: Mapping[str, Any], tau: float | None = None) -> FigureSlider:
    """A ``SelectionSlider`` over a bandit summary's temperatures that redraws :func:`srgrpo.lab.plot_bandit`.

    GRPO and the controls are always drawn; the soft methods at the chosen tau. ``update(tau)``
    returns ``{label: final fraction of the optimum}`` of the drawn runs (notebook 2).
    """

    def render(value):
        drawn = {
            label: run["final"]["mean"]
            for label, run in summary["runs"].items()
            if run["method"] not in SOFT_METHODS or same_tau(run["tau"], value)
        }
        return plot_bandit(summary, tau=value), drawn

    return tau_slider(render, taus=bandit_taus(summary), tau=tau)


def bandit_highlights(summary: Mapping[str, Any], digits: int = 2) -> str:
    """The few numbers worth reading in a bandit summary, as sentences (notebook 2).

    Each method's final fraction of the optimum with its 95% interval, the best tau of each soft
    form, and how many seeds reached the threshold.
    """
    runs = summary["runs"]
    cfg = summary["config"]
    last = cfg["steps"]
    thr = cfg.get("threshold", 0.8)

    def final(run):
        f = run["final"]
        if f.get("low") is None:
            return f"{f['mean']:.{digits}f}"
        return f"{f['mean']:.{digits}f} [{f['low']:.{digits}f}, {f['high']:.{digits}f}]"

    def reach(run):
        s = run["steps_to_80"]
        n = s["reached"] + s["never"]
        if s["reached"] == 0:
            return f"never reached {thr:.0%} (0/{n} seeds)"
        return f"reached {thr:.0%} after {s['mean']:.0f} steps on average ({s['reached']}/{n} seeds)"

    start = next(iter(runs.values()))["checkpoints"][0]["mean"]
    lines = [f"start (uniform policy): {start:.{digits}f} of the optimum; after {last} steps (mean [95% interval]):"]
    by_method: dict[str, list] = {}
    for run in runs.values():
        by_method.setdefault(run["method"], []).append(run)
    for method, group in by_method.items():
        if len(group) == 1:
            run = group[0]
            tag = " (control)" if run.get("control") else ""
            lines.append(f"  {run['label'] + tag:<38} {final(run):<20} {reach(run)}")
        else:
            best = max(group, key=lambda r: r["final"]["mean"])
            worst = min(group, key=lambda r: r["final"]["mean"])
            lines.append(f"  {method + ' best: ' + best['label']:<38} {final(best):<20} {reach(best)}")
            lines.append(f"  {method + ' worst: ' + worst['label']:<38} {final(worst):<20} {reach(worst)}")
    return "\n".join(lines)



def compare_scaled_lr(taus: Sequence[float] = (0.1, 0.5, 1.0, 2.0), *, lr: float = DEFAULTS["lr"],
                      seeds: int = DEFAULTS["seeds"], steps: int = DEFAULTS["steps"], **bandit) -> list[dict[str, Any]]:
    """``per_sample`` on the bandit at each tau, once at the learning rate ``lr`` and once at ``lr / tau`` (notebook 2).

    ``per_sample``'s advantage :math:`\\tau(Kw_i - 1)` grows with tau, so at a fixed learning rate a small tau takes
    small steps; dividing the learning rate by tau gives every tau steps of the same size and leaves only the
    direction (how much the best completions dominate). Returns rows ``{"tau", "lr", "scaled_lr", "fixed",
    "scaled"}``: the mean final fraction of the optimum over ``seeds``, from :func:`srgrpo.lab.bandit.runs.run_bandit`
    (the same bandits for every run).
    """
    rows = []
    for tau in taus:
        fixed = run_bandit("per_sample", tau, lr=lr, seeds=seeds, steps=steps, **bandit)
        scaled = run_bandit("per_sample", tau, lr=lr / tau, seeds=seeds, steps=steps, **bandit)
        rows.append({"tau": tau, "lr": lr, "scaled_lr": lr / tau, "fixed": fixed[:, -1].mean().item(),
                     "scaled": scaled[:, -1].mean().item()})
    return rows


def format_scaled_lr(rows: Sequence[Mapping[str, Any]], digits: int = 2) -> str:
    """:func:`compare_scaled_lr`'s rows as a table: final fraction of the optimum at the fixed and the scaled lr."""
    lr = rows[0]["lr"] if rows else float("nan")
    head = f"{'tau':>6}  {'at lr ' + format(lr, 'g'):>10}  {'lr / tau':>9}  {'at lr / tau':>11}"
    lines = ["per_sample, final fraction of the optimum (mean over seeds)", head, "-" * len(head)]
    for row in rows:
        lines.append(f"{row['tau']:>6g}  {row['fixed']:>10.{digits}f}  {row['scaled_lr']:>9.3g}  "
                     f"{row['scaled']:>11.{digits}f}")
    return "\n".join(lines)


def preset_tau(name: str = "gsm8k_t4") -> str:
    """The temperature and advantage form a shipped training preset uses, as one line (notebook 2)."""
    from srgrpo.train.settings import preset_settings

    settings = preset_settings(name)
    return f"preset {name}: soft_advantage={settings.get('soft_advantage')}, tau={settings.get('tau')}"


#: The shipped training presets, in the order notebook 2 prints them.
PRESETS = ("smollm2_cpu", "gsm8k_t4", "tiny_cpu")


def preset_taus(names=PRESETS) -> str:
    """:func:`preset_tau` for every shipped preset, one line each (notebook 2): they do not all use one tau."""
    return "\n".join(preset_tau(name) for name in names)
