r"""The kit's statistics, written once: intervals for results and smoothing for curves.

- :func:`wilson_interval`: a 95% interval for an accuracy (``k`` of ``n`` problems solved);
- :func:`mean_ci95` and :func:`t_quantile_975`: a 95% Student-t interval for a mean over a few seeds, and
  :func:`interval` for the rounded ``{"mean", "low", "high", "n"}`` record the results files store and
  :func:`interval_text` to write one as ``mean [low, high]`` (:func:`p_text`: a p-value);
- :func:`student_t_cdf` and :func:`paired_t_test`: the two-sided p-value of a paired comparison over seeds, and
  :func:`holm` to adjust the p-values of a declared family of comparisons;
- :func:`ema` (TensorBoard's exponential moving average) and :func:`moving_average` (a trailing window) for curves.

Student's t (its quantile, its distribution function, the one-sample t-test of paired differences) comes from
``scipy.stats``, the implementation this field reads and trusts; the kit no longer carries its own table and
incomplete beta function. scipy is a core dependency (about 140 MB installed; Colab ships it, and the lab's
permutation tests need numpy and scipy anyway). It is imported inside the functions that need it: importing scipy.stats
takes a second or more, and the evaluation and the figures use only the Wilson interval and the smoothing here.
Holm's adjustment stays five lines of Python (see :func:`holm`): statsmodels' ``multipletests(method="holm")``
computes the same numbers, but statsmodels (with pandas and patsy) is a large dependency for one loop, and the test
checks the loop against the procedure's definition.

Confidence intervals over seeds
-------------------------------
For :math:`n` per-seed results :math:`x_1..x_n` with mean :math:`\bar x` and Bessel-corrected
standard deviation :math:`s`, the 95% Student-t interval is

.. math::

    \bar x \pm t_{0.975,\,n-1}\, \frac{s}{\sqrt n}.

It assumes the per-seed results are independent and roughly normal; with the 4 to 8 seeds a CPU
budget allows, the :math:`t` quantile (4.30 for 3 seeds, 2.36 for 8) matters: the normal 1.96
would make intervals look 20-120% tighter than they are.
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Sequence

__all__ = ["wilson_interval", "t_quantile_975", "mean_ci95", "rounded", "interval", "interval_text", "p_text",
           "student_t_cdf", "paired_t_test", "holm", "ema", "moving_average"]


def wilson_interval(successes: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    r"""Wilson score interval for a binomial proportion: ``(low, high)``, by default at 95 % confidence.

    With :math:`\hat p = k/n` successes out of :math:`n` trials and :math:`z` the normal quantile
    (1.96 for 95 %):

    .. math::

        \text{center} = \frac{\hat p + \frac{z^2}{2n}}{1 + \frac{z^2}{n}}, \qquad
        \text{half width} = \frac{z}{1 + \frac{z^2}{n}} \sqrt{\frac{\hat p (1 - \hat p)}{n} + \frac{z^2}{4 n^2}},

    and the interval is ``center -+ half width``. Unlike the normal ("Wald") interval
    :math:`\hat p \pm z \sqrt{\hat p (1-\hat p)/n}`, it stays inside [0, 1] and does not collapse to a point when
    :math:`k = 0` or :math:`k = n`, which matters for small evaluations. Example: 8 of 10 gives (0.490, 0.943).
    ``n = 0`` gives the uninformative (0, 1).
    """
    if n < 0 or successes < 0 or successes > n:
        raise ValueError(f"need 0 <= successes <= n, got successes={successes}, n={n}")
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    z2 = z * z
    denom = 1.0 + z2 / n
    center = (p + z2 / (2 * n)) / denom
    half = z / denom * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return max(0.0, center - half), min(1.0, center + half)


def ema(values: Sequence[float], smooth: float = 0.8) -> list[float]:
    """Exponential moving average as TensorBoard draws it: ``s_t = smooth * s_{t-1} + (1 - smooth) * x_t``,
    debiased for the first points (so the curve starts at the data). NaNs are skipped (their slot repeats the
    previous average). ``smooth=0`` returns the values unchanged."""
    if not 0 <= smooth < 1:
        raise ValueError(f"smooth must be in [0, 1), got {smooth}")
    out, acc, weight = [], 0.0, 0.0
    for x in values:
        if x is None or (isinstance(x, float) and math.isnan(x)):
            out.append(acc / weight if weight else float("nan"))
            continue
        acc = smooth * acc + (1 - smooth) * x
        weight = smooth * weight + (1 - smooth)
        out.append(acc / weight)
    return out


def t_quantile_975(df: int) -> float:
    """The 97.5% quantile of Student's t with ``df`` degrees of freedom (two-sided 95% interval): ``scipy.stats.t``."""
    if isinstance(df, bool) or not isinstance(df, int) or df < 1:
        raise ValueError(f"degrees of freedom must be an integer >= 1, got {df!r}.")
    from scipy.stats import t

    return float(t.ppf(0.975, df))


def mean_ci95(values: Iterable[float]) -> tuple[float, float, float]:
    """Mean and 95% Student-t interval of independent per-seed values: ``(mean, low, high)``.

    With a single value the interval is undefined and ``low`` and ``high`` are NaN
    (:func:`srgrpo.lab.results.write_json` stores them as ``null``).

    For example ``mean_ci95([1, 2, 3])`` is ``2 -+ 4.303 * 1 / sqrt(3)``, about
    ``(2.0, -0.484, 4.484)``.

    Raises:
        ValueError: no values, or a value that is not a finite number.
    """
    if hasattr(values, "tolist"):  # a tensor or an array
        values = values.tolist()
    xs = [float(v) for v in values]
    if not xs:
        raise ValueError("mean_ci95 needs at least one value.")
    if not all(math.isfinite(x) for x in xs):
        raise ValueError(f"mean_ci95 needs finite values, got {xs}.")
    n = len(xs)
    mean = math.fsum(xs) / n
    if n == 1:
        return mean, math.nan, math.nan
    sd = math.sqrt(math.fsum((x - mean) ** 2 for x in xs) / (n - 1))
    half = t_quantile_975(n - 1) * sd / math.sqrt(n)
    return mean, mean - half, mean + half


def rounded(x: float, digits: int) -> float | None:
    """``x`` rounded to ``digits``, or ``None`` (JSON's ``null``) when it is NaN or infinite."""
    return round(x, digits) if math.isfinite(x) else None


def interval(values: Iterable[float], digits: int = 3) -> dict[str, float | int | None]:
    """:func:`mean_ci95` of per-seed values as the record results files store: ``{"mean", "low", "high", "n"}``,
    rounded to ``digits``; ``low`` and ``high`` are ``None`` with a single value."""
    values = list(values)
    mean, low, high = mean_ci95(values)
    return {"mean": rounded(mean, digits), "low": rounded(low, digits), "high": rounded(high, digits), "n": len(values)}


def interval_text(record: dict[str, Any] | None, fmt: str = "{:.2f}", unit: str = "") -> str:
    """An :func:`interval` record (or any ``{"mean", "low", "high"}``) as text: ``mean [low, high]``, each number
    through ``fmt`` and ``unit`` after the mean (``"+4.5 points [-1.0, +10.0]"``); the mean alone when there is no
    interval, ``"n/a"`` when there is no mean."""
    if not record or record.get("mean") is None:
        return "n/a"
    text = fmt.format(record["mean"]) + unit
    if record.get("low") is not None and record.get("high") is not None:
        text += f" [{fmt.format(record['low'])}, {fmt.format(record['high'])}]"
    return text


def p_text(p: float | None) -> str:
    """A p-value as text: three decimals, ``<0.001`` below that (a t-test over a few seeds is not that exact),
    ``n/a`` when there is none."""
    if p is None:
        return "n/a"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def student_t_cdf(t: float, df: float) -> float:
    """P(T <= t) for Student's t with ``df`` degrees of freedom: ``scipy.stats.t.cdf``."""
    if not df > 0:
        raise ValueError(f"degrees of freedom must be positive, got {df!r}.")
    from scipy.stats import t as student_t

    return float(student_t.cdf(t, df))


def paired_t_test(differences: Iterable[float]) -> dict[str, float | int | None]:
    r"""The paired t-test of per-seed differences ``d_1..d_n`` (method minus other, seed by seed).

    :math:`t = \bar d / (s_d / \sqrt n)` with :math:`n - 1` degrees of freedom; the two-sided p-value is
    :math:`2\,P(T > |t|)` (``scipy.stats.ttest_1samp`` of the differences against 0), and the 95% interval is :func:`mean_ci95` of the differences (the same test: the interval
    excludes zero exactly when p < 0.05). Returns ``{"mean", "low", "high", "n", "t", "p", "positive"}``, where
    ``positive`` counts the seeds whose difference is above zero. ``t`` and ``p`` are ``None`` for fewer than two
    differences; when every difference is equal, ``p`` is 0 if they are not zero and 1 if they are.
    """
    ds = [float(d) for d in (differences.tolist() if hasattr(differences, "tolist") else differences)]
    if not ds:
        raise ValueError("paired_t_test needs at least one difference.")
    mean, low, high = mean_ci95(ds)
    out: dict[str, float | int | None] = {"mean": mean, "low": low, "high": high, "n": len(ds), "t": None, "p": None,
                                          "positive": sum(d > 0 for d in ds)}
    if len(ds) < 2:
        return out
    sd = math.sqrt(math.fsum((d - mean) ** 2 for d in ds) / (len(ds) - 1))
    if sd == 0.0:
        out["t"], out["p"] = (math.copysign(math.inf, mean), 0.0) if mean != 0 else (0.0, 1.0)
        return out
    from scipy.stats import ttest_1samp

    result = ttest_1samp(ds, 0.0)  # the paired t-test is the one-sample test of the differences against 0
    out["t"] = float(result.statistic)
    out["p"] = min(1.0, float(result.pvalue))
    return out


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm's step-down adjustment of a family of p-values (in their order): reject those below 0.05 after it and
    the family's chance of any false rejection stays at most 5%, whatever the dependence between the tests.

    Sorted ascending, the i-th smallest (from 0) is multiplied by ``m - i``, the running maximum is kept (adjusted
    p-values never decrease along the order), and each is capped at 1. The same numbers as statsmodels'
    ``multipletests(pvalues, method="holm")[1]``, without its dependency (see the module's docstring).
    """
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: pvalues[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted


def moving_average(values: Sequence[float | None], window: int) -> list[float | None]:
    """Trailing moving average over ``window`` points (``None`` where any value in it is missing; 1: unchanged)."""
    if window <= 1:
        return list(values)
    out = []
    for i in range(len(values)):
        chunk = values[max(0, i - window + 1) : i + 1]
        out.append(None if any(v is None for v in chunk) else sum(chunk) / len(chunk))
    return out
