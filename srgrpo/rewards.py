"""Rewards for GSM8K: is the final answer right, and is it written the way the kit asks?

The answer format
-----------------
The model reasons step by step and ends with its final answer alone on the last line::

    Janet sells 16 - 3 - 4 = 9 eggs a day.
    She makes 9 * 2 = 18 dollars.
    #### 18

This is exactly the format of GSM8K's own gold solutions, so one parser serves the gold data, the rewards and the
evaluation. :data:`ANSWER_MARKER` and :data:`ANSWER_FORMAT` describe it; :func:`extract_final_answer` reads it.

Two rewards, kept separate
--------------------------
For a completion ``c`` with gold number ``g``:

* ``correctness_reward``: ``r_correct(c) = 1 if value(extract_final_answer(c)) == value(g) else 0``. The comparison
  is exact (rational numbers, no floating point), so ``1,000`` == ``1000`` and ``18.0`` == ``18``. It is lenient about
  *form*: it also finds answers written as ``\\boxed{18}``, ``<answer>18</answer>``, "the answer is 18" or, as a last
  resort, the last number in the text. A correct answer is never punished for its form here.
* ``format_reward``: ``r_format(c)`` in ``{0, 0.5, 1}``:

  - ``1.0``: the last non-empty line is exactly ``#### <number>`` (digits with optional ``-``, thousands commas and
    decimals; no ``$``, units or words; spaces around the line and after the marker do not matter), it is the only
    ``####`` in the text, and at least one non-empty line of reasoning comes before it;
  - ``0.5``: a ``#### <number>`` is present, but decorated (``#### $18``, ``#### 18 dollars``), not on the last line,
    repeated, or with no reasoning before it;
  - ``0.0``: no ``####`` followed by a number.

GRPO adds the rewards up (``r = r_correct + r_format`` with TRL's default weights of 1) and compares that sum within
each group of completions for the same prompt. Keeping the two apart means the trainer's logs show *separately*
whether the model is getting answers right and whether it is learning the format, and each can be reweighted
(``reward_weights``) or dropped. Folding format into correctness instead would teach the model that a right answer in
the wrong form is as bad as a wrong one, which is a confusing signal early in training when the format is not learned
yet. The small format scale (at most 1, and 0.5 for "almost") keeps format from outweighing correctness: a correct
answer in sloppy form (1 + 0.5) still beats a wrong answer in perfect form (0 + 1).

Why our own numeric parser and not ``math-verify``
--------------------------------------------------
TRL's ``accuracy_reward`` uses Hugging Face's ``math-verify``, which parses LaTeX into sympy expressions; TRL configures
it to look for LaTeX answers (``\\boxed{}`` first), not the ``#### <number>`` line this kit asks for. Every GSM8K gold
answer is a plain number (all 8,792 are integers, some with thousands commas, a few negative), so exact rational
comparison of numbers is all the grading needs. Our parser is a handful of regular expressions that run in linear
time, needs no sympy/antlr dependency, no signal-based timeouts (which only work in the main thread), and is short
enough to read in a tutorial. ``math-verify`` would win on symbolic answers such as ``\\frac{\\sqrt{2}}{2}``, which
GSM8K does not have.

Numbers
-------
:func:`normalize_number` accepts ``1,000`` (thousands separators must be well formed), ``$18``/``€``/``£``/``¥``,
``50%`` (read as 50: GSM8K writes percentages as plain numbers), a trailing period (``18.``), ``18.0``, ``.5``,
``-3``, ``−3`` (Unicode minus), ``+3`` and simple fractions ``3/4`` (read exactly, so ``3/4`` == ``0.75``). The
canonical form is the shortest exact decimal (``"18"``, ``"-3"``, ``"0.5"``), or ``"p/q"`` when the value has no finite
decimal expansion (``"1/3"``). Scientific notation, words ("twelve") and mixed numbers (``1 1/2``) are not numbers
here. Values with more than 100 digits in numerator or denominator are rejected: they are never answers, and the cap
keeps parsing cheap.

Speed
-----
Rewards run on every completion of every step, on outputs that can be long or degenerate ("1,1,1,..."). All regular
expressions here are linear: no nested quantifiers over overlapping alternatives, and every scan of unknown length
stops at a character the pattern cannot contain (``[^{}]``, ``[^<]``, a line end).
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

__all__ = [
    "ANSWER_MARKER",
    "ANSWER_FORMAT",
    "completion_to_text",
    "normalize_number",
    "numbers_equal",
    "extract_final_answer",
    "extract_gold_answer",
    "correctness_reward",
    "format_reward",
    "format_score",
    "is_strict_correct",
]

#: Marker that introduces the final answer, as in GSM8K's gold solutions.
ANSWER_MARKER = "####"
#: Human-readable description of the required last line (used in prompts and docs).
ANSWER_FORMAT = "#### <number>"

# Caps that keep normalisation cheap; see "Numbers" in the module docstring.
_MAX_NUMBER_CHARS = 1000
_MAX_VALUE = 10**100

# --------------------------------------------------------------------------------------------------------------------
# Regular expressions. Each is linear-time on any input (see "Speed" above).
# --------------------------------------------------------------------------------------------------------------------

# Digits of one number: well-formed thousands groups (the lookahead stops "1,0000" from reading as "1,000"), or a
# plain digit run, with optional decimals; or a bare ".5".
_DIGITS = r"(?:(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.\d+)?|\.\d+)"
# A number as it appears in running text. The sign counts only where it cannot be a binary minus ("5-3" is 5 and 3).
_NUMBER_IN_TEXT = (
    r"(?:(?<![\w)\]}])[-−+])?"  # sign, unless glued to a preceding operand
    r"[$€£¥]?"
    + _DIGITS
    + r"(?:/\d+(?![\d.,]))?"  # simple fraction 3/4
    r"%?"
)
_NUMBER_RE = re.compile(_NUMBER_IN_TEXT)

# A whole string that is one number (what normalize_number accepts).
# Applied to a stripped string, and with no two unbounded whitespace runs side by side: "\s*\s*" would backtrack
# polynomially on long runs of spaces.
_FULL_NUMBER_RE = re.compile(
    r"(?P<sign1>[-−+])?[$€£¥]?(?P<sign2>[-−+])?"
    r"(?P<digits>" + _DIGITS + r")"
    r"(?: ?/ ?(?P<den>\d+))?"
    r"%?\.?"
)

# Priority 1: "#### N" (spaces or markdown bold between marker and number are tolerated).
# Only the first "#" of a run may start a match: otherwise "#" * n + " " * n costs n^2 (every start rescans the
# spaces).
_HASH_ANSWER_RE = re.compile(r"(?<!#)#{4,}[ \t*]*(" + _NUMBER_IN_TEXT + r")")
# Priority 2: \boxed{...} with at most one level of nested braces (enough for \frac{a}{b} and \text{...}).
_BOXED_RE = re.compile(r"\\boxed\s*\{([^{}]*(?:\{[^{}]*\}[^{}]*)*)\}")
# Priority 3: <answer>...</answer>; [^<]* cannot run past the next tag, so scanning stays linear.
_ANSWER_TAG_RE = re.compile(r"<answer>([^<]*)</answer>", re.IGNORECASE)
# Priority 4: "the answer is N", "final answer: N", "Answer = N". Bounded gaps only.
_ANSWER_PHRASE_RE = re.compile(
    r"\banswer\b[ \t]{0,3}(?:is\b|:|=)[\s:*_]{0,10}(" + _NUMBER_IN_TEXT + r")",
    re.IGNORECASE,
)
# The exact last line the format reward wants: GSM8K's own gold style.
_STRICT_ANSWER_LINE_RE = re.compile(
    re.escape(ANSWER_MARKER) + r"[ \t]*[-−]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?"
)

# LaTeX inside \boxed{} that hides a plain number.
_LATEX_FRAC_RE = re.compile(r"\\[dt]?frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}")
_LATEX_TEXT_RE = re.compile(r"\\(?:text|mathrm|textbf|mathbf)\s*\{([^{}]*)\}")


# --------------------------------------------------------------------------------------------------------------------
# Numbers
# --------------------------------------------------------------------------------------------------------------------


def _parse_number(s: str) -> Fraction | None:
    """Exact value of a string holding one number, or None (see :func:`normalize_number`)."""
    if len(s) > _MAX_NUMBER_CHARS:
        return None
    m = _FULL_NUMBER_RE.fullmatch(s.strip())
    if m is None or (m["sign1"] and m["sign2"]):
        return None
    try:
        value = Fraction(Decimal(m["digits"].replace(",", "")))
    except (InvalidOperation, ValueError):  # pragma: no cover - the regex only lets valid decimals through
        return None
    if m["den"] is not None:
        den = int(m["den"])
        if den == 0:
            return None
        value /= den
    if (m["sign1"] or m["sign2"] or "+") in "-−":
        value = -value
    if abs(value.numerator) >= _MAX_VALUE or value.denominator >= _MAX_VALUE:
        return None
    return value


def _format_fraction(value: Fraction) -> str:
    """Canonical string for an exact value: shortest decimal if one exists, else ``p/q``."""
    num, den = value.numerator, value.denominator
    if den == 1:
        return str(num)
    twos = fives = 0
    rest = den
    while rest % 2 == 0:
        rest //= 2
        twos += 1
    while rest % 5 == 0:
        rest //= 5
        fives += 1
    if rest != 1:
        return f"{num}/{den}"
    # den = 2^a 5^b divides 10^k for k = max(a, b), and no smaller k works, so the last digit is non-zero.
    places = max(twos, fives)
    scaled = abs(num) * 10**places // den
    digits = str(scaled).rjust(places + 1, "0")
    sign = "-" if num < 0 else ""
    return f"{sign}{digits[:-places]}.{digits[-places:]}"


def normalize_number(s: Any) -> str | None:
    """Canonical string for a number written in any common way, or ``None`` if ``s`` is not one number.

    ``" $1,000.00 "`` -> ``"1000"``, ``"18."`` -> ``"18"``, ``".5"`` -> ``"0.5"``, ``"−3"`` -> ``"-3"``,
    ``"50%"`` -> ``"50"``, ``"3/4"`` -> ``"0.75"``, ``"2/6"`` -> ``"1/3"``. Two strings denote the same number exactly
    when their normal forms are equal. Integers and Decimals are accepted too; anything else gives ``None``.
    Idempotent: ``normalize_number(normalize_number(s)) == normalize_number(s)``.
    """
    if isinstance(s, bool) or s is None:
        return None
    if isinstance(s, (int, Decimal)):
        s = str(s)
    if not isinstance(s, str):
        return None
    value = _parse_number(s)
    return None if value is None else _format_fraction(value)


def numbers_equal(a: Any, b: Any) -> bool:
    """True when both are numbers (see :func:`normalize_number`) with the same exact value."""
    na, nb = normalize_number(a), normalize_number(b)
    return na is not None and na == nb


# --------------------------------------------------------------------------------------------------------------------
# Finding the final answer
# --------------------------------------------------------------------------------------------------------------------


def _last_match(pattern: re.Pattern[str], text: str) -> re.Match[str] | None:
    last = None
    for last in pattern.finditer(text):
        pass
    return last


def _number_in_latex(content: str) -> str | None:
    """Number inside ``\\boxed{...}``: the whole content if it is one number, else its last number."""
    content = _LATEX_FRAC_RE.sub(r"\1/\2", content)
    content = _LATEX_TEXT_RE.sub(r" \1 ", content)
    for latex, plain in (("{,}", ","), ("\\,", ""), ("\\!", ""), ("\\ ", " "), ("\\$", "$"), ("\\%", "%")):
        content = content.replace(latex, plain)
    whole = normalize_number(content)
    if whole is not None:
        return whole
    m = _last_match(_NUMBER_RE, content)
    return normalize_number(m.group(0)) if m else None


def extract_final_answer(text: Any) -> str | None:
    """The final numeric answer in a model output, normalised (see :func:`normalize_number`), or ``None``.

    Tried in order, the first that yields a number wins:

    1. the last ``#### N`` (the kit's format; ``#### $1,000`` and ``#### 18 dollars`` count);
    2. the last ``\\boxed{N}`` (``\\frac{a}{b}``, ``\\text{}``, ``\\$`` and ``{,}`` inside are understood);
    3. the last ``<answer>N</answer>``;
    4. the last "the answer is N" / "final answer: N" / "answer = N" (any case);
    5. the last number anywhere in the text.

    A later rule never overrides an earlier one: in ``"#### 42\\nor maybe 7"`` the answer is 42, because the model
    committed to it with the marker. Accepts a string or a TRL completion (see :func:`completion_to_text`).
    """
    text = completion_to_text(text)
    if not text:
        return None
    m = _last_match(_HASH_ANSWER_RE, text)
    if m and (n := normalize_number(m.group(1))) is not None:
        return n
    m = _last_match(_BOXED_RE, text)
    if m and (n := _number_in_latex(m.group(1))) is not None:
        return n
    m = _last_match(_ANSWER_TAG_RE, text)
    if m:
        inner = m.group(1)
        n = normalize_number(inner)
        if n is None and (last := _last_match(_NUMBER_RE, inner)) is not None:
            n = normalize_number(last.group(0))
        if n is not None:
            return n
    m = _last_match(_ANSWER_PHRASE_RE, text)
    if m and (n := normalize_number(m.group(1))) is not None:
        return n
    m = _last_match(_NUMBER_RE, text)
    return normalize_number(m.group(0)) if m else None


def extract_gold_answer(solution: str) -> str | None:
    """Normalised number from a GSM8K gold solution's ``#### N`` line, or ``None`` if it has none.

    Stricter than :func:`extract_final_answer`: gold data must use the marker, so there is no fallback.
    """
    if not isinstance(solution, str):
        return None
    m = _last_match(_HASH_ANSWER_RE, solution)
    return normalize_number(m.group(1)) if m else None


# --------------------------------------------------------------------------------------------------------------------
# Rewards (TRL signature: reward_func(completions, **dataset_columns) -> list[float])
# --------------------------------------------------------------------------------------------------------------------


def completion_to_text(completion: Any) -> str:
    """Plain text of one completion as TRL passes it.

    A string is returned as is. A conversational completion (a list of messages such as
    ``[{"role": "assistant", "content": "..."}]``) gives its last message's content; content given as a list of parts
    (``[{"type": "text", "text": "..."}]``) is joined. ``None`` and anything unreadable give ``""``, so a reward never
    raises on a strange completion.
    """
    if completion is None:
        return ""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, dict):
        return completion_to_text(completion.get("content"))
    if isinstance(completion, (list, tuple)):
        if not completion:
            return ""
        last = completion[-1]
        if isinstance(last, dict) and "content" in last:
            return completion_to_text(last["content"])
        # A list of content parts.
        if all(isinstance(p, dict) for p in completion):
            return "".join(p.get("text") or "" for p in completion if isinstance(p.get("text"), str))
        return ""
    return ""


def _gold_value(gold: Any) -> str | None:
    """Normalised gold number; also accepts a full gold solution ending in ``#### N``."""
    if isinstance(gold, float) and not isinstance(gold, bool):
        gold = repr(gold)
    n = normalize_number(gold)
    if n is None and isinstance(gold, str):
        n = extract_final_answer(gold)
    return n


def _check_lengths(completions: list, answer: list) -> None:
    if len(completions) != len(answer):
        raise ValueError(f"got {len(completions)} completions but {len(answer)} answers; they must pair up")


def correctness_reward(completions: list[Any], answer: list[Any], **kwargs: Any) -> list[float]:
    """1.0 for each completion whose final answer equals its gold number exactly, else 0.0.

    ``completions`` are strings or conversational message lists; ``answer`` is the dataset's ``answer`` column (gold
    numbers as strings, e.g. ``"18"``; a full ``... #### 18`` solution also works). Empty or ``None`` completions and
    unreadable golds score 0.0. Extra keyword arguments from the trainer (``prompts``, ``trainer_state``, ...) are
    ignored.
    """
    _check_lengths(completions, answer)
    rewards = []
    for completion, gold in zip(completions, answer):
        gold_n = _gold_value(gold)
        pred = extract_final_answer(completion)
        rewards.append(1.0 if gold_n is not None and pred == gold_n else 0.0)
    return rewards


def format_score(text: Any) -> float:
    """Format score of one completion: 1.0, 0.5 or 0.0 (scale in the module docstring)."""
    text = completion_to_text(text)
    if not text or _HASH_ANSWER_RE.search(text) is None:
        return 0.0
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if (
        len(lines) >= 2
        and text.count(ANSWER_MARKER) == 1
        and _STRICT_ANSWER_LINE_RE.fullmatch(lines[-1]) is not None
    ):
        return 1.0
    return 0.5


def format_reward(completions: list[Any], **kwargs: Any) -> list[float]:
    """How well each completion follows the kit's format, in ``{0.0, 0.5, 1.0}``.

    1.0: reasoning, then a last line that is exactly ``#### <number>`` and the only ``####``. 0.5: a ``#### <number>``
    is there but decorated, not last, repeated, or without reasoning before it. 0.0: no ``#### <number>``. The answer's
    correctness plays no part here (that is :func:`correctness_reward`).
    """
    return [format_score(c) for c in completions]


def is_strict_correct(text: Any, gold: Any) -> bool:
    """Correct answer *and* perfect format (format score 1.0): the test behind evaluation's ``strict_accuracy``."""
    return correctness_reward([text], [gold])[0] == 1.0 and format_score(text) == 1.0
