r"""``python -m srgrpo.lab power``: what the stability experiment's declared test could see, by simulation.

The stability experiment (:mod:`srgrpo.lab.stability.plan`) found "more stable" (H1) *not supported*. A reader then
needs to know whether the design could have found it: how often would the declared test, at 10 runs a method, have
said "supported" had ``per_sample(tau=1)``'s seed-to-seed spread really been half ``grpo``'s, or a quarter? This
module answers by simulation from the experiment's own runs (``data/results/stability.json``), without training:

1. **The observed runs' residuals.** Each run's held-out accuracy minus its own method's median: 20 signed values
   (the spread the runs showed, with each method's centre taken out, as the declared test does). They are pooled:
   under "no difference in spread" the two methods' residuals come from one distribution.
2. **A simulated experiment at spread ratio** :math:`\rho`: 10 residuals drawn with replacement from the pool for
   ``grpo``, 10 more for ``per_sample`` multiplied by :math:`\rho`. Both draw from the same pool, so per_sample's
   expected MAD is exactly :math:`\rho` times grpo's (0.5: a halving, 0.25: a quartering; 1: no difference, where
   the rejection rate is the test's size and must stay at or below alpha).
3. **The declared test on it**, exactly as :mod:`srgrpo.lab.stability.analysis` runs it: each run's absolute
   deviation from its own method's (simulated) median, the statistic :math:`\mathrm{MAD}_\text{grpo} -
   \mathrm{MAD}_\text{per\_sample}`, the exact one-sided permutation p over all :math:`\binom{20}{10} = 184{,}756`
   splits, "supported" when p < alpha (0.05). Here the splits are one 0/1 matrix, built once, and a batch of
   simulated experiments is one matrix product (:func:`exact_p_values`); the tests check it against
   ``scipy.stats.permutation_test`` (the analysis's own :func:`srgrpo.lab.stability.analysis.permutation_p`) and
   against the stored H1 p of the observed runs.
4. **The power** at :math:`\rho`: the share of simulated experiments that say "supported", with its 95% Wilson
   interval (the simulation's own error). The same draws serve every :math:`\rho` (common random numbers), so the
   rates differ only by the ratio.

What it assumes: the runs' residuals are what another seed would give (a bootstrap from 20 values), and a smaller
spread is the same shape scaled down. It does not model a change of mean (the test centres each method away).

``--output`` (default ``data/results/stability_power.json``)::

    {"experiment": "stability_power", "input", "settings", "alpha", "splits", "observed": {accuracy, median, mad,
     residuals, h1_p}, "power": [{ratio, rejections, simulations, rate, low, high}], "compute_s", "metadata"}
"""

from __future__ import annotations

import itertools
import json
import math
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from srgrpo.lab.results import parse_command, run_metadata, write_json
from srgrpo.lab.stability.plan import ALPHA, METHODS
from srgrpo.plumbing.stats import wilson_interval

__all__ = ["PowerSettings", "split_matrix", "exact_p_values", "observed_residuals", "simulate", "power_summary", "main"]


@dataclass
class PowerSettings:
    """``python -m srgrpo.lab power --help`` lists these."""

    input: str = field(default="data/results/stability.json",
                       metadata={"help": "the stability experiment's results (its runs' held-out accuracies)"})
    output: str = field(default="data/results/stability_power.json", metadata={"help": "where the power is written"})
    ratios: list[float] = field(default_factory=lambda: [1.0, 0.75, 0.5, 0.25], metadata={
        "help": "per_sample's spread as a multiple of grpo's (0.5: halved; 1: no difference, the test's size)"})
    simulations: int = field(default=2000, metadata={"help": "simulated experiments a ratio (at least 100)"})
    seed: int = field(default=0, metadata={"help": "seed of the resampling"})
    batch: int = field(default=50, metadata={
        "help": "simulated experiments tested together (memory: about 1.5 MB a simulation for 184,756 splits)"})


def split_matrix(n_first: int, n_second: int) -> np.ndarray:
    """Every way to choose ``n_first`` of ``n_first + n_second`` values, as a 0/1 float matrix (a row a split)."""
    n = n_first + n_second
    chosen = np.array(list(itertools.combinations(range(n), n_first)), dtype=np.intp)
    splits = np.zeros((len(chosen), n))
    np.put_along_axis(splits, chosen, 1.0, axis=1)
    return splits


def exact_p_values(first: np.ndarray, second: np.ndarray, splits: np.ndarray | None = None) -> np.ndarray:
    """One-sided exact permutation p of ``mean(first) - mean(second)`` for each row (one experiment a row).

    Equal to ``scipy.stats.permutation_test`` with ``permutation_type="independent"`` and ``alternative="greater"``
    when it enumerates every split: the share of splits whose statistic is at least the observed one (the observed
    split among them), with scipy's tolerance for floating-point ties (100 machine epsilons of the statistic).
    """
    first, second = np.atleast_2d(np.asarray(first, float)), np.atleast_2d(np.asarray(second, float))
    n1, n2 = first.shape[1], second.shape[1]
    if splits is None:
        splits = split_matrix(n1, n2)
    pooled = np.concatenate([first, second], axis=1)            # (experiments, n1 + n2)
    in_first = splits @ pooled.T                                 # (splits, experiments): sum of the first group
    total = pooled.sum(axis=1)
    null = in_first / n1 - (total - in_first) / n2
    observed = first.mean(axis=1) - second.mean(axis=1)
    gamma = np.abs(observed) * np.finfo(float).eps * 100
    return (null >= observed - gamma).mean(axis=0)


def _abs_from_median(values: np.ndarray) -> np.ndarray:
    """Each row's ``|x - median(row)|``: what the declared test permutes."""
    return np.abs(values - np.median(values, axis=1, keepdims=True))


def observed_residuals(stability: dict[str, Any]) -> dict[str, Any]:
    """The observed runs' held-out accuracies a method, their medians, MADs and signed residuals (pooled: grpo's
    first), and the declared test's p on them."""
    methods = stability["analysis"]["methods"]
    soft, grpo = (np.asarray(methods[label]["accuracy"], float) for label in METHODS)
    residuals = np.concatenate([grpo - np.median(grpo), soft - np.median(soft)])
    p = exact_p_values(_abs_from_median(grpo[None]), _abs_from_median(soft[None]))[0]
    return {
        "accuracy": {label: methods[label]["accuracy"] for label in METHODS},
        "median": {label: float(np.median(v)) for label, v in zip(METHODS, (soft, grpo))},
        "mad": {label: float(np.mean(_abs_from_median(v[None]))) for label, v in zip(METHODS, (soft, grpo))},
        "residuals": residuals.tolist(),
        "h1_p": float(p),
    }


def simulate(residuals: Sequence[float], ratios: Sequence[float], simulations: int, seed: int,
             n: int = 10, batch: int = 100, alpha: float = ALPHA) -> dict[float, int]:
    """How many of ``simulations`` simulated experiments the declared test calls "supported", a ratio.

    Each draws ``n`` residuals with replacement for grpo and ``n`` for per_sample (scaled by the ratio) from the
    pooled ``residuals``; the same draws serve every ratio."""
    pool = np.asarray(residuals, float)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(pool), size=(simulations, 2 * n))
    splits = split_matrix(n, n)
    rejections = {float(r): 0 for r in ratios}
    for start in range(0, simulations, batch):
        chunk = draws[start:start + batch]
        grpo = pool[chunk[:, :n]]
        for ratio in rejections:
            soft = ratio * pool[chunk[:, n:]]
            p = exact_p_values(_abs_from_median(grpo), _abs_from_median(soft), splits)
            rejections[ratio] += int((p < alpha).sum())
    return rejections


def power_summary(rejections: dict[float, int], simulations: int) -> list[dict[str, Any]]:
    """A row a ratio: rejections, the rate and its 95% Wilson interval (the simulation's error)."""
    rows = []
    for ratio, k in rejections.items():
        low, high = wilson_interval(k, simulations)
        rows.append({"ratio": ratio, "rejections": k, "simulations": simulations, "rate": round(k / simulations, 4),
                     "low": round(low, 4), "high": round(high, 4)})
    return rows


def main(argv: Sequence[str] = ()) -> int:
    settings = parse_command(PowerSettings, argv, "power",
                             "How often the stability experiment's declared test (H1) would have found per_sample's "
                             "spread halved or quartered: simulated from its runs (srgrpo.lab.stability.power).")
    if settings.simulations < 100 or settings.batch < 1 or not settings.ratios or min(settings.ratios) <= 0:
        print("error: --simulations must be at least 100, --batch at least 1, and every --ratios value above 0",
              file=sys.stderr)
        return 2
    path = Path(settings.input)
    try:
        stability = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        print(f"error: cannot read the stability results {path}: {err}", file=sys.stderr)
        return 2
    if not stability.get("complete") or not stability.get("analysis", {}).get("tests"):
        print(f"error: {path} is not a complete stability experiment (run `python -m srgrpo.lab stability` first)",
              file=sys.stderr)
        return 2
    began = time.process_time()
    observed = observed_residuals(stability)
    n = len(observed["accuracy"][METHODS[1]])
    rejections = simulate(observed["residuals"], settings.ratios, settings.simulations, settings.seed, n=n,
                          batch=settings.batch)
    power = power_summary(rejections, settings.simulations)
    summary = {
        "experiment": "stability_power",
        "input": settings.input,
        "settings": {k: v for k, v in vars(settings).items() if k not in ("input", "output", "batch")},
        "alpha": ALPHA,
        "splits": math.comb(2 * n, n),
        "resampling": "pooled residuals (each run's accuracy minus its method's median), drawn with replacement, "
                      "n a method; per_sample's multiplied by the ratio; the declared test on each draw",
        "observed": observed,
        "power": power,
        "compute_s": round(time.process_time() - began, 1),
        "metadata": run_metadata(["power", *argv]),
    }
    write_json(settings.output, summary)
    for row in power:
        print(f"per_sample's spread x{row['ratio']:g} of grpo's: 'supported' in {row['rejections']} of "
              f"{row['simulations']} simulated experiments ({100 * row['rate']:.1f}% [{100 * row['low']:.1f}, "
              f"{100 * row['high']:.1f}])")
    print(f"wrote {settings.output} ({summary['compute_s']:.0f} s of CPU)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
