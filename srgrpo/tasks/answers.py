"""Which number is the final answer? Reading a completion the way a grader would.

Numbers themselves are read by :mod:`srgrpo.tasks.numbers`; this module decides *which* number the model gave as its
answer, or that it gave none a person would sign as an answer.

Explicit answers first
----------------------
A model that says what its answer is has committed to it, whatever it writes afterwards. Tried in order, the first
that holds a number wins (later text never overrides an earlier rule: in ``#### 42`` then ``Wait, maybe 7`` the
answer is 42):

1. the last ``#### ...`` line (the kit's format, and GSM8K's); an empty marker line reads the next line;
2. the last ``\\boxed{...}`` (braces matched, LaTeX such as ``\\frac``, ``\\text``, ``70\\,000`` understood);
3. the last ``<answer>...</answer>``;
4. the last "the answer is ...", "final answer: ...", "answer = ..." (one of the last 20 mentions of "answer").

The span after the marker is read by :func:`read_answer_span`: an equation gives the number after its last ``=``
(``#### 9 * 2 = 18``), a parenthesised breakdown is skipped (``#### 18 (9 eggs x $2)``), units and currency are
ignored, and a *hedge* (two different numbers joined by "or", "to", "between ... and", "either", or a range ``18-20``)
is refused: ``#### 18 or 20`` has no answer, and no later rule is asked, because the model did not commit.

Statements, when nothing is explicit
------------------------------------
Without a marker, a grader reads the end of the work (the last 2,000 characters, so long outputs cost the same):

5. (Before any rule, 1-4 included: the text is cut at a made-up next question, a line starting ``Question:``,
   ``Q:``, ``Problem:``, ``User:``... after some numbers: the model's answer to its own new question is not this one.)
6. Sentences, and clauses within them (split at ``, `` and ``;``), that are *asides* are skipped: check lines
   (``Check: 18 / 2 = 9``, "Let's verify"), questions, comparisons (``that is 2 more than 16``), approximations
   (``or about 1.45 million``), percentage remarks next to a plain number, and clauses whose only numbers are years
   (``in 2023``). Parenthesised text is skipped too.
7. In the last clause left that holds a number, the answer is the number after the last ``=`` if there is one,
   else the first number after a result verb (is, makes, has, needs, costs, will, left, ...) that is not an operand
   of ``+ - * / x``, else the last such number. So "Thus, she will have 5 apples left after 3 days" answers 5, and
   "16 - 3 - 4, which is 9" answers 9.

A completion that was cut off (the trainer says so, see :mod:`srgrpo.tasks.rewards`, or the text visibly stops in
mid-sentence: it ends in "and", "the", "=", a comma, or in a sentence with words but no number and no full stop) has
stated no answer unless rule 1-4 found one: its last number is a step of unfinished work, not an answer.

What is refused
---------------
Hedges; cut-off work; spans whose only numbers are unreadable (``\\frac{x+1}{2}``); answers over 100 digits.
Never evaluated: the model's arithmetic (``#### 9 * 2`` with no ``=`` has no answer, neither 9 nor 18: a grader
does not finish the model's sum). No ``eval``, no sympy; every search is ``str.rfind`` or a linear regular expression
over a bounded span.
"""

from __future__ import annotations

import re
from typing import Any

from srgrpo.tasks.numbers import NumberToken, clean_latex, find_numbers, format_value

__all__ = ["ANSWER_MARKER", "completion_to_text", "extract_final_answer", "extract_gold_answer", "looks_cut_off",
           "read_answer_span"]

#: Marker that introduces the final answer, as in GSM8K's gold solutions.
ANSWER_MARKER = "####"

_SPAN_CHARS = 300  # an answer longer than this is not an answer
_BOX_CHARS = 1000
_WINDOW = 2000
_HEDGE = object()  # "the model named two answers": refuse, and ask no later rule

_HEDGE_RE = re.compile(r"\b(?:or|to|and/or)\b|[-–—~]", re.IGNORECASE)  # between two different numbers
_HEDGE_WORD_RE = re.compile(r"\b(?:between|either|maybe|perhaps|possibly)\b|\?", re.IGNORECASE)
_OPERATOR_RE = re.compile(r"\s*[-+*/×x÷·−]\s*")
_PAREN_RE = re.compile(r"\([^()]{0,200}\)|\[[^\[\]]{0,200}\]")
_MARKDOWN_RE = re.compile(r"\*\*+|__+|`+")  # bold and code marks; a single * may be a product
_DIGIT_RE = re.compile(r"\d")


def _without_parens(span: str) -> str:
    """Parenthesised asides blanked out, keeping every other character where it was."""
    return _PAREN_RE.sub(lambda m: " " * len(m.group(0)), span)


def read_answer_span(span: str) -> str | None | object:
    """The answer in a short span that is meant to be one: normalised number, ``None``, or the hedge sentinel."""
    span = _MARKDOWN_RE.sub(" ", clean_latex(span[:_SPAN_CHARS]))
    main = _without_parens(span)
    if "=" in main:
        cut = main.rindex("=") + 1
        span, main = span[cut:], main[cut:]
    tokens = find_numbers(span)
    if not tokens:
        return None
    outside = find_numbers(main)
    chosen = (outside or tokens)[0]
    if any(_OPERATOR_RE.fullmatch(main, a.end, b.start) for a, b in zip(outside, outside[1:])):
        return _HEDGE  # "#### 9 * 2": an unfinished sum is not an answer, and the grader does not finish it
    if len({t.value for t in tokens}) > 1:
        gaps = (_HEDGE_RE.search(span, a.end, b.start) for a, b in zip(tokens, tokens[1:]))
        if _HEDGE_WORD_RE.search(span) or any(gaps):
            return _HEDGE
    return format_value(chosen.value)


# --------------------------------------------------------------------------------------------------------------------
# Explicit answers
# --------------------------------------------------------------------------------------------------------------------


def _marker_span(text: str) -> str | None:
    i = text.rfind(ANSWER_MARKER)
    if i < 0:
        return None
    start = i + len(ANSWER_MARKER)
    end = text.find("\n", start)
    line = text[start : end if end >= 0 else len(text)][:_SPAN_CHARS]
    if line.strip(" \t*#:") or end < 0:
        return line
    nxt = text[end + 1 : end + 1 + _SPAN_CHARS].lstrip()
    return nxt.split("\n", 1)[0]


def _boxed_span(text: str) -> str | None:
    i = text.rfind("\\boxed")
    if i < 0:
        return None
    j = text.find("{", i, i + 12)
    if j < 0:
        return None
    depth = 0
    for k in range(j, min(len(text), j + _BOX_CHARS)):
        if text[k] == "{":
            depth += 1
        elif text[k] == "}":
            depth -= 1
            if depth == 0:
                return text[j + 1 : k]
    return None  # unbalanced or too long: not an answer


def _tag_span(text: str) -> str | None:
    i = text.lower().rfind("<answer>")
    if i < 0:
        return None
    body = text[i + 8 : i + 8 + _BOX_CHARS]
    end = body.lower().find("</answer>")
    return body[:end] if end >= 0 else body.split("\n", 1)[0]


_PHRASE_RE = re.compile(
    r"\banswer\b(?:\s+to\s+[^.\n]{0,60}?)?\*{0,2}\s{0,3}(?:is|was|would\s+be|will\s+be|should\s+be|:|=)[\s:*=]{0,10}",
    re.IGNORECASE,
)


def _phrase_answer(text: str) -> str | None | object:
    # str.rfind on a lowered copy, not a case-insensitive regex over the whole text: ten times faster on 1 MB.
    lowered, end = text.lower(), len(text)
    for _ in range(20):
        i = lowered.rfind("answer", 0, end)
        if i < 0:
            return None
        end = i
        m = _PHRASE_RE.match(text, i)
        if m is None or (i > 0 and text[i - 1].isalnum()):
            continue
        span = re.split(r"\.(?:\s|$)|\n", text[m.end() : m.end() + _SPAN_CHARS].lstrip())[0]
        found = read_answer_span(span)
        if found is not None:
            return found
    return None


# --------------------------------------------------------------------------------------------------------------------
# Statements
# --------------------------------------------------------------------------------------------------------------------

_NEXT_QUESTION_RE = re.compile(
    r"^[ \t#*>]*(?:question|q|problem|exercise|example|human|user|instruction|input)\s*\d*\s*[:.)]",
    re.IGNORECASE | re.MULTILINE,
)
_CHECK_RE = re.compile(
    r"^\W*(?:check(?:ing)?|verif(?:y|ication)|let(?:'s| us| me) (?:check|verify|double[- ]check|confirm)|"
    r"to (?:check|verify|confirm)|double[- ]check|sanity check|we can (?:check|verify)|proof|confirm|note|assuming|"
    r"remember|hint)",
    re.IGNORECASE,
)
_COMPARISON_RE = re.compile(
    r"\bthan\b|\btimes as\b|\bas (?:many|much) as\b|\bdifference\b|\bincrease\b|\bdecrease\b|\bdiscount\b",
    re.IGNORECASE,
)
_APPROX_RE = re.compile(
    r"^\W*(?:or |i\.e\.|that is |that's |which is )?\s*(?:about|approximately|roughly|around|~|≈)", re.IGNORECASE
)
_YEAR_CONTEXT_RE = re.compile(r"\b(?:in|since|by|until|year|during|before|after|from|of)\s+$", re.IGNORECASE)
_RESULT_VERB_RE = re.compile(
    r"\b(?:is|are|was|were|be|makes?|made|has|have|had|gets?|got|earns?|earned|needs?|needed|costs?|pays?|paid|"
    r"spends?|spent|saves?|saved|sells?|sold|buys?|bought|takes?|took|will|would|equals?|totals?|left|remains?|"
    r"remaining|comes? to|amounts? to|gives?|gave|receives?|received|uses?|used|owes?|can|could|must|does|did)\b",
    re.IGNORECASE,
)
_UNFINISHED_RE = re.compile(
    r"(?:[=+*/×,(:\-]|\b(?:and|or|the|a|an|of|to|for|by|with|in|on|at|is|are|was|were|so|then|we|she|he|they|it|"
    r"that|which|has|have|her|his|their|per|than|from|plus|minus|divided|multiplied|because|but))\s*$",
    re.IGNORECASE,
)
_SENTENCE_SPLIT_RE = re.compile(r"\n+|(?<![MD]r\.)(?<!Mrs\.)(?<!Ms\.)(?<!St\.)(?<=[.!?])\s+|(?<=\.\*\*)\s+")
_CLAUSE_SPLIT_RE = re.compile(r",\s+|;\s*|\s+but\s+")


def _before_next_question(text: str) -> str:
    """The text up to a made-up next question (a question line after some numbers), which is not this answer."""
    digit = _DIGIT_RE.search(text)
    m = _NEXT_QUESTION_RE.search(text, digit.end()) if digit else None
    return text[: m.start()] if m else text


def looks_cut_off(text: str) -> bool:
    """True when the text visibly stops mid-sentence (see the module docstring)."""
    tail = text[-300:].rstrip()
    if not tail or tail[-1] in ".!?)]}*$\"'`":
        return False
    if _UNFINISHED_RE.search(tail[-40:]):
        return True
    last = re.split(r"[.!?\n]\s", tail)[-1]
    return not find_numbers(last)


def _is_aside_sentence(sentence: str) -> bool:
    s = sentence.strip()
    return bool(_CHECK_RE.match(s)) or s.endswith("?")


def _usable(tokens: list[NumberToken], clause: str) -> list[NumberToken]:
    """Tokens that can be an answer: no years in a date context, no lone pronoun "one"."""
    out = []
    for t in tokens:
        if t.words and t.text.lower() in ("one", "a"):
            continue
        if not t.words and t.value.denominator == 1 and 1900 <= t.value <= 2100 and t.text.isdigit() and \
                _YEAR_CONTEXT_RE.search(clause[max(0, t.start - 12) : t.start]):
            continue
        out.append(t)
    return out or [t for t in tokens if t.words]  # "She has one left." still answers 1


def _clause_answer(clause: str, tokens: list[NumberToken]) -> NumberToken | None:
    if not tokens:
        return None
    if "=" in clause:
        eq = clause.rindex("=")
        after = [t for t in tokens if t.start > eq]
        if after:
            return after[0]
    operand = set()
    for a, b in zip(tokens, tokens[1:]):
        if _OPERATOR_RE.fullmatch(clause[a.end : b.start]):
            operand.update((id(a), id(b)))
    plain = [t for t in tokens if id(t) not in operand] or tokens
    verb = _RESULT_VERB_RE.search(clause)
    if verb:
        after = [t for t in plain if t.start >= verb.end()]
        if after:
            return after[0]
    return plain[-1]


def _statement_answer(text: str) -> str | None:
    window = text[-_WINDOW:]
    if len(text) > _WINDOW:
        window = window[min(len(window), next((i for i, c in enumerate(window) if c.isspace()), len(window))) :]
    window = clean_latex(window)
    sentences = [s for s in _SENTENCE_SPLIT_RE.split(_without_parens(window)) if s.strip()]
    for sentence in reversed(sentences):
        if _is_aside_sentence(sentence):
            continue
        clauses = [(c, _usable(find_numbers(c), c)) for c in _CLAUSE_SPLIT_RE.split(sentence)]
        has_plain = any(not t.percent for _, tokens in clauses for t in tokens)
        for clause, tokens in reversed(clauses):
            if _APPROX_RE.match(clause) or (_COMPARISON_RE.search(clause) and "=" not in clause):
                continue
            token = _clause_answer(clause, tokens)
            if token is None or (token.percent and has_plain and "=" not in clause):
                continue
            return format_value(token.value)
    return None


# --------------------------------------------------------------------------------------------------------------------
# Entry points
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
        if all(isinstance(p, dict) for p in completion):  # a list of content parts
            return "".join(p.get("text") or "" for p in completion if isinstance(p.get("text"), str))
        return ""
    return ""


def extract_final_answer(text: Any, cut_off: bool | None = None) -> str | None:
    """The final numeric answer of a model output, normalised (see :func:`srgrpo.tasks.numbers.normalize_number`), or None.

    ``cut_off``: True when the generation hit its token limit (then only an explicit answer counts), False when it
    is known to have stopped, None when unknown (the text decides). Accepts a string or a TRL completion.
    """
    text = _before_next_question(completion_to_text(text))
    if not text:
        return None
    for span_of in (_marker_span, _boxed_span, _tag_span):
        span = span_of(text)
        if span is not None:
            found = read_answer_span(span)
            if found is _HEDGE:
                return None
            if found is not None:
                return found
    found = _phrase_answer(text)
    if found is not None:
        return None if found is _HEDGE else found
    if cut_off or (cut_off is None and looks_cut_off(text)):
        return None
    return _statement_answer(text)


def extract_gold_answer(solution: Any) -> str | None:
    """Normalised number from a GSM8K gold solution's ``#### N`` line, or ``None`` if it has none.

    Stricter than :func:`extract_final_answer`: gold data must use the marker, so there is no fallback.
    """
    if not isinstance(solution, str):
        return None
    span = _marker_span(solution)
    found = read_answer_span(span) if span is not None else None
    return None if found is _HEDGE else found
