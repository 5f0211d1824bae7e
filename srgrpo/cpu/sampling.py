r"""Sampling completions on a CPU without the overhead: the same policy, a leaner loop.

Why generation is slow on a CPU
-------------------------------
A GRPO step on a CPU spends about half its time in ``model.generate``: 16 completions of 64 tokens for the
``smollm2_cpu`` preset. Profiled with ``torch.profiler`` (``benchmarks/bench_cpu_step.py --profile``), the time of one
``generate`` call of a LoRA model through transformers + peft splits into

* the matrix products (about half), paid once for the base layer and twice more for each LoRA adapter, since peft
  computes :math:`W x + s\,B(A x)` with three small products per layer and decode step;
* ``torch.cat`` of the growing key/value cache (a fifth): every decode step copies every layer's whole cache;
* the sampler: ``torch.multinomial`` draws an exponential variate for every entry of the 49,152-token vocabulary of
  every row, every step, plus the logits processors' full-vocabulary passes;
* the prompt's prefill, done 8 times for the 8 identical copies of each prompt that GRPO's sampler makes.

What this module does instead
-----------------------------
:class:`MergedPolicy` keeps a *second* module for generation: the base model's structure, sharing every tensor with
the policy except the adapted linear layers, which hold :math:`W + s\,BA` computed in float32 (and rounded once to the
weights' dtype). :meth:`MergedPolicy.sync` recomputes them from the current adapters before each generation, so the
completions are sampled from the current policy; the policy's own weights are never written (merging and unmerging
in place drifts the base weights, badly in bf16: TRL issue 6688).

:func:`sample_completions` then decodes with a preallocated (static) key/value cache written in place, computes the
prefill of each distinct prompt once and copies its cache to the prompt's ``K`` rows, and samples with one uniform
number a row: the inverse of the cumulative distribution of :math:`\mathrm{softmax}(\ell / T)`, which draws token
:math:`i` with probability :math:`p_i` exactly, as ``multinomial`` does, at a fraction of its cost.

What it does not change: the model's forward (transformers' own), the distribution sampled from, the stopping rule
(a row ends at its first end-of-sequence token, which it keeps, as TRL does), the token budget. The random stream
differs from ``generate``'s, so the same seed gives other (equally likely) samples; greedy decoding
(``temperature=0``) gives the same tokens as ``generate`` (tested on the real model).
"""

from __future__ import annotations

import copy
import inspect
from dataclasses import dataclass
from typing import Iterable

import torch

from srgrpo.models.qlora import is_4bit

__all__ = ["MergedPolicy", "SamplingSettings", "sample_completions", "sample_tokens", "why_not_supported"]


@dataclass(frozen=True)
class SamplingSettings:
    """What :func:`sample_completions` draws from: ``temperature`` 0 is greedy; ``top_k`` 0/None and ``top_p`` 1 are
    off (TRL's defaults)."""

    temperature: float = 1.0
    top_k: int | None = None
    top_p: float = 1.0

    def __post_init__(self):
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0 (0 is greedy), got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.top_k is not None and self.top_k < 0:
            raise ValueError(f"top_k must be >= 0 (0 is off), got {self.top_k}")


def sample_tokens(logits: torch.Tensor, settings: SamplingSettings, generator: torch.Generator | None = None):
    r"""One token per row of ``logits`` ``(B, V)``: argmax when greedy, else a draw from
    :math:`\mathrm{softmax}(\ell/T)` restricted by ``top_k`` / ``top_p``.

    The draw inverts the cumulative distribution: with :math:`c_i = \sum_{j \le i} p_j` and one uniform
    :math:`u \in [0, c_V)`, the token is the first :math:`i` with :math:`c_i > u`, so :math:`P(i) = p_i` and a token
    of probability 0 is never drawn. One random number a row instead of ``multinomial``'s one per vocabulary entry.
    """
    if settings.temperature == 0:
        return logits.argmax(dim=-1)
    scaled = logits.float() / settings.temperature
    if settings.top_k:
        k = min(settings.top_k, scaled.shape[-1])
        kth = torch.topk(scaled, k, dim=-1).values[..., -1:]
        scaled = scaled.masked_fill(scaled < kth, float("-inf"))
    probs = torch.softmax(scaled, dim=-1)
    if settings.top_p < 1:
        # Keep the smallest set of most likely tokens whose mass reaches top_p (transformers' TopPLogitsWarper rule:
        # drop a token when the mass of the tokens *less* likely than it, itself included, is at most 1 - top_p).
        sorted_probs, order = torch.sort(probs, dim=-1)
        drop_sorted = sorted_probs.cumsum(dim=-1) <= 1 - settings.top_p
        drop_sorted[..., -1] = False
        probs = probs.masked_fill(drop_sorted.scatter(-1, order, drop_sorted), 0.0)
    cdf = probs.cumsum(dim=-1)
    u = torch.rand(cdf.shape[0], 1, generator=generator, device=cdf.device, dtype=cdf.dtype) * cdf[:, -1:]
    return torch.searchsorted(cdf, u, right=True).squeeze(1).clamp_(max=cdf.shape[-1] - 1)


# ----------------------------------------------------------------------------------------------------------------
# The generation copy of a LoRA policy
# ----------------------------------------------------------------------------------------------------------------


def _lora_layers(model) -> list[tuple[str, torch.nn.Module]]:
    try:
        from peft.tuners.lora import LoraLayer
    except ImportError:  # pragma: no cover - peft is a dependency
        return []
    return [(name, m) for name, m in model.named_modules() if isinstance(m, LoraLayer)]


def why_not_supported(model) -> str | None:
    """``None`` when :class:`MergedPolicy` can serve ``model``, else the reason (the caller uses ``generate``)."""
    config = getattr(model, "config", None)
    if config is None:
        return "the model has no config"
    if getattr(config, "is_encoder_decoder", False):
        return "encoder-decoder models are not supported"
    if getattr(config, "sliding_window", None) and getattr(config, "use_sliding_window", True):
        return "sliding-window attention is not supported"
    if is_4bit(model):
        # Merging an adapter into NF4 weights would requantize the sum (lossy); a full-precision copy of the weights
        # would undo what 4-bit is for. On a CPU 4-bit is a check of the GPU path, where TRL's generate runs anyway.
        return "the base weights are 4-bit (bitsandbytes): LoRA is not merged into them"
    for name, layer in _lora_layers(model):
        if type(layer).__name__ != "Linear" or not isinstance(getattr(layer, "base_layer", None), torch.nn.Linear):
            return f"LoRA on {name} is not a plain linear layer"
        if getattr(layer, "merged", False):
            return "the adapters are merged into the weights"
        if any(getattr(layer, "use_dora", {}).get(a, False) for a in layer.active_adapters):
            return "DoRA adapters are not supported"
        if getattr(layer, "fan_in_fan_out", False):
            return "fan_in_fan_out layers are not supported"
    return None


class MergedPolicy:
    """A module for generation that computes what ``policy`` computes, with every LoRA update merged into a copy.

    ``policy`` is a peft model (LoRA on linear layers) or a plain transformers model (full fine-tuning: then the policy
    itself serves, with nothing to merge). Only the adapted linear layers get new weight tensors; embeddings, norms,
    biases and the head are shared with the policy, so a generation copy of SmolLM2 costs its 106 M adapted weights
    (425 MB in float32). Call :meth:`sync` after every optimizer step; :meth:`module` is the copy, in eval mode.
    """

    def __init__(self, policy):
        reason = why_not_supported(policy)
        if reason:
            raise ValueError(f"MergedPolicy cannot serve this model: {reason}")
        self.policy = policy
        base = policy.get_base_model() if hasattr(policy, "get_base_model") else policy
        self._pairs: list[tuple[torch.nn.Module, torch.nn.Linear]] = []
        layers = _lora_layers(base)
        if not layers:
            self.module = base
            return
        # Share every existing tensor (deepcopy's memo maps each to itself), then give each adapted layer a fresh
        # linear layer of its own: the structure is copied, the weights are not.
        memo = {id(t): t for t in (*base.parameters(), *base.buffers())}
        self.module = copy.deepcopy(base, memo)
        # A forward patched onto the instance (TRL's fused log-prob head) closes over the *original* module's forward,
        # which would run the unmerged layers: the copy uses its class's own forward.
        self.module.__dict__.pop("forward", None)
        for name, _ in _lora_layers(self.module):
            original = base.get_submodule(name)
            inner = original.base_layer
            merged = torch.nn.Linear(inner.in_features, inner.out_features, bias=False,
                                     device=inner.weight.device, dtype=inner.weight.dtype)
            merged.weight.requires_grad_(False)
            merged.bias = inner.bias  # shared (Qwen2's q/k/v projections have one)
            self.module.set_submodule(name, merged)
            self._pairs.append((original, merged))
        self.module.eval()
        self.sync()

    @torch.no_grad()
    def sync(self) -> None:
        """Recompute every merged weight from the policy's current base weight and adapters (float32, rounded once)."""
        for original, merged in self._pairs:
            weight = original.base_layer.weight.float()
            if not getattr(original, "disable_adapters", False):
                for adapter in original.active_adapters:
                    if adapter in original.lora_A:
                        weight = weight + original.get_delta_weight(adapter).float()
            merged.weight.copy_(weight.to(merged.weight.dtype))


# ----------------------------------------------------------------------------------------------------------------
# The decoding loop
# ----------------------------------------------------------------------------------------------------------------


def _cache_kwarg(model) -> str:
    """The name of ``model``'s cache argument (a causal LM, peft-wrapped or not): transformers 5.x calls it ``cache``,
    earlier releases ``past_key_values``. Read from the decoder, whose forward names it (the LM's may be patched)."""
    decoder = model.get_decoder() if hasattr(model, "get_decoder") else model
    params = inspect.signature(decoder.forward).parameters
    return "cache" if "cache" in params else "past_key_values"


def _left_pad(rows: list[list[int]], pad_id: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long, device=device)
    mask = torch.zeros((len(rows), width), dtype=torch.long, device=device)
    for i, r in enumerate(rows):
        if r:
            ids[i, width - len(r):] = torch.tensor(r, dtype=torch.long)
            mask[i, width - len(r):] = 1
    return ids, mask


def _distinct_runs(prompts: list[list[int]]) -> int:
    """``K`` when the prompts come as runs of ``K`` identical copies (GRPO's layout), else 1."""
    n = len(prompts)
    for k in range(n, 1, -1):
        if n % k == 0 and all(prompts[i] == prompts[i - i % k] for i in range(n)):
            return k
    return 1


@torch.no_grad()
def sample_completions(
    model,
    prompts: list[list[int]],
    *,
    max_new_tokens: int,
    stop_ids: Iterable[int],
    pad_id: int,
    settings: SamplingSettings = SamplingSettings(),
    generator: torch.Generator | None = None,
) -> list[list[int]]:
    """Completion token ids for each prompt (lists of ids), each ending at and keeping its first stop token.

    ``model`` is a transformers causal LM (e.g. :attr:`MergedPolicy.module`). Runs of identical prompts (GRPO's ``K``
    copies of a prompt) are prefilled once. At most ``max_new_tokens`` tokens a row; the loop ends early when every row
    has stopped.
    """
    from transformers import StaticCache

    if not prompts:
        return []
    if any(len(p) == 0 for p in prompts):
        raise ValueError("every prompt needs at least one token")
    device = next(model.parameters()).device
    stops = torch.tensor(sorted({int(s) for s in stop_ids}), dtype=torch.long, device=device)
    repeats = _distinct_runs(prompts)
    distinct = prompts[::repeats]
    ids, mask = _left_pad(distinct, pad_id, device)
    rows, prompt_len = len(prompts), ids.shape[1]
    cache_arg = _cache_kwarg(model)

    cache = StaticCache(config=model.config, max_cache_len=prompt_len + max_new_tokens)
    positions = (mask.cumsum(-1) - 1).clamp_(min=0)
    if repeats == 1:
        out = model(input_ids=ids, attention_mask=mask, position_ids=positions, logits_to_keep=1,
                    use_cache=True, **{cache_arg: cache})
        logits = out.logits[:, -1]
    else:
        from transformers import DynamicCache

        prefix = DynamicCache(config=model.config)
        out = model(input_ids=ids, attention_mask=mask, position_ids=positions, logits_to_keep=1,
                    use_cache=True, **{cache_arg: prefix})
        for index, layer in enumerate(prefix.layers):
            cache.update(layer.keys.repeat_interleave(repeats, 0), layer.values.repeat_interleave(repeats, 0), index)
        logits = out.logits[:, -1].repeat_interleave(repeats, 0)
        mask = mask.repeat_interleave(repeats, 0)
    next_position = mask.sum(-1, keepdim=True)  # position of the first new token, per row

    full_mask = torch.cat([mask, torch.ones((rows, max_new_tokens), dtype=mask.dtype, device=device)], dim=1)
    tokens = torch.full((rows, max_new_tokens), pad_id, dtype=torch.long, device=device)
    done = torch.zeros(rows, dtype=torch.bool, device=device)
    steps = 0
    for t in range(max_new_tokens):
        chosen = sample_tokens(logits, settings, generator)
        chosen = torch.where(done, torch.full_like(chosen, pad_id), chosen)
        tokens[:, t] = chosen
        steps = t + 1
        done |= torch.isin(chosen, stops)
        if bool(done.all()) or t + 1 == max_new_tokens:
            break
        out = model(input_ids=chosen[:, None], attention_mask=full_mask[:, : prompt_len + t + 1],
                    position_ids=next_position + t, use_cache=True, **{cache_arg: cache})
        logits = out.logits[:, -1]

    stop_set = set(stops.tolist())
    completions = []
    for row in tokens[:, :steps].tolist():
        end = len(row)
        for j, tok in enumerate(row):
            if tok in stop_set:
                end = j + 1
                break
        completions.append(row[:end])
    return completions
