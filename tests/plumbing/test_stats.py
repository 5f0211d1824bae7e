"""The kit's statistics (``srgrpo.plumbing.stats``) against independent references: the t table computed with mpmath, and
Holm's procedure as its step-down definition."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from srgrpo.plumbing.stats import _T975, holm, interval, interval_text, p_text, paired_t_test, student_t_cdf


def test_the_t_cdf_matches_the_mpmath_table():
    for df, q in enumerate(_T975, start=1):
        assert student_t_cdf(q, df) == pytest.approx(0.975, abs=1e-7)
    assert student_t_cdf(4.604095, 4) == pytest.approx(0.995, abs=1e-6)  # t_{0.995, 4} (printed tables)
    assert student_t_cdf(0.0, 3) == 0.5 and student_t_cdf(float("inf"), 2) == 1.0


@given(st.floats(-50, 50), st.integers(1, 60))
def test_the_t_cdf_is_symmetric_and_increasing(t, df):
    assert student_t_cdf(t, df) + student_t_cdf(-t, df) == pytest.approx(1.0, abs=1e-12)
    assert student_t_cdf(t, df) <= student_t_cdf(t + 0.5, df) + 1e-15


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
