"""``python -m srgrpo.eval_gsm8k``: greedy evaluation of a model (and adapter) on GSM8K or the synthetic problems.

- :mod:`srgrpo.eval_gsm8k.command`: the command (back ends, batching, resuming an interrupted run, the summary);
- :mod:`srgrpo.eval_gsm8k.records`: one scored record a problem, the JSONL file that holds them, the summary's
  counts and intervals (the lab scores its held-out problems with the same function).

May import: :mod:`srgrpo.models`, :mod:`srgrpo.cpu` (greedy decoding), :mod:`srgrpo.tasks`, :mod:`srgrpo.plumbing`.
Imported by: the main job (:mod:`srgrpo.train.main_job`), the lab, notebook 4.
"""

from srgrpo.eval_gsm8k.command import evaluate, main, summary_line

__all__ = ["evaluate", "summary_line", "main"]
