"""One arithmetic expression in a sentence, read exactly: the tokens and the parser behind :mod:`srgrpo.tasks.work`.

A sentence becomes tokens (:func:`tokens`): the numbers :mod:`srgrpo.tasks.numbers` reads, and between them
operators, parentheses, ``=``, words (a word of two letters or more that does not start a clause can be a number's
units) and what cannot be read (a digit the number reader refused, a letter glued to a number: ``3x``). A part of
the sentence between two ``=`` gives its first expression (:func:`parse`, the right side of the ``=`` before it) and
its last (:func:`tail`, the left side of the ``=`` after it). Values are :class:`fractions.Fraction`, computed in
each of :data:`READINGS` ways at once (``%``, scale words and cents can be meant two ways; :mod:`srgrpo.tasks.work`
says which reading counts). Nothing is executed: a recursive descent over the tokens, standard precedence,
parentheses at most 8 deep.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from fractions import Fraction

from srgrpo.tasks.numbers import NumberToken, find_numbers

__all__ = ["DIVIDE", "Expr", "MAX_TOKENS", "READINGS", "Token", "parse", "tail", "tokens"]

MAX_TOKENS = 60  # one side of an "=" read from at most this many tokens: a longer expression is not one claim
_MAX_UNITS = 3  # words after a number that can be its units ("coins per day")
_MAX_DEPTH = 8  # parentheses nested deeper are not arithmetic a model writes
READINGS = 4  # as written; % as hundredths; scale words as units; cents as hundredths of a dollar

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
DIVIDE = "÷"  # a division written with spaces; "/" with none is part of a number (a fraction)


@dataclass(frozen=True)
class Token:
    """One token of a sentence: its kind, where it is, an operator's sign or a word, a number's reading."""

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


def _gap_token(m: re.Match[str], sentence: str, toks: list[Token]) -> Token | None:
    """The token for one match of :data:`_GAP_RE` between numbers (None for spaces)."""
    start, end = m.span()
    glued = bool(toks) and toks[-1].kind in ("NUM", "RP") and toks[-1].end == start
    if m["eq"]:
        return Token("EQ", start, end)
    if m["note"]:
        return Token("BAD" if glued else "UNIT", start, end)  # ".1(minutes)": a product with a name
    if m["op"]:
        return Token("OP", start, end, "/" if m["op"] == DIVIDE else m["op"])
    if m["lp"] or m["rp"]:
        return Token("LP" if m["lp"] else "RP", start, end)
    if m["word"]:
        w = m["word"]
        if w in ("x", "X") and toks and toks[-1].kind in ("NUM", "RP", "UNIT") and _number_follows(sentence, end):
            return Token("OP", start, end, "*")
        if glued and len(w) == 1:
            return Token("BAD", start, end)  # "3x", "5A": the coefficient of a variable
        if w.lower() == "of" and toks and toks[-1].kind == "NUM" and (toks[-1].num.percent or "/" in toks[-1].num.text):
            return Token("OP", start, end, "*")  # 20% of 50, 1/3 of 66
        return Token("UNIT" if len(w) >= 2 and w.lower() not in _STOP else "WORD", start, end, w)
    c = m.group(0)
    if c.isspace():
        return None
    between_digits = c in ",." and glued and end < len(sentence) and sentence[end].isdigit()
    return Token("BAD" if c.isdigit() or between_digits else "STOP", start, end)  # "16,0000", "4:2"; ≈, <, "


def _number_follows(text: str, pos: int) -> bool:
    rest = text[pos : pos + 4].lstrip()
    return bool(rest) and (rest[0].isdigit() or rest[0] in "$€£¥(.")


def tokens(sentence: str) -> list[Token]:
    """The sentence as tokens: the number reader's numbers, with the gaps between them read here."""
    toks: list[Token] = []
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
            # "3K - 2 = 40": the K may be a variable; "17 000/5" is not the mixed number 17 + 0/5
            toks.append(Token("BAD", number.start, number.end))
        elif sign in "-+" and toks and toks[-1].kind in ("NUM", "RP", "UNIT"):
            # "13 toys -4 toys": the reader takes "-4" after a word for a negative number; here it is a subtraction
            toks.append(Token("OP", number.start, number.start + 1, sign))
            body = NumberToken(number.start + 1, number.end, -number.value if sign == "-" else number.value,
                               number.text[1:], percent=number.percent)
            toks.append(Token("NUM", body.start, body.end, num=body))
        else:
            toks.append(Token("NUM", number.start, number.end, num=number))
    return _mixed_numbers(toks)


_PROPER_FRACTION_RE = re.compile(r"\d+/\d+")


def _mixed_numbers(toks: list[Token]) -> list[Token]:
    """``1 and 2/3`` and ``12 and (1/2)`` as one number: GSM8K's way of writing a mixed number."""
    out: list[Token] = []
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
                out.append(Token("NUM", t.start, end, num=merged))
                i = j + 2 if paren else j + 1
                continue
        out.append(t)
        i += 1
    return out


# --------------------------------------------------------------------------------------------------------------------
# Expressions
# --------------------------------------------------------------------------------------------------------------------

Values = tuple  # one exact value (or None: a division by zero) per reading, see READINGS


@dataclass(frozen=True)
class Expr:
    """One expression: the tokens it spans, its value in each reading, and what the checker needs to know of it."""

    start: int  # token indices [start, end) in the part
    end: int
    values: Values
    operators: bool
    names: bool  # a lone number that names a quantity: units after it ("2.5 gallons"), a name before it ("Week 3")
    decimals: int | None  # a lone number written with this many decimals, else None
    scale: Values  # that lone number's reading -> its value as a multiple of the value written (for decimals)


def _readings(num: NumberToken, unit: str) -> Values:
    v = num.value
    scale = _SCALE_RE.search(num.text)
    percent = (v * 100 if "/" in num.text else v / 100) if num.percent else v  # 150/20% is 150 / 0.2
    return (v,
            percent,
            v / _SCALE_WORDS[scale.group(1).lower()] if scale else v,
            v / 100 if unit.lower() in ("cents", "cent") else v)


class _Parser:
    """Recursive descent over one part's tokens: expr := term (+|- term)*, term := factor (*|/ factor)*,
    factor := NUM units? | ( expr ) units?. Values are computed in every reading at once."""

    def __init__(self, toks: list[Token], start: int):
        self.toks, self.i, self.ops, self.units_seen = toks, start, 0, False

    def peek(self) -> Token | None:
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
                self.ops += 1  # a fraction is a division ("8/4 = .5" claims something)
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
        (a dash, a rate); "= 12 + M" and "* Number of days" make it unreadable."""
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


def parse(toks: list[Token], start: int) -> Expr | None:
    """The expression that starts at token ``start``, or None if none does."""
    p = _Parser(toks, start)
    values = p.expr()
    if values is None or p.i == start:
        return None
    lone = toks[start].kind == "NUM" and all(t.kind == "UNIT" for t in toks[start + 1 : p.i]) and p.ops == 0
    decimals, scale = None, (Fraction(1),) * READINGS
    if lone:
        num = toks[start].num
        m = _DECIMALS_RE.fullmatch(num.text.strip())
        if m:
            decimals = len(m.group(1))
            if num.value:
                scale = tuple(v / num.value for v in values)
    return Expr(start, p.i, values, p.ops > 0, lone and p.units_seen, decimals, scale)


def tail(toks: list[Token]) -> Expr | None:
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
    expr = parse(toks, i)
    if expr is None or any(t.kind != "UNIT" for t in toks[expr.end :]):
        return None
    if before in ("UNIT", "WORD") and toks[i - 1].text[:1].isupper() and not expr.operators:
        expr = dataclasses.replace(expr, names=True)  # "Week 3 = 20 + 25", "Remaining 4 = 800/4"
    return expr
