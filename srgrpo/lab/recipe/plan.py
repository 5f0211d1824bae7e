r"""The recipe study's plan, declared before its first run: a CPU recipe with which ``python -m srgrpo`` learns every time.

Why a study
    The main job (``python -m srgrpo``: SmolLM2-135M-Instruct, 16 SR-GRPO steps on the synthetic word problems) learns
    by luck: over seeds 0/1/2 (``data/benchmarks/main_job_seeds.json``) its 64 held-out answers went from 0 in format to
    57, 8 and 0, and from 2 correct to 9, 17 and 10. 54 of the pretrained model's 64 greedy answers run past 96 tokens
    and it never writes the ``#### N`` line, so in the first steps most sampled completions earn nothing and the format
    is found, or not, by chance. The recipe (``srgrpo/train/presets/smollm2_cpu.yaml``) was never swept.

What stays fixed
    The method (SR-GRPO ``per_sample``; τ is a lever), RL only (no supervised warm-up), the model, the grader, the
    synthetic task's difficulty, what "correct", "in format" and "cut off" mean, and the main job's evaluation (64
    problems, greedy, 96 new tokens). Training runs in the precision the main job trains in on this CPU, bf16 (pinned:
    the probe behind ``cpu_precision auto`` can choose float32 on a busy machine).

Where it is tuned
    Tuning seeds 101-105 (no result of the kit uses them) and the synthetic problems' ``validation`` split (64
    problems of a stream of their own, seed 2, repeating no ``train`` or ``test`` question:
    :mod:`srgrpo.tasks.word_problems`); the held-out problems (the first 64 / 200 of ``test``) are never looked at.

The levers, and why these
    Each configuration changes today's recipe (``today``) in one way, or adds one change to the worked example:

    * ``example``: the system message shows one problem solved in the format (``system_prompt: worked_example``). The
      literature's first lever for small models (``shared/notes/small-model-grpo.md``): if the pretrained model writes
      the answer line at once, the format reward has something to pay from step 1.
    * on top of the example, one lever each: the learning rate halved and doubled (5e-4 "was the probe's, not
      swept"); sampling temperature 1.0 (TRL's default; more varied groups, more contrast); completions of 96 tokens
      (the evaluation's limit, so a worked answer can finish) with cut-off completions masked out of the loss
      (``mask_truncated_completions``: the issue the pretrained model has); TRL's ``grpo`` loss instead of its default
      ``dapo``; and 4 problems x 4 completions a step instead of 2 x 8 (the same 16 completions; more problems, smaller
      groups).
    * Not tried, and why: τ (``per_sample`` at τ 1 beat τ 0.5 on the bandit; at one learning rate τ scales the step,
      which the learning-rate lever covers); more steps (the time budget: 6 minutes in all with bf16); a partial
      format reward (it needs guarding against the hacks ``srgrpo/tasks/rewards.py`` lists; the worked example
      attacks the same cause, no reward in the first steps, without a new reward) — the next lever if the targets are
      missed; ``dr_grpo`` (of the loss normalisations, ``grpo`` is the one most unlike ``dapo``).

The search: successive halving, in two rounds
    Round 1: every configuration at tuning seeds 101 and 102. Round 2: the best three of round 1 (by the rule below;
    ties by the order declared) at seeds 103, 104 and 105 too. The winner: the best of those three over its five seeds.

The selection rule (lexicographic, each over a configuration's tuning seeds)
    1. the share of seeds that reach both targets on the validation problems: in format >= 58/64 and correct >= 16/64;
    2. the median over seeds of ``min(correct / 16, in_format / 58)``: how near a run came to the target it missed;
    3. the median correct; 4. the median minutes of a run.
    A winner must also keep the real main job within its budget (6 minutes in all on this 2-core CPU with bf16): if
    it does not, the next in rank wins.

Confirmation (after the study, with the real command; never used in tuning)
    ``python -m srgrpo --seed N`` as ``benchmarks/main_job_seeds.py`` runs it, on the 64 held-out problems, at seeds
    1000-1009 in this CPU's choice of precision, and 2000-2002 in the other (``SRGRPO_CPU_PRECISION``). Targets, each
    seed on its own: in format >= 58/64 and correct >= 16/64 in at least 9 of 10 seeds, and no seed below 8/64 correct.
    All seeds are reported, whatever they show.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

__all__ = ["PRECISION", "DECLARED", "CONFIGS", "ROUNDS", "TARGETS", "BASE_PRESET", "VALIDATION", "RecipeSettings", "config_id",
           "train_overrides"]

#: The precision of every run (``SRGRPO_CPU_PRECISION``): the main job's choice on this CPU when idle.
PRECISION = "bfloat16"

#: The main job's preset, as committed when the study was declared: every configuration starts from it.
BASE_PRESET = "smollm2_cpu"

#: Configuration -> its changes to the base preset (flag: value, the train command's names).
CONFIGS: dict[str, dict[str, Any]] = {
    "today": {},
    "example": {"system_prompt": "worked_example"},
    "example_lr2.5e-4": {"system_prompt": "worked_example", "learning_rate": 2.5e-4},
    "example_lr1e-3": {"system_prompt": "worked_example", "learning_rate": 1e-3},
    "example_temp1.0": {"system_prompt": "worked_example", "temperature": 1.0},
    "example_96tokens_masked": {"system_prompt": "worked_example", "max_completion_length": 96,
                                "mask_truncated_completions": True},
    "example_grpo_loss": {"system_prompt": "worked_example", "loss_type": "grpo"},
    "example_4x4": {"system_prompt": "worked_example", "num_generations": 4, "per_device_train_batch_size": 4,
                    "gradient_accumulation_steps": 4},
}

#: The rounds of the successive halving: (seeds, how many configurations go on: None = all of them).
ROUNDS: tuple[dict[str, Any], ...] = (
    {"round": 1, "seeds": [101, 102], "configs": "all"},
    {"round": 2, "seeds": [103, 104, 105], "configs": "the best 3 of round 1"},
)
ROUND2_SIZE = 3

#: The targets, each run on its own, on 64 problems.
TARGETS = {"n": 64, "in_format": 58, "correct": 16}

#: The tuning problems and how they are answered (the main job's evaluation, on the validation split).
VALIDATION = {"dataset": "arithmetic", "split": "validation", "n": 64, "max_new_tokens": 96, "decoding": "greedy"}

CONFIRMATION = {"seeds": list(range(1000, 1010)), "other_precision_seeds": [2000, 2001, 2002],
                "command": "python -m srgrpo --seed N (benchmarks/main_job_seeds.py)",
                "pass": "in format >= 58/64 and correct >= 16/64 in at least 9 of 10 seeds, no seed below 8/64 correct"}

DECLARED: dict[str, Any] = {
    "question": "Which CPU recipe makes the main job (python -m srgrpo: SmolLM2-135M-Instruct, SR-GRPO per_sample, "
                "the synthetic word problems) reach the answer format and more correct answers in every seed?",
    "fixed": ["method: SR-GRPO per_sample (tau is a lever)", "RL only, no supervised warm-up",
              "model, grader, task difficulty, the meaning of correct / in format / cut off",
              "evaluation: 64 problems, greedy, 96 new tokens",
              "precision: bf16, the main job's choice on this CPU (AVX512_BF16) when its probe runs on an idle "
              "machine; pinned with SRGRPO_CPU_PRECISION=bfloat16 for every run, training and evaluation, so that a "
              "busy machine cannot flip it (a probe run under load measured x1.47 and chose float32)",
              "threads: 1 a run, one run at a time"],
    "base_preset": BASE_PRESET,
    "configs": CONFIGS,
    "validation": VALIDATION,
    "rounds": list(ROUNDS),
    "targets": TARGETS,
    "selection_rule": [
        "1. share of tuning seeds reaching both targets on the validation problems (in format >= 58/64, correct >= 16/64)",
        "2. median over seeds of min(correct / 16, in_format / 58)",
        "3. median correct",
        "4. median minutes of a run",
        "ties after 4: the order of configs as declared",
        "eligibility: the real main job with the winner stays within 6 minutes in all (bf16, this CPU); else the next",
    ],
    "confirmation": CONFIRMATION,
    "not_tried": {
        "tau": "per_sample at tau 1 beat tau 0.5 on the bandit; tau scales the step, which the learning rate covers",
        "more steps": "the time budget (6 minutes with bf16, both evaluations included)",
        "partial format reward": "must be guarded against the hacks srgrpo/tasks/rewards.py lists; the worked "
                                 "example attacks the same cause; the next lever if the targets are missed",
        "dr_grpo": "of TRL's loss normalisations, grpo is the one most unlike the default dapo",
    },
}


@dataclass
class RecipeSettings:
    """What ``python -m srgrpo.lab recipe`` runs and where it writes."""

    output: str = field(default="data/results/recipe.json", metadata={"help": "results JSON"})
    work_dir: str = field(default="data/results/recipe-runs", metadata={
        "help": "one file a finished run (kept: the command resumes from them); the runs' training folders go to "
                "its scratch/ subfolder (git-ignored)"})
    threads: int = field(default=1, metadata={"help": "torch threads of each run"})
    max_runs: int | None = field(default=None, metadata={"help": "stop after this many new runs (a checkpoint)"})
    declare_only: bool = field(default=False, metadata={
        "help": "write the declared block (and nothing run) to --output and stop: the commit before the first run"})
    progress: bool = field(default=True, metadata={"help": "print a line for every finished run"})


def train_overrides(config: str) -> list[str]:
    """The train command's flags that turn the base preset into ``config``."""
    if config not in CONFIGS:
        raise ValueError(f"unknown configuration {config!r}; the declared ones are {', '.join(CONFIGS)}")
    flags: list[str] = []
    for key, value in CONFIGS[config].items():
        flags += [f"--{key}", str(value).lower() if isinstance(value, bool) else str(value)]
    return flags


def config_id(config: str) -> str:
    """A short hash of what a configuration's run computes: the base preset's name, its changes, the validation."""
    payload = {"base": BASE_PRESET, "changes": CONFIGS[config], "validation": VALIDATION, "precision": PRECISION}
    return hashlib.sha1(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:12]
