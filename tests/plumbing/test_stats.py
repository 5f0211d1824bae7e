"""The kit's statistics (``srgrpo.plumbing.stats``, Student's t from scipy) against independent references: the t
table computed with mpmath, printed tables, the paired t-test by hand, and Holm's procedure as its step-down
definition."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import math
import statistics

from srgrpo.plumbing.stats import (holm, interval, interval_text, mean_ci95, p_text, paired_t_test, student_t_cdf,
                                   t_quantile_975)

#: t_{0.975, df} for df = 1..30, computed with mpmath (50 digits) and rounded to 7: the reference the kit's own table
#: was, before scipy.stats replaced it.
T975 = (
    12.7062047, 4.3026527, 3.1824463, 2.7764451, 2.5705818, 2.4469119, 2.3646243, 2.3060041,
    2.2621572, 2.2281389, 2.2009852, 2.1788128, 2.1603687, 2.1447867, 2.1314495, 2.1199053,
    2.1098156, 2.1009220, 2.0930241, 2.0859634, 2.0796138, 2.0738731, 2.0686576, 2.0638986,
    2.0595386, 2.0555294, 2.0518305, 2.0484071, 2.0452296, 2.0422725,
)


def test_the_t_cdf_and_quantile_match_the_mpmath_table():
    for df, q in enumerate(T975, start=1):
        assert student_t_cdf(q, df) == pytest.approx(0.975, abs=1e-7)
        assert t_quantile_975(df) == pytest.approx(q, abs=6e-8)
    assert t_quantile_975(1000) == pytest.approx(1.9623391, abs=1e-7)  # large df: near the normal 1.96
    assert student_t_cdf(4.604095, 4) == pytest.approx(0.995, abs=1e-6)  # t_{0.995, 4} (printed tables)
    assert student_t_cdf(0.0, 3) == 0.5 and student_t_cdf(float("inf"), 2) == 1.0


@given(st.floats(-50, 50), st.integers(1, 60))
def test_the_t_cdf_is_symmetric_and_increasing(t, df):
    assert student_t_cdf(t, df) + student_t_cdf(-t, df) == pytest.approx(1.0, abs=1e-12)
    assert student_t_cdf(t, df) <= student_t_cdf(t + 0.5, df) + 1e-15


def test_paired_t_test_is_the_t_statistic_by_hand():
    ds = [0.05, -0.01, 0.08, 0.03, 0.06]
    n, mean, sd = len(ds), statistics.fmean(ds), statistics.stdev(ds)
    t = mean / (sd / math.sqrt(n))
    result = paired_t_test(ds)
    assert result["t"] == pytest.approx(t, rel=1e-12)
    assert result["p"] == pytest.approx(2 * (1 - student_t_cdf(abs(t), n - 1)), abs=1e-12)
    half = T975[n - 2] * sd / math.sqrt(n)
    assert (result["low"], result["high"]) == pytest.approx((mean - half, mean + half), abs=1e-6)
    assert mean_ci95(ds) == pytest.approx((mean, mean - half, mean + half), abs=1e-6)
    assert result["positive"] == 4


def test_paired_t_test_edge_cases_are_clear():
    assert paired_t_test([3.0])["p"] is None and paired_t_test([3.0])["low"] != paired_t_test([3.0])["low"]  # NaN
    assert paired_t_test([2.0, 2.0, 2.0])["p"] == 0.0 and paired_t_test([0.0, 0.0])["p"] == 1.0
    with pytest.raises(ValueError, match="at least one difference"):
        paired_t_test([])


def _holm_rejects(pvalues, alpha):
    """Holm's step-down procedure as defined: walk the sorted p-values, reject while p_(k) <= alpha / (m - k)."""
    m = len(pvalues)
    rejected = set()
    for k, i in enumerate(sorted(range(m), key=lambda i: pvalues[i])):
        if pvalues[i] > alpha / (m - k):
            break
        rejected.add(i)
    return rejected


@settings(max_examples=200)
@given(st.lists(st.floats(0, 1), min_size=1, max_size=8), st.sampled_from([0.01, 0.05, 0.1, 0.2]))
def test_holm_adjusted_p_values_reject_what_the_procedure_rejects(pvalues, alpha):
    adjusted = holm(pvalues)
    assert all(p <= a <= 1.0 for p, a in zip(pvalues, adjusted))
    assert {i for i, a in enumerate(adjusted) if a <= alpha} == _holm_rejects(pvalues, alpha)


def test_interval_text_writes_a_record_as_mean_and_interval():
    assert interval_text(interval([1.0, 2.0, 3.0]), "{:.1f}") == "2.0 [-0.5, 4.5]"
    assert interval_text(interval([4.0, 6.0]), "{:+.1f}", " points") == "+5.0 points [-7.7, +17.7]"
    assert interval_text(interval([7.0]), "{:.1f}") == "7.0"  # one seed: no interval
    assert interval_text(None) == interval_text({"mean": None}) == "n/a"


def test_p_text_gives_three_decimals_and_no_false_precision():
    assert p_text(0.0481) == "0.048" and p_text(0.001) == "0.001"
    assert p_text(0.000999) == p_text(0.0) == "<0.001"
    assert p_text(None) == "n/a"
