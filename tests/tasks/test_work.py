"""Tests for srgrpo.tasks.work, the check of the work: the rule's examples, a person's labels, properties, linear
time, and GSM8K's calculator notes as an oracle."""

from __future__ import annotations

import hashlib
import json
import re
import time
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from srgrpo.tasks.numbers import format_value
from srgrpo.tasks.work import check_work, find_equations
from work_agreement import SETS, agreement, agreement_table, load_labels

REPO = Path(__file__).resolve().parents[2]

# --------------------------------------------------------------------------------------------------------------------
# The rule, example by example (srgrpo/tasks/work.py's docstring): text -> [(equation, holds)]
# --------------------------------------------------------------------------------------------------------------------

RULE = [
    ("16 - 3 - 4 = 9 eggs", [("16 - 3 - 4 = 9 eggs", True)]),
    ("Janet sells 16 - 3 - 4 = 8 eggs a day.", [("16 - 3 - 4 = 8 eggs", False)]),
    ("2 * 3 + 1 = 7", [("2 * 3 + 1 = 7", True)]),
    ("2 + 3 * 4 = 20", [("2 + 3 * 4 = 20", False)]),  # standard precedence: 14
    ("(2 + 3) * 4 = 20", [("(2 + 3) * 4 = 20", True)]),
    ("$5 + $3 = $8", [("$5 + $3 = $8", True)]),
    ("1,000 + 2,500 = 3,500.", [("1,000 + 2,500 = 3,500", True)]),
    ("5 x 8 = 40, 5 × 8 = 40, 5·8 = 40, 5x8 = 40", [("5 x 8 = 40", True), ("5 * 8 = 40", True),
                                                     ("5*8 = 40", True), ("5 * 8 = 40", True)]),
    ("12 ÷ 4 = 3 and 12 / 4 = 4", [("12 ÷ 4 = 3", True), ("12 ÷ 4 = 4", False)]),
    ("\\frac{3}{4} \\times 8 = 6", [("3/4 * 8 = 6", True)]),
    ("5 * 8 + 9 * 8 = 5 * 9 + 56 = 5 * 9 + 240", [("5 * 8 + 9 * 8 = 5 * 9 + 56 = 5 * 9 + 240", False)]),
    ("4 * 60 = 240 + 15 = 255 seconds", [("4 * 60 = 240 + 15 = 255 seconds", False)]),  # a running sum, as written
    ("Total = 4 * 6 = 24", [("4 * 6 = 24", True)]),
    ("6 days * 4 coins per day = 20 coins", [("6 days * 4 coins per day = 20 coins", False)]),
    ("13 (total toys) - 4 (lost) = 9", [("13 (total toys) - 4 (lost) = 9", True)]),
    ("9 pencils * 10 pencils = 90 pencils", [("9 pencils * 10 pencils = 90 pencils", True)]),
    ("2.5 gallons = 2.5 * 8 pints = 20 pints", [("2.5 * 8 pints = 20 pints", True)]),
    ("Week 3 = 20 + 25 = 45 hours", [("20 + 25 = 45 hours", True)]),
    ("4 - 2 = 2 hours = 120 minutes", [("4 - 2 = 2 hours", True)]),
    ("20 / 1/4 = 80", [("20 ÷ 1/4 = 80", True)]),  # a tight fraction binds first
    ("8/4 = .5 hour", [("8/4 = .5 hour", False)]),  # and is a division
    ("5 / 3 = 1 and 2/3", [("5 ÷ 3 = 1 and 2/3", True)]),
    ("16 - 3 - 4 = <<16-3-4=9>>9 eggs", [("16 - 3 - 4 = 9 eggs", True)]),
    # decimals: less than one unit of the last written digit away
    ("10 * 2/3 = 6.67", [("10 * 2/3 = 6.67", True)]),
    ("10 * 2/3 = 6.66", [("10 * 2/3 = 6.66", True)]),
    ("10 * 2/3 = 6.65", [("10 * 2/3 = 6.65", False)]),
    ("10 * 2/3 = 7", [("10 * 2/3 = 7", False)]),  # a whole number is not a rounding
    ("10 / 3 = 3", [("10 ÷ 3 = 3", False)]),
    ("6.67 * 3 = 20", [("6.67 * 3 = 20", False)]),
    ("1/3 = 0.333333", [("1/3 = 0.333333", True)]),
    # readings
    ("20% of 50 = 10", [("20% of 50 = 10", True)]),
    ("20% * 50 = 10", [("20% * 50 = 10", True)]),
    ("25% + 5% = 30%", [("25% + 5% = 30%", True)]),
    ("50 / 2 = $25 million", [("50 ÷ 2 = $25 million", True)]),
    ("$3.00 - $2.65 = 35 cents", [("$3.00 - $2.65 = 35 cents", True)]),
    ("$3.00 - $2.65 = 45 cents", [("$3.00 - $2.65 = 45 cents", False)]),
    # left alone
    ("3 friends = 3 people", []),
    ("1 hour = 60 minutes", []),
    ("13 toys = 13 * 4", []),
    ("x + 3 = 5", []),
    ("3x = 12", []),
    ("20 = 5 + 3x", []),
    ("30 = 12 + M trees", []),
    ("3K - 2 = 40", []),
    (".1(minutes) + 1 = 2", []),
    ("= 5", []),
    ("Total = 12", []),
    ("9 * 8 = Number of pencils", []),
    ("Number of packs * 8 = 72", []),
    ("22 + 3 =", []),
    ("5 + 3 ≈ 8.1", []),
    ("5 + 3 == 8 and 5 + 3 => 8", []),
    ("2(3 + 4) = 14", []),
    ("eight + three = eleven", []),
    ("4 divided by 6 equals 2", []),
    ("16 - 3 - 4\n= 9", []),
    ("24 / 0 = 5", []),
]


@pytest.mark.parametrize("text, expected", RULE, ids=[t for t, _ in RULE])
def test_the_rule(text, expected):
    assert [(e.text, e.holds) for e in find_equations(text)] == expected


def test_a_cut_off_completion_leaves_its_unfinished_last_number_alone():
    text = "She has 40 x 9 = 360 pencils.\nShe now has 360 - 40 = 360 - 40 = 3"
    assert [(e.text, e.holds) for e in find_equations(text, cut_off=True)] == [
        ("40 x 9 = 360 pencils", True), ("360 - 40 = 360 - 40", True)]
    assert check_work(text, cut_off=False).false == 1  # a completion that stopped there said 3


def test_the_issues_two_examples_are_correct_answers_with_false_work():
    """issue 39: stored completions that the reward pays in full, whose work is false."""
    from srgrpo.eval_gsm8k.records import score_record, summarize

    ava = "Ava has 2 * 2 = 2 groups of 2 toys each.\nTara has 2 * 2 = 2 groups of 2 toys each.\n#### 2"
    coins = ("If one shelf holds 8 * 10 = 8 coins, and the other shelf holds 6 * 10 = 6 coins, then the total number "
             "of coins on both shelves is 8 + 6 = 14.\n#### 14")
    sound = "Eli collects 4 * 6 = 24 coins.\n#### 24"
    records = [score_record(i, {"question": "q", "answer": gold}, text, 20, False)
               for i, (text, gold) in enumerate([(ava, "2"), (coins, "14"), (sound, "24")])]
    assert [(r["correct"], r["equations"], r["false_equations"]) for r in records] == [
        (True, 2, 2), (True, 3, 2), (True, 1, 0)]
    summary = summarize(records)
    assert (summary["correct"], summary["sound"], summary["wrong_work"]) == (3, 1, 2)
    assert summary["wrong_work_share"] == pytest.approx(2 / 3)


def test_records_written_before_the_count_are_checked_from_their_completion():
    from srgrpo.eval_gsm8k.records import summarize

    old = [{"correct": True, "strict_correct": True, "format_score": 1.0, "num_tokens": 9, "truncated": False,
            "completion": text} for text in ("2 * 2 = 2\n#### 2", "2 * 1 = 2\n#### 2")]
    summary = summarize(old)
    assert (summary["sound"], summary["wrong_work"]) == (1, 1)
    assert summarize([])["wrong_work_share"] is None


# --------------------------------------------------------------------------------------------------------------------
# A person's labels (tests/tasks/labelled_work.jsonl): the figures docs/answer-checking.md states
# --------------------------------------------------------------------------------------------------------------------

#: What the checker measured against the labels (see work_agreement.py): the docs' table prints these.
MEASURED = {
    "development": {"completions": 150, "labelled": 159, "labelled_false": 71, "same_counts": 150, "paired": 159,
                    "same_verdict": 159, "false_alarms": 0, "missed": 0, "unseen": 6},
    "held-out": {"completions": 64, "labelled": 90, "labelled_false": 27, "same_counts": 64, "paired": 90,
                 "same_verdict": 90, "false_alarms": 0, "missed": 0, "unseen": 4},
}


def test_the_labels_quote_their_completions_and_cover_the_stored_examples():
    rows = load_labels()
    assert len(rows) >= 150 and {r["set"] for r in rows} == set(SETS)
    for r in rows:
        for e in r["equations"]:
            assert e["text"] in r["completion"], (r["source"], e["text"])
        assert isinstance(r["cut_off"], bool) and isinstance(r["correct"], bool) and isinstance(r["note"], str)
    stored = {r["completion"] for r in rows if r["set"] == "development"}
    assert len(stored) == len([r for r in rows if r["set"] == "development"])  # each distinct completion once
    assert stored == _stored_completions()  # every completion the results files store, and nothing else


def _stored_completions() -> set[str]:
    found: set[str] = set()

    def walk(o):
        if isinstance(o, dict):
            if isinstance(o.get("completion"), str):
                found.add(o["completion"])
            else:
                for v in o.values():
                    walk(v)
        elif isinstance(o, list):
            for v in o:
                walk(v)

    for path in (REPO / "data" / "results").rglob("*.json"):
        walk(json.loads(path.read_text(encoding="utf-8")))
    return found


def test_agreement_with_the_labels_is_what_the_docs_say():
    rows = load_labels()
    for name in SETS:
        a = agreement([r for r in rows if r["set"] == name])
        got = {"completions": a.completions, "labelled": a.labelled, "labelled_false": a.labelled_false,
               "same_counts": a.same_counts, "paired": a.paired, "same_verdict": a.same_verdict,
               "false_alarms": len(a.false_alarms), "missed": len(a.missed), "unseen": a.unseen}
        assert got == MEASURED[name], (name, a.false_alarms, a.missed)
    doc = (REPO / "docs" / "answer-checking.md").read_text(encoding="utf-8")
    assert agreement_table(rows) in doc, "docs/answer-checking.md: paste tests/tasks/work_agreement.agreement_table()"


# --------------------------------------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------------------------------------

UNITS = ["", " apples", " coins per day", " (total)"]
SIGNS = {"+": ["+"], "-": ["-"], "*": ["*", "x", "×"], "/": ["/", "÷"]}  # each operator, as people write it


@st.composite
def operands(draw, nonzero: bool = False):
    """(text, exact value) of one number in a form the reader knows."""
    kind = draw(st.sampled_from(["int", "grouped", "money", "decimal", "fraction"]))
    low = 1 if nonzero else 0
    if kind == "int":
        v = draw(st.integers(low, 999))
        text = str(v)
    elif kind == "grouped":
        v = draw(st.integers(1000, 999_999))
        text = f"{v:,}"
    elif kind == "money":
        v = draw(st.integers(low, 500))
        text = f"${v}"
    elif kind == "decimal":
        v = Fraction(draw(st.integers(low, 9999)), 100)
        text = format_value(v) if v else "0.5"
        v = v if v else Fraction(1, 2)
    else:
        den = draw(st.integers(2, 12))
        num = draw(st.integers(1, den - 1))
        v, text = Fraction(num, den), f"{num}/{den}"
    return text + draw(st.sampled_from(UNITS)), Fraction(v)


@st.composite
def expressions(draw):
    """(text, exact value): 2 to 5 numbers joined by + - * / (written several ways), perhaps one parenthesised run.
    The oracle is Python's own arithmetic on Fractions of the numbers drawn, in the same order and grouping."""
    n = draw(st.integers(2, 5))
    ops = [draw(st.sampled_from("+-*/")) for _ in range(n - 1)]
    terms = [draw(operands(nonzero=i > 0 and ops[i - 1] == "/")) for i in range(n)]
    group = draw(st.one_of(st.none(), st.tuples(st.integers(0, n - 2), st.integers(2, n))))
    text, python = [], []
    for i, (t, v) in enumerate(terms):
        if i:
            text.append(draw(st.sampled_from(SIGNS[ops[i - 1]])))
            python.append(ops[i - 1])
        opens = group is not None and i == group[0] and group[0] + 1 < min(group[1], n)
        closes = group is not None and i == min(group[1], n) - 1 and group[0] + 1 < min(group[1], n)
        text.append(("(" if opens else "") + t + (")" if closes else ""))
        python.append(("(" if opens else "") + f"Fraction({v.numerator}, {v.denominator})" + (")" if closes else ""))
    try:
        value = eval(" ".join(python), {"Fraction": Fraction})  # our own generated arithmetic, never model text
    except ZeroDivisionError:
        value = None
    return " ".join(text), value


def _written(value: Fraction, decimals: int) -> str:
    """A value as a person writes a result: exactly when it has a finite decimal form, else rounded."""
    exact = format_value(value)
    if "/" not in exact:
        return exact
    scaled = abs(value) * 10**decimals
    rounded = (scaled.numerator * 2 + scaled.denominator) // (2 * scaled.denominator)  # half up
    whole, part = divmod(rounded, 10**decimals)
    return f"{'-' if value < 0 else ''}{whole}.{part:0{decimals}d}"  # every decimal written: "0.00" is a rounding


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(expressions(), st.integers(2, 4), st.sampled_from(["So she has ", "", "Step 1: "]),
       st.sampled_from(["", " eggs", " dollars left"]))
def test_a_true_equation_holds_and_a_changed_result_does_not(expr, decimals, before, after):
    text, value = expr
    if value is None or value.denominator > 10**6:
        return
    result = _written(value, decimals)
    for stated, holds in ((result, True), (format_value(Fraction(result) + 1), False),
                          (format_value(Fraction(result) - 7), False)):
        found = find_equations(f"{before}{text} = {stated}{after}.\n#### 5\n")
        assert [e.holds for e in found] == [holds], (text, stated, found)
        assert found[0].values[0] == value


@settings(max_examples=200)
@given(expressions(), st.integers(1, 9))
def test_a_true_chain_holds_and_a_changed_link_breaks_it(expr, b):
    text, value = expr
    if value is None or value.denominator != 1:
        return
    a = value - b
    good = f"{text} = {a} + {b} = {value} eggs.\n"
    bad = f"{text} = {a} + {b + 1} = {value} eggs.\n"
    assert [e.holds for e in find_equations(good)] == [True]
    assert [e.holds for e in find_equations(bad)] == [False]


ARITHMETIC = st.text(alphabet="0123456789+-*/=()x.,$% ÷×·\n:;ab<>Kg", max_size=200)


@settings(max_examples=500)
@given(st.one_of(st.text(max_size=300), ARITHMETIC), st.sampled_from([None, True, False]))
def test_never_raises_on_any_text(text, cut_off):
    found = find_equations(text, cut_off=cut_off)
    work = check_work(text, cut_off=cut_off)
    assert work.count == len(found) >= work.false >= 0
    assert all(e.text and len(e.values) >= 2 for e in found)


def test_a_trl_completion_and_nonsense_are_read():
    assert check_work([{"role": "assistant", "content": "2 + 2 = 5"}]).false == 1
    assert check_work(None).count == check_work(42).count == check_work("").count == 0


# --------------------------------------------------------------------------------------------------------------------
# Linear time
# --------------------------------------------------------------------------------------------------------------------

ADVERSARIAL = {
    "equals": "= 1 " * 250_000,
    "chains": "1 = 1 + 1 = " * 90_000,
    "lines": "1 + 1 = 2\n" * 100_000,
    "sum": "1 + " * 250_000 + "1 = 5",
    "parens": "(" * 500_000 + "1" + ")" * 500_000 + " = 1",
    "open-parens": "(1 + (" * 150_000 + "= 2",
    "units": "1 apples * " * 90_000 + "1 = 2",
    "mixed": "1 and 1/2 = " * 80_000,
    "percent-of": "20% of " * 140_000 + "5 = 1",
    "variables": "x + y = " * 125_000,
    "glued": "3x=" * 330_000,
    "commas": "1,0 = " * 160_000,
    "digits": "1" * 999_990 + " = 1 + 1",
}


@pytest.mark.parametrize("name", sorted(ADVERSARIAL))
def test_linear_time_on_1mb(name):
    text = ADVERSARIAL[name]
    assert len(text) >= 900_000
    best = min(_timed(lambda: find_equations(text)) for _ in range(2))
    assert best < 2.0, f"{name}: {best:.2f} s"  # the first 20,000 characters are read: 0.2-0.6 s measured here


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


# --------------------------------------------------------------------------------------------------------------------
# GSM8K's training solutions: their calculator notes are an oracle, and their written equations were read by a person
# --------------------------------------------------------------------------------------------------------------------


def _train_solutions() -> list[str]:
    path = REPO / "data" / "gsm8k" / "train.jsonl"
    if not path.is_file():
        pytest.skip("no data/gsm8k/train.jsonl (python -m srgrpo.gsm8k download)")
    return [json.loads(line)["answer"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


_NOTE_RE = re.compile(r"<<([^<>\n]{0,200})=([^<>=\n]{1,40})>>")


def test_every_calculator_note_of_gsm8k_train_holds_and_fails_when_changed():
    """GSM8K's ``<<48/2=24>>`` notes were computed by a calculator: each one the checker reads holds, and the same note
    with its result changed by one does not."""
    notes = read = 0
    for solution in _train_solutions():
        for m in _NOTE_RE.finditer(solution):
            expr, result = m.group(1), m.group(2)
            found = find_equations(f"{expr}={result}")
            notes += 1
            if not found:
                continue
            read += 1
            assert [e.holds for e in found] == [True], m.group(0)
            value = found[0].values[-1]
            assert [e.holds for e in find_equations(f"{expr}={format_value(value + 1)}")] == [False], m.group(0)
    assert notes > 23_000 and read / notes > 0.98  # the rest are notes such as <<7=7>>, with no operator
    doc = " ".join((REPO / "docs" / "answer-checking.md").read_text(encoding="utf-8").split())
    assert f"Every one of GSM8K's {read:,} readable calculator notes" in doc


def test_the_false_equations_of_gsm8k_train_are_the_ones_a_person_read():
    """Every equation of GSM8K's training solutions (calculator notes removed) that the checker calls false was read
    by a person (tests/tasks/gsm8k_train_false_equations.jsonl: row, a hash of the equation, the verdict and why);
    the docs' figures are these."""
    labels = [json.loads(line) for line in (Path(__file__).parent / "gsm8k_train_false_equations.jsonl")
              .read_text(encoding="utf-8").splitlines() if line.strip()]
    flagged, total = [], 0
    for row, solution in enumerate(_train_solutions()):
        found = find_equations(solution)
        total += len(found)
        flagged += [(row, hashlib.sha1(e.text.encode()).hexdigest()[:12]) for e in found if not e.holds]
    assert flagged == [(lab["row"], lab["equation_sha1"]) for lab in labels]
    verdicts = [lab["verdict"] for lab in labels]
    assert (total, len(labels), verdicts.count("false as written"), verdicts.count("false alarm")) == GSM8K_TRAIN
    doc = " ".join((REPO / "docs" / "answer-checking.md").read_text(encoding="utf-8").split())
    assert (f"{total:,} equations in GSM8K's {7473:,} training solutions, the checker calls {len(labels)} false: "
            f"{GSM8K_TRAIN[2]} are false as written") in doc


#: equations found, called false, of those false as written, false alarms (a person's reading)
GSM8K_TRAIN = (22_726, 47, 32, 15)
