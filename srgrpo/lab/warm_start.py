r"""The arithmetic lab's model before RL: a supervised warm start of the tiny model, cached, and its accuracy.

:func:`warm_start` trains the offline tiny Qwen2 of :mod:`srgrpo.tiny` (random weights, the kit's tokenizer) with a
plain supervised loop (AdamW, linear warm-up then cosine decay, shuffled batches) on the lab's training problems, then
caches it under ``<cache>/lab/warmstart-<hash of its settings>`` (built in a temporary folder and renamed into place),
so reruns skip it. By default a share ``warm_flaw`` of its demonstrations end with a systematic slip
(:func:`warm_demonstrations`; see :mod:`srgrpo.lab.arithmetic` for why). :func:`greedy_accuracy` measures any
checkpoint on held-out problems; :func:`load_warm_start` reads one back.
"""

from __future__ import annotations

import json
import math
import os
import random
import sys
import time
from pathlib import Path
from typing import Any, Sequence

from srgrpo.lab.arithmetic_settings import DEFAULTS, WARM_KEYS
from srgrpo.lab.tasks import flawed_solution, format_completion, format_prompt, make_splits
from srgrpo.runtime import atomic_folder, cache_root as default_cache_root, short_hash

__all__ = ["WARM_RECIPE", "greedy_accuracy", "warm_demonstrations", "warm_start", "load_warm_start"]

#: Bumped when the warm-start recipe changes in a way its settings do not show, to retire old caches.
WARM_RECIPE = 1


def _log(message: str) -> None:
    print(f"[arithmetic] {message}", file=sys.stderr, flush=True)


def greedy_accuracy(model, tokenizer, problems: Sequence[dict[str, Any]], max_new_tokens: int,
                    batch_size: int = 200) -> float:
    """Percentage of ``problems`` whose greedy completion :func:`correctness_reward` scores 1.

    Prompts are left-padded and decoded greedily, ``max_new_tokens`` at most, the model's
    training mode restored afterwards.
    """
    import torch

    from srgrpo.rewards import correctness_reward

    if not problems:
        raise ValueError("greedy_accuracy needs at least one problem.")
    was_training = model.training
    model.eval()
    correct = 0.0
    tokenizer.padding_side = "left"
    try:
        with torch.no_grad():
            for start in range(0, len(problems), batch_size):
                chunk = problems[start : start + batch_size]
                enc = tokenizer([format_prompt(p["question"]) for p in chunk], return_tensors="pt", padding=True)
                out = model.generate(
                    **enc, max_new_tokens=max_new_tokens, do_sample=False,
                    pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
                )
                texts = tokenizer.batch_decode(out[:, enc["input_ids"].shape[1]:], skip_special_tokens=True)
                correct += sum(correctness_reward(texts, [p["answer"] for p in chunk]))
    finally:
        model.train(was_training)
    return 100.0 * correct / len(problems)


# ---------------------------------------------------------------------------------------------------------------


def warm_demonstrations(train: Sequence[dict[str, Any]], flaw: float, seed: int) -> list[str]:
    """The solutions the warm start imitates: the reference ones, except a share ``flaw`` (drawn
    with ``random.Random(seed)``) replaced by :func:`srgrpo.lab.tasks.flawed_solution`."""
    rng = random.Random(seed)
    return [flawed_solution(p) if rng.random() < flaw else p["solution"] for p in train]


def _encode(tokenizer, problems: Sequence[dict[str, Any]], solutions: Sequence[str]) -> list[tuple[list[int], list[int]]]:
    """(prompt ids, completion ids + EOS) per problem, each encoded on its own as TRL does."""
    prompts = tokenizer([format_prompt(p["question"]) for p in problems])["input_ids"]
    completions = tokenizer([format_completion(s) for s in solutions])["input_ids"]
    eos = tokenizer.eos_token_id
    return [(list(a), list(b) + [eos]) for a, b in zip(prompts, completions)]


def _batches(n: int, batch_size: int, generator) -> list[list[int]]:
    """One epoch of shuffled batches. Not grouped by length: length-sorted batches hold problems of
    the same few templates, and measured here they slowed learning several-fold."""
    import torch

    perm = torch.randperm(n, generator=generator).tolist()
    return [perm[j : j + batch_size] for j in range(0, n - batch_size + 1, batch_size)]


def _collate(data, idx, pad_id):
    import torch

    seqs = [data[i][0] + data[i][1] for i in idx]
    width = max(len(s) for s in seqs)
    ids = torch.full((len(idx), width), pad_id, dtype=torch.long)
    labels = torch.full((len(idx), width), -100, dtype=torch.long)
    mask = torch.zeros((len(idx), width), dtype=torch.long)
    for row, i in enumerate(idx):
        prompt, completion = data[i]
        n = len(prompt) + len(completion)
        ids[row, :n] = torch.tensor(prompt + completion)
        labels[row, len(prompt) : n] = torch.tensor(completion)  # the loss is on the solution only
        mask[row, :n] = 1
    return ids, labels, mask


def _supervised(model, tokenizer, train, settings: dict[str, Any]) -> dict[str, Any]:
    """Train ``model`` on ``train`` (AdamW, linear warm-up then cosine decay to 10% over the steps;
    constant after warm-up when limited by seconds). Returns steps, seconds and the last loss."""
    import torch

    solutions = warm_demonstrations(train, settings["warm_flaw"], settings["data_seed"] + 2)
    data = _encode(tokenizer, train, solutions)
    batch_size, lr, warmup = settings["warm_batch_size"], settings["warm_lr"], settings["warm_warmup_steps"]
    steps, seconds = settings["warm_steps"], settings["warm_seconds"]
    if batch_size > len(data):
        raise ValueError(f"warm_batch_size={batch_size} exceeds the {len(data)} training problems.")
    gen = torch.Generator().manual_seed(settings["model_seed"])
    opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.98), weight_decay=0.0)
    model.train()
    batches, pos, step, loss_value = [], 0, 0, math.nan
    start = time.perf_counter()
    while True:
        elapsed = time.perf_counter() - start
        if seconds is not None:
            if elapsed >= seconds:
                break
        elif step >= steps:
            break
        if pos >= len(batches):
            batches, pos = _batches(len(data), batch_size, gen), 0
        ids, labels, mask = _collate(data, batches[pos], tokenizer.pad_token_id)
        pos += 1
        scale = min(1.0, (step + 1) / max(warmup, 1))
        if seconds is None and step >= warmup:
            progress = (step - warmup) / max(steps - warmup, 1)
            scale = 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress))
        for group in opt.param_groups:
            group["lr"] = lr * scale
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        loss_value = loss.item()
        if step % 50 == 0:
            _log(f"warm start: step {step}, loss {loss_value:.3f}, {time.perf_counter() - start:.0f} s")
    return {"steps": step, "train_s": round(time.perf_counter() - start, 2), "final_loss": round(loss_value, 4)}


def warm_start(settings: dict[str, Any], cache_root: str | os.PathLike | None = None,
               heldout: Sequence[dict[str, Any]] | None = None, train: Sequence[dict[str, Any]] | None = None
               ) -> tuple[Path, dict[str, Any]]:
    """The warm-start checkpoint for ``settings``: trained once, then read from the cache.

    The folder ``<cache_root>/lab/warmstart-<key>`` holds the model, the tokenizer and
    ``warmstart.json`` (its settings, steps, seconds, final loss and greedy held-out accuracy on
    the ``n_heldout`` problems it was measured on). ``key`` hashes the settings in
    :data:`WARM_KEYS`. The folder is written to a temporary sibling and renamed into place.

    Returns:
        ``(folder, info)``; ``info["cached"]`` says whether it was read from the cache. The
        accuracy stored there is recomputed when ``heldout`` differs from the stored set's size.
    """
    from srgrpo.tiny import RECIPE_VERSION

    settings = {**DEFAULTS, **settings}
    root = Path(cache_root) if cache_root is not None else default_cache_root()
    warm = {k: settings[k] for k in WARM_KEYS}
    key = short_hash({"recipe": WARM_RECIPE, "tiny": RECIPE_VERSION, **warm})
    folder = root / "lab" / f"warmstart-{key}"
    if heldout is None or train is None:
        train, heldout = make_splits(settings["n_train"], settings["n_heldout"], settings["data_seed"])
    if (folder / "warmstart.json").is_file():
        return folder, _cached_info(folder, heldout, settings)
    _log(f"warm start {key}: training the tiny model on {len(train)} problems")
    model, tokenizer, info = _train_warm_start(root, train, heldout, settings)
    info = {"key": key, "settings": warm, **info}
    import transformers

    transformers.utils.logging.disable_progress_bar()  # no "Writing model shards" bar in the progress lines
    with atomic_folder(folder, done="warmstart.json") as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / "warmstart.json").write_text(json.dumps(info, indent=2) + "\n")
    _log(f"warm start {key}: {info['steps']} steps in {info['wall_s']:.0f} s, "
         f"held-out accuracy {info['accuracy']:.1f}%")
    return folder, {**info, "cached": False}


def _cached_info(folder: Path, heldout: Sequence[dict[str, Any]], settings: dict[str, Any]) -> dict[str, Any]:
    """A cached warm start's record, its accuracy measured again when the held-out set or token limit changed."""
    info = json.loads((folder / "warmstart.json").read_text())
    if info.get("n_heldout") != len(heldout) or info.get("max_new_tokens") != settings["max_completion_length"]:
        model, tokenizer = load_warm_start(folder)
        info["accuracy"] = round(greedy_accuracy(model, tokenizer, heldout, settings["max_completion_length"],
                                                 settings["eval_batch_size"]), 4)
        info["n_heldout"], info["max_new_tokens"] = len(heldout), settings["max_completion_length"]
    info["cached"] = True
    return info


def _train_warm_start(root: Path, train, heldout, settings: dict[str, Any]):
    """Build the tiny model, train it (:func:`_supervised`) and measure it: ``(model, tokenizer, info)``."""
    import torch

    from srgrpo.tiny import build_tiny_model, load_tiny_tokenizer, tiny_model_dir

    tokenizer = load_tiny_tokenizer(tiny_model_dir(root))
    start = time.perf_counter()
    model = build_tiny_model(tokenizer, seed=settings["model_seed"], **settings["model_overrides"])
    stats = _supervised(model, tokenizer, train, settings)
    wall = time.perf_counter() - start
    accuracy = greedy_accuracy(model, tokenizer, heldout, settings["max_completion_length"], settings["eval_batch_size"])
    return model, tokenizer, {
        "parameters": sum(p.numel() for p in model.parameters()),
        **stats,
        "wall_s": round(wall, 2),
        "accuracy": round(accuracy, 4),
        "n_heldout": len(heldout),
        "max_new_tokens": settings["max_completion_length"],
        "torch_threads": torch.get_num_threads(),
    }


def load_warm_start(folder: str | os.PathLike):
    """``(model, tokenizer)`` of a warm-start folder: a ``Qwen2ForCausalLM`` in float32 and the kit's tiny
    tokenizer (``PreTrainedTokenizerFast``, left-padded)."""
    import torch
    import transformers
    from transformers import Qwen2ForCausalLM

    from srgrpo.tiny import load_tiny_tokenizer

    transformers.utils.logging.disable_progress_bar()  # one "Loading weights" bar per run is noise here
    model = Qwen2ForCausalLM.from_pretrained(folder, dtype=torch.float32)
    return model, load_tiny_tokenizer(folder)
