"""Tests for srgrpo.tasks.rewards: a table of tricky answers, properties, linear time, and every GSM8K gold solution."""

from __future__ import annotations

import os
import time
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from srgrpo.tasks.rewards import (
    ANSWER_FORMAT,
    ANSWER_MARKER,
    completion_to_text,
    correctness_reward,
    extract_final_answer,
    extract_gold_answer,
    format_reward,
    format_score,
    is_strict_correct,
    normalize_number,
    numbers_equal,
)

PROPS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def chat(text):
    return [{"role": "assistant", "content": text}]


# --------------------------------------------------------------------------------------------------------------------
# Numbers
# --------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("18", "18"),
        ("1,000", "1000"),
        ("1,234,567", "1234567"),
        (" $1,000.00 ", "1000"),
        ("$18.00", "18"),
        ("18.", "18"),
        ("18.0", "18"),
        ("18.50", "18.5"),
        (".5", "0.5"),
        ("0.50", "0.5"),
        ("-3", "-3"),
        ("\u22123", "-3"),  # Unicode minus sign
        ("+3", "3"),
        ("-$3", "-3"),
        ("$-3", "-3"),
        ("-0", "0"),
        ("007", "7"),
        ("50%", "50"),
        ("€20", "20"),
        ("3/4", "0.75"),
        ("3 / 4", "0.75"),
        ("2/6", "1/3"),
        ("-1/8", "-0.125"),
        ("18/1", "18"),
        (18, "18"),
        (Decimal("2.50"), "2.5"),
        # not one number
        ("1,00", None),
        ("1,0000", None),
        ("--3", None),
        ("-$-3", None),
        ("3/0", None),
        ("18 dollars", None),  # units are the extractor's business, not the number's
        ("1,000 000", None),  # one separator throughout
        ("7:30", None),  # a clock time
        ("2nd", None),  # an ordinal
        ("one one", None),
        ("2 dozen", None),  # is the answer 2 or 24? not guessed
        # read since issue 14: scientific, words, mixed numbers, spaces, scales, meaning
        ("1e3", "1000"),
        ("twelve", "12"),
        ("1 1/2", "1.5"),
        ("70 000", "70000"),
        ("70\u2009000", "70000"),
        ("70\\,000", "70000"),
        ("1\\frac{1}{2}", "1.5"),
        ("$70K", "70000"),
        ("1.45 million", "1450000"),
        ("3 degrees below zero", "-3"),
        ("18 dollars and 50 cents", "18.5"),
        ("3/4.", "0.75"),
        ("", None),
        ("   ", None),
        (None, None),
        (True, None),
        (1.5, None),  # floats are inexact; pass strings
        ("1" * 101, None),  # over the 100-digit cap
    ],
)
def test_normalize_number(raw, expected):
    assert normalize_number(raw) == expected


def test_numbers_equal():
    assert numbers_equal("1,000", "1000.0")
    assert numbers_equal("3/4", ".75")
    assert not numbers_equal("1/3", "0.333")
    assert not numbers_equal(None, None)


@PROPS
@given(st.text())
def test_normalize_is_idempotent_on_any_text(s):
    n = normalize_number(s)
    assert n is None or normalize_number(n) == n


@PROPS
@given(st.text(alphabet="0123456789,.-\u2212+$%/ ", max_size=30))
def test_normalize_is_idempotent_on_number_like_text(s):
    n = normalize_number(s)
    assert n is None or normalize_number(n) == n


@PROPS
@given(st.decimals(allow_nan=False, allow_infinity=False, min_value=-(10**12), max_value=10**12, places=4))
def test_normalize_keeps_the_exact_value(d):
    assert Fraction(normalize_number(str(d))) == Fraction(d)


@PROPS
@given(st.fractions(min_value=-1000, max_value=1000, max_denominator=1000))
def test_fractions_round_trip(f):
    assert Fraction(normalize_number(f"{f.numerator}/{f.denominator}")) == f


# --------------------------------------------------------------------------------------------------------------------
# Extraction and correctness: the table
# --------------------------------------------------------------------------------------------------------------------

ANSWER_CASES = [
    # (completion, gold, expected extracted answer)
    ("Reasoning.\n#### 1,000", "1000", "1000"),
    ("Reasoning.\n#### 1000", "1,000", "1000"),
    ("#### $18.00", "18", "18"),
    ("#### 18.", "18", "18"),
    ("#### 18 dollars", "18", "18"),
    ("#### **18**", "18", "18"),
    ("####18", "18", "18"),
    ("It drops 5 degrees.\n#### -3", "-3", "-3"),
    ("#### \u22123", "-3", "-3"),
    ("#### 0.5", "0.5", "0.5"),
    ("#### 1/2", "0.5", "0.5"),
    ("#### 50%", "50", "50"),
    (r"So the total is \boxed{42}.", "42", "42"),
    (r"The final answer is $\boxed{1{,}000}$", "1000", "1000"),
    (r"\boxed{\frac{3}{4}}", "0.75", "0.75"),
    (r"\boxed{\$18}", "18", "18"),
    (r"\boxed{18 \text{ dollars}}", "18", "18"),
    (r"\boxed{x = 5}", "5", "5"),
    ("<answer>7</answer>", "7", "7"),
    ("<answer> 7 apples </answer>", "7", "7"),
    ("The answer is 12.", "12", "12"),
    ("the answer is: $12", "12", "12"),
    ("Final answer: 12", "12", "12"),
    ("FINAL ANSWER = -12", "-12", "-12"),
    ("The answer is\n**12**", "12", "12"),
    ("3 + 4 = 7, so Tom has 7 apples.", "7", "7"),  # last-number fallback
    ("First 2, then 3, total 1,234,567.89 dollars", "1234567.89", "1234567.89"),
    ("10 - 3 = 7", "7", "7"),  # "- 3" after an operand is subtraction, not a negative answer
    ("from 2020-2023", "2023", "2023"),
    # priority: a committed "#### N" beats anything said later or in another form
    ("#### 42\nWait, maybe 3 + 4 = 7", "42", "42"),
    ("#### 41\n#### 42", "42", "42"),
    (r"\boxed{5} but #### 6", "6", "6"),
    (r"The answer is 9. \boxed{10}", "10", "10"),
    ("<answer>8</answer> the answer is 9", "8", "8"),
    ("#### 17", "18", "17"),  # wrong answer
    ("#### eighteen", "18", "18"),
    ("#### 18 or 20", "18", None),  # a hedge: no answer, and no later rule is asked
    ("Step 1: 5 + 13 = 18.\nStep 2: then we", "18", None),  # cut off before stating an answer
    ("no numbers at all", "18", None),
    ("", "18", None),
    (None, "18", None),
    # TRL conversational completions
    (chat("Reasoning.\n#### 18"), "18", "18"),
    ([{"role": "user", "content": "hi #### 3"}, {"role": "assistant", "content": "#### 18"}], "18", "18"),
    (chat(None), "18", None),
    (chat(""), "18", None),
    ([], "18", None),
    (chat([{"type": "text", "text": "#### 18"}]), "18", "18"),
]


@pytest.mark.parametrize("completion, gold, expected", ANSWER_CASES)
def test_extract_and_correctness(completion, gold, expected):
    assert extract_final_answer(completion) == expected
    expected_reward = 1.0 if expected is not None and numbers_equal(expected, gold) else 0.0
    assert correctness_reward([completion], [gold]) == [expected_reward]


def test_correctness_reward_batch_and_trl_kwargs():
    completions = ["#### 18", chat("#### 3"), None, "", "the answer is 5"]
    golds = ["18", "4", "1", "1", "5"]
    rewards = correctness_reward(
        completions, golds, prompts=["p"] * 5, completion_ids=[[1]] * 5, trainer_state=None, question=["q"] * 5
    )
    assert rewards == [1.0, 0.0, 0.0, 0.0, 1.0]


def test_gold_may_be_a_full_solution_or_a_number():
    assert correctness_reward(["#### 72"], ["She sold 48 + 24 = 72 clips.\n#### 72"]) == [1.0]
    assert correctness_reward(["#### 72", "#### 72", "#### 0.5"], [72, "72.0", "1/2"]) == [1.0, 1.0, 1.0]
    assert correctness_reward(["#### 72"], [None]) == [0.0]
    assert correctness_reward(["#### 72"], ["no number"]) == [0.0]


def test_length_mismatch_is_an_error():
    with pytest.raises(ValueError, match="2 completions but 1 answers"):
        correctness_reward(["#### 1", "#### 2"], ["1"])


def test_completion_to_text():
    assert completion_to_text("x") == "x"
    assert completion_to_text(chat("y")) == "y"
    assert completion_to_text({"role": "assistant", "content": "z"}) == "z"
    assert completion_to_text(None) == ""
    assert completion_to_text(42) == ""
    assert completion_to_text([1, 2]) == ""


def test_extract_gold_answer():
    assert extract_gold_answer("a\nb\n#### 1,080") == "1080"
    assert extract_gold_answer("no marker 5") is None
    assert extract_gold_answer(None) is None


# --------------------------------------------------------------------------------------------------------------------
# Format
# --------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "completion, expected",
    [
        ("3 + 4 = 7\n#### 7", 1.0),
        ("3 + 4 = 7\n#### 7\n\n", 1.0),
        ("  Step one: 3 + 4 = 7.\n  #### 7  ", 1.0),
        ("3 + 4 = 7\n####7", 1.0),
        ("500 + 500 = 1,000\n#### 1,000", 1.0),
        ("2 - 5 = -3\n#### -3", 1.0),
        ("5 / 2 = 2.5\n#### 2.5", 1.0),
        ("He waits after 4, 8 and 12 seconds.\n#### 12", 1.0),  # three numbers are work too
        (chat("3 + 4 = 7\n#### 7"), 1.0),
        ("3 + 4 = 7\n#### $7", 0.5),  # currency sign
        ("3 + 4 = 7\n#### 7 apples", 0.5),  # units
        ("3 + 4 = 7\n#### 7.", 0.5),
        ("3 + 4 = 7\n#### 3/4", 0.5),
        ("3 + 4 = 7\n##### 7", 0.5),
        ("3 + 4 = 7\n#### **7**", 0.5),
        # the reward hacks and their relatives: nothing more than an attempt without the format
        ("#### 7", 0.0),  # no work before it
        ("Let me think.\n#### 7", 0.0),  # words are not work
        ("3 + 4 = 7\n#### 7\nDone!", 0.0),  # not the last line
        ("3 + 4 = 7\n#### 7\n#### 7", 0.0),  # repeated
        ("3 + 4 = 7\n#### 6\n#### 7", 0.0),
        ("3 + 4 = 7\n" + "#### 7\n" * 40, 0.0),  # the repeat loop seen in training
        ("3 + 4 = 7\n#### 7 or 8", 0.0),  # a hedge
        ("3 + 4 = 7, then #### 7 inline", 0.0),
        ("3 + 4 = 7\nThe answer is 7", 0.0),
        (r"3 + 4 = \boxed{7}", 0.0),
        ("3 + 4 = 7\n####", 0.0),
        ("3 + 4 = 7\n#### seven", 0.5),  # a number, in words: decorated
        ("3 + 4 = 7\n#### x", 0.0),
        ("", 0.0),
        (None, 0.0),
        (chat(None), 0.0),
    ],
)
def test_format_reward(completion, expected):
    assert format_reward([completion]) == [expected]
    assert format_score(completion) == expected


def test_running_to_the_token_limit_earns_no_format_credit():
    perfect = "3 + 4 = 7\n#### 7"
    assert format_reward([perfect, perfect, perfect], cut_off=[False, True, None]) == [1.0, 0.0, 1.0]
    assert format_score(perfect, cut_off=True) == 0.0
    # correctness still counts an explicit answer in a cut-off completion, but not a last number
    assert correctness_reward([perfect, "3 + 4 = 7"], ["7", "7"], cut_off=[True, True]) == [1.0, 0.0]
    assert correctness_reward(["3 + 4 = 7"], ["7"], cut_off=[False]) == [1.0]
    with pytest.raises(ValueError, match="cut_off flags"):
        format_reward([perfect], cut_off=[True, False])


class _FakeTrainer:
    """Stands in for TRL's GRPOTrainer: reward functions get its bound ``log_extra``."""

    eos_token_ids = [2]

    class _tokenizer:  # noqa: N801 - mirrors the attribute name TRL uses
        pad_token_id = 0

    def _log_completion_extra(self, column, values):
        pass


def test_cut_off_is_read_from_trl_kwargs():
    from srgrpo.tasks.rewards import cut_off_flags

    trainer = _FakeTrainer()
    ids = [[5, 6, 2], [5, 6, 7], [5, 0], []]  # stopped, ran to the limit, padded, empty
    kwargs = dict(completion_ids=ids, log_extra=trainer._log_completion_extra, trainer_state=None)
    assert cut_off_flags(4, kwargs) == [False, True, False, False]
    assert cut_off_flags(4, {"completion_ids": ids}) == [None] * 4  # no trainer: unknown, the text decides
    perfect = "3 + 4 = 7\n#### 7"
    assert format_reward([perfect] * 4, **kwargs) == [1.0, 0.0, 1.0, 1.0]
    assert correctness_reward(["3 + 4 = 7"] * 2, ["7"] * 2, **{**kwargs, "completion_ids": ids[:2]}) == [1.0, 0.0]


def test_the_hacks_never_beat_a_plain_attempt():
    """Each hack scores at most what the same work earns with no answer line at all (correct + format)."""
    work = "Mia has 16 - 3 - 4 = 9 eggs and makes 9 * 2 = 18 dollars."
    plain = correctness_reward([work], ["18"])[0] + format_score(work)
    hacks = {
        "repeat": (work + "\n#### 18" * 30, None),
        "bare line": ("#### 18", None),
        "words then line": ("The answer follows.\n#### 18", None),
        "ran to the limit": (work + "\n#### 18", True),
    }
    for name, (text, cut) in hacks.items():
        total = correctness_reward([text], ["18"], cut_off=[cut])[0] + format_score(text, cut_off=cut)
        assert total <= plain, name
    proper = work + "\n#### 18"
    assert correctness_reward([proper], ["18"])[0] + format_score(proper) > plain


def test_is_strict_correct():
    assert is_strict_correct("3 + 4 = 7\n#### 7", "7")
    assert not is_strict_correct("3 + 4 = 7\n#### 7", "7", cut_off=True)
    assert not is_strict_correct("#### 7", "7")  # no work
    assert is_strict_correct(chat("3 + 4 = 7\n#### 7"), "7")
    assert not is_strict_correct("3 + 4 = 7\n#### 8", "7")  # perfect format, wrong answer
    assert not is_strict_correct("3 + 4 = 7\n#### 7 apples", "7")  # right answer, sloppy format
    assert not is_strict_correct("The answer is 7", "7")
    assert not is_strict_correct(None, "7")


def test_answer_format_constants():
    assert ANSWER_MARKER == "####"
    assert ANSWER_FORMAT.startswith(ANSWER_MARKER)


# --------------------------------------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------------------------------------

NUMBER_FORMS = [
    lambda n: str(n),
    lambda n: f"{n:,}",
    lambda n: f"{'-' if n < 0 else ''}${abs(n):,}",
    lambda n: f"{n}.0",
    lambda n: f"{n:,}.00",
    lambda n: str(n).replace("-", "\u2212"),
    lambda n: f"{n}.",
]
TEMPLATES = [
    "Some reasoning.\n#### {}",
    "#### {}",
    "We get {} in the end.",
    r"So it is \boxed{{{}}}",
    "<answer>{}</answer>",
    "The answer is {}",
    "Final answer: {}",
]


@PROPS
@given(
    st.integers(min_value=-(10**15), max_value=10**15),
    st.sampled_from(NUMBER_FORMS),
    st.sampled_from(TEMPLATES),
    st.booleans(),
)
def test_any_integer_in_any_form_is_correct(n, form, template, as_chat):
    text = template.format(form(n))
    completion = chat(text) if as_chat else text
    assert correctness_reward([completion], [str(n)]) == [1.0], text
    assert correctness_reward([completion], [str(n + 1)]) == [0.0], text


@PROPS
@given(st.integers(min_value=-(10**9), max_value=10**9), st.text(alphabet="abcdefg =+.\n", min_size=1, max_size=50))
def test_kit_format_is_strict_correct(n, reasoning):
    text = f"Let me think: {reasoning}\n{n} + 0 = {n}\n#### {n}"
    assert format_score(text) == 1.0
    assert is_strict_correct(text, f"{n:,}")


completion_strategy = st.one_of(
    st.none(),
    st.text(max_size=200),
    st.text(alphabet="0123456789#$,.-\n \\boxed{}<answer>/", max_size=200),
    st.builds(chat, st.one_of(st.none(), st.text(max_size=100))),
)


@PROPS
@given(st.lists(st.tuples(completion_strategy, st.one_of(st.none(), st.text(max_size=10), st.integers())), max_size=8))
def test_reward_shapes_and_ranges(pairs):
    completions = [c for c, _ in pairs]
    golds = [g for _, g in pairs]
    correct = correctness_reward(completions, golds)
    fmt = format_reward(completions)
    assert len(correct) == len(fmt) == len(pairs)
    assert all(r in (0.0, 1.0) for r in correct)
    assert all(r in (0.0, 0.5, 1.0) for r in fmt)


@PROPS
@given(completion_strategy)
def test_extracted_answer_is_normalised(completion):
    n = extract_final_answer(completion)
    assert n is None or normalize_number(n) == n


# --------------------------------------------------------------------------------------------------------------------
# Linear time on long, degenerate outputs
# --------------------------------------------------------------------------------------------------------------------

ADVERSARIAL = {
    "comma-ones": "1," * 500_000,
    "boxed-open": "\\boxed{" * 150_000,
    "boxed-nested": "\\boxed{{}" * 110_000,
    "answer-tags": "<answer>" * 125_000,
    "answer-tags-digits": "<answer>1" * 110_000,
    "hashes": "#" * 1_000_000,
    "hashes-then-spaces": "#" * 500_000 + " " * 500_000,
    "markers": "#### " * 200_000,
    "digits": "1" * 1_000_000,
    "bad-groups": "1,111" * 200_000,
    "answer-is": "the answer is " * 75_000,
    "fractions": "1/" * 500_000,
    "dots": "1." * 500_000,
    "minus": "-1" * 500_000,
    "spaces": " " * 1_000_000,
    "newlines": "\n" * 1_000_000,
    # issue 14: digits and every separator the reader accepts, words, LaTeX nested deep, hedges, question lines
    "space-groups": "1 000 " * 170_000,
    "thin-groups": "1\u2009000\u2009" * 170_000,
    "mixed-numbers": "1 1/2 " * 170_000,
    "marker-then-digits": "#### " + "1,1 " * 250_000,
    "marker-then-groups": "#### " + "1 000" * 200_000,
    "words": "one hundred and " * 63_000,
    "word-soup": "twenty-one one " * 67_000,
    "latex-frac-nested": "\\frac{" * 167_000 + "1" + "}{2}" * 10,
    "latex-boxed-frac": "\\boxed{" + "\\frac{1}{" * 100_000 + "2" + "}" * 100_000,
    "braces": "{" * 500_000 + "}" * 500_000,
    "latex-thin": "1\\,000\\," * 125_000,
    "text-nested": "\\text{" * 150_000,
    "hedges": "18 or 20 " * 110_000,
    "equals": "= 1 " * 250_000,
    "questions": "Q: 1?\n" * 170_000,
    "checks": "Check: 1 = 1.\n" * 72_000,
    "answer-digits": "The answer is " + "9" * 1_000_000,
    "parens": "(" * 500_000 + "1" + ")" * 500_000,
    "scales": "1K 1M " * 170_000,
}

#: Seconds each worst case may take (issue 14); measured here well below it, so a slow machine has room.
WORST_CASE_SECONDS = 0.2


@pytest.mark.parametrize("name", sorted(ADVERSARIAL))
def test_linear_time_on_1mb(name):
    text = ADVERSARIAL[name]
    assert len(text) >= 900_000
    # correctness_reward is extract_final_answer plus a comparison, so timing these two covers the rewards.
    for fn in (lambda: extract_final_answer(text), lambda: format_reward([text]), lambda: normalize_number(text)):
        best = min(_timed(fn) for _ in range(2))  # the best of two: another process may take the core once
        assert best < WORST_CASE_SECONDS, f"{name}: {best:.3f} s"


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def test_normalize_is_fast_on_padded_strings():
    # Adjacent unbounded whitespace runs would make this polynomial.
    start = time.perf_counter()
    for s in (" " * 5000 + "x", " " * 999 + "5" + " " * 999 + "x", "-" * 999, "9" * 999 + "/", "1" * 10**6):
        normalize_number(s)
    assert time.perf_counter() - start < 1.0


# --------------------------------------------------------------------------------------------------------------------
# Every gold solution of GSM8K gets full marks against its own answer
# --------------------------------------------------------------------------------------------------------------------


def gsm8k_dir(split: str) -> Path | None:
    """SRGRPO_DATA_DIR, the repo's data/gsm8k, then the shared copy beside the checkout."""
    here = Path(__file__).resolve()
    candidates = [
        Path(os.environ["SRGRPO_DATA_DIR"]) if os.environ.get("SRGRPO_DATA_DIR") else None,
        here.parents[2] / "data" / "gsm8k",
        here.parents[3] / "shared" / "data" / "gsm8k",
    ]
    for folder in candidates:
        if folder is not None and (folder / f"{split}.jsonl").is_file():
            return folder
    return None


@pytest.mark.parametrize("split", ["train", "test"])
def test_every_gold_solution_scores_full_marks(split, capsys):
    from srgrpo.tasks.gsm8k import load_gsm8k

    folder = gsm8k_dir(split)
    if folder is None:
        pytest.skip(
            f"no local GSM8K {split}.jsonl (looked in $SRGRPO_DATA_DIR, data/gsm8k/, ../shared/data/gsm8k/); "
            "run `python -m srgrpo.gsm8k download` to get it"
        )
    start = time.perf_counter()
    ds = load_gsm8k(split, data_dir=folder)
    solutions, answers = ds["solution"], ds["answer"]
    correct = correctness_reward(solutions, answers)
    fmt = format_reward(solutions)
    strict = [is_strict_correct(s, a) for s, a in zip(solutions, answers)]
    elapsed = time.perf_counter() - start
    n = len(ds)
    assert n > 0
    bad = [i for i in range(n) if correct[i] != 1.0 or fmt[i] != 1.0 or not strict[i]]
    assert not bad, f"{len(bad)} gold solutions do not score 1.0, e.g. row {bad[0]}: {solutions[bad[0]][-200:]!r}"
    # Shifted: each solution against the next problem's gold. Only a coincidence of numbers may score 1.
    shifted_golds = answers[1:] + answers[:1]
    shifted = correctness_reward(solutions, shifted_golds)
    false_pos = [i for i in range(n) if shifted[i] == 1.0 and not numbers_equal(answers[i], shifted_golds[i])]
    assert not false_pos, f"row {false_pos[0]} scores 1 against another problem's gold"
    with capsys.disabled():
        print(f"\n[gold check] {split}: {n} gold solutions from {folder} all score 1.0 ({elapsed:.2f} s); "
              f"shifted: {int(sum(shifted))} score 1, all where the two golds are equal, 0 false positives")
