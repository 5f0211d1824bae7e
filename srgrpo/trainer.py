r"""``SRGRPOTrainer``: TRL's ``GRPOTrainer`` with SR-GRPO's advantages, and nothing else changed.

Where TRL computes advantages
-----------------------------
TRL has no advantage hook. Inside ``GRPOTrainer._generate_and_score_completions`` it

1. generates the completions of this process,
2. calls ``self._calculate_rewards(...)``, which scores them with every reward function and
   **gathers** the ``(N, F)`` matrix of rewards from all processes (a group of ``K`` completions
   can straddle two processes, so group statistics need the global matrix),
3. sums the functions with ``reward_weights`` (``nansum``; a row where every function returned
   ``None`` is *unscorable* and becomes NaN), computes the z-score advantage per group, sets
   NaN advantages to 0, and keeps this process's slice
   ``[rank * n_local : (rank + 1) * n_local]``,
4. returns it as ``output["advantages"]``, which the loss reads.

What this subclass does
-----------------------
It keeps all of that and swaps step 3's result (through :meth:`SRGRPOTrainer.compute_advantages`, the
one method to override for another rule). ``_calculate_rewards`` is wrapped to remember the
gathered reward matrix; after TRL's ``_generate_and_score_completions`` returns, the same summed
reward :math:`r = \sum_f \lambda_f r_f` is rebuilt exactly as TRL builds it, passed through
:func:`srgrpo.advantages.soft_advantages` on the *global* vector, and this process's slice replaces
``output["advantages"]``. Because only these two methods are wrapped and both call ``super()``,
the subclass also works on top of Unsloth's rewritten trainer (see :mod:`srgrpo.models.unsloth_compat`),
which keeps the reward call and replaces the loss.

It also logs ``soft_advantage_mean`` and ``soft_advantage_std`` (over all completions of the
step) next to TRL's metrics, adds the specification's name ``completion_length`` (TRL's
``completions/mean_length``), shows SR's advantages in the ``log_completions`` table, and enforces
``max_prompt_length`` by left-truncating prompt tokens before generation. On a CPU its completions are sampled by
:class:`srgrpo.cpu.fast_path.CPUFastPathMixin` (the same distribution as ``generate``, with less overhead).
"""

from __future__ import annotations

import logging

import torch

from srgrpo.advantages import soft_advantages
from srgrpo.config import SRGRPOConfig
from srgrpo.cpu.fast_path import CPUFastPathMixin
from srgrpo.models.unsloth_compat import ensure_unsloth_model_methods, grpo_base_classes

__all__ = ["SRGRPOTrainer", "combine_rewards"]

logger = logging.getLogger(__name__)

_GRPOTrainer, _ = grpo_base_classes()


def combine_rewards(rewards_per_func: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    r"""Sum reward functions as TRL does: :math:`r = \sum_f \lambda_f r_f`, skipping NaNs.

    ``rewards_per_func`` is ``(N, F)``, one column per reward function, NaN where a function
    returned ``None``. A row where *every* function returned ``None`` is unscorable and gets NaN
    (TRL's ``nansum`` alone would turn it into a reward of 0 and bias its group).
    """
    weights = weights.to(device=rewards_per_func.device, dtype=rewards_per_func.dtype)
    rewards = (rewards_per_func * weights.unsqueeze(0)).nansum(dim=1)
    rewards[torch.isnan(rewards_per_func).all(dim=1)] = torch.nan
    return rewards


class SRGRPOTrainer(CPUFastPathMixin, _GRPOTrainer):
    """A ``GRPOTrainer`` whose group advantages are SR-GRPO's soft advantages.

    Use it exactly like ``trl.GRPOTrainer``, with an :class:`srgrpo.SRGRPOConfig` as ``args``::

        from srgrpo import SRGRPOConfig, SRGRPOTrainer
        args = SRGRPOConfig(output_dir="out", tau=0.5, soft_advantage="per_sample")
        trainer = SRGRPOTrainer(model=model, reward_funcs=[reward_fn], args=args,
                                train_dataset=dataset, processing_class=tokenizer)
        trainer.train()
    """

    _tag_names = ["trl", "grpo", "sr-grpo"]

    def __init__(self, *args, **kwargs):
        config = kwargs.get("args", args[2] if len(args) > 2 else None)
        if config is not None and not isinstance(config, SRGRPOConfig):
            raise TypeError(
                f"SRGRPOTrainer needs an srgrpo.SRGRPOConfig as `args` (it carries tau and soft_advantage), got "
                f"{type(config).__name__}. Build one with SRGRPOConfig(output_dir=..., tau=0.5, ...)."
            )
        if config is None:
            kwargs["args"] = SRGRPOConfig(output_dir="srgrpo-output")
        self._sr_rewards_per_func: torch.Tensor | None = None
        self._sr_prompts_seen = 0
        self._sr_prompts_truncated = 0
        # Under Unsloth's rewritten trainer a model not loaded by Unsloth needs its for_training/for_inference.
        ensure_unsloth_model_methods(kwargs.get("model", args[0] if args else None))
        super().__init__(*args, **kwargs)
        ensure_unsloth_model_methods(self.model)

    # -- prompt length -------------------------------------------------------------------------
    def _tokenize_prompts(self, prompts: list):
        prompt_ids, images, multimodal_fields = super()._tokenize_prompts(prompts)
        limit = self.args.max_prompt_length
        if limit is None:
            return prompt_ids, images, multimodal_fields
        lengths = [len(ids) for ids in prompt_ids]
        too_long = sum(n > limit for n in lengths)
        self._sr_prompts_seen += len(lengths)
        if too_long:
            if multimodal_fields:
                raise ValueError(
                    f"{too_long} prompt(s) exceed max_prompt_length={limit}, and prompts with images cannot be "
                    "truncated safely. Raise max_prompt_length or set it to None."
                )
            # Left truncation keeps the end of the prompt (the question and the assistant tag), the
            # part the completion continues from.
            prompt_ids = [ids[-limit:] if len(ids) > limit else ids for ids in prompt_ids]
            self._sr_prompts_truncated += too_long
            logger.warning(
                "SR-GRPO: %d of %d prompts in this batch were longer than max_prompt_length=%d tokens (longest %d) "
                "and were left-truncated; %d of %d so far.",
                too_long, len(lengths), limit, max(lengths), self._sr_prompts_truncated, self._sr_prompts_seen,
            )
        return prompt_ids, images, multimodal_fields

    # -- advantages ------------------------------------------------------------------------------
    def compute_advantages(self, rewards: torch.Tensor, num_generations: int) -> torch.Tensor:
        """Advantages of the whole (all-process) batch from its summed rewards, NaN = unscorable.

        SR-GRPO's soft advantages with ``args.tau`` and ``args.soft_advantage``. This is the one
        place to override for another group-relative rule: gathering, slicing, logging and the
        completions table are handled around it.
        """
        return soft_advantages(rewards, num_generations, tau=self.args.tau, mode=self.args.soft_advantage)

    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
        # Reward functions get a `cut_off` column: True where the completion ran to the token limit (TRL's own test:
        # it does not end in EOS or padding). The decoded text cannot show it, and trl 1.15, the version Unsloth
        # runs, passes nothing else that does; a reward that pays for stopping needs it (srgrpo.tasks.rewards).
        stops = {*self.eos_token_ids, self._tokenizer.pad_token_id}
        inputs = [{**example, "cut_off": len(ids) > 0 and int(ids[-1]) not in stops}
                  for example, ids in zip(inputs, completion_ids_list)]
        rewards_per_func = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
        self._sr_rewards_per_func = rewards_per_func  # gathered over all processes
        return rewards_per_func

    def _generate_and_score_completions(self, inputs):
        output = super()._generate_and_score_completions(inputs)
        rewards_per_func, self._sr_rewards_per_func = self._sr_rewards_per_func, None
        if rewards_per_func is None:
            raise RuntimeError(
                "SRGRPOTrainer did not see the rewards of this batch: the base trainer's "
                "_generate_and_score_completions no longer calls _calculate_rewards. Check the TRL / Unsloth versions."
            )
        mode = "train" if self.model.training else "eval"
        k = self.num_generations if mode == "train" else self.num_generations_eval
        if k is None or k < 2:
            # One completion per prompt (possible in evaluation only) has no group to compare with;
            # TRL's advantage is 0 there too.
            return output

        rewards = combine_rewards(rewards_per_func, self.reward_weights)
        all_advantages = self.compute_advantages(rewards, k)

        local = output["advantages"]
        rank = self.accelerator.process_index
        n_local = local.shape[0]
        output["advantages"] = all_advantages[rank * n_local : (rank + 1) * n_local].to(local.device, local.dtype)

        self._metrics[mode]["soft_advantage_mean"].append(all_advantages.mean().item())
        self._metrics[mode]["soft_advantage_std"].append(all_advantages.std().item())
        if self.args.max_prompt_length is not None and self._sr_prompts_seen:
            self._metrics[mode]["prompts_truncated_frac"].append(self._sr_prompts_truncated / self._sr_prompts_seen)

        # TRL logged its own advantages for the completions table; show SR's instead.
        logged = getattr(self, "_logs", {}).get("advantages")
        if logged is not None and len(logged) >= all_advantages.numel():
            for _ in range(all_advantages.numel()):
                logged.pop()
            logged.extend(all_advantages.tolist())
        return output

    # -- logging ---------------------------------------------------------------------------------
    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        mode = "train" if self.model.training else "eval"
        metrics = self._metrics[mode]
        if "completions/mean_length" in metrics and "completion_length" not in metrics:
            # The specification's name for TRL's mean completion length.
            metrics["completion_length"] = list(metrics["completions/mean_length"])
        super().log(logs, start_time)
