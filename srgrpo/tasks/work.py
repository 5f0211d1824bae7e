"""Is the work right? The equations a completion writes, found and checked with exact arithmetic.

The reward and "correct" read only the final number (:mod:`srgrpo.tasks.answers`); a completion can reach the right
number through false sums ("8 * 10 = 8 coins ... 6 * 10 = 6 coins ... 8 + 6 = 14"). This module finds the
equations in the text, reads their numbers with :mod:`srgrpo.tasks.numbers` (the forms the answer reader knows:
``1,000``, ``$18``, ``3/4``, ``2.5``, ``25%``, ``$25 million``...) and checks each with :class:`fractions.Fraction`.
Model text is never executed: a small parser reads it.

What is an equation
-------------------
Two or more arithmetic expressions joined by ``=`` in one sentence, at least one of them with an operator:
``16 - 3 - 4 = 9 eggs``, ``$5 + $3 = $8``, ``2 * 3 + 1 = 7``, ``5 * 8 + 9 * 8 = 5 * 9 + 56`` (a chain: each ``=``
is a claim, and the equation is false when any of them is; a running sum written as one chain, ``4 * 60 = 240 + 15
= 255``, is false as written). An expression is numbers joined by ``+ - – * / x × · ÷`` and parentheses, with
standard precedence (``2 + 3 * 4`` is 14). A fraction written tight is one number and binds first (``20 / 1/4`` is
80), and counts as a division (``8/4 = .5`` is a false equation); ``1 and 2/3`` is a mixed number; ``20% of 50``
is a product. A number may carry up to three words or a parenthesised note after it, its units (``4 coins * 6
days``, ``4 coins per day``, ``13 (total toys)``).

What is left alone (not counted, not checked):

* ``3 friends = 3 people``, ``2 hours = 120 minutes``: no operator, a restatement or a conversion. A first side that
  is one number with units, or after a capitalised name, names a quantity: ``2.5 gallons = 2.5 * 8 pints = 20
  pints`` is the equation ``2.5 * 8 pints = 20 pints``, ``Week 3 = 20 + 25 = 45`` is ``20 + 25 = 45``, and
  ``13 toys = 13 * 4`` is none;
* algebra: ``x + 3 = 5``, ``3x = 12``, ``.1(minutes) + 1``, ``30 = 12 + M``: an operand that is not a number (a
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
  hundredth (``20% * 50 = 10``); scale words as units (``50 / 2 = $25 million``); ``cents`` as hundredths of a
  dollar (``$3.00 - $2.65 = 35 cents``).
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
from srgrpo.tasks.expressions import DIVIDE, MAX_TOKENS, READINGS, Expr, Token, parse, tail, tokens
from srgrpo.tasks.numbers import clean_latex

__all__ = ["Equation", "WorkCheck", "check_work", "find_equations"]

_MAX_CHARS = 20_000  # about 5,000 tokens: far longer than any completion the kit asks for
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
# Text -> sentences
# --------------------------------------------------------------------------------------------------------------------

_ANNOTATION_RE = re.compile(r"<<[^<>\n]{0,200}>>")  # GSM8K's calculator notes: the written equation is checked
_MARKDOWN_RE = re.compile(r"\*\*+|__+|`+")
_GLUED_TIMES_RE = re.compile(r"(?<=\d)[xX×](?=[$\d(])")  # 5x8 -> 5 * 8 ("2x + 3" stays: no number after the x)
_SPACED_SLASH_RE = re.compile(r"(?<=[\d)%])(?:\s+/\s*|\s*/\s+)(?=[-$€£¥\d(.])")  # 24 / 6: a division, not 24/6
_SENTENCE_RE = re.compile(r"\n|(?<=[.!?])\s+|;|:\s|,\s")
_PLAIN = str.maketrans({"×": "*", "·": "*", "⋅": "*", "∗": "*", "−": "-", "–": "-"})


# --------------------------------------------------------------------------------------------------------------------
# Equations
# --------------------------------------------------------------------------------------------------------------------


def _holds(a: Expr, b: Expr, reading: int) -> bool:
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


def _lone(e: Expr) -> bool:
    return not e.operators


def _claims(chain: list[tuple[int, Expr]]) -> list[list[tuple[int, Expr]]]:
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


def _equation(sentence: str, parts: list[list[Token]], chain: list[tuple[int, Expr]]) -> Equation | None:
    if any(all(v is None for v in e.values) for _, e in chain):
        return None  # a division by zero: nothing a grader can check
    first_part, first = chain[0]
    last_part, last = chain[-1]
    start = parts[first_part][first.start].start
    end = parts[last_part][last.end - 1].end
    holds = any(all(_holds(a, b, r) for (_, a), (_, b) in zip(chain, chain[1:])) for r in range(READINGS))
    return Equation(" ".join(sentence[start:end].split()), tuple(e.values[0] for _, e in chain), holds)


def _sentence_equations(sentence: str, cut_at_end: bool) -> list[Equation]:
    toks = tokens(sentence)
    if not any(t.kind == "EQ" for t in toks):
        return []
    if cut_at_end and toks and toks[-1].kind == "NUM" and toks[-1].end == len(sentence):
        toks = toks[:-1]  # the completion was cut off inside this number
    parts: list[list[Token]] = [[]]
    for t in toks:
        if t.kind == "EQ":
            parts.append([])
        else:
            parts[-1].append(t)
    chains: list[list[tuple[int, Expr]]] = []
    chain: list[tuple[int, Expr]] = []
    for k, part in enumerate(parts):
        head = parse(part[:MAX_TOKENS], 0) if k > 0 and part else None
        if head is not None and head.end < len(part) and part[head.end].kind in ("BAD", "LP"):
            head = None  # "= 5 + 3x", "= 2(4)": the side goes on in a way that is not read
        if chain and head is not None:
            chain.append((k, head))
        if chain and head is not None and head.end == len(part) and k < len(parts) - 1:
            continue  # "a = b + c = d": the middle side is also the next claim's left side
        chains.append(chain)
        chain = []
        if k < len(parts) - 1:
            window = part[-MAX_TOKENS:]
            left = tail(window)
            if left is not None:
                offset = len(part) - len(window)
                chain = [(k, dataclasses.replace(left, start=left.start + offset, end=left.end + offset))]
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
    text = _GLUED_TIMES_RE.sub(" * ", text.replace("÷", f" {DIVIDE} "))
    return _SPACED_SLASH_RE.sub(f" {DIVIDE} ", text)


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
