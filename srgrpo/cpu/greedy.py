"""Greedy completions of chat prompts, the one decoding every held-out measurement of the kit uses.

The evaluate command (:mod:`srgrpo.eval_gsm8k`) and the real-model lab (:mod:`srgrpo.lab.real.task`) both score a
model by its greedy answers; both call :func:`generate_greedy`, so "accuracy" means the same decoding in each.
A completion ends at the first end-of-sequence or padding token; one that reached ``max_new_tokens`` is reported as
cut off, and the scoring then gives it no format credit (:mod:`srgrpo.tasks.rewards`).

On a CPU the tokens come from :func:`srgrpo.cpu.sampling.sample_completions` at temperature 0 (a static key/value
cache, no per-step overhead of ``generate``; the same greedy tokens, tested against ``generate`` on the real model);
on a GPU, or for a model that path does not serve, from transformers' ``generate``.
"""

from __future__ import annotations

__all__ = ["generate_greedy"]


def _stop_ids(model, tokenizer) -> set[int]:
    stop_ids = {tokenizer.pad_token_id, tokenizer.eos_token_id}
    eos = model.generation_config.eos_token_id
    stop_ids.update(eos if isinstance(eos, (list, tuple)) else [eos])
    stop_ids.discard(None)
    return stop_ids


def _fast_path(model) -> bool:
    from srgrpo.cpu.sampling import why_not_supported

    return model.device.type == "cpu" and why_not_supported(model) is None


def generate_greedy(model, tokenizer, messages: list[list[dict]], max_new_tokens: int) -> list[tuple[str, int, bool]]:
    """Greedy completions of a batch of chat prompts: ``(text, num_tokens, hit_max_new_tokens)`` each.

    ``messages`` are conversations (lists of ``{"role", "content"}``); each goes through the tokenizer's chat template
    with the generation prompt. The tokenizer must pad on the left (decoder-only generation).
    """
    import torch

    texts = [tokenizer.apply_chat_template(m, tokenize=False, add_generation_prompt=True) for m in messages]
    stop_ids = _stop_ids(model, tokenizer)
    if _fast_path(model):
        from srgrpo.cpu.sampling import MergedPolicy, SamplingSettings, sample_completions

        prompts = [tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]
        decoder = MergedPolicy(model).module  # a peft model's adapters merged into a copy; a plain model as it is
        rows = sample_completions(decoder, prompts, max_new_tokens=max_new_tokens, stop_ids=stop_ids,
                                  pad_id=tokenizer.pad_token_id, settings=SamplingSettings(temperature=0))
    else:
        enc = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(model.device)
        with torch.inference_mode():
            out = model.generate(
                **enc,
                max_new_tokens=max_new_tokens,
                do_sample=False,
                temperature=None,
                top_p=None,
                top_k=None,
                pad_token_id=tokenizer.pad_token_id,
            )
        rows = out[:, enc["input_ids"].shape[1]:].tolist()
    results = []
    for row in rows:
        n = 0
        for tok in row:
            if tok in stop_ids:
                break
            n += 1
        results.append((tokenizer.decode(row[:n], skip_special_tokens=True), n, n >= max_new_tokens))
    return results
