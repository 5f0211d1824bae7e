"""``python -m srgrpo.train``: the training command, with its settings, presets, report and the main job.

- :mod:`srgrpo.train.command`: what the command does (parse, load, train, save; resume and Ctrl-C);
- :mod:`srgrpo.train.settings`: its flags (a dataclass and every field of :class:`srgrpo.SRGRPOConfig`) and the
  presets in ``presets/*.yaml`` (``tiny_cpu``, ``smollm2_cpu``, ``gsm8k_t4``), parsed by TRL's ``TrlParser``;
- :mod:`srgrpo.train.report`: what the command prints and writes around training (model card, next commands);
- :mod:`srgrpo.train.step_table`: the per-step table of rewards printed while training;
- :mod:`srgrpo.train.main_job`: the main job planned for this machine (which preset, which model, what is evaluated
  before and after); notebook 4 and ``python -m srgrpo`` run it.

The names below are this part's interface (``from srgrpo.train import main, parse_args``); they are imported on
first use, so that importing :mod:`srgrpo.train.settings` alone does not import transformers.

May import: the core, :mod:`srgrpo.models`, :mod:`srgrpo.tasks`, :mod:`srgrpo.plumbing`, and (the main job only)
:mod:`srgrpo.eval_gsm8k`.
Imported by: :mod:`srgrpo.notebook`, ``python -m srgrpo``.
"""

from __future__ import annotations

_LAZY = {
    "main": "srgrpo.train.command",
    "resolve_reward_funcs": "srgrpo.train.command",
    "parse_args": "srgrpo.train.settings",
    "available_presets": "srgrpo.train.settings",
    "preset_settings": "srgrpo.train.settings",
}

__all__ = list(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'srgrpo.train' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
