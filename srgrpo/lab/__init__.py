"""The learning lab: watch each advantage method learn, on a CPU, against controls.

The lab runs the same policy-gradient update with every advantage rule of
:mod:`srgrpo.lab.methods` (``grpo``, SR-GRPO's ``shared`` and ``per_sample`` forms at several
temperatures, and two controls that carry no information about correctness: ``constant`` and
``random_reward``) and reports how fast each one approaches the best achievable reward, with 95%
intervals over seeds.

- :mod:`srgrpo.lab.bandit.runs`: a contextual bandit with softmax policies and the exact policy
  gradient; the full comparison takes seconds (``python -m srgrpo.lab bandit --output FILE.json``).
- :mod:`srgrpo.lab.real.command`: the same comparison with the real trainers on a real pretrained model,
  SmolLM2-135M-Instruct, on synthetic word problems (``python -m srgrpo.lab real --workers 2``; about
  ten minutes a run on one CPU core). Settings in :mod:`srgrpo.lab.real.settings`, the task in
  :mod:`srgrpo.lab.real.task`, one run in :mod:`srgrpo.lab.real.runs`, the summary over seeds in
  :mod:`srgrpo.lab.real.comparison`, figures in :mod:`srgrpo.lab.real.figures`.
- :mod:`srgrpo.lab.results`: run metadata, Student-t intervals and atomic JSON writing, shared
  by every lab command.

- :mod:`srgrpo.lab.stability.command`: the declared stability experiment (``python -m srgrpo.lab stability``); what its
  declared test could see, simulated from its runs, in :mod:`srgrpo.lab.stability.power`
  (``python -m srgrpo.lab power``).
- :mod:`srgrpo.lab.recipe.command`: the declared recipe study for the main job (``python -m srgrpo.lab recipe``).
- :mod:`srgrpo.lab.wrong_work.command`: does RL make "right answer, wrong work" more common? The declared test over
  the main job's confirmation seeds (``python -m srgrpo.lab wrong_work``).

May import: the core, :mod:`srgrpo.models`, :mod:`srgrpo.cpu`, :mod:`srgrpo.tasks`, :mod:`srgrpo.eval_gsm8k` (scoring),
:mod:`srgrpo.plots` (the palette), :mod:`srgrpo.plumbing`. Never :mod:`srgrpo.train` (the lab builds its trainers
itself) nor the notebook glue.
Imported by: :mod:`srgrpo.notebook` (notebooks 2 and 3).

Quick start::

    from srgrpo.lab import compare_bandit, plot_bandit
    summary = compare_bandit(seeds=4, steps=150)
    plot_bandit(summary, tau=0.5)
"""

from srgrpo.lab.bandit.runs import DEFAULTS, THRESHOLD, bandit_taus, compare_bandit, format_table, plot_bandit, run_bandit
from srgrpo.lab.methods import CONTROL_METHODS, DEFAULT_TAUS, METHODS, SOFT_METHODS, method_advantages, method_grid
from srgrpo.lab.methods import method_label
from srgrpo.lab.results import mean_ci95, run_metadata, write_json

__all__ = [
    "DEFAULTS",
    "THRESHOLD",
    "run_bandit",
    "compare_bandit",
    "plot_bandit",
    "bandit_taus",
    "format_table",
    "METHODS",
    "SOFT_METHODS",
    "CONTROL_METHODS",
    "DEFAULT_TAUS",
    "method_advantages",
    "method_grid",
    "method_label",
    "mean_ci95",
    "run_metadata",
    "write_json",
]
