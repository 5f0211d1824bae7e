r"""The real-model lab's comparison: the runs of each method, summarised over seeds with 95 % intervals.

Every run starts from the same pretrained model, whose greedy held-out answers are measured once (``start``); a run's
*change* is its held-out rate after training minus the start's, in percentage points. Over the ``n`` seeds of a
method the summary gives, for each rate, the mean and a 95 % Student-t interval (:func:`srgrpo.stats.mean_ci95`):
with 3 seeds the interval is the mean :math:`\pm 4.30\, s/\sqrt{3}`, wide on purpose. It is the variation between
seeds (training's sampling, data order, adapter initialisation) that it measures; the held-out set is fixed.

Methods are also compared with each control *paired by seed* (``vs``): run ``k`` of a method and run ``k`` of the
control share their seed, hence their problem order and adapter initialisation, so the interval of the per-seed
differences is the fair test of "learns more than the control".

A change "excludes zero" when the interval of the change lies entirely above or below 0, which is the only kind of
claim the README and notebook 3 make about a method. Runs with fewer than two seeds get no interval.
"""

from __future__ import annotations

from typing import Any, Sequence

from srgrpo.lab.real_task import HELDOUT_RATES
from srgrpo.stats import mean_ci95

__all__ = ["RATES", "method_summary", "compare", "paired_difference", "excludes_zero", "mean_curve"]

#: The held-out rates the comparison reports (percent of problems).
RATES = tuple(HELDOUT_RATES)


def _interval(values: Sequence[float], digits: int = 2) -> dict[str, Any]:
    """``{"mean", "low", "high", "n"}``: the mean and its 95 % interval over seeds (no interval for one seed)."""
    mean, low, high = mean_ci95(list(values))

    def keep(x: float) -> float | None:
        return None if x != x else round(x, digits)  # NaN (a single seed): no interval

    return {"mean": keep(mean), "low": keep(low), "high": keep(high), "n": len(values)}


def excludes_zero(stat: dict[str, Any]) -> bool:
    """True when a change's interval lies entirely above or entirely below zero."""
    low, high = stat.get("low"), stat.get("high")
    return low is not None and high is not None and (low > 0 or high < 0)


def mean_curve(runs: Sequence[dict[str, Any]], name: str) -> dict[str, list]:
    """Mean of the training curve ``name`` over runs, step by step (steps every run logged), with min and max."""
    if not runs:
        return {"step": [], "mean": [], "min": [], "max": []}
    steps = sorted(set.intersection(*(set(r["curves"]["step"]) for r in runs)))
    out: dict[str, list] = {"step": steps, "mean": [], "min": [], "max": []}
    for step in steps:
        values = []
        for r in runs:
            v = r["curves"][name][r["curves"]["step"].index(step)]
            if v is not None:
                values.append(v)
        out["mean"].append(round(sum(values) / len(values), 5) if values else None)
        out["min"].append(min(values) if values else None)
        out["max"].append(max(values) if values else None)
    return out


def method_summary(runs: Sequence[dict[str, Any]], start: dict[str, Any]) -> dict[str, Any]:
    """The seeds of one method: rates after, changes from the start, seconds, and the mean training curves."""
    first = runs[0]
    summary: dict[str, Any] = {
        "label": first["label"], "method": first["method"], "tau": first["tau"], "control": first["control"],
        "seeds": [r["seed"] for r in runs],
        "after": {}, "change": {}, "per_seed": {},
    }
    for rate in RATES:
        after = [r["heldout"][rate]["percent"] for r in runs]
        summary["per_seed"][rate] = after
        summary["after"][rate] = _interval(after)
        summary["change"][rate] = _interval([a - start["heldout"][rate]["percent"] for a in after])
    summary["mean_tokens"] = _interval([r["heldout"]["mean_tokens"] for r in runs])
    for key in ("train_s", "eval_s", "wall_s"):  # seconds: the mean and the range, not an interval
        values = [r[key] for r in runs]
        summary[key] = {"mean": round(sum(values) / len(values), 1), "min": min(values), "max": max(values)}
    summary["curves"] = {name: mean_curve(runs, name) for name in ("reward", "correctness", "format", "cut_off")}
    return summary


def paired_difference(runs: Sequence[dict[str, Any]], others: Sequence[dict[str, Any]], rate: str) -> dict[str, Any]:
    """``rate`` of ``runs`` minus that of ``others``, seed by seed (seeds both have), mean and 95 % interval."""
    theirs = {r["seed"]: r["heldout"][rate]["percent"] for r in others}
    diffs = [r["heldout"][rate]["percent"] - theirs[r["seed"]] for r in runs if r["seed"] in theirs]
    if not diffs:
        return {"mean": None, "low": None, "high": None, "n": 0}
    return _interval(diffs)


def compare(runs: Sequence[dict[str, Any]], start: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Group finished runs by label (in the order they come) and summarise each: label -> :func:`method_summary`,
    with ``vs``: control label -> rate -> the paired difference from that control (:func:`paired_difference`)."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for run in runs:
        groups.setdefault(run["label"], []).append(run)
    summary = {label: method_summary(sorted(group, key=lambda r: r["seed"]), start) for label, group in groups.items()}
    controls = [label for label, group in groups.items() if group[0]["control"]]
    for label, method in summary.items():
        method["vs"] = {control: {rate: paired_difference(groups[label], groups[control], rate) for rate in RATES}
                        for control in controls if control != label}
    return summary
