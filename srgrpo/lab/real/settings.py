"""Settings of the real-model lab (``python -m srgrpo.lab real``): one dataclass, parsed by ``HfArgumentParser``.

Every run of the comparison shares these settings and differs only in its advantage method and seed, so a finished
run is identified by :func:`settings_id` (a hash of the fields that change what a run computes) plus its label and
seed. Fields that only say *where* or *how fast* (output, figures, work folder, workers, threads) are left out of the
hash: more workers give the same runs.

The defaults are what the committed comparison (``data/results/real.json``) ran. They were chosen by a pilot
(``data/results/pilot/``, docs/lab.md): the lab's own command with ``per_sample`` at tau 1 on
seed 0, 16 steps, at two learning rates. At 5e-4 that run went from 5 % to 23 % held-out accuracy and from 0 % to
92.5 % in format in 566 s on one core (training 425 s, evaluation 141 s); at 1e-3 it reached 96 % in format
but answered ``#### 42`` to nearly everything (accuracy 1 %). Hence lr 5e-4 and 16 steps, about ten minutes a run on
one core of a 2-core machine, with the other core running another run. The comparison's seeds (1 to 5) leave out the
pilot's seed 0. Kept at the earlier probes' values: temperature 0.7 and one update a batch (two single runs on seed 0
after the comparison, temperature 1.0 and two updates a batch, reached 22.5 % and 20.5 % accuracy and no in format:
one seed cannot rank them against seeds that spread from 0 to 93.5 % in format), and, not piloted, 2 problems x 8
completions a step (one problem a step left 15 of 16 steps without a group whose rewards differed), 64 tokens (a worked
answer fits in 20 to 40), LoRA r16, no KL term.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from srgrpo.lab.methods import CONTROL_METHODS, SOFT_METHODS, method_label, validate_method
from srgrpo.plumbing.runtime import cache_root

__all__ = ["RealLabSettings", "RunSpec", "run_grid", "settings_id", "ID_NAMES", "RESULT_FIELDS", "REAL_LAB_RECIPE",
           "PRIMARY_COMPARISONS", "PRIMARY_RATE"]

#: Bumped when a run's recipe changes in a way the settings do not show, to retire old run files.
REAL_LAB_RECIPE = 1

#: The comparisons the lab declares before its runs, each ``(method, other)`` on held-out accuracy, paired by seed
#: (:func:`srgrpo.lab.real.comparison.comparisons`): does the kit's ``per_sample`` differ from TRL's GRPO and from the
#: specification's ``shared``, and does each advantage teach more than the ``constant`` control (every completion
#: pushed up alike)? Five tests, Holm-adjusted together; everything else the lab reports is exploratory.
PRIMARY_COMPARISONS = (
    ("per_sample(tau=1)", "grpo"),
    ("per_sample(tau=1)", "shared(tau=0.5)"),
    ("grpo", "constant"),
    ("per_sample(tau=1)", "constant"),
    ("shared(tau=0.5)", "constant"),
)
#: The held-out rate the primary comparisons test.
PRIMARY_RATE = "accuracy"

#: The fields that do not change what a run computes (left out of :func:`settings_id`).
_PLACE_FIELDS = ("output", "figures", "work_dir", "workers", "threads", "progress")


@dataclass
class RealLabSettings:
    """What ``python -m srgrpo.lab real`` runs (``--help`` lists every field)."""

    output: str = field(default="data/results/real.json", metadata={"help": "results JSON; figures are written beside it"})
    methods: list[str] = field(
        default_factory=lambda: ["grpo", "per_sample", "shared", "constant", "random_reward"],
        metadata={"help": "advantage methods: grpo (TRL's GRPOTrainer), per_sample and shared (SRGRPOTrainer), "
                          "the controls constant and random_reward"})
    per_sample_taus: list[float] = field(default_factory=lambda: [1.0],
                                         metadata={"help": "temperatures of per_sample (one run each)"})
    shared_taus: list[float] = field(default_factory=lambda: [0.5],
                                     metadata={"help": "temperatures of shared (0.5: the specification's default)"})
    seeds: list[int] = field(default_factory=lambda: [1, 2, 3, 4, 5], metadata={
        "help": "one run of every method per seed (the pilot that chose the settings used seed 0, so the comparison "
                "tests them on seeds they were not chosen on)"})
    model_name_or_path: str = field(default="smollm2", metadata={
        "help": "model to start from (smollm2: SmolLM2-135M-Instruct, offline from its wheel; tiny: the random "
                "smoke-test model)"})
    max_steps: int = field(default=16, metadata={"help": "optimizer steps of every run"})
    prompts_per_step: int = field(default=2, metadata={"help": "problems a step (each gets num_generations samples)"})
    num_generations: int = field(default=8, metadata={"help": "completions per problem (the group size K)"})
    max_completion_length: int = field(default=64, metadata={"help": "token limit of a sampled completion"})
    temperature: float = field(default=0.7, metadata={"help": "sampling temperature during training"})
    learning_rate: float = field(default=5e-4, metadata={"help": "learning rate (constant, AdamW)"})
    lora_r: int = field(default=16, metadata={"help": "LoRA rank on every linear layer (0: full fine-tuning)"})
    lora_alpha: int = field(default=32, metadata={"help": "LoRA scaling numerator"})
    beta: float = field(default=0.0, metadata={"help": "KL coefficient (0: no reference model)"})
    num_iterations: int = field(default=1, metadata={"help": "optimisation passes over each generated batch"})
    reward_weights: list[float] = field(default_factory=lambda: [1.0, 1.0],
                                        metadata={"help": "weights of the correctness and format rewards"})
    eval_limit: int = field(default=200, metadata={"help": "held-out synthetic test problems, greedy"})
    max_new_tokens: int = field(default=64, metadata={"help": "token limit of a held-out answer"})
    eval_batch_size: int = field(default=50, metadata={"help": "held-out problems generated together"})
    workers: int = field(default=1, metadata={"help": "runs at once, each in its own process (2 on a 2-core machine)"})
    threads: int = field(default=1, metadata={"help": "torch threads of each run"})
    work_dir: str | None = field(default=None, metadata={
        "help": "where finished runs are kept, so a rerun resumes (default: the kit's cache, .cache/lab/real)"})
    figures: bool = field(default=True, metadata={"help": "draw the figures beside the JSON"})
    progress: bool = field(default=True, metadata={"help": "print a line for every finished run"})

    def __post_init__(self) -> None:
        for method in self.methods:
            validate_method(method)
        positive = ("max_steps", "prompts_per_step", "max_completion_length", "eval_limit", "max_new_tokens",
                    "eval_batch_size", "workers", "threads", "num_iterations")
        for name in positive:
            if getattr(self, name) < 1:
                raise ValueError(f"--{name} must be at least 1, got {getattr(self, name)}")
        if self.num_generations < 2:
            raise ValueError(f"--num_generations must be at least 2 (a group needs two completions to compare), "
                             f"got {self.num_generations}")
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"--seeds must list distinct seeds, got {self.seeds}")
        if len(self.reward_weights) != 2:
            raise ValueError(f"--reward_weights takes two numbers (correctness, format), got {self.reward_weights}")
        for method, taus in (("per_sample", self.per_sample_taus), ("shared", self.shared_taus)):
            if method in self.methods and not taus:
                raise ValueError(f"--{method}_taus is empty but --methods lists {method}")
            for tau in taus:
                method_label(method, tau)  # validates tau

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def runs_folder(self) -> Path:
        """Where this comparison's finished runs are kept: ``work_dir/<settings id>/``."""
        root = Path(self.work_dir).expanduser() if self.work_dir else cache_root() / "lab" / "real"
        return root / settings_id(self)


@dataclass(frozen=True)
class RunSpec:
    """One run of the grid: a method (with its tau) and a seed."""

    method: str
    tau: float | None
    seed: int

    @property
    def label(self) -> str:
        return method_label(self.method, self.tau)

    @property
    def control(self) -> bool:
        return self.method in CONTROL_METHODS

    @property
    def key(self) -> str:
        """File name stem of the run: ``per_sample-tau1__seed0``."""
        tau = "" if self.tau is None else f"-tau{self.tau:g}"
        return f"{self.method}{tau}__seed{self.seed}"


def run_grid(settings: RealLabSettings) -> list[RunSpec]:
    """The runs, seed-major (every method of seed 0 first), so a stopped comparison has whole seeds."""
    labels = []
    for method in settings.methods:
        if method in SOFT_METHODS:
            taus = settings.per_sample_taus if method == "per_sample" else settings.shared_taus
            labels += [(method, float(tau)) for tau in taus]
        else:
            labels.append((method, None))
    return [RunSpec(method, tau, seed) for seed in settings.seeds for method, tau in labels]


#: The fields of a run that :func:`settings_id` hashes.
RESULT_FIELDS = tuple(f for f in RealLabSettings.__dataclass_fields__ if f not in _PLACE_FIELDS
                      and f not in ("methods", "per_sample_taus", "shared_taus", "seeds"))


#: Fields renamed in 0.1.0 (one name for one thing: :mod:`srgrpo.plumbing.flags`) -> the names the frozen experiments
#: were hashed with: the id stays what ``data/results/real.json``, ``stability.json`` and their 45 run files record.
ID_NAMES = {"model_name_or_path": "model", "max_steps": "steps", "eval_limit": "eval_problems",
            "max_new_tokens": "eval_max_new_tokens"}


def settings_id(settings: RealLabSettings) -> str:
    """A short hash of everything that changes what a run computes (not the grid: each run file names its method).
    Renamed fields are hashed under their earlier names (:data:`ID_NAMES`), so a rename changes no id."""
    payload = {ID_NAMES.get(name, name): getattr(settings, name) for name in RESULT_FIELDS}
    payload["recipe"] = REAL_LAB_RECIPE
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:12]
