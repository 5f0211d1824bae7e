r"""The stability experiment's analysis: the declared tests of :mod:`srgrpo.lab.stability.plan`, on the runs' JSON.

Both hypotheses are tested the same way: an exact one-sided permutation test of a difference between two groups of
per-run values (``scipy.stats.permutation_test`` with ``permutation_type="independent"``, which enumerates every
split when there are fewer than ``n_resamples``; 10 and 10 give 184,756). What goes in differs:

* H1 (spread): each run's absolute deviation from *its own method's* median held-out accuracy; the statistic is
  the difference of the groups' means, i.e. :math:`\mathrm{MAD}_\text{grpo} - \mathrm{MAD}_\text{per\_sample}`.
* H2 (smoothness): each run's roughness, the mean absolute step-to-step change of its training reward.

Why a permutation test: ten values a method are too few to lean on normality (an F-test of variances is notoriously
fragile to it), and the permutation test's only assumption is that, under the null hypothesis, the labels of the
values are exchangeable. Why scipy: it is what this field reads and trusts; :func:`permutation_p` is its one call,
tested against a slow full enumeration (``tests/lab/test_lab_stability.py``).
"""

from __future__ import annotations

import statistics
from typing import Any, Sequence

import numpy as np

from srgrpo.lab.stability.plan import ALPHA, FRESH_SEEDS, METHODS, missing_runs

__all__ = ["abs_deviations", "mad", "roughness", "permutation_p", "analyse", "collapsed"]


def abs_deviations(values: Sequence[float]) -> list[float]:
    """``|x - median(values)|`` for each value: what H1's test permutes."""
    middle = statistics.median(values)
    return [abs(v - middle) for v in values]


def mad(values: Sequence[float]) -> float:
    """Mean absolute deviation from the median: H1's measure of spread."""
    return sum(abs_deviations(values)) / len(values)


def roughness(rewards: Sequence[float]) -> float:
    """Mean ``|r(t+1) - r(t)|`` over a run's steps: H2's measure (0 for a flat curve)."""
    if len(rewards) < 2:
        raise ValueError(f"roughness needs at least two steps, got {len(rewards)}")
    return sum(abs(b - a) for a, b in zip(rewards, rewards[1:])) / (len(rewards) - 1)


def permutation_p(larger: Sequence[float], smaller: Sequence[float]) -> float:
    """One-sided p that ``mean(larger) - mean(smaller)`` is this large by chance of the labels alone.

    Exact (every split of the pooled values into groups of the two sizes) up to a million splits, which covers the
    declared 10 against 10; the observed split counts among them, so p is never 0.
    """
    from scipy import stats

    if len(larger) < 2 or len(smaller) < 2:
        raise ValueError(f"each group needs at least two values, got {len(larger)} and {len(smaller)}")
    result = stats.permutation_test(
        (np.asarray(larger, dtype=float), np.asarray(smaller, dtype=float)),
        lambda x, y, axis: np.mean(x, axis=axis) - np.mean(y, axis=axis),
        permutation_type="independent", alternative="greater", n_resamples=1_000_000, vectorized=True,
    )
    return float(result.pvalue)


def collapsed(accuracies: Sequence[float], start: float) -> int:
    """How many runs ended below the pretrained model's held-out accuracy."""
    return sum(1 for a in accuracies if a < start)


def _by_method(runs: Sequence[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The declared runs (the two methods, seeds 6-15) a method, by seed; any other run is not the experiment's."""
    out: dict[str, list[dict[str, Any]]] = {label: [] for label in METHODS}
    for run in runs:
        if run["label"] in out and run["seed"] in FRESH_SEEDS:
            out[run["label"]].append(run)
    for label in out:
        out[label].sort(key=lambda r: r["seed"])
    return out


def _replication(soft: list[dict[str, Any]], grpo: list[dict[str, Any]]) -> dict[str, Any] | None:
    """per_sample - grpo held-out accuracy, paired by seed, with its 95% t interval (reported, not tested)."""
    from scipy import stats

    pairs = {r["seed"]: r for r in grpo}
    diffs = [r["heldout"]["accuracy"]["percent"] - pairs[r["seed"]]["heldout"]["accuracy"]["percent"]
             for r in soft if r["seed"] in pairs]
    if len(diffs) < 2:
        return None
    low, high = stats.ttest_1samp(diffs, 0.0).confidence_interval(0.95)
    return {"n": len(diffs), "mean": round(statistics.fmean(diffs), 2), "low": round(float(low), 2),
            "high": round(float(high), 2), "per_seed": [round(d, 2) for d in diffs],
            "positive": sum(1 for d in diffs if d > 0)}


def analyse(runs: Sequence[dict[str, Any]], start_accuracy: float) -> dict[str, Any]:
    """The declared tests and what is reported beside them, from the fresh runs (each a lab run's result).

    The tests run only once every declared run is in (:data:`srgrpo.lab.stability.plan.FRESH_SEEDS` for both
    methods): a p-value computed on the runs finished so far would be a look at the data before its end."""
    groups = _by_method(runs)
    soft, grpo = (groups[label] for label in METHODS)
    methods = {}
    for label, group in groups.items():
        acc = [r["heldout"]["accuracy"]["percent"] for r in group]
        rough = [roughness(r["curves"]["reward"]) for r in group]
        methods[label] = {
            "seeds": [r["seed"] for r in group],
            "accuracy": acc,
            "n": len(acc),
            "mean": round(statistics.fmean(acc), 2) if acc else None,
            "median": statistics.median(acc) if acc else None,
            "sd": round(statistics.stdev(acc), 2) if len(acc) > 1 else None,
            "mad": round(mad(acc), 2) if acc else None,
            "roughness": [round(x, 4) for x in rough],
            "mean_roughness": round(statistics.fmean(rough), 4) if rough else None,
            "collapsed": collapsed(acc, start_accuracy),
        }
    tests: dict[str, Any] = {}
    if not missing_runs(runs):
        s, g = methods[METHODS[0]], methods[METHODS[1]]
        h1_p = permutation_p(abs_deviations(g["accuracy"]), abs_deviations(s["accuracy"]))
        h2_p = permutation_p([roughness(r["curves"]["reward"]) for r in grpo],
                             [roughness(r["curves"]["reward"]) for r in soft])
        h1 = h1_p < ALPHA
        tests["H1"] = {"statistic": round(g["mad"] - s["mad"], 3), "p": round(h1_p, 5), "supported": h1}
        tests["H2"] = {"statistic": round(g["mean_roughness"] - s["mean_roughness"], 5), "p": round(h2_p, 5),
                       "tested": h1, "supported": bool(h1 and h2_p < ALPHA)}
    return {"start_accuracy": start_accuracy, "methods": methods, "tests": tests,
            "replication": _replication(soft, grpo)}
