"""Rewards for GSM8K: is the final answer right, and is it written the way the kit asks?

The answer format
-----------------
The model reasons step by step and ends with its final answer alone on the last line::

    Janet sells 16 - 3 - 4 = 9 eggs a day.
    She makes 9 * 2 = 18 dollars.
    #### 18

This is exactly the format of GSM8K's own gold solutions, so one parser serves the gold data, the rewards and the
evaluation. Reading numbers lives in :mod:`srgrpo.tasks.numbers`, finding the final answer in :mod:`srgrpo.tasks.answers`; this
module holds the reward functions, with TRL's signature ``f(prompts, completions, **kwargs) -> list[float]``, and
re-exports the names other modules use.

Two rewards, kept separate
--------------------------
* ``correctness_reward``: 1 if the final answer (:func:`srgrpo.tasks.answers.extract_final_answer`) equals the gold number
  exactly (rational arithmetic: ``1,000`` == ``1000.0``, ``3/4`` == ``0.75``), else 0. Lenient about *form* (``####``,
  ``\\boxed{}``, ``<answer>``, "the answer is", or the last statement; ``70 000``, ``1 1/2``, ``eighteen``, ``$70K``),
  strict about *commitment*: a hedge (``#### 18 or 20``) and a completion cut off before it stated an answer score 0.
* ``format_reward``: how well the completion follows the kit's format, in ``{0, 0.5, 1}``:

  - ``1.0``: work, then the answer line, then the end. Precisely: the last non-empty line is ``#### <number>``
    (digits with optional ``-``, thousands commas and decimals); it is the only ``####`` in the text; some line before
    it shows a calculation (two numbers joined by ``+ - * / x =``); and the generation stopped by itself.
  - ``0.5``: the same, but the answer line is decorated (``#### $18``, ``#### 18 dollars``, ``#### 18.``,
    ``##### 18``).
  - ``0.0``: anything else, in particular the three reward hacks seen in training (in the
    kit's early probes, whose notes are not part of the repository): the answer line **repeated** (or text after it), a generation that
    **ran to the token limit**, and an answer line with **no work before it** (``#### 10`` alone). Also: no answer
    line, a hedged one, or one without a number.

  The old scale paid 0.5 for a ``#### N`` anywhere; under RL a model learnt to repeat ``#### N`` until the token
  limit, because every line was paid and nothing was paid for stopping. Now each hack earns exactly what a plain
  attempt without the format earns (0), so the only way up is the format itself. Correctness plays no part here.

GRPO adds the rewards up (``r = r_correct + r_format`` with TRL's default weights of 1); a correct answer in sloppy
form (1 + 0.5) still beats a wrong answer in perfect form (0 + 1). Keeping the two apart lets the trainer's logs show
separately whether answers get right and whether the format is learnt.

What a reward function can know about cut-offs
----------------------------------------------
The text TRL passes is decoded with ``skip_special_tokens=True``, so whether the model emitted EOS is not in it.
TRL 1.16's ``GRPOTrainer._calculate_rewards`` also passes ``completion_ids`` (cut after the first EOS, which they keep),
``trainer_state`` (no generation settings), the dataset's columns, and its own bound methods ``log_extra`` /
``log_metric``. :class:`srgrpo.SRGRPOTrainer` adds a ``cut_off`` column (TRL's own test, computed from the ids; it is
the only source under trl 1.15, Unsloth's version, which passes neither ``log_extra`` nor anything else that
tells). Without it, :func:`cut_off_flags` uses TRL's own test (``mask_truncated_completions``: the last id is neither an
EOS nor the pad id), reading ``eos_token_ids`` from the trainer that ``log_extra`` is bound to. A caller that knows
better passes ``cut_off=[...]`` (evaluation does). Where neither is available (another trainer, a plain call) the
text decides: :func:`srgrpo.tasks.answers.looks_cut_off`, and for the format reward the rule that the answer line must be the
last line, once.
"""

from __future__ import annotations

import re
from typing import Any

from srgrpo.tasks.answers import (
    ANSWER_MARKER,
    _HEDGE,
    completion_to_text,
    extract_final_answer,
    extract_gold_answer,
    read_answer_span,
)
from srgrpo.tasks.numbers import normalize_number, numbers_equal

__all__ = [
    "ANSWER_MARKER",
    "ANSWER_FORMAT",
    "completion_to_text",
    "normalize_number",
    "numbers_equal",
    "extract_final_answer",
    "extract_gold_answer",
    "correctness_reward",
    "cut_off_flags",
    "format_reward",
    "format_score",
    "has_answer_line",
    "is_strict_correct",
]

#: Human-readable description of the required last line (used in prompts and docs).
ANSWER_FORMAT = "#### <number>"

_STRICT_ANSWER_LINE_RE = re.compile(re.escape(ANSWER_MARKER) + r"[ \t]*[-−]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?")
# "Work": one written calculation, two numbers joined by an operator or "=", or at least three numbers (every GSM8K
# gold solution has one or the other).
_WORK_RE = re.compile(r"\d[ \t]*[-+*/×x÷·=][ \t]*[$€£¥]?[ \t]*\d|=[ \t]*[$€£¥]?-?\d")
_DIGITS_RE = re.compile(r"\d+")


def _shows_work(text: str, end: int) -> bool:
    if _WORK_RE.search(text, 0, end) is not None:
        return True
    return sum(1 for _, _ in zip(range(3), _DIGITS_RE.finditer(text, 0, end))) == 3


def cut_off_flags(n: int, kwargs: dict[str, Any]) -> list[bool | None]:
    """For each of ``n`` completions: True if it ran to the token limit, False if it stopped, None if unknown."""
    flags = kwargs.get("cut_off")
    if flags is not None:
        if len(flags) != n:
            raise ValueError(f"got {n} completions but {len(flags)} cut_off flags")
        return [None if f is None else bool(f) for f in flags]
    ids = kwargs.get("completion_ids")
    trainer = getattr(kwargs.get("log_extra"), "__self__", None)
    eos = getattr(trainer, "eos_token_ids", None)
    if ids is None or eos is None or len(ids) != n:
        return [None] * n
    stops = set([eos] if isinstance(eos, int) else eos)
    tokenizer = getattr(trainer, "_tokenizer", None) or getattr(trainer, "processing_class", None)
    stops.add(getattr(tokenizer, "pad_token_id", None))
    return [bool(len(row)) and int(row[-1]) not in stops for row in ids]


def _gold_value(gold: Any) -> str | None:
    """Normalised gold number; also accepts a full gold solution ending in ``#### N``."""
    if isinstance(gold, float) and not isinstance(gold, bool):
        gold = repr(gold)
    n = normalize_number(gold)
    if n is None and isinstance(gold, str):
        n = extract_final_answer(gold)
    return n


def correctness_reward(completions: list[Any], answer: list[Any], **kwargs: Any) -> list[float]:
    """1.0 for each completion whose final answer equals its gold number exactly, else 0.0.

    ``completions`` are strings or conversational message lists; ``answer`` is the dataset's ``answer`` column (gold
    numbers as strings, e.g. ``"18"``; a full ``... #### 18`` solution also works). Empty or ``None`` completions and
    unreadable golds score 0.0. From the trainer's keyword arguments only the cut-off information is used (see
    :func:`cut_off_flags`); the rest (``prompts``, ``trainer_state``, ...) is ignored.
    """
    if len(completions) != len(answer):
        raise ValueError(f"got {len(completions)} completions but {len(answer)} answers; they must pair up")
    rewards = []
    for completion, gold, cut in zip(completions, answer, cut_off_flags(len(completions), kwargs)):
        gold_n = _gold_value(gold)
        pred = extract_final_answer(completion, cut_off=cut)
        rewards.append(1.0 if gold_n is not None and pred == gold_n else 0.0)
    return rewards


def format_score(text: Any, cut_off: bool | None = None) -> float:
    """Format score of one completion: 1.0, 0.5 or 0.0 (the scale is in the module docstring)."""
    text = completion_to_text(text)
    if cut_off or not text or text.count(ANSWER_MARKER) != 1:
        return 0.0
    body = text.rstrip()
    newline = body.rfind("\n")
    last = body[newline + 1 :].strip()
    if not last.startswith(ANSWER_MARKER) or newline < 0 or not _shows_work(body, newline):
        return 0.0
    found = read_answer_span(last[len(ANSWER_MARKER) :].lstrip("#"))
    if found is None or found is _HEDGE:
        return 0.0
    return 1.0 if _STRICT_ANSWER_LINE_RE.fullmatch(last) else 0.5


def format_reward(completions: list[Any], **kwargs: Any) -> list[float]:
    """How well each completion follows the kit's format, in ``{0.0, 0.5, 1.0}`` (see the module docstring).

    1.0: work, then a last line that is exactly ``#### <number>``, the only ``####``, and the generation stopped.
    0.5: the same with a decorated answer line. 0.0: anything else, including a repeated answer line, a cut-off
    generation and an answer line with no work before it.
    """
    flags = cut_off_flags(len(completions), kwargs)
    return [format_score(c, cut_off=cut) for c, cut in zip(completions, flags)]


def has_answer_line(text: Any) -> bool:
    """True if some line of the completion is ``#### <number>`` (leading spaces allowed), wherever it stands and
    whether or not the generation stopped after it: the loose format count, beside :func:`format_score`'s strict one."""
    text = completion_to_text(text)
    return any(_STRICT_ANSWER_LINE_RE.fullmatch(line.strip()) for line in text.splitlines())


def is_strict_correct(text: Any, gold: Any, cut_off: bool | None = None) -> bool:
    """Correct answer *and* perfect format (format score 1.0): the test behind evaluation's ``strict_accuracy``."""
    return (correctness_reward([text], [gold], cut_off=[cut_off])[0] == 1.0
            and format_score(text, cut_off=cut_off) == 1.0)
