"""The glossary's count of a rate, against the records it summarises (the oracle: count the records by hand)."""

from __future__ import annotations

from hypothesis import given, strategies as st

from conftest import REPO
from srgrpo.eval_gsm8k.records import summarize
from srgrpo.glossary import EVAL_KEYS, TERMS, WRONG_WORK, WRONG_WORK_KEY, eval_count, label

record = st.fixed_dictionaries({
    "correct": st.booleans(), "strict_correct": st.booleans(), "format_score": st.sampled_from([0.0, 0.5, 1.0]),
    "truncated": st.booleans(), "any_answer_line": st.booleans(), "num_tokens": st.integers(1, 64),
    "equations": st.integers(0, 4), "false_equations": st.integers(0, 2)})

#: each evaluation key -> how to tell, from one record, whether it counts
BY_HAND = {"accuracy": lambda r: r["correct"], "strict_accuracy": lambda r: r["strict_correct"],
           "sound_rate": lambda r: r["correct"] and r["false_equations"] == 0,
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
    fractions_only = {k: v for k, v in summary.items() if k not in ("correct", "strict_correct", "sound")}
    for key in EVAL_KEYS:
        assert eval_count(fractions_only, key) == eval_count(summary, key)


def test_a_missing_rate_or_size_is_none_not_zero():
    assert eval_count({"n": 10}, "format_rate") is None
    assert eval_count({"format_rate": 0.5}, "format_rate") is None
    assert eval_count({"n": 10, "correct": None, "accuracy": 0.3}, "accuracy") == 3


@given(st.lists(record, min_size=1, max_size=300))
def test_right_answer_wrong_work_is_the_correct_answers_that_are_not_sound(records):
    summary = summarize(records)
    wrong = sum(r["correct"] and r["false_equations"] > 0 for r in records)
    assert summary["wrong_work"] == wrong == summary["correct"] - summary["sound"]
    assert summary["wrong_work_share"] == (wrong / summary["correct"] if summary["correct"] else None)
    assert label(WRONG_WORK_KEY) == WRONG_WORK


def test_every_word_is_in_the_docs_table_and_the_glossarys_own():
    """One meaning everywhere: each word of :data:`TERMS` has its row in docs/training.md's table and the module's."""
    import srgrpo.glossary as glossary

    docs = (REPO / "docs" / "training.md").read_text(encoding="utf-8")
    table = docs[docs.index("## The words for what an answer did"):]
    for word in TERMS:
        assert f"\n| {word} (" in table or f"\n| {word} |" in table, word
        assert f"\n{word}  " in glossary.__doc__, word
