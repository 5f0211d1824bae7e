r"""Synthetic arithmetic word problems in GSM8K's style: the real-model lab's task and ``--dataset arithmetic``.

Each problem is a short story with one or two chained operations on small integers, and a
worked solution that ends, like GSM8K's gold solutions, with the answer alone on the last line::

    question: Ava has 5 marbles. Ava buys 3 packs with 4 marbles in each pack.
              How many marbles does Ava have now?
    solution: 3 * 4 = 12
              5 + 12 = 17
              #### 17

So :func:`srgrpo.tasks.rewards.correctness_reward` grades a completion exactly as it grades GSM8K.
:func:`srgrpo.tasks.word_problems.load_arithmetic` asks them through a model's chat template with the kit's GSM8K system
message; the real-model lab (:mod:`srgrpo.lab.real.command`) trains and measures SmolLM2 on them.

The generator
-------------
- 20 names, 15 items and 24 templates: 12 with one operation (``+``, ``-``, ``*``, ``/``), 12
  with two chained ones (the first step's result feeds the second). Templates are drawn with
  equal probability, so half the problems take one step and half take two.
- Numbers stay small, so a 135 M-parameter model gets some right from the start and a group of
  its completions usually mixes right and wrong ones: every operation starts from one-digit numbers (sums and
  differences of one-digit numbers, the times table and its inverse); in two-step problems the
  second step adds, subtracts or multiplies a one-digit number to the first result. Every
  intermediate and final result is a non-negative integer (at most 90).
- The solution writes one line ``x op y = r`` per operation (GSM8K's equations, without its
  prose) and then ``#### r``.

Splits
------
:func:`make_splits` draws the held-out problems first, from their own random stream, then the
training problems from another, skipping any question already drawn: the two sets are disjoint
(and free of duplicates), the held-out set depends only on ``seed`` and ``n_heldout`` (not on
``n_train``), and the same arguments always give the same problems.
"""

from __future__ import annotations

import random
from typing import Any, Callable

__all__ = [
    "NAMES",
    "ITEMS",
    "TEMPLATES",
    "generate_problem",
    "generate_problems",
    "make_splits",
]

NAMES: tuple[str, ...] = (
    "Ava", "Ben", "Chen", "Dina", "Eli", "Fatima", "Gus", "Hana", "Ivan", "Jade",
    "Kofi", "Lena", "Mateo", "Nora", "Omar", "Priya", "Quinn", "Rosa", "Sam", "Tara",
)
ITEMS: tuple[str, ...] = (
    "apples", "books", "cookies", "marbles", "pencils", "stickers", "shells", "cards", "eggs", "coins",
    "flowers", "boxes", "candles", "stamps", "toys",
)

# --- number draws --------------------------------------------------------------------------------
# Each returns operands (x, y) of one operation; ``first`` is a fixed left operand (a previous result).


def _add(rng: random.Random) -> tuple[int, int]:
    return rng.randint(1, 9), rng.randint(1, 9)


def _sub(rng: random.Random) -> tuple[int, int]:
    b = rng.randint(1, 9)
    return b + rng.randint(1, 9), b


def _mul(rng: random.Random) -> tuple[int, int]:
    return rng.randint(2, 9), rng.randint(2, 9)


def _div(rng: random.Random) -> tuple[int, int]:
    b, q = rng.randint(2, 9), rng.randint(2, 9)
    return b * q, b


def _apply(x: int, op: str, y: int) -> int:
    if op == "+":
        return x + y
    if op == "-":
        return x - y
    if op == "*":
        return x * y
    q, r = divmod(x, y)
    assert r == 0, (x, y)
    return q


# --- templates -----------------------------------------------------------------------------------
# A template draws its numbers and returns (question, steps), steps being [(x, op, y), ...] whose
# results chain: the last result is the answer. ``n``, ``m``: two different names; ``it``: an item.

_Template = Callable[[random.Random, str, str, str], "tuple[str, list[tuple[int, str, int]]]"]


#: The one-operation templates: (operation, question). The question's ``{a}`` and ``{b}`` are the operation's
#: operands as its draw returns them (``a op b``), except the one marked ``swap``, whose story states them the other
#: way round (``b op a``: ``{b}`` a day for ``{a}`` days).
_ONE_STEP: tuple[tuple[str, str, bool], ...] = (
    ("+", "{n} has {a} {it}. {n} buys {b} more. How many {it} does {n} have now?", False),
    ("+", "{n} picks {a} {it} in the morning and {b} {it} in the afternoon. How many {it} does {n} pick in total?",
     False),
    ("+", "One shelf holds {a} {it} and another shelf holds {b} {it}. How many {it} are on both shelves?", False),
    ("-", "{n} has {a} {it} and gives away {b}. How many {it} does {n} have left?", False),
    ("-", "{n} had {a} {it}. {n} lost {b} of them. How many {it} does {n} have now?", False),
    ("-", "There are {a} {it} in a jar. {n} takes {b}. How many {it} remain in the jar?", False),
    ("-", "{n} has {a} {it} and {m} has {b} {it}. How many more {it} does {n} have than {m}?", False),
    ("*", "{n} has {a} bags with {b} {it} in each bag. How many {it} does {n} have?", False),
    ("*", "{n} buys {a} packs of {it}. Each pack has {b} {it}. How many {it} does {n} buy?", False),
    ("*", "{n} collects {b} {it} every day for {a} days. How many {it} does {n} collect?", True),
    ("/", "{n} shares {a} {it} equally among {b} friends. How many {it} does each friend get?", False),
    ("/", "{n} puts {a} {it} into {b} equal piles. How many {it} are in each pile?", False),
)
_DRAWS = {"+": _add, "-": _sub, "*": _mul, "/": _div}


def _one_step(op: str, question: str, swap: bool) -> _Template:
    """A one-operation template: draw the operands for ``op``, write the question."""

    def template(rng, n, m, it):
        a, b = _DRAWS[op](rng)
        return question.format(n=n, m=m, it=it, a=a, b=b), [(b, op, a) if swap else (a, op, b)]

    return template


def _t_mul_add(rng, n, m, it):
    a, b = _mul(rng)
    c = rng.randint(1, 9)
    return (f"{n} has {c} {it}. {n} buys {a} packs with {b} {it} in each pack. "
            f"How many {it} does {n} have now?"), [(a, "*", b), (c, "+", a * b)]


def _t_add_sub(rng, n, m, it):
    a, b = _add(rng)
    c = rng.randint(1, min(9, a + b - 1))
    return (f"{n} has {a} {it} and finds {b} more. Then {n} gives away {c}. "
            f"How many {it} does {n} have left?"), [(a, "+", b), (a + b, "-", c)]


def _t_add_mul(rng, n, m, it):
    a = rng.randint(1, 8)
    b = rng.randint(1, 9 - a)
    c = rng.randint(2, 9)
    return (f"{n} buys {a} red {it} and {b} blue {it} every week. "
            f"How many {it} does {n} buy in {c} weeks?"), [(a, "+", b), (a + b, "*", c)]


def _t_sub_add(rng, n, m, it):
    a, b = _sub(rng)
    c = rng.randint(1, 9)
    return (f"{n} had {a} {it}, lost {b}, and then found {c}. "
            f"How many {it} does {n} have now?"), [(a, "-", b), (a - b, "+", c)]


def _t_mul_sub(rng, n, m, it):
    a, b = _mul(rng)
    c = rng.randint(1, min(9, a * b - 1))
    return (f"{n} bakes {a} trays of {it} with {b} {it} on each tray and sells {c} of them. "
            f"How many {it} are left?"), [(a, "*", b), (a * b, "-", c)]


def _t_add_div(rng, n, m, it):
    c, q = rng.randint(2, 9), rng.randint(1, 2)
    total = c * q
    a = rng.randint(1, min(9, total - 1))
    return (f"{n} has {a} {it} and {m} has {total - a} {it}. They put them together and split them into "
            f"{c} equal groups. How many {it} are in each group?"), [(a, "+", total - a), (total, "/", c)]


def _t_mul_mul(rng, n, m, it):
    a, b, c = rng.randint(1, 3), rng.randint(2, 3), rng.randint(2, 9)
    return (f"{n} has {a} boxes. Each box holds {b} bags and each bag holds {c} {it}. "
            f"How many {it} does {n} have?"), [(a, "*", b), (a * b, "*", c)]


def _t_sub_mul(rng, n, m, it):
    b = rng.randint(1, 9)
    a = b + rng.randint(2, 9)
    c = rng.randint(2, 9)
    return (f"{n} has {a} {it} and gives away {b}. {m} has {c} times as many {it} as {n} has left. "
            f"How many {it} does {m} have?"), [(a, "-", b), (a - b, "*", c)]


def _t_add_more(rng, n, m, it):
    a, b = _add(rng)
    return (f"{n} has {a} {it}. {m} has {b} more {it} than {n}. "
            f"How many {it} do they have together?"), [(a, "+", b), (a, "+", a + b)]


def _t_mul_together(rng, n, m, it):
    a, b = rng.randint(2, 9), rng.randint(2, 9)
    return (f"{n} has {a} {it}. {m} has {b} times as many {it} as {n}. "
            f"How many {it} do they have together?"), [(a, "*", b), (a, "+", a * b)]


def _t_div_add(rng, n, m, it):
    a, b = _div(rng)
    c = rng.randint(1, 9)
    return (f"{n} splits {a} {it} into {b} equal piles and then adds {c} {it} to one pile. "
            f"How many {it} are in that pile now?"), [(a, "/", b), (a // b, "+", c)]


def _t_sub_sub(rng, n, m, it):
    a, b = _sub(rng)
    c = rng.randint(1, a - b)
    return (f"{n} has {a} {it}. {n} gives {b} to {m} and {c} to a friend. "
            f"How many {it} does {n} have left?"), [(a, "-", b), (a - b, "-", c)]


#: The templates: the first 12 take one operation, the last 12 two chained ones.
TEMPLATES: tuple[_Template, ...] = (
    *(_one_step(op, question, swap) for op, question, swap in _ONE_STEP),
    _t_mul_add, _t_add_sub, _t_add_mul, _t_sub_add, _t_mul_sub, _t_add_div,
    _t_mul_mul, _t_sub_mul, _t_add_more, _t_mul_together, _t_div_add, _t_sub_sub,
)


def generate_problem(rng: random.Random) -> dict[str, Any]:
    """One problem drawn with ``rng``: ``{"question", "solution", "answer", "template", "steps"}``.

    ``answer`` is the final number as a string (the column :func:`srgrpo.tasks.rewards.correctness_reward`
    reads), ``solution`` the worked solution ending in ``#### <answer>``, ``template`` the index in
    :data:`TEMPLATES` and ``steps`` the number of operations (1 or 2).
    """
    index = rng.randrange(len(TEMPLATES))
    n, m = rng.sample(NAMES, 2)
    item = rng.choice(ITEMS)
    question, steps = TEMPLATES[index](rng, n, m, item)
    lines, result = [], None
    for x, op, y in steps:
        result = _apply(x, op, y)
        if result < 0:  # pragma: no cover - the templates' ranges rule it out; kept as a guard
            raise AssertionError(f"template {index} produced a negative result: {steps}")
        lines.append(f"{x} {op} {y} = {result}")
    lines.append(f"#### {result}")
    return {
        "question": question,
        "solution": "\n".join(lines),
        "answer": str(result),
        "template": index,
        "steps": len(steps),
    }


def generate_problems(n: int, seed: int = 0, exclude: set[str] | frozenset[str] = frozenset()) -> list[dict[str, Any]]:
    """``n`` distinct problems from ``random.Random(seed)``, none whose question is in ``exclude``."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"the number of problems must be an integer >= 0, got {n!r}.")
    rng = random.Random(seed)
    seen = set(exclude)
    problems: list[dict[str, Any]] = []
    misses = 0
    while len(problems) < n:
        problem = generate_problem(rng)
        if problem["question"] in seen:
            misses += 1
            if misses > 100 * (n + 100):  # pragma: no cover - the problem space is far larger
                raise ValueError(f"could not draw {n} distinct problems; ask for fewer.")
            continue
        seen.add(problem["question"])
        problems.append(problem)
    return problems


def make_splits(n_train: int, n_heldout: int, seed: int = 0) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Disjoint ``(train, heldout)`` problem lists, deterministic in their arguments.

    The held-out problems come from their own stream (``seed``), so they do not change with
    ``n_train``; the training problems from another (``seed + 1_000_003``), skipping every
    held-out question.
    """
    heldout = generate_problems(n_heldout, seed)
    train = generate_problems(n_train, seed + 1_000_003, exclude={p["question"] for p in heldout})
    return train, heldout
