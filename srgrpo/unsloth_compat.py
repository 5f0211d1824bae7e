"""Import order with Unsloth, made impossible to get wrong.

Unsloth speeds up TRL by *rewriting* it: at ``import unsloth`` on a CUDA machine, ``PatchFastRL``
reads ``GRPOTrainer``'s source, edits it as text, executes the result as ``UnslothGRPOTrainer`` and
rebinds ``trl.GRPOTrainer`` (and ``GRPOConfig``) to the rewritten classes. A subclass only gets
Unsloth's trainer if its base class is looked up *after* that rebinding; ``from trl import
GRPOTrainer`` before ``import unsloth`` silently keeps the slow, pristine class.

SR-GRPO therefore never lets the user choose: the first thing :mod:`srgrpo.config` and
:mod:`srgrpo.trainer` do is :func:`prepare_trl`, which imports Unsloth when it is installed and a
CUDA GPU is present, and only then looks the base classes up in TRL's own modules (not in names
that an earlier ``from trl import ...`` may have frozen). On a CPU, or with
``SRGRPO_DISABLE_UNSLOTH=1``, Unsloth is left alone and TRL's classes are used as they are.
"""

from __future__ import annotations

import importlib.util
import os
import sys

__all__ = ["unsloth_available", "prepare_trl", "grpo_base_classes", "unsloth_active"]

DISABLE_ENV = "SRGRPO_DISABLE_UNSLOTH"


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def unsloth_available() -> bool:
    """True when Unsloth is installed, a CUDA GPU is visible, and ``SRGRPO_DISABLE_UNSLOTH`` is not set."""
    if _truthy(os.environ.get(DISABLE_ENV)):
        return False
    if importlib.util.find_spec("unsloth") is None:
        return False
    import torch

    return torch.cuda.is_available()


def prepare_trl() -> bool:
    """Import Unsloth before anything reads TRL's classes, when Unsloth should be used.

    Returns True when Unsloth is (now) imported. Safe to call many times.
    """
    if "unsloth" in sys.modules:
        return True
    if unsloth_available():
        import unsloth  # noqa: F401  (the import itself patches TRL)

        return True
    return False


def grpo_base_classes() -> tuple[type, type]:
    """``(GRPOTrainer, GRPOConfig)`` as TRL exposes them *now*: Unsloth's rewrites when it patched TRL."""
    prepare_trl()
    from trl.trainer import grpo_config, grpo_trainer

    return grpo_trainer.GRPOTrainer, grpo_config.GRPOConfig


def unsloth_active() -> bool:
    """True when TRL's ``GRPOTrainer`` is currently Unsloth's rewrite."""
    if "unsloth" not in sys.modules:
        return False
    trainer_cls, _ = grpo_base_classes()
    return "unsloth" in trainer_cls.__name__.lower() or "unsloth" in (trainer_cls.__module__ or "").lower()
