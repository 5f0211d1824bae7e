"""The problem sets the train and evaluate commands read, as chat prompts with the kit's answer format.

Two sets, one shape
-------------------
* ``gsm8k``: grade-school math word problems (:mod:`srgrpo.tasks.gsm8k`), the kit's real task.
* ``arithmetic``: the synthetic one- and two-step word problems of :mod:`srgrpo.tasks.arithmetic` ("Ava has 5 marbles. She
  buys 3 packs with 4 marbles in each pack. How many marbles does Ava have now?"), asked exactly like GSM8K: the
  kit's system message (:data:`srgrpo.tasks.gsm8k.SYSTEM_PROMPT`), then the question, through the model's chat template.

Why the second set exists: GRPO learns only from groups whose completions get different rewards. A 135 M-parameter
model on a CPU, such as SmolLM2-135M-Instruct (:mod:`srgrpo.models.smollm2`), solves about 1 in 100 GSM8K problems and
rarely writes the answer line, so at CPU budgets GSM8K gives it almost no signal. On the synthetic problems 16 % of
its sampled completions were right in the first four steps of the ``smollm2_cpu`` preset (6-31 % a step), and no
step had every group scoring alike: enough contrast within groups to watch SR-GRPO learn in minutes. Both sets have the same columns (``prompt``, ``answer``, ``question``, ``solution``),
so the rewards and the evaluation treat them alike.

The synthetic splits are fixed: ``test`` is the first :data:`ARITHMETIC_TEST_SIZE` problems of seed
:data:`ARITHMETIC_SEED`, ``train`` :data:`ARITHMETIC_TRAIN_SIZE` other problems that never repeat a test question
(:func:`srgrpo.tasks.arithmetic.make_splits`); ``limit`` keeps the first ``limit`` of a split.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import datasets

__all__ = [
    "PROBLEM_SETS",
    "ARITHMETIC_SEED",
    "ARITHMETIC_TEST_SIZE",
    "ARITHMETIC_TRAIN_SIZE",
    "load_arithmetic",
    "load_problems",
    "problem_set_source",
]

#: Names accepted by ``--dataset``, and how logs name them.
PROBLEM_SETS = {"gsm8k": "GSM8K", "arithmetic": "Synthetic word problems"}
ARITHMETIC_SEED = 0
ARITHMETIC_TEST_SIZE = 1000
ARITHMETIC_TRAIN_SIZE = 5000


def _check(name: str, split: str, limit: int | None) -> None:
    if name not in PROBLEM_SETS:
        raise ValueError(f"unknown problem set {name!r}; choose one of {', '.join(PROBLEM_SETS)}")
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit <= 0):
        raise ValueError(f"limit must be a positive integer or None, got {limit!r}")


def load_arithmetic(split: str, limit: int | None = None) -> "datasets.Dataset":
    """The synthetic word problems' ``split`` as chat prompts (columns as :func:`srgrpo.tasks.gsm8k.load_gsm8k`, plus
    ``steps``, the number of operations: 1 or 2)."""
    import datasets

    from srgrpo.tasks.gsm8k import SYSTEM_PROMPT
    from srgrpo.tasks.arithmetic import make_splits

    _check("arithmetic", split, limit)
    train, test = make_splits(ARITHMETIC_TRAIN_SIZE, ARITHMETIC_TEST_SIZE, seed=ARITHMETIC_SEED)
    rows = (train if split == "train" else test)[:limit]
    return datasets.Dataset.from_dict(
        {
            "prompt": [[{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": p["question"]}]
                       for p in rows],
            "answer": [p["answer"] for p in rows],
            "question": [p["question"] for p in rows],
            "solution": [p["solution"] for p in rows],
            "steps": [p["steps"] for p in rows],
        }
    )


def load_problems(
    name: str, split: str, *, data_dir: str | os.PathLike[str] | None = None, limit: int | None = None
) -> "datasets.Dataset":
    """Problem set ``name`` (one of :data:`PROBLEM_SETS`), ``split`` "train" or "test", as chat prompts."""
    _check(name, split, limit)
    if name == "gsm8k":
        from srgrpo.tasks.gsm8k import load_gsm8k

        return load_gsm8k(split, data_dir=data_dir, limit=limit)
    return load_arithmetic(split, limit=limit)


def problem_set_source(name: str, split: str, data_dir: str | os.PathLike[str] | None = None) -> str:
    """Where a split comes from, for the records of an evaluation: GSM8K's file, or the synthetic recipe."""
    _check(name, split, None)
    if name == "gsm8k":
        from srgrpo.tasks.gsm8k import find_data_file

        path = find_data_file(split, data_dir)
        return str(path.resolve()) if path else "hub"
    return f"srgrpo.tasks.arithmetic:make_splits({ARITHMETIC_TRAIN_SIZE}, {ARITHMETIC_TEST_SIZE}, seed={ARITHMETIC_SEED})"
