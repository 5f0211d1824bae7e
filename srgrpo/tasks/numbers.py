"""Reading numbers the way people write them: ``1,000``, ``70 000``, ``-3``, ``3/4``, ``1 1/2``, ``eighteen``, ``$70K``.

One idea: turn a piece of text into exact values (:class:`fractions.Fraction`), never floats, never ``eval``.
Which number *is the answer* is :mod:`srgrpo.tasks.answers`' job; this module only reads.

What is read
------------
A number token in text is, left to right (:data:`_TOKEN_RE`):

* an optional sign ``-``, ``−`` (Unicode minus) or ``+``, but only where it cannot be a binary minus: in ``5-3`` the
  ``-`` follows an operand, so that reads as 5 and 3; ``minus 3`` and ``negative 3`` are -3;
* an optional currency sign ``$ € £ ¥`` (``-$3`` and ``$-3`` are both -3);
* digits: a plain run, or thousands groups of exactly three digits with *one* separator used throughout: comma,
  space, thin space (U+2009), narrow or ordinary no-break space, or LaTeX's ``\\,`` / ``{,}`` (turned into a thin
  space / comma by :func:`clean_latex` first). ``1,0000`` is not grouped, and a space group is refused before ``-``
  or ``/`` (``3 100-pound bags`` is 3 bags, not 3100);
* optional decimals (``.5``, ``18.25``; a full stop that ends a sentence, ``18.``, is not a decimal point);
* then at most one of: a fraction ``/q`` (``3/4``, and ``3/4.`` at a sentence end), a mixed number ``1 1/2`` or
  ``1½`` (whole part plus a proper fraction), a power ``10^6`` / ``10^{6}``, scientific ``1.45e6`` or
  ``1.45 × 10^6`` (exponents up to 30);
* an optional scale: ``thousand``, ``million``, ``billion``, ``trillion``, ``hundred``, or ``k``/``K``/``M``/``B``
  glued to the digits (``70K``; ``5 km`` stays 5, ``5 m`` stays 5);
* an optional ``%`` or ``percent``, read as the plain number (GSM8K writes "25 percent" as ``#### 25``).

Meaning that is cheap to get right: ``3 degrees below zero`` is -3, ``18 dollars and 50 cents`` is 18.5,
``5 hours and 30 minutes`` is 5.5.
Numbers in words are read by :data:`_WORDS_RE` (``eighteen``, ``one hundred and twenty``, ``twenty-five``,
``a thousand``, ``two million``); the caller decides whether a lone ``one`` (often a pronoun) counts.

What is refused
---------------
Clock times (``7:30``: digits on either side of ``:``), ordinals (``2nd``), digits glued after a letter (``H2O``,
``m2``) or after ``^`` (an exponent of something else: ``m^2``), European ``1.000,5`` (ambiguous with decimals),
``dozen`` (is "2 dozen" the answer 2 or 24?), values with more than 100 digits. Every scan is a regular expression
without nested unbounded quantifiers over overlapping alternatives, so reading is linear in the text's length;
callers pass bounded windows of long completions (see :mod:`srgrpo.tasks.answers`).

Canonical form (:func:`format_value`): the shortest exact decimal (``"18"``, ``"-3"``, ``"0.5"``), or ``"p/q"`` when
the value has no finite decimal expansion (``"1/3"``). Two strings denote the same number exactly when their
canonical forms are equal.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

__all__ = ["NumberToken", "clean_latex", "find_numbers", "format_value", "normalize_number", "numbers_equal",
           "parse_number"]

_MAX_CHARS = 1000  # longer strings are never one answer; the cap keeps parsing cheap
_MAX_VALUE = 10**100
_MAX_EXPONENT = 30

_VULGAR = {"½": Fraction(1, 2), "⅓": Fraction(1, 3), "⅔": Fraction(2, 3), "¼": Fraction(1, 4), "¾": Fraction(3, 4),
           "⅕": Fraction(1, 5), "⅛": Fraction(1, 8), "⅜": Fraction(3, 8), "⅝": Fraction(5, 8), "⅞": Fraction(7, 8)}
_SCALES = {"hundred": 100, "thousand": 10**3, "million": 10**6, "billion": 10**9, "trillion": 10**12,
           "k": 10**3, "K": 10**3, "M": 10**6, "B": 10**9}

_TOKEN_RE = re.compile(
    r"""
    (?<![\w^.\d])(?<!\d:)                          # not glued to a word, an exponent mark or another number
    (?:(?P<word_sign>minus|negative)\s+)?
    (?P<sign1>(?<![\w)\]}])(?<![\d)\]}]\ )[-−+])?   # a sign only where it cannot be subtraction ("16 -3")
    (?P<cur>[$€£¥])?
    (?P<sign2>(?<=[$€£¥])[-−])?
    (?:
      (?P<int>
        \d{1,3}(?:,\d{3})+(?!\d)                    # 1,000,000
      | \d{1,3}(?P<sep>[\u2009\u202f\u00a0\ ])\d{3}(?:(?P=sep)\d{3})*(?![\d\-/])  # 70 000, one separator
      | \d+(?!\d)
      )
      (?P<dec>\.\d+(?!\d))?
    | (?P<bare_dec>\.\d+(?!\d))                      # .5
    )
    (?:
      (?P<frac>\ ?/\ ?\d+(?!\d|\.\d|:\d))            # 3/4, and 3/4. at a sentence end
    | (?P<mixed>\ \d+/\d+(?![\d/]|\.\d))            # 1 1/2
    | (?P<vulgar>[½⅓⅔¼¾⅕⅛⅜⅝⅞])
    | \^\{?(?P<pow>\d{1,2})\}?(?![\d.])             # 10^6
    | (?:[eE]|\ ?[×x*·]\ ?10\^\{?)(?P<exp>[-+−]?\d{1,2})\}?(?![\d\w.])   # 1.45e6, 1.45 × 10^6
    )?
    (?P<scale>\ ?(?:hundred|thousand|million|billion|trillion)\b|(?-i:[kKMB])(?!\w))?
    (?P<pct>\ ?%|\ ?percent\b)?
    (?P<below>\s+(?:degrees?\s+)?below\s+zero\b)?
    (?P<cents>\s+dollars?\s+and\s+(?P<c>\d{1,2})\s+cents?\b)?
    (?P<minutes>\s+hours?\s+and\s+(?P<mins>\d{1,2})\s+minutes?\b)?
    (?!st\b|nd\b|rd\b|th\b|:\d)                   # not an ordinal, not a clock time
    """,
    re.IGNORECASE | re.VERBOSE,
)
_UNITS = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
          "seventeen eighteen nineteen").split()
_TENS = "twenty thirty forty fifty sixty seventy eighty ninety".split()
_WORD_VALUES = {w: i for i, w in enumerate(_UNITS)} | {w: 20 + 10 * i for i, w in enumerate(_TENS)}
_W = "|".join(_TENS + _UNITS[::-1])  # longest first: "fourteen" before "four"
_BIG = "hundred|thousand|million|billion"
_WORDS_RE = re.compile(
    r"\b(?:(?P<word_sign>minus|negative)\s+)?"
    r"(?P<words>(?:a\s+(?:" + _BIG + r")|(?:" + _W + r"))(?:(?:[\s-]+|\s+and\s+)(?:" + _W + "|" + _BIG + r"))*)\b"
    r"(?P<below>\s+(?:degrees?\s+)?below\s+zero\b)?",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class NumberToken:
    """One number read from text: where it is, its exact value, and what kind of writing it was."""

    start: int
    end: int
    value: Fraction
    text: str
    words: bool = False  # written in words ("eighteen")
    percent: bool = False


def _cap(value: Fraction) -> Fraction | None:
    if abs(value.numerator) >= _MAX_VALUE or value.denominator >= _MAX_VALUE:
        return None
    return value


def _token_value(m: re.Match[str]) -> Fraction | None:
    digits = (m["int"] or "0").replace(m["sep"] or ",", "")
    if len(digits) > 100:
        return None
    value = Fraction(Decimal(digits + (m["dec"] or m["bare_dec"] or "")))
    if m["frac"]:
        den = int(m["frac"].replace("/", "").strip())
        if den == 0:
            return None
        value /= den
    elif m["mixed"]:
        num, den = (int(x) for x in m["mixed"].split("/"))
        if m["dec"] or den == 0 or num >= den:
            return None  # "2 5/3" is not a mixed number
        value += Fraction(num, den)
    elif m["vulgar"]:
        value += _VULGAR[m["vulgar"]]
    elif m["pow"]:
        value = value ** int(m["pow"])
    elif m["exp"]:
        value *= Fraction(10) ** int(m["exp"].replace("−", "-"))
    if m["scale"]:
        scale = m["scale"].strip()
        value *= _SCALES.get(scale, _SCALES.get(scale.lower(), 1))
    if m["cents"]:
        value += Fraction(int(m["c"]), 100)
    if m["minutes"]:
        value += Fraction(int(m["mins"]), 60)
    negative = sum(bool(x) for x in (m["word_sign"], m["sign1"] in ("-", "−"), m["sign2"], m["below"]))
    if negative > 1 or (m["sign1"] and m["sign2"]):
        return None  # "--3", "minus -3": not something to guess about
    return _cap(-value if negative else value)


def _words_value(words: str) -> Fraction | None:
    """Value of "one hundred and twenty" style words, or None if they do not form one number ("one one")."""
    total, current, last, last_big = 0, 0, None, None
    for w in re.split(r"[\s-]+", words.lower()):
        if w == "and":
            continue
        if w == "a":
            current, last = 1, "unit"
        elif w in _WORD_VALUES:
            v = _WORD_VALUES[w]
            if last == "unit" or (last == "ten" and (v >= 10 or v == 0)) or (last == "hundred" and current % 100):
                return None
            current += v
            last = "ten" if v >= 20 else "unit"
        elif w == "hundred":
            if not 0 < current < 100:
                return None
            current *= 100
            last = "hundred"
        else:  # thousand, million, billion: each smaller than the one before
            scale = _SCALES[w]
            if current == 0 or (last_big is not None and scale >= last_big):
                return None
            total += current * scale
            current, last, last_big = 0, "big", scale
    return Fraction(total + current)


def _word_tokens(m: re.Match[str]) -> list[NumberToken]:
    """Tokens for one run of number words; "two and three" is two numbers, not none."""
    sign = -1 if (m["word_sign"] or m["below"]) else 1
    value = _words_value(m["words"])
    if value is not None:
        return [NumberToken(m.start(), m.end(), sign * value, m.group(0), words=True)]
    tokens, pos = [], m.start("words")
    for piece in re.split(r"(\s+and\s+)", m["words"]):
        v = None if piece.strip().lower() == "and" else _words_value(piece)
        if v is not None:
            tokens.append(NumberToken(pos, pos + len(piece), v, piece, words=True))
        pos += len(piece)
    return tokens


def find_numbers(text: str) -> list[NumberToken]:
    """Every number in ``text``, digits and words, in order of position (overlaps resolved in favour of digits).

    Linear in ``len(text)``; callers bound the text (see the module docstring).
    """
    tokens = []
    for m in _TOKEN_RE.finditer(text):
        value = _token_value(m)
        if value is not None:
            tokens.append(NumberToken(m.start(), m.end(), value, m.group(0), percent=bool(m["pct"])))
    if any(c.isalpha() for c in text):
        taken = [(t.start, t.end) for t in tokens]
        for m in _WORDS_RE.finditer(text):
            if not any(s < m.end() and m.start() < e for s, e in taken):
                tokens.extend(_word_tokens(m))
        tokens.sort(key=lambda t: t.start)
    return tokens


# LaTeX that hides a plain number. Applied only to bounded spans, innermost \frac first, a few rounds at most.
_FRAC_RE = re.compile(r"\\[dt]?frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}")
_TEXT_RE = re.compile(r"\\(?:text|mathrm|textbf|mathbf|textit|mbox|operatorname)\s*\{([^{}]*)\}")
_LATEX_PLAIN = (("{,}", ","), ("\\!", ""), ("\\$", "$"), ("\\%", "%"), ("\\left", ""), ("\\right", ""),
                ("\\times", "×"), ("\\cdot", "·"), ("\\div", "÷"), ("^\\circ", " degrees"), ("^{\\circ}", " degrees"),
                ("\\(", " "), ("\\)", " "), ("\\[", " "), ("\\]", " "), ("\\;", " "), ("\\:", " "), ("\\ ", " "),
                ("\\quad", " "), ("−", "-"))
_THIN_RE = re.compile(r"(?<=\d)(?:\\,|~)(?=\d{3}(?!\d))")


def _frac(m: re.Match[str]) -> str:
    num, den = m.group(1).strip(), m.group(2).strip()
    if re.fullmatch(r"\d+", num) and re.fullmatch(r"\d+", den):
        glued = m.start() > 0 and m.string[m.start() - 1].isdigit()
        return f"{' ' if glued else ''}{num}/{den}"  # the space makes "1\frac{1}{2}" the mixed number "1 1/2"
    return f"(({num})/({den}))"  # not a plain fraction: leave it unreadable rather than guess precedence


def clean_latex(text: str) -> str:
    """Plain text for the LaTeX that small models wrap numbers in: ``\\frac{3}{4}``, ``70\\,000``, ``\\text{}``..."""
    if "\\" not in text and "{," not in text and "−" not in text:
        return text
    text = _THIN_RE.sub("\u2009", text)
    for _ in range(4):
        new = _TEXT_RE.sub(r" \1 ", _FRAC_RE.sub(_frac, text))
        if new == text:
            break
        text = new
    for latex, plain in _LATEX_PLAIN:
        text = text.replace(latex, plain)
    return text.replace("\\,", " ")


def parse_number(s: str) -> Fraction | None:
    """Exact value of a string that is one number and nothing else (a final ``.`` allowed), or None."""
    if not isinstance(s, str) or len(s) > _MAX_CHARS:
        return None
    s = clean_latex(s).strip()
    if s.endswith(".") and not s.endswith(".."):
        s = s[:-1].rstrip()
    if not s:
        return None
    m = _TOKEN_RE.fullmatch(s)
    if m is not None:
        return _token_value(m)
    m = _WORDS_RE.fullmatch(s)
    if m is not None and (value := _words_value(m["words"])) is not None:
        return -value if (m["word_sign"] or m["below"]) else value
    return None


def format_value(value: Fraction) -> str:
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
    digits = str(abs(num) * 10**places // den).rjust(places + 1, "0")
    return f"{'-' if num < 0 else ''}{digits[:-places]}.{digits[-places:]}"


def normalize_number(s: Any) -> str | None:
    """Canonical string for one number written in any way :mod:`srgrpo.tasks.numbers` reads, or ``None``.

    ``" $1,000.00 "`` -> ``"1000"``, ``"70 000"`` -> ``"70000"``, ``"1 1/2"`` -> ``"1.5"``, ``"eighteen"`` ->
    ``"18"``, ``"$70K"`` -> ``"70000"``, ``"−3"`` -> ``"-3"``, ``"2/6"`` -> ``"1/3"``. Integers and Decimals are
    accepted; floats are not (inexact: pass strings). Idempotent.
    """
    if isinstance(s, bool) or s is None:
        return None
    if isinstance(s, (int, Decimal)):
        s = str(s)
    if not isinstance(s, str):
        return None
    value = parse_number(s)
    return None if value is None else format_value(value)


def numbers_equal(a: Any, b: Any) -> bool:
    """True when both are numbers (see :func:`normalize_number`) with the same exact value."""
    na, nb = normalize_number(a), normalize_number(b)
    return na is not None and na == nb
