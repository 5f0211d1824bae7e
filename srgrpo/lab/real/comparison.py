r"""The real-model lab's comparison: the runs of each method summarised over seeds, and the declared comparisons.

Every run starts from the same pretrained model, whose greedy held-out answers are measured once (``start``); a run's
*change* is its held-out rate after training minus the start's, in percentage points.

What the summary gives, per method and rate:

* ``per_seed``: the rate after training, seed by seed (the numbers every mean is shown beside);
* ``after``: their mean and range (``min``, ``max``): a rate stays inside [0, 100], so no interval of a mean that
  could leave it is drawn around it; with 5 seeds the values themselves say more;
* ``change``: the mean change from the pretrained model with its 95% Student-t interval over seeds (it measures how
  much training runs differ: sampling, data order, adapter initialisation; the held-out set is fixed);
* ``vs``: the paired difference from each control, seed by seed.

Comparisons between methods are *paired by seed*: run ``k`` of two methods share their seed, hence their problem
order and adapter initialisation, so the per-seed differences are what a paired t-test reads
(:func:`srgrpo.plumbing.stats.paired_t_test`: mean, 95% interval, two-sided p, seeds above zero). The lab declares its
*primary* comparisons in advance (:data:`srgrpo.lab.real.settings.PRIMARY_COMPARISONS`, on held-out accuracy); their
p-values are adjusted together with Holm's method (:func:`srgrpo.plumbing.stats.holm`), so "significant" means the family's
chance of any false claim is at most 5%. Every other pair and rate is *exploratory*: reported with its unadjusted
interval and counted, never called a finding.

A change "excludes zero" when its 95% interval lies entirely above or below 0. Fewer than two seeds give no interval.
"""

from __future__ import annotations

import statistics
from typing import Any, Sequence

from srgrpo.lab.real.task import HELDOUT_RATES
from srgrpo.plumbing.stats import holm, paired_t_test

__all__ = ["RATES", "method_summary", "compare", "paired_difference", "comparisons", "excludes_zero", "mean_curve"]

#: The held-out rates the comparison reports (percent of problems).
RATES = tuple(HELDOUT_RATES)


def _rounded(x: float | None, digits: int = 2) -> float | None:
    return None if x is None or x != x or x in (float("inf"), float("-inf")) else round(x, digits)


def _test(differences: Sequence[float]) -> dict[str, Any]:
    """:func:`srgrpo.plumbing.stats.paired_t_test` of per-seed differences, rounded for the JSON, with the differences."""
    test = paired_t_test(differences)
    out = {k: _rounded(test[k]) for k in ("mean", "low", "high", "t")}
    out.update(n=test["n"], positive=test["positive"], p=_rounded(test["p"], 4),
               per_seed=[round(d, 2) for d in differences])
    return out


def _spread(values: Sequence[float]) -> dict[str, Any]:
    """Mean and range of per-seed rates (no interval: see the module's docstring)."""
    return {"mean": round(sum(values) / len(values), 2), "min": min(values), "max": max(values), "n": len(values)}


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
        summary["after"][rate] = _spread(after)
        summary["change"][rate] = _test([a - start["heldout"][rate]["percent"] for a in after])
    summary["mean_tokens"] = _spread([r["heldout"]["mean_tokens"] for r in runs])
    for key in ("train_s", "eval_s", "wall_s"):  # seconds: the median (a run slowed by other work moves the mean),
        values = [r[key] for r in runs]           # the mean and the range, not an interval
        summary[key] = {"median": round(statistics.median(values), 1), "mean": round(sum(values) / len(values), 1),
                        "min": min(values), "max": max(values)}
    summary["curves"] = {name: mean_curve(runs, name) for name in ("reward", "correctness", "format", "cut_off")}
    return summary


def paired_difference(runs: Sequence[dict[str, Any]], others: Sequence[dict[str, Any]], rate: str) -> dict[str, Any]:
    """``rate`` of ``runs`` minus that of ``others``, seed by seed (the seeds both have): :func:`_test` of the
    differences, with the seeds they come from."""
    theirs = {r["seed"]: r["heldout"][rate]["percent"] for r in others}
    pairs = [(r["seed"], r["heldout"][rate]["percent"] - theirs[r["seed"]]) for r in runs if r["seed"] in theirs]
    if not pairs:
        return {"mean": None, "low": None, "high": None, "t": None, "p": None, "n": 0, "positive": 0,
                "per_seed": [], "seeds": []}
    return {**_test([d for _, d in pairs]), "seeds": [seed for seed, _ in pairs]}


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


def comparisons(runs: Sequence[dict[str, Any]], primary: Sequence[tuple[str, str]],
                primary_rate: str = "accuracy") -> dict[str, Any]:
    """The declared comparisons and the exploratory rest, paired by seed.

    ``primary`` lists ``(label, other label)`` pairs compared on ``primary_rate``; those whose two methods both ran
    are tested and Holm-adjusted together (``p_holm``; ``significant`` when it is below 0.05), the others are listed
    in ``missing``. Exploratory: every other pair of methods (in the order they ran, controls last) on every rate of
    :data:`RATES`, and the primary pairs on the other rates; unadjusted.
    """
    groups: dict[str, list[dict[str, Any]]] = {}
    for run in runs:
        groups.setdefault(run["label"], []).append(run)
    labels = sorted(groups, key=lambda label: groups[label][0]["control"])  # stable: the grid's order, controls last

    def row(a: str, b: str, rate: str) -> dict[str, Any]:
        return {"label": a, "other": b, "rate": rate, **paired_difference(groups[a], groups[b], rate)}

    tested = [row(a, b, primary_rate) for a, b in primary if a in groups and b in groups]
    adjusted = holm([1.0 if r["p"] is None else r["p"] for r in tested])
    for r, p in zip(tested, adjusted):
        r["p_holm"] = round(p, 4)
        r["significant"] = r["p"] is not None and p < 0.05
    declared = {(a, b) for a, b in primary}
    exploratory = []
    for i, a in enumerate(labels):
        for b in labels[i + 1:]:
            for rate in RATES:
                pair = (a, b) if (b, a) not in declared else (b, a)
                if pair in declared and rate == primary_rate:
                    continue
                exploratory.append(row(*pair, rate))
    return {"rate": primary_rate, "adjustment": "holm", "primary": tested,
            "missing": [f"{a} vs {b}" for a, b in primary if a not in groups or b not in groups],
            "exploratory": exploratory}
