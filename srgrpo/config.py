"""``SRGRPOConfig``: TRL's ``GRPOConfig`` plus the two knobs of SR-GRPO.

Every field of :class:`trl.GRPOConfig` (and of ``transformers.TrainingArguments`` under it) works
unchanged. SR-GRPO adds:

- ``tau`` (default 0.5): the softmax temperature of the group weights
  :math:`w_i = \\mathrm{softmax}(z/\\tau)_i`; lower focuses on the best completions;
- ``soft_advantage`` (``"shared"`` or ``"per_sample"``, default ``"shared"``): how the weights
  become advantages (see :mod:`srgrpo.advantages`);
- ``max_prompt_length`` (default 256): TRL 1.x dropped this field; SR-GRPO keeps it, and the
  trainer left-truncates longer prompts (in tokens, before generation) with a warning that counts them;
- ``cpu_fast_generation`` (default true): on a CPU, completions are sampled by :mod:`srgrpo.cpu.sampling`
  (same distribution, less overhead; see :mod:`srgrpo.cpu.fast_path`).

and uses the specification's defaults where they differ from TRL's: ``num_generations=8``,
``beta=0.1`` (TRL: 0.0, so no reference model), ``max_completion_length=512``, ``use_vllm=False``.
``bf16`` is switched on only where the hardware supports it, so a config built on a CPU or on a
T4 works without extra flags.

Settings that would silently change what the SR advantage means are refused at construction:
SR-GRPO normalises each group's *summed* reward itself, so ``scale_rewards`` must stay
``"group"`` and ``multi_objective_aggregation`` must stay ``"sum_then_normalize"``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from srgrpo.advantages import validate_mode, validate_tau
from srgrpo.models.unsloth_compat import grpo_base_classes

__all__ = ["SRGRPOConfig"]

_GRPOConfig = grpo_base_classes()[1]


def _bf16_supported() -> bool:
    import torch

    return torch.cuda.is_available() and torch.cuda.is_bf16_supported()


@dataclass
class SRGRPOConfig(_GRPOConfig):
    """Configuration of :class:`srgrpo.SRGRPOTrainer`: every ``GRPOConfig`` field plus ``tau``,
    ``soft_advantage`` and ``max_prompt_length``. Invalid values raise ``ValueError`` here."""

    tau: float = field(
        default=0.5,
        metadata={"help": "SR-GRPO softmax temperature (> 0). Lower focuses the weights on the best completions."},
    )
    soft_advantage: Literal["shared", "per_sample"] = field(
        default="shared",
        metadata={
            "help": "How SR-GRPO turns softmax weights into advantages: 'shared' (the specification: every "
            "completion of a group gets sum_i w_i r_i) or 'per_sample' (tau * (K * w_i - 1), zero-sum per group)."
        },
    )
    max_prompt_length: int | None = field(
        default=256,
        metadata={"help": "Prompts longer than this many tokens are left-truncated before generation (None: never)."},
    )
    num_generations: int | None = field(
        default=8, metadata={"help": "Completions sampled per prompt (the group size K)."}
    )
    beta: float = field(
        default=0.1, metadata={"help": "KL coefficient against the reference model (0 disables the reference model)."}
    )
    max_completion_length: int | None = field(
        default=512, metadata={"help": "Maximum number of tokens generated per completion."}
    )
    use_vllm: bool = field(default=False, metadata={"help": "Generate with vLLM (needs vllm installed and a GPU)."})
    cpu_shared_prompt: bool = field(
        default=True,
        metadata={
            "help": "On a CPU, the loss runs each distinct prompt of a micro-batch once and shares its key/value cache "
            "with the rows of its group (srgrpo.cpu.fast_path); false: TRL's full pass over every row."
        },
    )
    cpu_fast_generation: bool = field(
        default=True,
        metadata={
            "help": "On a CPU, sample completions from a merged copy of the policy with a static cache, one prefill "
            "per distinct prompt and an inverse-CDF sampler (srgrpo.cpu.sampling); false: TRL's model.generate."
        },
    )

    def __post_init__(self):
        self.tau = validate_tau(self.tau)
        validate_mode(self.soft_advantage)
        if self.max_prompt_length is not None:
            if isinstance(self.max_prompt_length, bool) or not isinstance(self.max_prompt_length, int):
                raise ValueError(f"max_prompt_length must be a positive integer or None, got {self.max_prompt_length!r}.")
            if self.max_prompt_length < 1:
                raise ValueError(f"max_prompt_length must be >= 1 token (or None to disable), got {self.max_prompt_length}.")
        if self.num_generations is not None and self.num_generations < 2:
            raise ValueError(
                f"num_generations must be >= 2: SR-GRPO compares the completions of a group, got {self.num_generations}."
            )
        if self.beta < 0:
            raise ValueError(f"beta (the KL coefficient) must be >= 0, got {self.beta}.")
        scale = {True: "group", False: "none"}.get(self.scale_rewards, self.scale_rewards)
        if scale != "group":
            raise ValueError(
                f"scale_rewards={self.scale_rewards!r} is not supported by SR-GRPO: its advantage z-normalises each "
                "group itself. Leave scale_rewards at 'group' (use trl.GRPOConfig for other scalings)."
            )
        if self.multi_objective_aggregation != "sum_then_normalize":
            raise ValueError(
                f"multi_objective_aggregation={self.multi_objective_aggregation!r} is not supported by SR-GRPO: the "
                "soft advantage is defined on the weighted sum of the reward functions. Use 'sum_then_normalize'."
            )
        if self.bf16 is None and not self.fp16:
            # TRL turns bf16 on by default, which fails on CPUs and T4s; use it only where it exists.
            self.bf16 = _bf16_supported()
        super().__post_init__()

