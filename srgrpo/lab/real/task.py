r"""The real-model lab's task: synthetic word problems through the chat template, scored as GSM8K is.

The problems are the kit's synthetic one- and two-step word problems (:mod:`srgrpo.tasks.arithmetic`), asked exactly like
GSM8K (:func:`srgrpo.tasks.word_problems.load_arithmetic`: the kit's system message asking for work and a last line
``#### <number>``, then the question). Training draws from the 5,000-problem ``train`` split; the held-out set is the
first ``eval_problems`` of the disjoint ``test`` split, the same for every run.

Rewards
-------
Two, summed with ``reward_weights`` (:mod:`srgrpo.tasks.rewards`): ``correctness`` (1 if the final answer equals the gold
number) and ``format`` (1 for work, then ``#### N`` as the only and last line, *and the generation stopped*; 0.5 with
a decorated line; 0 otherwise). The format reward therefore already pays for stopping after the answer line: a
completion that writes the line and rambles on to the token limit earns nothing for it.

Held-out measurement
--------------------
Greedy decoding (:func:`srgrpo.cpu.greedy.generate_greedy`) of every held-out problem, scored by
:func:`srgrpo.eval_gsm8k.records.score_record`. :func:`heldout_summary` reports, in percent of problems:

* ``accuracy``: the final answer is right (an answer cut off at the limit counts only if stated explicitly);
* ``strict_format``: format score 1.0 (work, ``#### N`` as the last line, stopped);
* ``answer_line``: a ``#### N`` line anywhere, stopped or not;
* ``stopped``: the generation ended before the token limit;

plus the mean completion length in tokens.
"""

from __future__ import annotations

from typing import Any, Sequence

from srgrpo.eval_gsm8k.records import score_record
from srgrpo.cpu.greedy import generate_greedy
from srgrpo.tasks.rewards import correctness_reward, format_reward
from srgrpo.plumbing.stats import wilson_interval
from srgrpo.tasks.word_problems import load_arithmetic

__all__ = ["REWARD_FUNCS", "train_problems", "heldout_problems", "heldout_records", "heldout_summary",
           "HELDOUT_RATES"]

#: The reward functions, in the order of ``reward_weights``.
REWARD_FUNCS = (correctness_reward, format_reward)

#: The rates :func:`heldout_summary` reports: name -> the record field that counts.
HELDOUT_RATES = {
    "accuracy": "correct",
    "strict_format": "strict_format",
    "answer_line": "any_answer_line",
    "stopped": "stopped",
}


def train_problems():
    """The training problems (a ``datasets.Dataset`` with ``prompt`` and ``answer``)."""
    return load_arithmetic("train")


def heldout_problems(n: int) -> list[dict[str, Any]]:
    """The first ``n`` problems of the test split, as plain dicts."""
    return [dict(row) for row in load_arithmetic("test", limit=n)]


def heldout_records(model, tokenizer, problems: Sequence[dict[str, Any]], max_new_tokens: int,
                    batch_size: int) -> list[dict[str, Any]]:
    """Greedy answers to ``problems``, scored: one record per problem, in order.

    The model is put in eval mode; the tokenizer pads on the left for the duration (decoder-only generation).
    """
    model.eval()
    side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    records = []
    try:
        for start in range(0, len(problems), batch_size):
            rows = problems[start:start + batch_size]
            outs = generate_greedy(model, tokenizer, [row["prompt"] for row in rows], max_new_tokens)
            for i, (row, (text, n_tokens, cut)) in enumerate(zip(rows, outs), start=start):
                record = score_record(i, row, text, n_tokens, cut)
                record["strict_format"] = record["format_score"] == 1.0
                record["stopped"] = not cut
                records.append(record)
    finally:
        tokenizer.padding_side = side
    return records


def heldout_summary(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Rates in percent with 95 % Wilson intervals, the counts, and the mean length of the held-out answers."""
    n = len(records)
    if n == 0:
        raise ValueError("no held-out records to summarise")
    out: dict[str, Any] = {"n": n}
    for name, key in HELDOUT_RATES.items():
        k = sum(bool(r[key]) for r in records)
        low, high = wilson_interval(k, n)
        out[name] = {"count": k, "percent": round(100 * k / n, 2), "ci95": [round(100 * low, 2), round(100 * high, 2)]}
    out["mean_tokens"] = round(sum(r["num_tokens"] for r in records) / n, 2)
    return out
