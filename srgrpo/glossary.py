"""The kit's words for what an answer did: one meaning each, in every command, table, figure, notebook and doc.

An evaluation reads each completion five ways. The results files keep their historical keys (``strict_accuracy``,
``strict_format``...); what a person reads is the word here, and nothing else. "Strict" is not one of them: it meant
"correct and in format" in one place and "in format" in another.

========================  =====================================================================================
word                      meaning
========================  =====================================================================================
correct                   the answer's number equals the reference answer (accuracy)
in format                 the completion ends with its ``#### N`` line and stops there: the format reward's 1
correct and in format     both at once: what a grader that also checks the format would count
sound                     correct, and no equation in the work is false (:mod:`srgrpo.tasks.work` checks each one)
right answer, wrong work  correct, but at least one equation in the work is false (correct = sound + this)
answer line               a ``#### N`` line anywhere, whether or not the completion stopped after it
cut off                   the completion hit the token limit before it ended (the opposite: *stopped*)
stopped                   the completion ended on its own, before the token limit (stopped + cut off = 100 %)
========================  =====================================================================================

*Held-out* answers are the greedy answers to test problems the model never trained on (the measure of what it
learnt); *sampled* answers are the training completions, drawn at the training temperature, which the training
reward scores. The two can disagree: a model whose greedy answer is right can still sample wrong ones.
"""

from __future__ import annotations

__all__ = ["TERMS", "EVAL_KEYS", "EVAL_COUNTS", "LAB_KEYS", "WRONG_WORK", "WRONG_WORK_KEY", "label", "eval_count"]

#: word -> meaning (the table above).
TERMS: dict[str, str] = {
    "correct": "the answer's number equals the reference answer",
    "in format": "the completion ends with its `#### N` line and stops there (format reward 1)",
    "correct and in format": "correct and in format at once",
    "sound": "correct, and no equation in the work is false",
    "right answer, wrong work": "correct, but at least one equation in the work is false",
    "answer line": "a `#### N` line anywhere, whether or not the completion stopped after it",
    "cut off": "the completion hit the token limit before it ended",
    "stopped": "the completion ended on its own, before the token limit",
}

#: The evaluation summary's keys (``srgrpo.eval_gsm8k``) -> their word.
EVAL_KEYS: dict[str, str] = {
    "accuracy": "correct",
    "strict_accuracy": "correct and in format",
    "sound_rate": "sound",
    "format_rate": "in format",
    "answer_line_rate": "answer line",
    "truncated_rate": "cut off",
}

#: The evaluation summary's rates that are also stored as counts; the others are stored only as fractions of ``n``.
EVAL_COUNTS: dict[str, str] = {"accuracy": "correct", "strict_accuracy": "strict_correct", "sound_rate": "sound"}

#: The evaluation summary's share of the *correct* answers (not of ``n``) whose work has a false equation, and its word.
WRONG_WORK_KEY, WRONG_WORK = "wrong_work_share", "right answer, wrong work"


def eval_count(summary: dict, key: str) -> int | None:
    """How many of an evaluation summary's ``n`` problems its rate ``key`` counts (None if the summary lacks it).

    One place for the arithmetic: the main job's verdict, the evaluate command's line and the accuracy figure all
    show ``k/n`` and must agree on ``k``."""
    n = summary.get("n")
    if n is None:
        return None
    stored = EVAL_COUNTS.get(key)
    if stored is not None and summary.get(stored) is not None:
        return int(summary[stored])
    if summary.get(key) is None:
        return None
    return round(float(summary[key]) * int(n))


#: The learning lab's held-out rate keys (``srgrpo.lab.real.task``) -> their word.
LAB_KEYS: dict[str, str] = {
    "accuracy": "correct",
    "correct": "correct",
    "strict_format": "in format",
    "answer_line": "answer line",
    "stopped": "stopped",
}


def label(key: str) -> str:
    """The word for a results key (evaluation or lab); a ``KeyError`` names the known keys."""
    for table in (EVAL_KEYS, LAB_KEYS, {WRONG_WORK_KEY: WRONG_WORK}):
        if key in table:
            return table[key]
    raise KeyError(f"no word for {key!r}; known keys: {sorted({*EVAL_KEYS, *LAB_KEYS, WRONG_WORK_KEY})}")
