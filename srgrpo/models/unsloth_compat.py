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

A model that Unsloth's loader did not load (the tiny model, ``use_unsloth: never``, any plain transformers or peft
model) lacks the ``for_training`` / ``for_inference`` methods that Unsloth's rewritten trainer calls around
generation; :func:`ensure_unsloth_model_methods` (called by :class:`srgrpo.SRGRPOTrainer`) attaches Unsloth's own
``FastBaseModel.for_training`` / ``for_inference`` to such a model when, and only when, TRL's trainer is Unsloth's.
"""


from __future__ import annotations

import importlib.util
import sys

from srgrpo.plumbing.runtime import env_flag

__all__ = ["unsloth_available", "prepare_trl", "grpo_base_classes", "unsloth_active", "ensure_unsloth_model_methods"]

DISABLE_ENV = "SRGRPO_DISABLE_UNSLOTH"


def unsloth_available() -> bool:
    """True when Unsloth is installed, a CUDA GPU is visible, and ``SRGRPO_DISABLE_UNSLOTH`` is not set."""
    if env_flag(DISABLE_ENV):
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


def ensure_unsloth_model_methods(model) -> bool:
    """Give ``model`` the ``for_training`` / ``for_inference`` methods Unsloth's rewritten trainer calls.

    Unsloth's ``FastLanguageModel.from_pretrained`` binds ``FastBaseModel.for_training`` and ``for_inference`` onto
    the model and every ``.model`` below it; the rewritten ``_generate_and_score_completions`` then calls them, so a
    model loaded by plain transformers fails with ``'Qwen2ForCausalLM' object has no attribute 'for_training'``.
    This binds the same functions the same way. It does nothing (and returns False) when TRL's trainer is not
    Unsloth's, when ``model`` is not a module (a model name, which TRL loads itself), or when the model already has
    both methods. Returns True when it attached them.
    """
    if model is None or isinstance(model, str) or not hasattr(model, "parameters"):
        return False
    if hasattr(model, "for_training") and hasattr(model, "for_inference"):
        return False
    if not unsloth_active():
        return False
    import functools

    try:
        from unsloth.models.vision import FastBaseModel

        for_training, for_inference = FastBaseModel.for_training, FastBaseModel.for_inference
    except (ImportError, AttributeError) as exc:
        raise RuntimeError(
            "SR-GRPO: an Unsloth internal moved: unsloth.models.vision.FastBaseModel.for_training / for_inference "
            f"({exc}). Unsloth's trainer calls model.for_training(), which a model not loaded by Unsloth lacks; "
            "load the model with FastLanguageModel.from_pretrained or use the Unsloth version pinned in "
            "requirements/colab-unsloth.txt."
        ) from exc
    m = model
    while True:
        m.for_training = functools.partial(for_training, m)
        m.for_inference = functools.partial(for_inference, m)
        if not hasattr(m, "model"):
            break
        m = m.model
    return True
