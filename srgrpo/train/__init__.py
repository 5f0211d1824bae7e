"""``python -m srgrpo.train``: the training command, with its settings, presets, report and the main job.

- :mod:`srgrpo.train.command`: what the command does (parse, load, train, save; resume and Ctrl-C);
- :mod:`srgrpo.train.settings`: its flags (a dataclass and every field of :class:`srgrpo.SRGRPOConfig`) and the
  presets in ``presets/*.yaml`` (``tiny_cpu``, ``smollm2_cpu``, ``gsm8k_t4``), parsed by TRL's ``TrlParser``;
- :mod:`srgrpo.train.report`: what the command prints and writes around training (model card, next commands);
- :mod:`srgrpo.train.step_table`: the per-step table of rewards printed while training;
- :mod:`srgrpo.train.main_job`: the main job planned for this machine (which preset, which model, what is evaluated
  before and after); notebook 4 and ``python -m srgrpo`` run it.

This ``__init__`` imports nothing, so that importing :mod:`srgrpo.train.settings` alone (the presets, for notebook 2)
imports neither transformers nor TRL; import from the modules (``from srgrpo.train.command import main``).

May import: the core, :mod:`srgrpo.models`, :mod:`srgrpo.tasks`, :mod:`srgrpo.plumbing`, and (the main job only)
:mod:`srgrpo.eval_gsm8k`.
Imported by: :mod:`srgrpo.notebook`, ``python -m srgrpo``.
"""
