"""``CPUFastPathMixin``: a GRPO trainer's step on a CPU without the work it repeats.

Two things of TRL's ``GRPOTrainer`` are done differently on a CPU, with the same results:

* **Generation** (``_generate_single_turn``), through :mod:`srgrpo.cpu.sampling` (below).
* **The loss's forward pass** (``_get_per_token_logps_and_entropies``): GRPO scores ``K`` completions of each prompt,
  and TRL runs the model over prompt + completion for each of them, so every prompt token is processed ``K`` times,
  forward and backward (for SmolLM2's preset: 101 of 165 tokens a row). With ``cpu_shared_prompt=True`` the rows of a
  micro-batch that share a prompt run it once: the prompt (but its last token) goes through the model with a
  key/value cache, the cache is indexed out to the rows (autograd keeps the gradient paths), and each row runs only
  its last prompt token and its completion, through TRL's own fused log-prob head. Positions, masks and scores are
  those of TRL's full pass (tested against it: log-probs and LoRA gradients to float rounding).

TRL's ``GRPOTrainer`` samples completions in ``_generate_single_turn(prompt_ids, ...)`` with ``model.generate``. On
a CPU this mixin answers that call itself, when it safely can: the completions come from
:func:`srgrpo.cpu.sampling.sample_completions` on a :class:`~srgrpo.cpu.sampling.MergedPolicy` synced with the
policy's current weights, under TRL's own sampling settings (``temperature``, ``top_k``, ``top_p``) and token budget.
Everything else of the step (rewards, advantages, loss) is TRL's, or SR-GRPO's.

It steps aside, and TRL generates as always, on a GPU, under Unsloth's rewritten trainer, with vLLM or continuous
batching, for images or tools, on 4-bit base weights (merging LoRA into NF4 weights would requantize them; the loss's
shared-prompt pass steps aside there too), and for sampling settings it does not implement (``min_p``,
``repetition_penalty``, ``generation_kwargs``); the first time, one log line says why. ``cpu_fast_generation=False`` in the config turns it
off (``--cpu_fast_generation false`` on the train command); ``cpu_shared_prompt=False`` the loss's sharing.

Mix it in before the trainer: ``class T(CPUFastPathMixin, GRPOTrainer)``. :class:`srgrpo.SRGRPOTrainer` and the
lab's GRPO baseline do, so every method of a comparison samples the same way.
"""

from __future__ import annotations

import logging

import torch

from srgrpo.cpu.sampling import MergedPolicy, SamplingSettings, _cache_kwarg, sample_completions, why_not_supported
from srgrpo.models.qlora import is_4bit

__all__ = ["CPUFastPathMixin"]

logger = logging.getLogger(__name__)


class CPUFastPathMixin:
    """Overrides ``_generate_single_turn`` of a TRL ``GRPOTrainer`` on a CPU (see the module docstring)."""

    _sr_merged_policy: MergedPolicy | None = None
    _sr_fast_generation_reason: str | None = None  # why the fast path is off, once decided

    def _fast_generation_blocker(self, images, multimodal_fields) -> str | None:
        """``None`` when the fast path can sample this batch, else why not."""
        from srgrpo.models.unsloth_compat import unsloth_active

        args = self.args
        if not getattr(args, "cpu_fast_generation", True):
            return "cpu_fast_generation is off"
        if self.accelerator.device.type != "cpu":
            return f"the model is on {self.accelerator.device.type}, not a CPU"
        if unsloth_active():
            return "Unsloth's trainer generates"
        if getattr(self, "use_vllm", False) or getattr(self, "use_transformers_continuous_batching", False):
            return "vLLM or continuous batching is on"
        if images is not None and any(i is not None for i in images) or multimodal_fields:
            return "the prompts have images"
        if getattr(self, "tools", None):
            return "tools are used"
        for name, off in (("min_p", None), ("repetition_penalty", 1.0), ("generation_kwargs", None)):
            if getattr(args, name, off) not in (off, {}):
                return f"{name}={getattr(args, name)!r} is not implemented by the fast sampler"
        return why_not_supported(self.accelerator.unwrap_model(self.model))

    def _generate_single_turn(self, prompt_ids, *args, **kwargs):
        # TRL 1.16: (prompt_ids, images, multimodal_fields, num_generations, has_tool_images=False)
        images = args[0] if args else kwargs.get("images")
        multimodal_fields = args[1] if len(args) > 1 else kwargs.get("multimodal_fields")
        reason = self._fast_generation_blocker(images, multimodal_fields)
        if reason is not None:
            if reason != self._sr_fast_generation_reason:
                self._sr_fast_generation_reason = reason
                logger.info("srgrpo: completions sampled by TRL's generate (%s).", reason)
            return super()._generate_single_turn(prompt_ids, *args, **kwargs)
        policy = self.accelerator.unwrap_model(self.model)
        if self._sr_merged_policy is None or self._sr_merged_policy.policy is not policy:
            self._sr_merged_policy = MergedPolicy(policy)
        else:
            self._sr_merged_policy.sync()
        args = self.args
        settings = SamplingSettings(temperature=float(args.temperature), top_k=args.top_k or None,
                                    top_p=float(args.top_p if args.top_p is not None else 1.0))
        pad = self._tokenizer.pad_token_id
        stops = list(self.eos_token_ids) if self.eos_token_ids is not None else []
        from trl.extras.profiling import profiling_context

        with profiling_context(self, "srgrpo.sample_completions"), torch.no_grad():
            completions = sample_completions(
                self._sr_merged_policy.module, [list(map(int, p)) for p in prompt_ids],
                max_new_tokens=int(args.max_completion_length), stop_ids=stops,
                pad_id=pad if pad is not None else stops[0], settings=settings,
            )
        return completions, None

    # -- the loss's forward pass ------------------------------------------------------------------------------------
    def _shared_prompt_blocker(self, model, extra: dict) -> str | None:
        from srgrpo.models.unsloth_compat import unsloth_active

        if not getattr(self.args, "cpu_shared_prompt", True):
            return "cpu_shared_prompt is off"
        if self.accelerator.device.type != "cpu":
            return "not on a CPU"
        if unsloth_active():
            return "Unsloth's trainer computes the loss"
        if is_4bit(model):
            return "the base weights are 4-bit (bitsandbytes): the shared-prompt pass is tested in full precision only"
        if any(v is not None and v is not False for v in extra.values()):
            return "multimodal inputs or an auxiliary loss"
        return why_not_supported(self.accelerator.unwrap_model(model))

    def _get_per_token_logps_and_entropies(self, model, input_ids, attention_mask, logits_to_keep, *args, **kwargs):
        # TRL 1.16: (..., batch_size=None, compute_entropy=False, compute_aux_loss=False, <multimodal>=None, ...);
        # other versions (Unsloth's rewrite) pass more, positionally: those go to TRL unchanged.
        batch_size = args[0] if args else kwargs.get("batch_size")
        compute_entropy = args[1] if len(args) > 1 else kwargs.get("compute_entropy", False)
        extra = {k: v for k, v in kwargs.items() if k not in ("batch_size", "compute_entropy")}
        reason = "more positional arguments than TRL 1.16 passes" if len(args) > 2 else None
        reason = reason or self._shared_prompt_blocker(model, extra)
        if reason is None and input_ids.shape[1] - logits_to_keep < 2:
            reason = "the prompt is a single token"
        if reason is not None:
            return super()._get_per_token_logps_and_entropies(model, input_ids, attention_mask, logits_to_keep,
                                                              *args, **kwargs)
        batch_size = batch_size or input_ids.size(0)
        logps, entropies = [], []
        for start in range(0, input_ids.size(0), batch_size):
            end = min(start + batch_size, input_ids.size(0))
            lp, ent = self._shared_prompt_logps(model, input_ids[start:end], attention_mask[start:end],
                                                logits_to_keep, compute_entropy)
            logps.append(lp)
            entropies.append(ent)
        return torch.cat(logps), (torch.cat(entropies) if compute_entropy else None), None

    def _shared_prompt_logps(self, model, input_ids, attention_mask, logits_to_keep, compute_entropy):
        """Per-token log-probs (and entropies) of the completions, each distinct prompt run once (module docstring).

        Positions are TRL's: ``0 .. L-1`` along the padded row (TRL passes no ``position_ids``), here ``0 .. P-2`` for
        the shared part and ``P-1 ..`` for each row's rest, which is what the model computes from the cache length.
        """
        from transformers import DynamicCache

        prompt_len = input_ids.shape[1] - logits_to_keep
        head = prompt_len - 1  # the shared part: the prompt but its last token, which must predict the first one
        keys = torch.cat([input_ids[:, :head], attention_mask[:, :head]], dim=1)
        distinct, rows = torch.unique(keys, dim=0, return_inverse=True)
        base = self.accelerator.unwrap_model(model)
        config = base.config
        cache_arg = _cache_kwarg(base)
        with self.accelerator.autocast():
            cache = DynamicCache(config=config)
            model(input_ids=distinct[:, :head], attention_mask=distinct[:, head:], use_cache=True, logits_to_keep=1,
                  **{cache_arg: cache})
            expanded = DynamicCache(config=config)
            for index, layer in enumerate(cache.layers):
                expanded.update(layer.keys.index_select(0, rows), layer.values.index_select(0, rows), index)
            rest = input_ids[:, head:]
            labels = rest.masked_fill(attention_mask[:, head:] == 0, -100)
            labels[:, 0] = -100  # the last prompt token is context, not a label (the head shifts labels by one)
            outputs = model(input_ids=rest, attention_mask=attention_mask, labels=labels, fused_lm_head=True,
                            **{cache_arg: expanded})
        logps = outputs.log_probs[:, -logits_to_keep:]
        entropy = outputs.entropy[:, -logits_to_keep:] if compute_entropy else None
        return logps, entropy
