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
(:func:`srgrpo.tasks.arithmetic.make_splits`); ``limit`` keeps the first ``limit`` of a split. A third split,
``validation``, is for tuning recipes (``python -m srgrpo.lab recipe``): :data:`ARITHMETIC_VALIDATION_SIZE` problems of
a stream of their own (seed :data:`ARITHMETIC_VALIDATION_SEED`) that repeat no ``train`` or ``test`` question, so no
held-out result of the kit (the first 64 or 200 ``test`` problems) is ever measured on a problem a recipe was tuned on.

The system message
------------------
Every prompt starts with a system message, chosen by name from :data:`SYSTEM_PROMPTS`: ``instructions`` (the kit's
:data:`srgrpo.tasks.gsm8k.SYSTEM_PROMPT`, which GSM8K and the GPU path use) or ``worked_example`` (the same words, then
one short problem solved in the format: the literature's first lever for a small model that never writes the answer
line, ``shared/notes/small-model-grpo.md``). A recipe names its message in its preset (``system_prompt``); the
evaluation of a run must ask with the same message, or "before" and "after" measure different prompts.
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
    "ARITHMETIC_VALIDATION_SEED",
    "ARITHMETIC_VALIDATION_SIZE",
    "SPLITS",
    "SYSTEM_PROMPTS",
    "system_message",
    "load_arithmetic",
    "load_problems",
    "problem_set_source",
]

#: Names accepted by ``--dataset``, and how logs name them.
PROBLEM_SETS = {"gsm8k": "GSM8K", "arithmetic": "Synthetic word problems"}
ARITHMETIC_SEED = 0
ARITHMETIC_TEST_SIZE = 1000
ARITHMETIC_TRAIN_SIZE = 5000
ARITHMETIC_VALIDATION_SEED = 2
ARITHMETIC_VALIDATION_SIZE = 64

#: The splits each problem set has.
SPLITS = {"gsm8k": ("train", "test"), "arithmetic": ("train", "test", "validation")}

#: The worked example of ``worked_example``: a problem of the synthetic kind, written for this message (it is not one of
#: the generated problems: :mod:`srgrpo.tasks.arithmetic` has no "Yuki" among its names and no "beads" among its items).
WORKED_EXAMPLE = (
    "Question: Yuki has 7 beads. Yuki buys 3 packs with 5 beads in each pack. How many beads does Yuki have now?\n"
    "Yuki buys 3 * 5 = 15 beads.\n"
    "Yuki has 7 + 15 = 22 beads.\n"
    "#### 22"
)


def _system_prompts() -> dict[str, str]:
    from srgrpo.tasks.gsm8k import SYSTEM_PROMPT

    return {
        "instructions": SYSTEM_PROMPT,
        "worked_example": f"{SYSTEM_PROMPT}\n\nAn example of the format:\n\n{WORKED_EXAMPLE}",
    }


#: Names of the system messages a prompt can start with (:func:`system_message` gives the text).
SYSTEM_PROMPTS = ("instructions", "worked_example")


def system_message(name: str) -> str:
    """The text of system message ``name`` (one of :data:`SYSTEM_PROMPTS`)."""
    prompts = _system_prompts()
    if name not in prompts:
        raise ValueError(f"unknown system prompt {name!r}; choose one of {', '.join(SYSTEM_PROMPTS)}")
    return prompts[name]


def _check(name: str, split: str, limit: int | None) -> None:
    if name not in PROBLEM_SETS:
        raise ValueError(f"unknown problem set {name!r}; choose one of {', '.join(PROBLEM_SETS)}")
    if split not in SPLITS[name]:
        raise ValueError(f"{name} has no split {split!r}; choose one of {', '.join(SPLITS[name])}")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit <= 0):
        raise ValueError(f"limit must be a positive integer or None, got {limit!r}")


def arithmetic_split(split: str) -> list[dict]:
    """The synthetic problems of ``split`` (``train``, ``test`` or ``validation``) as plain dicts."""
    from srgrpo.tasks.arithmetic import generate_problems, make_splits

    _check("arithmetic", split, None)
    train, test = make_splits(ARITHMETIC_TRAIN_SIZE, ARITHMETIC_TEST_SIZE, seed=ARITHMETIC_SEED)
    if split == "validation":
        return generate_problems(ARITHMETIC_VALIDATION_SIZE, ARITHMETIC_VALIDATION_SEED,
                                 exclude={p["question"] for p in train + test})
    return train if split == "train" else test


def load_arithmetic(split: str, limit: int | None = None, system_prompt: str = "instructions") -> "datasets.Dataset":
    """The synthetic word problems' ``split`` as chat prompts (columns as :func:`srgrpo.tasks.gsm8k.load_gsm8k`, plus
    ``steps``, the number of operations: 1 or 2), each starting with system message ``system_prompt``."""
    import datasets

    _check("arithmetic", split, limit)
    system = system_message(system_prompt)
    rows = arithmetic_split(split)[:limit]
    return datasets.Dataset.from_dict(
        {
            "prompt": [[{"role": "system", "content": system}, {"role": "user", "content": p["question"]}]
                       for p in rows],
            "answer": [p["answer"] for p in rows],
            "question": [p["question"] for p in rows],
            "solution": [p["solution"] for p in rows],
            "steps": [p["steps"] for p in rows],
        }
    )


def load_problems(
    name: str, split: str, *, data_dir: str | os.PathLike[str] | None = None, limit: int | None = None,
    system_prompt: str = "instructions",
) -> "datasets.Dataset":
    """Problem set ``name`` (one of :data:`PROBLEM_SETS`), a split of :data:`SPLITS`, as chat prompts that start with
    system message ``system_prompt`` (one of :data:`SYSTEM_PROMPTS`)."""
    _check(name, split, limit)
    system = system_message(system_prompt)
    if name == "gsm8k":
        from srgrpo.tasks.gsm8k import load_gsm8k

        problems = load_gsm8k(split, data_dir=data_dir, limit=limit)
        if system_prompt == "instructions":
            return problems
        return problems.map(lambda row: {"prompt": [{"role": "system", "content": system}, *row["prompt"][1:]]})
    return load_arithmetic(split, limit=limit, system_prompt=system_prompt)


def problem_set_source(name: str, split: str, data_dir: str | os.PathLike[str] | None = None) -> str:
    """Where a split comes from, for the records of an evaluation: GSM8K's file, or the synthetic recipe."""
    _check(name, split, None)
    if name == "arithmetic" and split == "validation":
        return (f"srgrpo.tasks.arithmetic:generate_problems({ARITHMETIC_VALIDATION_SIZE}, "
                f"seed={ARITHMETIC_VALIDATION_SEED}, exclude=train and test)")
    if name == "gsm8k":
        from srgrpo.tasks.gsm8k import find_data_file

        path = find_data_file(split, data_dir)
        return str(path.resolve()) if path else "hub"
    return f"srgrpo.tasks.arithmetic:make_splits({ARITHMETIC_TRAIN_SIZE}, {ARITHMETIC_TEST_SIZE}, seed={ARITHMETIC_SEED})"
