"""SR-GRPO: Soft-Reward Group Relative Policy Optimization on top of TRL.

``srgrpo`` changes one thing in TRL's GRPO: how a group's rewards become advantages. The math is in
:mod:`srgrpo.advantages`; :class:`SRGRPOConfig` and :class:`SRGRPOTrainer` plug it into TRL's
``GRPOTrainer`` (or into Unsloth's rewrite of it, on a GPU with Unsloth installed).

The advantage functions are imported eagerly (they need only torch); the config and trainer are
imported on first use, because importing them imports TRL, and, on a CUDA machine with Unsloth
installed, Unsloth first (see :mod:`srgrpo.models.unsloth_compat`).
"""

from __future__ import annotations

import logging

from srgrpo.advantages import MODES, grpo_advantages, group_zscores, soft_advantages, soft_weights

# peft imports bitsandbytes wherever it is installed (the test environment, a GPU install), and on a CPU with
# AVX512-BF16 bitsandbytes then asks the Hugging Face hub for a CPU kernel; offline, it and the `kernels` library log
# two warnings to stderr, in every command and notebook that imports peft. The kit never needs that kernel (4-bit on a
# CPU is a check, and bitsandbytes falls back to its own), so only their errors are shown, unless a user set a level.
for _name in ("bitsandbytes", "kernels"):
    if logging.getLogger(_name).level == logging.NOTSET:
        logging.getLogger(_name).setLevel(logging.ERROR)
del _name

__version__ = "0.1.0"

__all__ = [
    "MODES",
    "grpo_advantages",
    "group_zscores",
    "soft_advantages",
    "soft_weights",
    "SRGRPOConfig",
    "SRGRPOTrainer",
    "__version__",
]

_LAZY = {"SRGRPOConfig": "srgrpo.config", "SRGRPOTrainer": "srgrpo.trainer"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'srgrpo' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
