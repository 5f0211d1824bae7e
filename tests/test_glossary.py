"""The glossary's count of a rate, against the records it summarises (the oracle: count the records by hand)."""

from __future__ import annotations

from hypothesis import given, strategies as st

from srgrpo.eval_gsm8k.records import summarize
from srgrpo.glossary import EVAL_KEYS, eval_count

record = st.fixed_dictionaries({
    "correct": st.booleans(), "strict_correct": st.booleans(), "format_score": st.sampled_from([0.0, 0.5, 1.0]),
    "truncated": st.booleans(), "any_answer_line": st.booleans(), "num_tokens": st.integers(1, 64)})

#: each evaluation key -> how to tell, from one record, whether it counts
BY_HAND = {"accuracy": lambda r: r["correct"], "strict_accuracy": lambda r: r["strict_correct"],
           "format_rate": lambda r: r["format_score"] == 1.0, "answer_line_rate": lambda r: r["any_answer_line"],
           "truncated_rate": lambda r: r["truncated"]}


@given(st.lists(record, min_size=1, max_size=300))
def test_every_rate_counts_what_the_records_say(records):
    summary = summarize(records)
    assert set(BY_HAND) == set(EVAL_KEYS)
    for key, counts in BY_HAND.items():
        assert eval_count(summary, key) == sum(bool(counts(r)) for r in records), key


@given(st.lists(record, min_size=1, max_size=300))
def test_a_summary_with_fractions_only_gives_the_same_counts(records):
    summary = summarize(records)
    fractions_only = {k: v for k, v in summary.items() if k not in ("correct", "strict_correct")}
    for key in EVAL_KEYS:
        assert eval_count(fractions_only, key) == eval_count(summary, key)


def test_a_missing_rate_or_size_is_none_not_zero():
    assert eval_count({"n": 10}, "format_rate") is None
    assert eval_count({"format_rate": 0.5}, "format_rate") is None
    assert eval_count({"n": 10, "correct": None, "accuracy": 0.3}, "accuracy") == 3
