"""The settings of the arithmetic lab (:mod:`srgrpo.lab.arithmetic`), in one place: a dataclass per concern.

:class:`ArithmeticSettings` holds every setting of the experiment with its default and help; :data:`DEFAULTS` is the
same as a dict (what :func:`srgrpo.lab.arithmetic.compare_arithmetic` and notebook 3 read). :class:`ArithmeticCommand`
adds the options of ``python -m srgrpo.lab arithmetic`` that are not settings of the experiment (the output, the
methods, taus and seeds, the cache). The command line is built from these fields by ``transformers``'
``HfArgumentParser``, so an option, its type, default and help are written once.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, fields
from typing import Any

from srgrpo.lab.methods import DEFAULT_TAUS, METHODS

__all__ = ["JSONDict", "ArithmeticSettings", "ArithmeticCommand", "DEFAULTS", "WARM_KEYS", "RL_KEYS",
           "check_settings"]


class JSONDict(dict):
    """A dict that a command line gives as JSON text (``'{"hidden_size": 128}'``)."""

    def __init__(self, value: Any = (), /, **kwargs):
        super().__init__(json.loads(value) if isinstance(value, str) else value, **kwargs)


def _help(text: str) -> dict[str, str]:
    return {"help": text}


@dataclass
class ArithmeticSettings:
    """Every setting of the arithmetic lab: the task, the tiny model and its warm start, RL, the measurement."""

    # task
    n_train: int = field(default=20000, metadata=_help("training problems"))
    n_heldout: int = field(default=200, metadata=_help("held-out problems"))
    data_seed: int = field(default=0, metadata=_help("problem generator seed"))
    # model: the tiny Qwen2 of srgrpo.tiny with these size overrides, and the kit's tokenizer
    model_overrides: JSONDict = field(
        default_factory=lambda: {"num_hidden_layers": 2},
        metadata=_help("Qwen2Config fields of the tiny model as JSON, e.g. '{\"hidden_size\": 128}' (over "
                       "srgrpo.tiny.TINY_CONFIG)"),
    )
    model_seed: int = field(default=0, metadata=_help("initialisation seed"))
    # supervised warm start
    warm_steps: int = field(default=360, metadata=_help("supervised steps of the warm start"))
    warm_seconds: float | None = field(default=None,
                                       metadata=_help("train the warm start for this many seconds instead of steps"))
    warm_batch_size: int = field(default=32, metadata=_help("warm-start batch size"))
    warm_lr: float = field(default=2e-3, metadata=_help("warm-start learning rate"))
    warm_warmup_steps: int = field(default=30, metadata=_help("warm-start warm-up steps"))
    warm_flaw: float = field(
        default=0.6,
        metadata=_help("share of warm-start demonstrations whose final line repeats the last equation's first number "
                       "instead of its result (see srgrpo.lab.tasks.flawed_solution)"),
    )
    # RL
    rl_steps: int = field(default=20, metadata=_help("optimizer steps per run"))
    prompts_per_step: int = field(default=16, metadata=_help("prompts per RL step"))
    num_generations: int = field(default=8, metadata=_help("completions per prompt, the group size K"))
    learning_rate: float = field(default=3e-4, metadata=_help("RL learning rate"))
    warmup_steps: int = field(default=2, metadata=_help("RL warm-up steps"))
    temperature: float = field(default=0.7, metadata=_help("sampling temperature"))
    beta: float = field(default=0.0, metadata=_help("KL coefficient"))
    loss_type: str = field(default="dapo", metadata=_help("TRL loss type"))
    num_iterations: int = field(default=1, metadata=_help("updates per generated batch"))
    mask_truncated_completions: bool = field(default=False, metadata=_help("TRL's mask_truncated_completions"))
    max_completion_length: int = field(
        default=30, metadata=_help("tokens per completion, also the held-out evaluation's limit"))
    # measurement
    eval_batch_size: int = field(default=200, metadata=_help("held-out problems generated together"))
    threads: int | None = field(default=1, metadata=_help("torch threads"))

    def as_dict(self) -> dict[str, Any]:
        """The settings as a plain dict (``model_overrides`` a plain dict too)."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["model_overrides"] = dict(out["model_overrides"])
        return out


@dataclass
class ArithmeticCommand(ArithmeticSettings):
    """``python -m srgrpo.lab arithmetic``: the experiment's settings plus what to run and where to write."""

    output: str = field(default=None, metadata={"help": "results JSON to write (PNGs go beside it)", "required": True})
    methods: list[str] = field(default_factory=lambda: list(METHODS),
                               metadata={"help": "advantage methods", "choices": METHODS})
    taus: list[float] = field(default_factory=lambda: list(DEFAULT_TAUS),
                              metadata=_help("temperatures of the soft methods"))
    seeds: int = field(default=3, metadata=_help("seeds 0..N-1 per method"))
    cache_dir: str | None = field(
        default=None, metadata=_help("cache root for the tiny model and warm starts (default: $SRGRPO_CACHE or "
                                     "<repo>/.cache)"))

    def settings(self) -> dict[str, Any]:
        """The experiment's settings, without the command's own options."""
        own = ArithmeticSettings.as_dict(self)
        return {k: own[k] for k in DEFAULTS}


#: Default settings of the experiment, as a dict (see :class:`ArithmeticSettings`).
DEFAULTS: dict[str, Any] = ArithmeticSettings().as_dict()

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


def check_settings(settings: dict[str, Any]) -> None:
    """``ValueError`` naming the first setting out of its range (counts, seeds, rates, shares)."""

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
