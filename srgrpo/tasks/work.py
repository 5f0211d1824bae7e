"""Is the work right? The equations a completion writes, found and checked with exact arithmetic.

The reward and "correct" read only the final number (:mod:`srgrpo.tasks.answers`); a completion can reach the right
number through false sums ("8 * 10 = 8 coins ... 6 * 10 = 6 coins ... 8 + 6 = 14"). This module finds the
equations in the text, reads their numbers with :mod:`srgrpo.tasks.numbers` (the forms the answer reader knows:
``1,000``, ``$18``, ``3/4``, ``2.5``, ``25%``, ``$16 million``...) and checks each with :class:`fractions.Fraction`.
Model text is never executed: a small parser reads it.

What is an equation
-------------------
Two or more arithmetic expressions joined by ``=`` in one sentence, at least one of them with an operator:
``16 - 3 - 4 = 9 eggs``, ``$5 + $3 = $8``, ``2 * 3 + 1 = 7``, ``5 * 8 + 9 * 8 = 5 * 9 + 56`` (a chain: each ``=``
is a claim, and the equation is false when any of them is; a running sum written as one chain, ``7 * 60 = 420 + 23
= 443``, is false as written). An expression is numbers joined by ``+ - – * / x × · ÷`` and parentheses, with
standard precedence (``2 + 3 * 4`` is 14). A fraction written tight is one number and binds first (``25 / 1/3`` is
75), and counts as a division (``6/3 = .5`` is a false equation); ``1 and 1/3`` is a mixed number; ``20% of 50``
is a product. A number may carry up to three words or a parenthesised note after it, its units (``4 coins * 6
days``, ``4 coins per day``, ``13 (total toys)``).

What is left alone (not counted, not checked):

* ``3 friends = 3 people``, ``2 hours = 120 minutes``: no operator, a restatement or a conversion. A first side that
  is one number with units names a quantity: ``4.5 gallons = 4.5 * 8 pints = 36 pints`` is the equation
  ``4.5 * 8 pints = 36 pints``, and ``13 toys = 13 * 4`` is none;
* algebra: ``x + 3 = 5``, ``3x = 12``, ``.1(minutes) + 1``, ``30 = 30 + M``: an operand that is not a number (a
  variable, a letter or a note glued to a number, a word after ``*`` or ``+``) makes its side unreadable, and an
  unreadable side is not compared (``Total = 4 * 6 = 24`` is the equation ``4 * 6 = 24``);
* a lone ``= 5``, ``Total = 12``, ``9 * 8 = Number of pencils``, ``22 + 3 =`` (cut off): no second side;
* ``5 ≈ 4.8``, ``==``, ``=>``, ``<=``: other relations; numbers in words (``eight``) and sums in words ("4 divided
  by 6 equals 2"); an equation split across lines or sentences; juxtaposed products ``2(3 + 4)``; clock times;
* the last number of a completion that was cut off (``cut_off=True``) when nothing follows it: ``= 3`` may be the
  start of ``= 320``, so that side is dropped.

How a claim is judged
---------------------
* Exact: ``10 / 4 = 2.5`` holds, ``10 / 3 = 3`` does not (no integer division; whole numbers are never rounded).
* Decimals: a side that is one number written with *d* decimals holds when it is less than one unit of its last
  digit from the exact value, so rounded or cut: ``10 * 2/3 = 6.67`` and ``= 6.66`` hold, ``= 6.65`` does not. A
  rounded number carried on is exact: ``6.67 * 3 = 20`` is false (20.01).
* Readings: ``%``, a scale word and ``cents`` can be meant two ways, so an equation holds if it holds in one of
  these readings, the same for all its numbers: every number as written (``25% + 5% = 30%``); every ``%`` a
  hundredth (``20% * 50 = 10``); scale words as units (``32 / 2 = $16 million``); ``cents`` as hundredths of a
  dollar (``$2.50 - $2.24 = 26 cents``).
* Units and currency are otherwise ignored: ``9 pencils * 10 pencils = 90 pencils`` holds (the arithmetic is right).

Everything is linear in the text's length: sentences are scanned once, each side of an ``=`` is read from a window of
at most 60 tokens; the first 20,000 characters are read. Nothing here raises on any text.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from srgrpo.tasks.answers import completion_to_text
from srgrpo.tasks.numbers import NumberToken, clean_latex, find_numbers

__all__ = ["Equation", "WorkCheck", "check_work", "find_equations"]

_MAX_CHARS = 20_000  # about 5,000 tokens: far longer than any completion the kit asks for
_MAX_TOKENS = 60  # one side of an "=" read from at most this many tokens: a longer expression is not one claim
_MAX_UNITS = 3  # words after a number that can be its units ("coins per day")
_MAX_DEPTH = 8  # parentheses nested deeper are not arithmetic a model writes
_READINGS = 4  # as written; % as hundredths; scale words as units; cents as hundredths of a dollar

# Words that end an operand's units: a verb, a conjunction or a pronoun starts the next clause.
_STOP = frozenset(
    "and or is are was were be been being so then thus therefore hence which that this these those it its equals "
    "equal equaling gives give makes make has have had to for from with by than times plus minus divided multiplied "
    "but if we she he they you there the an as at on more less because since when while where after before until "
    "about around approximately only also just now still".split()
)
_SCALE_WORDS = {"hundred": 100, "thousand": 10**3, "million": 10**6, "billion": 10**9, "trillion": 10**12}
_SCALE_RE = re.compile(r"\b(hundred|thousand|million|billion|trillion)\b", re.IGNORECASE)
_GLUED_SCALE_RE = re.compile(r"\d[kKMB]$")
_ZERO_MIXED_RE = re.compile(r"\d\s0\d*/\d")


@dataclass(frozen=True)
class Equation:
    """One equation: its text (after LaTeX and operator signs were made plain), each side's exact value as written,
    and whether every ``=`` in it holds (:attr:`holds`)."""

    text: str
    values: tuple[Fraction, ...]
    holds: bool


@dataclass(frozen=True)
class WorkCheck:
    """The equations of one completion, and how many are false."""

    equations: tuple[Equation, ...]

    @property
    def count(self) -> int:
        return len(self.equations)

    @property
    def false(self) -> int:
        return sum(not e.holds for e in self.equations)


# --------------------------------------------------------------------------------------------------------------------
# Text -> sentences -> tokens
# --------------------------------------------------------------------------------------------------------------------

_ANNOTATION_RE = re.compile(r"<<[^<>\n]{0,200}>>")  # GSM8K's calculator notes: the written equation is checked
_MARKDOWN_RE = re.compile(r"\*\*+|__+|`+")
_GLUED_TIMES_RE = re.compile(r"(?<=\d)[xX×](?=[$\d(])")  # 5x8 -> 5 * 8 ("2x + 3" stays: no number after the x)
_SPACED_SLASH_RE = re.compile(r"(?<=[\d)%])(?:\s+/\s*|\s*/\s+)(?=[-$€£¥\d(.])")  # 24 / 6: a division, not 24/6
_SENTENCE_RE = re.compile(r"\n|(?<=[.!?])\s+|;|:\s|,\s")
_PLAIN = str.maketrans({"×": "*", "·": "*", "⋅": "*", "∗": "*", "−": "-", "–": "-"})
_DIVIDE = "÷"  # a division written with spaces; "/" with none is part of a number (a fraction)


@dataclass(frozen=True)
class _Tok:
    kind: str  # NUM, OP, LP, RP, EQ, UNIT (a word or note that can follow a number), WORD, STOP, BAD (unreadable)
    start: int
    end: int
    text: str = ""  # the operator ("+ - * /") or the word
    num: NumberToken | None = None


_GAP_RE = re.compile(
    r"\s+"
    r"|(?P<eq>(?<![=<>!])=(?![=>]))"
    r"|(?P<note>\([^()\d=]{1,40}\))"
    r"|(?P<op>[-+*/÷])"
    r"|(?P<lp>\()|(?P<rp>\))"
    r"|(?P<word>[A-Za-z][A-Za-z']*)"
    r"|(?P<other>.)",
    re.DOTALL,
)


def _gap_token(m: re.Match[str], sentence: str, toks: list[_Tok]) -> _Tok | None:
    """The token for one match of :data:`_GAP_RE` between numbers (None for spaces)."""
    start, end = m.span()
    glued = bool(toks) and toks[-1].kind in ("NUM", "RP") and toks[-1].end == start
    if m["eq"]:
        return _Tok("EQ", start, end)
    if m["note"]:
        return _Tok("BAD" if glued else "UNIT", start, end)  # ".1(minutes)": a product with a name
    if m["op"]:
        return _Tok("OP", start, end, "/" if m["op"] == _DIVIDE else m["op"])
    if m["lp"] or m["rp"]:
        return _Tok("LP" if m["lp"] else "RP", start, end)
    if m["word"]:
        w = m["word"]
        if w in ("x", "X") and toks and toks[-1].kind in ("NUM", "RP", "UNIT") and _number_follows(sentence, end):
            return _Tok("OP", start, end, "*")
        if glued and len(w) == 1:
            return _Tok("BAD", start, end)  # "3x", "5A": the coefficient of a variable
        if w.lower() == "of" and toks and toks[-1].kind == "NUM" and (toks[-1].num.percent or "/" in toks[-1].num.text):
            return _Tok("OP", start, end, "*")  # 20% of 50, 1/3 of 66
        return _Tok("UNIT" if len(w) >= 2 and w.lower() not in _STOP else "WORD", start, end, w)
    c = m.group(0)
    if c.isspace():
        return None
    between_digits = c in ",." and glued and end < len(sentence) and sentence[end].isdigit()
    return _Tok("BAD" if c.isdigit() or between_digits else "STOP", start, end)  # "16,0000", "4:2"; ≈, <, "


def _number_follows(text: str, pos: int) -> bool:
    rest = text[pos : pos + 4].lstrip()
    return bool(rest) and (rest[0].isdigit() or rest[0] in "$€£¥(.")


def _tokens(sentence: str) -> list[_Tok]:
    """The sentence as tokens: the number reader's numbers, with the gaps between them read here."""
    toks: list[_Tok] = []
    numbers = [t for t in find_numbers(sentence) if not t.words]
    pos = 0
    for number in [*numbers, None]:
        for m in _GAP_RE.finditer(sentence, pos, number.start if number is not None else len(sentence)):
            tok = _gap_token(m, sentence, toks)
            if tok is not None:
                toks.append(tok)
        if number is None:
            break
        pos = number.end
        sign = number.text[:1]
        if _GLUED_SCALE_RE.search(number.text) or _ZERO_MIXED_RE.search(number.text):
            # "4K - 4 = 92": the K may be a variable; "17 000/5" is not the mixed number 17 + 0/5
            toks.append(_Tok("BAD", number.start, number.end))
        elif sign in "-+" and toks and toks[-1].kind in ("NUM", "RP", "UNIT"):
            # "13 toys -4 toys": the reader takes "-4" after a word for a negative number; here it is a subtraction
            toks.append(_Tok("OP", number.start, number.start + 1, sign))
            body = NumberToken(number.start + 1, number.end, -number.value if sign == "-" else number.value,
                               number.text[1:], percent=number.percent)
            toks.append(_Tok("NUM", body.start, body.end, num=body))
        else:
            toks.append(_Tok("NUM", number.start, number.end, num=number))
    return _mixed_numbers(toks)


_PROPER_FRACTION_RE = re.compile(r"\d+/\d+")


def _mixed_numbers(toks: list[_Tok]) -> list[_Tok]:
    """``1 and 1/3`` and ``16 and (2/3)`` as one number: GSM8K's way of writing a mixed number."""
    out: list[_Tok] = []
    i = 0
    while i < len(toks):
        t = toks[i]
        nxt = toks[i + 1] if i + 1 < len(toks) else None
        if t.kind == "NUM" and t.num.value.denominator == 1 and nxt is not None and nxt.kind == "WORD" and \
                nxt.text.lower() == "and":
            paren = i + 2 < len(toks) and toks[i + 2].kind == "LP"
            j = i + 3 if paren else i + 2
            f = toks[j] if j < len(toks) else None
            closed = not paren or (j + 1 < len(toks) and toks[j + 1].kind == "RP")
            if f is not None and f.kind == "NUM" and closed and _PROPER_FRACTION_RE.fullmatch(f.num.text) and \
                    0 < f.num.value < 1 and t.num.value >= 0:
                end = toks[j + 1].end if paren else f.end
                merged = NumberToken(t.start, end, t.num.value + f.num.value, f"{t.num.text} {f.num.text}")
                out.append(_Tok("NUM", t.start, end, num=merged))
                i = j + 2 if paren else j + 1
                continue
        out.append(t)
        i += 1
    return out


# --------------------------------------------------------------------------------------------------------------------
# Expressions
# --------------------------------------------------------------------------------------------------------------------

Values = tuple  # one exact value (or None: a division by zero) per reading, see _READINGS


@dataclass(frozen=True)
class _Expr:
    start: int  # token indices [start, end) in the part
    end: int
    values: Values
    operators: bool
    names: bool  # a lone number that names a quantity: units after it ("4.5 gallons"), a name before it ("Week 2")
    decimals: int | None  # a lone number written with this many decimals, else None
    scale: Values  # that lone number's reading -> its value as a multiple of the value written (for decimals)


def _readings(num: NumberToken, unit: str) -> Values:
    v = num.value
    scale = _SCALE_RE.search(num.text)
    percent = (v * 100 if "/" in num.text else v / 100) if num.percent else v  # 168/20% is 168 / 0.2
    return (v,
            percent,
            v / _SCALE_WORDS[scale.group(1).lower()] if scale else v,
            v / 100 if unit.lower() in ("cents", "cent") else v)


class _Parser:
    """Recursive descent over one part's tokens: expr := term (+|- term)*, term := factor (*|/ factor)*,
    factor := NUM units? | ( expr ) units?. Values are computed in every reading at once."""

    def __init__(self, toks: list[_Tok], start: int):
        self.toks, self.i, self.ops, self.units_seen = toks, start, 0, False

    def peek(self) -> _Tok | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def units(self) -> str:
        first, n = "", 0
        while n < _MAX_UNITS and (t := self.peek()) is not None and t.kind == "UNIT":
            first = first or t.text
            self.i += 1
            n += 1
        self.units_seen = self.units_seen or n > 0
        return first

    def factor(self, depth: int) -> Values | None:
        t = self.peek()
        if t is None:
            return None
        if t.kind == "NUM":
            self.i += 1
            if "/" in t.num.text:
                self.ops += 1  # a fraction is a division ("6/3 = .5" claims something)
            return _readings(t.num, self.units())
        if t.kind == "LP" and depth < _MAX_DEPTH:
            self.i += 1
            inner = self.expr(depth + 1)
            if inner is None or (r := self.peek()) is None or r.kind != "RP":
                return None
            self.i += 1
            self.units()
            return inner
        return None

    def binary(self, ops: str, operand, depth: int) -> Values | None:
        left = operand(depth)
        while left is not None and (t := self.peek()) is not None and t.kind == "OP" and t.text in ops:
            save = self.i
            self.i += 1
            right = operand(depth)
            if right is None:
                self.i = save
                return left if self._ends_as_prose(save) else None
            self.ops += 1
            left = tuple(_apply(t.text, a, b) for a, b in zip(left, right))
        return left

    def _ends_as_prose(self, op_index: int) -> bool:
        """An operator with no number after it: "= 8 - so she has" and "= 40 pencils / pack" end the expression
        (a dash, a rate); "= 30 + M" and "* Number of days" make it unreadable."""
        op = self.toks[op_index]
        after = self.toks[op_index + 1] if op_index + 1 < len(self.toks) else None
        return op.text in "-/" and after is not None and after.kind in ("UNIT", "WORD") and len(after.text) >= 2

    def term(self, depth: int) -> Values | None:
        return self.binary("*/", self.factor, depth)

    def expr(self, depth: int = 0) -> Values | None:
        return self.binary("+-", self.term, depth)


def _apply(op: str, a: Fraction | None, b: Fraction | None) -> Fraction | None:
    if a is None or b is None:
        return None
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    return a / b if b != 0 else None


_DECIMALS_RE = re.compile(r"[$€£¥]?[-+]?\d*[\d,]*\.(\d+)\s*(?:%|percent)?", re.IGNORECASE)


def _parse(toks: list[_Tok], start: int) -> _Expr | None:
    """The expression that starts at token ``start``, or None if none does."""
    p = _Parser(toks, start)
    values = p.expr()
    if values is None or p.i == start:
        return None
    lone = toks[start].kind == "NUM" and all(t.kind == "UNIT" for t in toks[start + 1 : p.i]) and p.ops == 0
    decimals, scale = None, (Fraction(1),) * _READINGS
    if lone:
        num = toks[start].num
        m = _DECIMALS_RE.fullmatch(num.text.strip())
        if m:
            decimals = len(m.group(1))
            if num.value:
                scale = tuple(v / num.value for v in values)
    return _Expr(start, p.i, values, p.ops > 0, lone and p.units_seen, decimals, scale)


def _tail(toks: list[_Tok]) -> _Expr | None:
    """The expression that ends a part (the left side of the ``=`` after it), or None when none can be read."""
    i = len(toks)
    while True:  # walk back over an operand, then an operator, and so on
        units = 0
        while i > 0 and toks[i - 1].kind == "UNIT" and units < _MAX_UNITS:
            i, units = i - 1, units + 1
        if i == 0:
            return None
        if toks[i - 1].kind == "NUM":
            i -= 1
        elif toks[i - 1].kind == "RP":
            depth, j = 0, i - 1
            while j >= 0:
                depth += {"RP": 1, "LP": -1}.get(toks[j].kind, 0)
                if depth == 0:
                    break
                j -= 1
            if j < 0:
                return None
            i = j
        else:
            return None
        if i > 0 and toks[i - 1].kind == "OP":
            i -= 1
            continue
        break
    before = toks[i - 1].kind if i > 0 else None
    if before in ("NUM", "RP", "BAD"):
        return None  # "2(3 + 4)", "4:2(5)": a product without its sign, or a number the reader refused
    if before == "LP" and i > 1 and toks[i - 2].kind in ("OP", "NUM"):
        return None  # "$100 + ($100 * 0.1 = ...": the left side is part of a longer, unclosed expression
    # the walk back does not know precedence; the forward parse does, and must end where the part ends
    expr = _parse(toks, i)
    if expr is None or any(t.kind != "UNIT" for t in toks[expr.end :]):
        return None
    if before in ("UNIT", "WORD") and toks[i - 1].text[:1].isupper() and not expr.operators:
        expr = dataclasses.replace(expr, names=True)  # "Week 2 = 35 + 35", "Remaining 10 = 62,300/10"
    return expr


# --------------------------------------------------------------------------------------------------------------------
# Equations
# --------------------------------------------------------------------------------------------------------------------


def _holds(a: _Expr, b: _Expr, reading: int) -> bool:
    x, y = a.values[reading], b.values[reading]
    if x is None or y is None:
        return False
    if x == y:
        return True
    for stated, other in ((b, x), (a, y)):
        if stated.decimals:  # less than one unit of the last written digit away: rounded or cut
            unit = Fraction(1, 10**stated.decimals) * abs(stated.scale[reading])
            if abs(other - stated.values[reading]) < unit:
                return True
    return False


def _lone(e: _Expr) -> bool:
    return not e.operators


def _claims(chain: list[tuple[int, _Expr]]) -> list[list[tuple[int, _Expr]]]:
    """A chain of sides cut into the equations it claims: a link between two lone numbers is a conversion or a
    restatement ("2 hours = 120 minutes"), and a first side that is a lone number with units names a quantity."""
    out, current = [], []
    for side in chain:
        if current and _lone(current[-1][1]) and _lone(side[1]):
            out.append(current)
            current = []
        current.append(side)
    out.append(current)
    claims = []
    for c in out:
        if c and c[0][1].names:
            c = c[1:]
        if len(c) >= 2 and any(e.operators for _, e in c):
            claims.append(c)
    return claims


def _equation(sentence: str, parts: list[list[_Tok]], chain: list[tuple[int, _Expr]]) -> Equation | None:
    if any(all(v is None for v in e.values) for _, e in chain):
        return None  # a division by zero: nothing a grader can check
    first_part, first = chain[0]
    last_part, last = chain[-1]
    start = parts[first_part][first.start].start
    end = parts[last_part][last.end - 1].end
    holds = any(all(_holds(a, b, r) for (_, a), (_, b) in zip(chain, chain[1:])) for r in range(_READINGS))
    return Equation(" ".join(sentence[start:end].split()), tuple(e.values[0] for _, e in chain), holds)


def _sentence_equations(sentence: str, cut_at_end: bool) -> list[Equation]:
    toks = _tokens(sentence)
    if not any(t.kind == "EQ" for t in toks):
        return []
    if cut_at_end and toks and toks[-1].kind == "NUM" and toks[-1].end == len(sentence):
        toks = toks[:-1]  # the completion was cut off inside this number
    parts: list[list[_Tok]] = [[]]
    for t in toks:
        if t.kind == "EQ":
            parts.append([])
        else:
            parts[-1].append(t)
    chains: list[list[tuple[int, _Expr]]] = []
    chain: list[tuple[int, _Expr]] = []
    for k, part in enumerate(parts):
        head = _parse(part[:_MAX_TOKENS], 0) if k > 0 and part else None
        if head is not None and head.end < len(part) and part[head.end].kind in ("BAD", "LP"):
            head = None  # "= 5 + 3x", "= 2(4)": the side goes on in a way that is not read
        if chain and head is not None:
            chain.append((k, head))
        if chain and head is not None and head.end == len(part) and k < len(parts) - 1:
            continue  # "a = b + c = d": the middle side is also the next claim's left side
        chains.append(chain)
        chain = []
        if k < len(parts) - 1:
            window = part[-_MAX_TOKENS:]
            tail = _tail(window)
            if tail is not None:
                offset = len(part) - len(window)
                chain = [(k, dataclasses.replace(tail, start=tail.start + offset, end=tail.end + offset))]
    out = []
    for c in chains:
        for claim in _claims(c):
            if (eq := _equation(sentence, parts, claim)) is not None:
                out.append(eq)
    return out


def _plain(text: str) -> str:
    """LaTeX, markdown, calculator notes and operator signs made plain; a spaced slash marked as a division."""
    text = clean_latex(text)
    text = _MARKDOWN_RE.sub(lambda m: " " * len(m.group(0)), _ANNOTATION_RE.sub("", text)).translate(_PLAIN)
    text = _GLUED_TIMES_RE.sub(" * ", text.replace("÷", f" {_DIVIDE} "))
    return _SPACED_SLASH_RE.sub(f" {_DIVIDE} ", text)


def find_equations(text: Any, cut_off: bool | None = None) -> list[Equation]:
    """The equations of a completion (a string or a TRL completion), in order; see the module docstring.

    ``cut_off``: True when the generation hit its token limit, so a number that ends the text may be unfinished and
    is not checked."""
    text = completion_to_text(text)[:_MAX_CHARS]
    if "=" not in text:
        return []
    text = _plain(text)
    out: list[Equation] = []
    pos = 0
    for m in [*_SENTENCE_RE.finditer(text), None]:
        end = m.start() if m is not None else len(text)
        if "=" in text[pos:end]:
            out.extend(_sentence_equations(text[pos:end], bool(cut_off) and m is None))
        if m is None:
            break
        pos = m.end()
    return out


def check_work(text: Any, cut_off: bool | None = None) -> WorkCheck:
    """:func:`find_equations` as a count of equations and of false ones (``.count``, ``.false``)."""
    return WorkCheck(tuple(find_equations(text, cut_off=cut_off)))
