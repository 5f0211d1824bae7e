"""Tests for srgrpo.tasks.numbers and srgrpo.tasks.answers: the labelled table, number formats round-tripping, math-verify."""

from __future__ import annotations

import importlib.util
import json
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from srgrpo.tasks.answers import extract_final_answer, looks_cut_off
from srgrpo.tasks.numbers import find_numbers, format_value, normalize_number, parse_number
from srgrpo.tasks.rewards import correctness_reward

PROPS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TABLE = Path(__file__).parent / "labelled_answers.jsonl"


def load_table() -> list[dict]:
    return [json.loads(line) for line in TABLE.read_text(encoding="utf-8").splitlines() if line.strip()]


# --------------------------------------------------------------------------------------------------------------------
# The labelled table: completions written to look like small models' answers, each labelled as a person would
# --------------------------------------------------------------------------------------------------------------------


def test_table_is_well_formed():
    rows = load_table()
    assert len(rows) >= 150
    assert [r["id"] for r in rows] == list(range(len(rows)))
    assert all(r["label"] in ("right", "wrong") and r["reason"].strip() and normalize_number(r["gold"]) for r in rows)
    labels = [r["label"] for r in rows]
    assert labels.count("wrong") >= 25  # the table must be able to catch a checker that says "right" too easily


def kit_says_right(row: dict) -> bool:
    return correctness_reward([row["completion"]], [row["gold"]], cut_off=[row.get("cut_off")])[0] == 1.0


def test_kit_agrees_with_every_label(capsys):
    rows = load_table()
    disagree = [r for r in rows if kit_says_right(r) != (r["label"] == "right")]
    with capsys.disabled():
        print(f"\n[labelled table] the kit agrees on {len(rows) - len(disagree)}/{len(rows)}")
    assert not disagree, "\n".join(
        f"#{r['id']} labelled {r['label']} ({r['reason']}), kit read "
        f"{extract_final_answer(r['completion'], cut_off=r.get('cut_off'))!r}: {r['completion'][-120:]!r}"
        for r in disagree
    )


def math_verify_says_right(row: dict) -> bool:
    from math_verify import parse, verify

    return bool(verify(parse(row["gold"]), parse(row["completion"])))


@pytest.mark.skipif(importlib.util.find_spec("math_verify") is None,
                    reason="math-verify is not installed (not a dependency; pip install math-verify to compare)")
def test_compare_with_math_verify(capsys):
    """Not a gate on math-verify: prints its agreement with the same labels beside the kit's."""
    rows = load_table()
    agree = 0
    for r in rows:
        try:
            agree += math_verify_says_right(r) == (r["label"] == "right")
        except Exception:  # noqa: BLE001 - a parser failure is a disagreement, not a test error
            pass
    kit = sum(kit_says_right(r) == (r["label"] == "right") for r in rows)
    with capsys.disabled():
        print(f"\n[labelled table] math-verify (default parse) agrees on {agree}/{len(rows)}; "
              f"the kit on {kit}/{len(rows)}")
    assert kit >= agree


# --------------------------------------------------------------------------------------------------------------------
# Number formats round-trip through the normaliser
# --------------------------------------------------------------------------------------------------------------------

_UNITS = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
          "seventeen eighteen nineteen").split()
_TENS = "twenty thirty forty fifty sixty seventy eighty ninety".split()


def words(n: int) -> str:
    """English words for 0 <= n < 10**9, written independently of the reader under test."""
    if n < 20:
        return _UNITS[n]
    if n < 100:
        return _TENS[n // 10 - 2] + ("-" + _UNITS[n % 10] if n % 10 else "")
    if n < 1000:
        return _UNITS[n // 100] + " hundred" + (" and " + words(n % 100) if n % 100 else "")
    for scale, name in ((10**6, "million"), (1000, "thousand")):
        if n >= scale:
            return words(n // scale) + " " + name + (" " + words(n % scale) if n % scale else "")
    raise AssertionError(n)


def grouped(n: int, sep: str) -> str:
    return f"{n:,}".replace(",", sep)


INTEGER_FORMS = {
    "plain": lambda n: str(n),
    "commas": lambda n: grouped(n, ","),
    "spaces": lambda n: grouped(n, " "),
    "thin spaces": lambda n: grouped(n, "\u2009"),
    "narrow nbsp": lambda n: grouped(n, "\u202f"),
    "latex thin": lambda n: grouped(n, "\\,"),
    "latex comma": lambda n: grouped(n, "{,}"),
    "dollars": lambda n: "$" + grouped(n, ","),
    "trailing .00": lambda n: f"{n}.00",
    "full stop": lambda n: f"{n}.",
    "percent": lambda n: f"{n}%",
    "words": words,
}


@PROPS
@given(st.integers(min_value=0, max_value=10**9 - 1), st.sampled_from(sorted(INTEGER_FORMS)),
       st.sampled_from(["", "-", "\u2212"]))
def test_integers_round_trip(n, form, sign):
    text = INTEGER_FORMS[form](n)
    if form == "words":
        sign = "minus " if sign else ""
    value = -n if sign else n
    got = normalize_number(sign + text)
    assert got == str(value), (sign + text, got)
    assert normalize_number(str(value + 1)) != got


SCALES = {"K": 1000, "k": 1000, " thousand": 1000, "M": 10**6, " million": 10**6, " billion": 10**9}


@PROPS
@given(st.integers(min_value=1, max_value=999), st.integers(min_value=0, max_value=99), st.sampled_from(sorted(SCALES)))
def test_scales_round_trip(whole, cents, scale):
    text = f"{whole}.{cents:02d}{scale}" if cents else f"{whole}{scale}"
    expected = (Fraction(whole) + Fraction(cents, 100)) * SCALES[scale]
    assert parse_number(text) == expected, text
    assert parse_number("$" + text) == expected


@PROPS
@given(st.integers(min_value=0, max_value=100), st.integers(min_value=1, max_value=99),
       st.integers(min_value=2, max_value=100),
       st.sampled_from(["{w} {n}/{d}", "{w}\\frac{{{n}}}{{{d}}}", "{w} \\frac{{{n}}}{{{d}}}"]))
def test_mixed_numbers_round_trip(whole, num, den, template):
    num = num % den or 1
    text = template.format(w=whole, n=num, d=den)
    assert parse_number(text) == whole + Fraction(num, den), text


@PROPS
@given(st.fractions(min_value=-1000, max_value=1000, max_denominator=1000),
       st.sampled_from(["{p}/{q}", "{p} / {q}", "\\frac{{{p}}}{{{q}}}", "\\dfrac{{{p}}}{{{q}}}"]))
def test_fractions_round_trip(f, template):
    text = template.format(p=abs(f.numerator), q=f.denominator)
    sign = "-" if f < 0 else ""
    assert parse_number(sign + text) == f, sign + text
    assert normalize_number(format_value(f)) == format_value(f)  # the canonical form reads back as itself


@PROPS
@given(st.decimals(min_value=-(10**9), max_value=10**9, places=3, allow_nan=False, allow_infinity=False))
def test_decimals_round_trip(d):
    assert parse_number(str(d)) == Fraction(d)
    if d >= 0:
        assert parse_number(f"{d:,}") == Fraction(d)


@PROPS
@given(st.integers(min_value=1, max_value=999), st.sampled_from(["{n} dollars", "{n} apples", "{n} km"]),
       st.sampled_from(["She has {x} in total.", "So the answer is {x}.",
                        "Therefore, she gets {x}.\nCheck: 1 + 1 = 2."]))
def test_a_number_in_a_sentence_is_found(n, unit, sentence):
    text = sentence.format(x=unit.format(n=words(n) if n % 2 else n))
    assert extract_final_answer(text) == str(n), text


def test_refused_forms_are_refused():
    for text in ("7:30", "2nd", "one one", "twenty twenty", "2 dozen", "1,000 000", "--3", "3/0", "1" * 101):
        assert normalize_number(text) is None, text
    assert [t.value for t in find_numbers("m^2 H2O at 7:00 pm on the 3rd")] == []


def test_looks_cut_off():
    assert looks_cut_off("So 9 * 2 =")
    assert looks_cut_off("She has 9 eggs. Then she")
    assert looks_cut_off("The total is 12 + 6 = 18, and")
    assert not looks_cut_off("She has 9 eggs.")
    assert not looks_cut_off("She has 3 * 6 = 18 pencils")
    assert not looks_cut_off("#### 18")
