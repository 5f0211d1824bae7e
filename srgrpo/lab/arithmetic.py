r"""The lab's tiny language model: every advantage method trained with TRL on arithmetic word problems.

Where :mod:`srgrpo.lab.bandit` isolates the advantage rule, this experiment keeps everything a
real run has (tokenizer, sampling, TRL's ``GRPOTrainer`` and its loss, the kit's
``correctness_reward``) and makes it small enough for a CPU:

1. **Task** (:mod:`srgrpo.lab.tasks`): synthetic GSM8K-style problems with one or two chained
   operations, a worked solution ending in ``#### N``, disjoint training and held-out sets.
2. **Warm start**: the offline tiny Qwen2 of :mod:`srgrpo.tiny` (random weights, the kit's
   tokenizer; two layers instead of four by default, which learned faster per CPU second here)
   is trained with a plain supervised loop (AdamW, cosine schedule, shuffled batches) on
   training problems for a few minutes, then cached under
   ``<cache>/lab/warmstart-<hash of its settings>`` (written to a temporary folder and
   renamed), so reruns skip it.

   By default the warm start is *partly right*: a share ``warm_flaw`` of its demonstrations
   end with a systematic slip, the final line repeating the first number of the last equation
   instead of its result (:func:`srgrpo.lab.tasks.flawed_solution`, e.g. answering an
   intermediate quantity). The model then often does the work and reports the wrong number,
   which greedy decoding shows and sampling sometimes avoids: a habit a correctness reward can
   fix within a CPU budget. From a clean warm start (``--warm_flaw 0``) a few minutes of RL
   have to improve the arithmetic itself, which supervised training does far more cheaply
   (each demonstration carries every token, a reward one bit per completion); there the
   methods hardly move the held-out accuracy and the comparison says little beyond "shared
   is worse".
3. **RL**: from that same checkpoint, every method of :func:`srgrpo.lab.methods.method_grid`
   runs for the same number of steps, with the same prompts per step, completions per prompt,
   sampling temperature, learning rate and seeds:

   - ``grpo``: TRL's own ``GRPOTrainer`` (``scale_rewards="group"``);
   - ``shared`` and ``per_sample``: :class:`srgrpo.SRGRPOTrainer` with ``soft_advantage`` set;
   - ``constant`` and ``random_reward``: ``ControlGRPOTrainer`` (:func:`control_trainer_class`),
     an ``SRGRPOTrainer`` whose one advantage hook, ``compute_advantages``, returns
     :func:`srgrpo.lab.methods.method_advantages` instead of the soft advantages.

   The reward is :func:`srgrpo.rewards.correctness_reward` (1 for the right final number, else 0).
4. **Measure**: greedy accuracy on the held-out problems before (the warm start) and after each
   run, with 95% Student-t intervals over seeds (:func:`srgrpo.lab.results.mean_ci95`), the
   change in points, the wall time of each run, and the mean training reward per step.

Command line::

    python -m srgrpo.lab arithmetic --output data/results/arithmetic.json

writes the JSON below and two figures beside it, ``<stem>-curves.png`` (training reward per step,
:func:`plot_arithmetic_curves`) and ``<stem>-accuracy.png`` (held-out accuracy before and after,
:func:`plot_arithmetic_accuracy`), and prints a table. The JSON is rewritten atomically after
every finished run; rerunning the same command skips the runs already in it (a changed setting
starts the file afresh), so an interrupted comparison resumes where it stopped::

    {"experiment": "arithmetic",
     "metadata": {"command", "argv", "versions", "machine", "timestamp_utc"},
     "config": {every setting below, "methods", "taus", "seeds", "seed_list", "run_key"},
     "seeds": [0, 1, 2],
     "warm_start": {"key", "path", "accuracy", "steps", "wall_s", "final_loss", "cached"},
     "runs": {label: {"label", "method", "tau", "control", "complete",
                      "per_seed": {"<seed>": {"seed", "before", "after", "change", "wall_s",
                                              "rl_s", "eval_s", "steps", "curve": {"step", "reward"}}},
                      "before", "after", "change": {"mean", "low", "high"},
                      "wall_s": {"mean", "low", "high"},
                      "curve": {"step", "mean", "low", "high"}}},
     "wall_s": seconds of this invocation, "runs_wall_s": seconds of all runs (resumed ones included),
     "png": {"curves": path, "accuracy": path}}

Accuracies are percentages of held-out problems solved, changes are in percentage points, and
``low``/``high`` are ``null`` with a single seed.

Budget
------
Generation and the policy's forward and backward pass over every completion dominate a step on
a CPU, so completions are capped tightly (``max_completion_length=30``: every reference
solution fits) and each run is short. Every method gets the same ``rl_steps`` optimizer steps
of ``prompts_per_step`` x ``num_generations`` completions at the same learning rate and
sampling temperature, from the same warm start, with the same seeds (so the first batch of
prompts and samples is the same for every method). Torch runs on ``threads`` threads (1 by
default: on a shared two-core machine a second thread slowed steps down).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import math
import os
import random
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from srgrpo.lab.methods import CONTROL_METHODS, DEFAULT_TAUS, METHODS, SOFT_METHODS, method_advantages, method_grid
from srgrpo.lab.results import mean_ci95, run_metadata, write_json
from srgrpo.lab.tasks import flawed_solution, format_completion, format_prompt, make_splits

__all__ = [
    "DEFAULTS",
    "WARM_KEYS",
    "RL_KEYS",
    "warm_demonstrations",
    "warm_start",
    "control_trainer_class",
    "greedy_accuracy",
    "run_rl",
    "compare_arithmetic",
    "summarise_runs",
    "runs_wall_s",
    "plot_arithmetic_curves",
    "plot_arithmetic_accuracy",
    "format_table",
    "add_arguments",
    "main",
]

#: Default settings of the experiment (see ``python -m srgrpo.lab arithmetic --help``).
DEFAULTS: dict[str, Any] = {
    # task
    "n_train": 20000,
    "n_heldout": 200,
    "data_seed": 0,
    # model: the tiny Qwen2 of srgrpo.tiny with these size overrides, and the kit's tokenizer
    "model_overrides": {"num_hidden_layers": 2},
    "model_seed": 0,
    # supervised warm start
    "warm_steps": 360,
    "warm_seconds": None,
    "warm_batch_size": 32,
    "warm_lr": 2e-3,
    "warm_warmup_steps": 30,
    "warm_flaw": 0.6,
    # RL
    "rl_steps": 20,
    "prompts_per_step": 16,
    "num_generations": 8,
    "learning_rate": 3e-4,
    "warmup_steps": 2,
    "temperature": 0.7,
    "beta": 0.0,
    "loss_type": "dapo",
    "num_iterations": 1,
    "mask_truncated_completions": False,
    "max_completion_length": 30,
    # measurement
    "eval_batch_size": 200,
    "threads": 1,
}

#: The settings that define the warm-start checkpoint (and hence its cache key).
WARM_KEYS: tuple[str, ...] = (
    "n_train", "data_seed", "model_overrides", "model_seed", "warm_steps", "warm_seconds",
    "warm_batch_size", "warm_lr", "warm_warmup_steps", "warm_flaw",
)
#: The settings an RL run depends on (with the warm start): a finished run is reused on resume
#: only if all of these, and the warm start's, are unchanged.
RL_KEYS: tuple[str, ...] = (
    "n_heldout", "rl_steps", "prompts_per_step", "num_generations", "learning_rate", "warmup_steps",
    "temperature", "beta", "loss_type", "num_iterations", "mask_truncated_completions", "max_completion_length",
)

# Bumped when the warm-start recipe changes in a way its settings do not show, to retire old caches.
_WARM_RECIPE = 1
# Bumped when an RL run's recipe changes in a way its settings do not show, to retire old results.
_RL_RECIPE = 1


def _log(message: str) -> None:
    print(f"[arithmetic] {message}", file=sys.stderr, flush=True)


def _key(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:12]


@contextlib.contextmanager
def _threads(n: int | None):
    """Run torch on ``n`` threads (None: leave it), then restore the previous setting."""
    import torch

    previous = torch.get_num_threads()
    if n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _default_cache_root() -> Path:
    env = os.environ.get("SRGRPO_CACHE")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / ".cache"


# ---------------------------------------------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------------------------------------------


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
# Supervised warm start
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
    import torch

    from srgrpo.tiny import RECIPE_VERSION, build_tiny_model, load_tiny_tokenizer, tiny_model_dir

    settings = {**DEFAULTS, **settings}
    root = Path(cache_root) if cache_root is not None else _default_cache_root()
    warm = {k: settings[k] for k in WARM_KEYS}
    key = _key({"recipe": _WARM_RECIPE, "tiny": RECIPE_VERSION, **warm})
    folder = root / "lab" / f"warmstart-{key}"
    info_path = folder / "warmstart.json"
    if heldout is None or train is None:
        train, heldout = make_splits(settings["n_train"], settings["n_heldout"], settings["data_seed"])
    if info_path.is_file():
        info = json.loads(info_path.read_text())
        if info.get("n_heldout") != len(heldout) or info.get("max_new_tokens") != settings["max_completion_length"]:
            model, tokenizer = _load(folder)
            info["accuracy"] = round(greedy_accuracy(model, tokenizer, heldout, settings["max_completion_length"],
                                                     settings["eval_batch_size"]), 4)
            info["n_heldout"], info["max_new_tokens"] = len(heldout), settings["max_completion_length"]
        info["cached"] = True
        return folder, info

    _log(f"warm start {key}: training the tiny model on {len(train)} problems")
    tokenizer = load_tiny_tokenizer(tiny_model_dir(root))
    start = time.perf_counter()
    model = build_tiny_model(tokenizer, seed=settings["model_seed"], **settings["model_overrides"])
    stats = _supervised(model, tokenizer, train, settings)
    wall = time.perf_counter() - start
    accuracy = greedy_accuracy(model, tokenizer, heldout, settings["max_completion_length"], settings["eval_batch_size"])
    info = {
        "key": key,
        "settings": warm,
        "parameters": sum(p.numel() for p in model.parameters()),
        **stats,
        "wall_s": round(wall, 2),
        "accuracy": round(accuracy, 4),
        "n_heldout": len(heldout),
        "max_new_tokens": settings["max_completion_length"],
        "torch_threads": torch.get_num_threads(),
    }
    folder.parent.mkdir(parents=True, exist_ok=True)
    import transformers

    transformers.utils.logging.disable_progress_bar()  # no "Writing model shards" bar in the progress lines
    tmp = Path(tempfile.mkdtemp(prefix=f".warmstart-{key}-", dir=folder.parent))
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / "warmstart.json").write_text(json.dumps(info, indent=2) + "\n")
        try:
            tmp.rename(folder)
        except OSError:
            if not info_path.is_file():  # not a concurrent builder that finished first
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    _log(f"warm start {key}: {stats['steps']} steps in {wall:.0f} s, held-out accuracy {accuracy:.1f}%")
    info["cached"] = False
    return folder, info


def _load(folder: Path):
    """Model and tokenizer of a warm-start folder (the tokenizer as PreTrainedTokenizerFast, left-padded)."""
    import torch
    import transformers
    from transformers import Qwen2ForCausalLM

    from srgrpo.tiny import load_tiny_tokenizer

    transformers.utils.logging.disable_progress_bar()  # one "Loading weights" bar per run is noise here
    model = Qwen2ForCausalLM.from_pretrained(folder, dtype=torch.float32)
    return model, load_tiny_tokenizer(folder)


# ---------------------------------------------------------------------------------------------------------------
# RL
# ---------------------------------------------------------------------------------------------------------------

_CONTROL_CLASS = None


def control_trainer_class():
    """``ControlGRPOTrainer``: :class:`srgrpo.SRGRPOTrainer` with a lab method's advantages (the controls).

    Built on first use (importing TRL is slow). It overrides the trainer's one advantage hook,
    ``compute_advantages(rewards, num_generations)``, with
    :func:`srgrpo.lab.methods.method_advantages`, so gathering, slicing and logging stay
    ``SRGRPOTrainer``'s (its ``soft_advantage_mean``/``_std`` metrics then describe the control's
    advantages). Pass ``lab_method`` (``"constant"`` or ``"random_reward"``, or ``"grpo"``) and
    ``lab_seed`` (seeds the fake rewards of ``random_reward``) as keyword arguments, and an
    :class:`srgrpo.SRGRPOConfig` as ``args`` (its ``tau`` and ``soft_advantage`` are unused).
    """
    global _CONTROL_CLASS
    if _CONTROL_CLASS is not None:
        return _CONTROL_CLASS
    import torch

    from srgrpo.trainer import SRGRPOTrainer

    class ControlGRPOTrainer(SRGRPOTrainer):
        _tag_names = ["trl", "grpo", "srgrpo-lab-control"]

        def __init__(self, *args, lab_method: str, lab_seed: int = 0, **kwargs):
            if lab_method in SOFT_METHODS:
                raise ValueError(f"{lab_method!r} needs a tau: run it with srgrpo.SRGRPOTrainer, not the control trainer.")
            method_advantages(lab_method, torch.zeros(2), 2)  # validates the method name
            self.lab_method = lab_method
            self._lab_generator = torch.Generator().manual_seed(lab_seed)
            super().__init__(*args, **kwargs)

        def compute_advantages(self, rewards: torch.Tensor, num_generations: int) -> torch.Tensor:
            return method_advantages(self.lab_method, rewards.float().cpu(), num_generations,
                                     generator=self._lab_generator)

    _CONTROL_CLASS = ControlGRPOTrainer
    return ControlGRPOTrainer


def _rl_args(method: str, tau: float | None, seed: int, settings: dict[str, Any], output_dir: str):
    """The trainer config of one run: the same fields for every method, plus tau and mode for SR-GRPO."""
    common = dict(
        output_dir=output_dir,
        use_cpu=True,
        bf16=False,
        gradient_checkpointing=False,
        report_to="none",
        save_strategy="no",
        logging_steps=1,
        disable_tqdm=True,
        log_level="error",
        seed=seed,
        max_steps=settings["rl_steps"],
        per_device_train_batch_size=settings["prompts_per_step"] * settings["num_generations"],
        gradient_accumulation_steps=1,
        num_generations=settings["num_generations"],
        max_completion_length=settings["max_completion_length"],
        temperature=settings["temperature"],
        learning_rate=settings["learning_rate"],
        lr_scheduler_type="constant_with_warmup",
        warmup_steps=settings["warmup_steps"],
        beta=settings["beta"],
        loss_type=settings["loss_type"],
        num_iterations=settings["num_iterations"],
        mask_truncated_completions=settings["mask_truncated_completions"],
        scale_rewards="group",
        optim="adamw_torch",
        dataloader_num_workers=0,
    )
    if method == "grpo":
        from trl import GRPOConfig

        return GRPOConfig(**common)
    from srgrpo.config import SRGRPOConfig

    if method in SOFT_METHODS:
        return SRGRPOConfig(**common, tau=tau, soft_advantage=method)
    return SRGRPOConfig(**common)  # a control: ControlGRPOTrainer ignores tau and soft_advantage


def run_rl(method: str, tau: float | None, seed: int, warm_dir: str | os.PathLike, train_dataset,
           heldout: Sequence[dict[str, Any]], settings: dict[str, Any], work_dir: str | os.PathLike | None = None
           ) -> dict[str, Any]:
    """One RL run from the warm start: train, then measure greedy held-out accuracy.

    Returns ``{"after", "rl_s", "eval_s", "wall_s", "steps", "curve": {"step", "reward"}}``
    (``after`` in percent; ``curve`` the mean training reward of each logged step).
    """
    import transformers

    from srgrpo.rewards import correctness_reward

    settings = {**DEFAULTS, **settings}
    transformers.logging.set_verbosity_error()
    start = time.perf_counter()
    model, tokenizer = _load(Path(warm_dir))
    with tempfile.TemporaryDirectory(prefix="rl-", dir=work_dir) as out, warnings.catch_warnings():
        # transformers 5 renamed gradient_checkpointing; TRL's config still sets it. Not ours to fix.
        warnings.filterwarnings("ignore", message=".*gradient_checkpointing.*", category=FutureWarning)
        args = _rl_args(method, tau, seed, settings, out)
        kwargs = dict(model=model, reward_funcs=[correctness_reward], args=args, train_dataset=train_dataset,
                      processing_class=tokenizer)
        if method == "grpo":
            from trl import GRPOTrainer

            trainer = GRPOTrainer(**kwargs)
        elif method in SOFT_METHODS:
            from srgrpo.trainer import SRGRPOTrainer

            trainer = SRGRPOTrainer(**kwargs)
        else:
            trainer = control_trainer_class()(**kwargs, lab_method=method, lab_seed=seed)
        # With disable_tqdm, transformers prints every log dict to stdout; the curve is read from
        # log_history instead, and stdout is kept for the table.
        trainer.remove_callback(transformers.trainer_callback.PrinterCallback)
        trainer.train()
        rl_s = time.perf_counter() - start
        history = trainer.state.log_history
        steps = trainer.state.global_step
    curve = [(h["step"], h["reward"]) for h in history if "reward" in h and h.get("reward") is not None]
    eval_start = time.perf_counter()
    after = greedy_accuracy(trainer.model, tokenizer, heldout, settings["max_completion_length"],
                            settings["eval_batch_size"])
    eval_s = time.perf_counter() - eval_start
    return {
        "after": round(after, 4),
        "rl_s": round(rl_s, 2),
        "eval_s": round(eval_s, 2),
        "wall_s": round(time.perf_counter() - start, 2),
        "steps": steps,
        "curve": {"step": [s for s, _ in curve], "reward": [round(r, 5) for _, r in curve]},
    }


# ---------------------------------------------------------------------------------------------------------------
# The comparison
# ---------------------------------------------------------------------------------------------------------------


def _interval(values: Sequence[float], digits: int = 3) -> dict[str, float | None]:
    mean, low, high = mean_ci95(values)

    def r(x: float) -> float | None:
        return round(x, digits) if math.isfinite(x) else None

    return {"mean": r(mean), "low": r(low), "high": r(high), "n": len(values)}


def _mean_curve(curves: Sequence[dict[str, list]]) -> dict[str, list]:
    """Mean reward per step over seeds, with the 95% interval where at least two seeds logged the step."""
    by_step: dict[int, list[float]] = {}
    for curve in curves:
        for step, reward in zip(curve["step"], curve["reward"]):
            by_step.setdefault(int(step), []).append(float(reward))
    steps = sorted(by_step)
    out: dict[str, list] = {"step": steps, "mean": [], "low": [], "high": []}
    for step in steps:
        interval = _interval(by_step[step], digits=5)
        for name in ("mean", "low", "high"):
            out[name].append(interval[name])
    return out


def runs_wall_s(runs: dict[str, Any]) -> float:
    """Seconds spent in all finished RL runs (training and evaluation), resumed ones included."""
    return round(sum(d["wall_s"] for run in runs.values() for d in run["per_seed"].values()), 2)


def summarise_runs(runs: dict[str, Any], seeds: Sequence[int]) -> None:
    """Fill in each run's intervals over the seeds it has finished (in place)."""
    for run in runs.values():
        done = [run["per_seed"][str(s)] for s in seeds if str(s) in run["per_seed"]]
        run["complete"] = len(done) == len(seeds)
        if not done:
            continue
        for name in ("before", "after", "change", "wall_s"):
            run[name] = _interval([d[name] for d in done])
        run["curve"] = _mean_curve([d["curve"] for d in done])


def _config(settings: dict[str, Any], grid, seeds: Sequence[int]) -> dict[str, Any]:
    from srgrpo.tiny import RECIPE_VERSION

    run_key = _key({
        "recipe": _RL_RECIPE,
        "tiny": RECIPE_VERSION,
        "warm": {k: settings[k] for k in WARM_KEYS},
        "rl": {k: settings[k] for k in RL_KEYS},
        "n_train": settings["n_train"],
        "data_seed": settings["data_seed"],
    })
    return {
        **settings,
        "methods": list(dict.fromkeys(m for m, _, _ in grid)),
        "taus": sorted({t for _, t, _ in grid if t is not None}),
        "seeds": len(seeds),
        "seed_list": list(seeds),
        "run_key": run_key,
    }


def compare_arithmetic(
    methods: Sequence[str] = METHODS,
    taus: Sequence[float] = DEFAULT_TAUS,
    seeds: int | Sequence[int] = 3,
    settings: dict[str, Any] | None = None,
    *,
    output: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
    metadata: dict[str, Any] | None = None,
    progress: Callable[[str], None] | None = _log,
) -> dict[str, Any]:
    """Warm-start once, then run every method x tau x seed with the same budget; summarise.

    Args:
        methods, taus: expanded by :func:`srgrpo.lab.methods.method_grid`.
        seeds: how many seeds (``0..seeds-1``) or the seeds themselves; each seeds TRL's sampling
            and data order, and the random rewards of ``random_reward``.
        settings: overrides of :data:`DEFAULTS`.
        output: if given, the JSON file written atomically after every finished run; if it
            already holds runs of the same settings (``config["run_key"]``), those are kept and
            not run again.
        cache_dir: root of the cache (default ``$SRGRPO_CACHE`` or the repo's ``.cache``).
        metadata: stored under ``"metadata"`` (e.g. :func:`srgrpo.lab.results.run_metadata`).
        progress: called with one line per event (``None``: silent).

    Returns:
        The summary described in the module docstring (without ``"png"``).
    """
    unknown = set(settings or {}) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"unknown arithmetic settings: {sorted(unknown)}; known: {sorted(DEFAULTS)}.")
    settings = {**DEFAULTS, **(settings or {})}
    _check_settings(settings)
    seed_list = list(range(seeds)) if isinstance(seeds, int) else [int(s) for s in seeds]
    if not seed_list:
        raise ValueError("seeds must be at least 1.")
    grid = method_grid(methods, taus)
    say = progress or (lambda message: None)
    config = _config(settings, grid, seed_list)
    root = Path(cache_dir) if cache_dir is not None else _default_cache_root()

    previous: dict[str, Any] = {}
    if output is not None and Path(output).is_file():
        try:
            old = json.loads(Path(output).read_text())
        except (OSError, ValueError):
            old = {}
        if old.get("config", {}).get("run_key") == config["run_key"]:
            previous = old.get("runs", {})
        elif old:
            say(f"{output} holds results of other settings; they will be replaced")

    start = time.perf_counter()
    with _threads(settings["threads"]):
        train, heldout = make_splits(settings["n_train"], settings["n_heldout"], settings["data_seed"])
        warm_dir, warm_info = warm_start(settings, root, heldout=heldout, train=train)
        say(f"warm start: {warm_info['accuracy']:.1f}% held-out accuracy "
            f"({'cached' if warm_info['cached'] else 'trained in %.0f s' % warm_info['wall_s']})")
        from datasets import Dataset

        dataset = Dataset.from_dict({
            "prompt": [format_prompt(p["question"]) for p in train],
            "answer": [p["answer"] for p in train],
        })
        summary: dict[str, Any] = {
            "experiment": "arithmetic",
            "metadata": metadata or {},
            "config": config,
            "seeds": seed_list,
            "warm_start": {
                "key": warm_info["key"], "path": str(warm_dir), "accuracy": warm_info["accuracy"],
                "steps": warm_info["steps"], "wall_s": warm_info["wall_s"], "final_loss": warm_info["final_loss"],
                "parameters": warm_info.get("parameters"), "cached": warm_info["cached"],
            },
            "runs": {},
        }
        before = warm_info["accuracy"]
        total = len(grid) * len(seed_list)
        index = 0
        for method, tau, label in grid:
            run = summary["runs"].setdefault(label, {
                "label": label, "method": method, "tau": tau, "control": method in CONTROL_METHODS,
                "complete": False, "per_seed": {},
            })
            for seed in seed_list:
                index += 1
                done = previous.get(label, {}).get("per_seed", {}).get(str(seed))
                if done is not None:
                    run["per_seed"][str(seed)] = done
                    say(f"[{index}/{total}] {label} seed {seed}: skipped (already in {output})")
                    continue
                work = root / "lab" / "runs"
                work.mkdir(parents=True, exist_ok=True)
                result = run_rl(method, tau, seed, warm_dir, dataset, heldout, settings, work_dir=work)
                run["per_seed"][str(seed)] = {
                    "seed": seed, "before": before, **result, "change": round(result["after"] - before, 4),
                }
                say(f"[{index}/{total}] {label} seed {seed}: {before:.1f}% -> {result['after']:.1f}% "
                    f"({result['after'] - before:+.1f} points), final reward "
                    f"{result['curve']['reward'][-1] if result['curve']['reward'] else float('nan'):.3f}, "
                    f"{result['wall_s']:.0f} s")
                summarise_runs(summary["runs"], seed_list)
                summary["wall_s"] = round(time.perf_counter() - start, 2)
                summary["runs_wall_s"] = runs_wall_s(summary["runs"])
                if output is not None:
                    write_json(output, summary)
        summarise_runs(summary["runs"], seed_list)
    summary["wall_s"] = round(time.perf_counter() - start, 2)
    summary["runs_wall_s"] = runs_wall_s(summary["runs"])
    return summary


def _check_settings(settings: dict[str, Any]) -> None:
    def positive_int(name, minimum=1):
        value = settings[name]
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}.")

    for name in ("n_train", "n_heldout", "warm_batch_size", "rl_steps", "prompts_per_step", "max_completion_length",
                 "eval_batch_size", "num_iterations"):
        positive_int(name)
    for name in ("data_seed", "model_seed", "warm_steps", "warm_warmup_steps", "warmup_steps"):
        positive_int(name, 0)
    positive_int("num_generations", 2)
    if settings["threads"] is not None:
        positive_int("threads")
    for name in ("warm_lr", "learning_rate", "temperature"):
        if not (isinstance(settings[name], (int, float)) and math.isfinite(settings[name]) and settings[name] > 0):
            raise ValueError(f"{name} must be a finite number > 0, got {settings[name]!r}.")
    if not (math.isfinite(settings["beta"]) and settings["beta"] >= 0):
        raise ValueError(f"beta must be >= 0, got {settings['beta']!r}.")
    if not (isinstance(settings["warm_flaw"], (int, float)) and 0.0 <= settings["warm_flaw"] <= 1.0):
        raise ValueError(f"warm_flaw must be a share between 0 and 1, got {settings['warm_flaw']!r}.")
    if settings["warm_seconds"] is not None and not settings["warm_seconds"] > 0:
        raise ValueError(f"warm_seconds must be > 0 (or None), got {settings['warm_seconds']!r}.")
    if not isinstance(settings["model_overrides"], dict):
        raise ValueError("model_overrides must be a dict of Qwen2Config fields.")


# ---------------------------------------------------------------------------------------------------------------
# Figures and table
# ---------------------------------------------------------------------------------------------------------------


def _taus(summary: dict[str, Any]) -> list[float]:
    return sorted({r["tau"] for r in summary["runs"].values() if r["method"] in SOFT_METHODS})


def _smoothed(values: list, window: int) -> list:
    """Trailing moving average over ``window`` points (``None`` where any value in it is missing)."""
    if window <= 1:
        return list(values)
    out = []
    for i in range(len(values)):
        chunk = values[max(0, i - window + 1) : i + 1]
        out.append(None if any(v is None for v in chunk) else sum(chunk) / len(chunk))
    return out


def plot_arithmetic_curves(summary: dict[str, Any], path=None, *, ax=None, tau: float | None = None,
                           bands: bool = True, smooth: int = 1, title: str | None = None):
    """Mean training reward per RL step of every run (95% band over seeds).

    GRPO and the controls are drawn in every panel; with both soft methods present and no ``ax``
    given, ``shared`` and ``per_sample`` get a panel each, so eleven curves stay readable.

    Args:
        summary: what :func:`compare_arithmetic` returned, or the JSON read back.
        path: if given, save the figure there.
        ax: draw every run into these axes instead of a new figure.
        tau: draw the soft methods at this temperature only (GRPO and the controls always).
        bands: shade each curve's 95% interval over seeds.
        smooth: trailing moving average over this many steps (1: none), for mean and band alike.
        title: the figure's title (default: the run's size).

    Returns:
        The ``matplotlib.figure.Figure`` (built without pyplot).
    """
    from matplotlib.figure import Figure

    from srgrpo.lab.bandit import _same_tau, _style

    taus = _taus(summary)
    runs = [r for r in summary["runs"].values() if r.get("curve")]
    if tau is not None:
        runs = [r for r in runs if r["method"] not in SOFT_METHODS or _same_tau(r["tau"], float(tau))]
    families = [m for m in SOFT_METHODS if any(r["method"] == m for r in runs)]
    if ax is not None:
        fig, panels = ax.figure, [(ax, runs)]
    else:
        groups = [[r for r in runs if r["method"] not in SOFT_METHODS or r["method"] == f] for f in families] or [runs]
        fig = Figure(figsize=(7 * len(groups), 5), layout="constrained")
        axes = fig.subplots(1, len(groups), sharey=True, squeeze=False)[0]
        panels = list(zip(axes, groups))
    top = 0.0
    for axis, group in panels:
        for run in group:
            curve = run["curve"]
            style = _style(run, taus)
            label = run["label"] + (" (control)" if run.get("control") else "")
            mean = _smoothed(curve["mean"], smooth)
            axis.plot(curve["step"], mean, label=label, **style)
            top = max([top] + [v for v in mean if v is not None])
            low, high = _smoothed(curve["low"], smooth), _smoothed(curve["high"], smooth)
            if bands and low and all(v is not None for v in low + high):
                axis.fill_between(curve["step"], low, high, color=style["color"], alpha=0.06, linewidth=0)
                top = max([top] + high)
        axis.set_xlabel("RL step")
        axis.grid(alpha=0.3)
        if group:
            axis.legend(fontsize=7, loc="upper left", ncol=2 if len(group) > 6 else 1)
    panels[0][0].set_ylabel("mean training reward (fraction correct)" + (f", {smooth}-step average" if smooth > 1 else ""))
    panels[0][0].set_ylim(0, min(1.02, 1.15 * top + 0.02) if top > 0 else 1.02)
    cfg = summary.get("config", {})
    if title is None and cfg:
        title = (f"Arithmetic, tiny LM: {cfg.get('prompts_per_step')} prompts x {cfg.get('num_generations')} samples "
                 f"per step, lr {cfg.get('learning_rate')}, T={cfg.get('temperature')}, {cfg.get('seeds')} seeds "
                 "(mean, 95% band)")
    if title:
        if ax is None:
            fig.suptitle(title, fontsize=10)
        else:
            ax.set_title(title, fontsize=9)
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig


def plot_arithmetic_accuracy(summary: dict[str, Any], path=None, *, ax=None, title: str | None = None):
    """Held-out greedy accuracy after RL per run (mean and 95% interval), against the warm start.

    The warm start's accuracy (the "before" of every run) is the dashed line. Returns the
    ``matplotlib.figure.Figure`` (built without pyplot); ``path`` saves it.
    """
    from matplotlib.figure import Figure

    from srgrpo.lab.bandit import _style

    taus = _taus(summary)
    runs = [r for r in summary["runs"].values() if r.get("after")]
    if ax is None:
        fig = Figure(figsize=(8, 0.9 + 0.38 * max(len(runs), 1)), layout="constrained")
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    for y, run in enumerate(runs):
        after = run["after"]
        style = _style(run, taus)
        ax.barh(y, after["mean"], color=style["color"], alpha=0.75, height=0.6)
        if after["low"] is not None:
            ax.errorbar(after["mean"], y, xerr=[[after["mean"] - after["low"]], [after["high"] - after["mean"]]],
                        fmt="none", ecolor="black", capsize=3, linewidth=1)
        seeds = [d["after"] for d in run["per_seed"].values()]
        ax.plot(seeds, [y] * len(seeds), "o", color="black", markersize=2.5, alpha=0.6)
    before = summary.get("warm_start", {}).get("accuracy")
    if before is not None:
        ax.axvline(before, color="0.3", linestyle="--", linewidth=1, label=f"warm start (before RL): {before:.1f}%")
        ax.legend(fontsize=8, loc="lower right")
    ax.set_yticks(range(len(runs)), [r["label"] + (" (control)" if r.get("control") else "") for r in runs],
                  fontsize=8)
    ax.invert_yaxis()
    highest = [before or 0.0] + [v for r in runs for v in [r["after"]["high"] or r["after"]["mean"]]]
    highest += [d["after"] for r in runs for d in r["per_seed"].values()]
    ax.set_xlim(0, min(100.0, 1.15 * max(highest) + 2))
    ax.set_xlabel("held-out greedy accuracy after RL (%), mean and 95% interval over seeds (dots: seeds)")
    cfg = summary.get("config", {})
    if title is None and cfg:
        title = f"Arithmetic, tiny LM: {cfg.get('rl_steps')} RL steps from the same warm start, {cfg.get('seeds')} seeds"
    if title:
        ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3, axis="x")
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig


def format_table(summary: dict[str, Any]) -> str:
    """Plain-text table: held-out accuracy before, after [95% interval], change [interval], seconds per run."""

    def cell(interval, signed=False):
        if not interval:
            return "-"
        fmt = "{:+.1f}" if signed else "{:.1f}"
        text = fmt.format(interval["mean"])
        if interval.get("low") is not None:
            text += f" [{fmt.format(interval['low'])}, {fmt.format(interval['high'])}]"
        return text

    runs = list(summary["runs"].values())
    width = max([len("method")] + [len(r["label"]) + (10 if r.get("control") else 0) for r in runs])
    head = (f"{'method':<{width}}  {'before %':>8}  {'after % [95% CI]':>22}  {'change pts [95% CI]':>24}"
            f"  {'s/run':>6}  seeds")
    lines = [head, "-" * len(head)]
    for run in runs:
        label = run["label"] + (" (control)" if run.get("control") else "")
        before = run.get("before", {}).get("mean") if run.get("before") else None
        wall = run.get("wall_s", {}).get("mean") if run.get("wall_s") else None
        lines.append(
            f"{label:<{width}}  {before if before is None else f'{before:.1f}':>8}  {cell(run.get('after')):>22}  "
            f"{cell(run.get('change'), signed=True):>24}  {'-' if wall is None else f'{wall:.0f}':>6}  "
            f"{len(run['per_seed'])}"
        )
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------------------------


def _png_paths(output: Path) -> dict[str, Path]:
    stem = output.with_suffix("")
    return {"curves": Path(f"{stem}-curves.png"), "accuracy": Path(f"{stem}-accuracy.png")}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Fill in the ``arithmetic`` subcommand's options."""
    d = DEFAULTS
    parser.add_argument("--output", required=True, type=Path, help="results JSON to write (PNGs go beside it)")
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS), metavar="METHOD",
                        help=f"advantage methods (default: all of {', '.join(METHODS)})")
    parser.add_argument("--taus", nargs="+", type=float, default=list(DEFAULT_TAUS), metavar="TAU",
                        help="temperatures of the soft methods (default: %(default)s)")
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 per method (default: %(default)s)")
    parser.add_argument("--cache_dir", type=Path, default=None,
                        help="cache root for the tiny model and warm starts (default: $SRGRPO_CACHE or <repo>/.cache)")
    group = parser.add_argument_group("task")
    group.add_argument("--n_train", type=int, default=d["n_train"], help="training problems (default: %(default)s)")
    group.add_argument("--n_heldout", type=int, default=d["n_heldout"], help="held-out problems (default: %(default)s)")
    group.add_argument("--data_seed", type=int, default=d["data_seed"], help="problem generator seed (default: %(default)s)")
    group = parser.add_argument_group("model and warm start")
    group.add_argument("--model_overrides", type=json.loads, default=d["model_overrides"],
                       help="Qwen2Config fields of the tiny model as JSON, e.g. '{\"hidden_size\": 128}' "
                            "(default: srgrpo.tiny.TINY_CONFIG)")
    group.add_argument("--model_seed", type=int, default=d["model_seed"], help="initialisation seed (default: %(default)s)")
    group.add_argument("--warm_steps", type=int, default=d["warm_steps"],
                       help="supervised steps of the warm start (default: %(default)s)")
    group.add_argument("--warm_seconds", type=float, default=d["warm_seconds"],
                       help="train the warm start for this many seconds instead of --warm_steps")
    group.add_argument("--warm_batch_size", type=int, default=d["warm_batch_size"], help="(default: %(default)s)")
    group.add_argument("--warm_lr", type=float, default=d["warm_lr"], help="(default: %(default)s)")
    group.add_argument("--warm_flaw", type=float, default=d["warm_flaw"],
                       help="share of warm-start demonstrations whose final line repeats the last equation's first "
                            "number instead of its result (see srgrpo.lab.tasks.flawed_solution; default: %(default)s)")
    group = parser.add_argument_group("RL (the same for every method)")
    group.add_argument("--rl_steps", type=int, default=d["rl_steps"], help="optimizer steps per run (default: %(default)s)")
    group.add_argument("--prompts_per_step", type=int, default=d["prompts_per_step"], help="(default: %(default)s)")
    group.add_argument("--num_generations", type=int, default=d["num_generations"],
                       help="completions per prompt, the group size K (default: %(default)s)")
    group.add_argument("--learning_rate", type=float, default=d["learning_rate"], help="(default: %(default)s)")
    group.add_argument("--warmup_steps", type=int, default=d["warmup_steps"], help="(default: %(default)s)")
    group.add_argument("--temperature", type=float, default=d["temperature"], help="sampling temperature (default: %(default)s)")
    group.add_argument("--beta", type=float, default=d["beta"], help="KL coefficient (default: %(default)s)")
    group.add_argument("--loss_type", default=d["loss_type"], help="TRL loss type (default: %(default)s)")
    group.add_argument("--num_iterations", type=int, default=d["num_iterations"],
                       help="updates per generated batch (default: %(default)s)")
    group.add_argument("--mask_truncated_completions", action=argparse.BooleanOptionalAction,
                       default=d["mask_truncated_completions"], help="(default: %(default)s)")
    group.add_argument("--max_completion_length", type=int, default=d["max_completion_length"],
                       help="tokens per completion, also the held-out evaluation's limit (default: %(default)s)")
    group.add_argument("--threads", type=int, default=d["threads"], help="torch threads (default: %(default)s)")


def main(args: argparse.Namespace) -> int:
    """Run the comparison from parsed arguments; write the JSON, the PNGs and print a table."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    settings = {k: getattr(args, k) for k in DEFAULTS if k not in ("warm_warmup_steps", "eval_batch_size")}
    if args.seeds < 1:
        print("error: --seeds must be at least 1", file=sys.stderr)
        return 2
    start = time.perf_counter()
    try:
        summary = compare_arithmetic(args.methods, args.taus, args.seeds, settings, output=args.output,
                                     cache_dir=args.cache_dir, metadata=run_metadata())
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    pngs = _png_paths(args.output)
    # Per-step rewards of a few prompts are noisy; a short moving average makes trends readable.
    plot_arithmetic_curves(summary, pngs["curves"], smooth=3 if summary["config"]["rl_steps"] >= 10 else 1)
    plot_arithmetic_accuracy(summary, pngs["accuracy"])
    summary["png"] = {name: str(path) for name, path in pngs.items()}
    summary["wall_s"] = round(time.perf_counter() - start, 2)
    write_json(args.output, summary)
    print(format_table(summary))
    warm = summary["warm_start"]
    print(f"\nwarm start: {warm['accuracy']:.1f}% held-out accuracy, {warm['steps']} supervised steps in "
          f"{warm['wall_s']:.0f} s{' (cached)' if warm['cached'] else ''}; RL runs {summary['runs_wall_s']:.0f} s "
          f"in all; this invocation {summary['wall_s']:.0f} s")
    print(f"wrote {args.output}, {pngs['curves']} and {pngs['accuracy']}")
    return 0
