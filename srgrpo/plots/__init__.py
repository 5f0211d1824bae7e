"""The figures (and the tables beside them): they read logs, JSON and plain numbers, never a live trainer or model.

- :mod:`srgrpo.plots.training`: :func:`plot_training`, a run's curves from its ``trainer_state.json``;
- :mod:`srgrpo.plots.accuracy`: :func:`plot_accuracy`, evaluation summaries with their intervals;
- :mod:`srgrpo.plots.command`: ``python -m srgrpo.plots`` (runs and/or summaries to one image);
- :mod:`srgrpo.plots.explain`: the advantage math in numbers (tables and sentences of notebook 1);
- :mod:`srgrpo.plots.advantage_figures`: the advantage math in pictures (rewards to advantages, the tau sweep);
- :mod:`srgrpo.plots.palette`: one colour and one label per method, shared with the lab's figures.

May import: :mod:`srgrpo.advantages` (the math it draws), :mod:`srgrpo.tasks` (problem set names),
:mod:`srgrpo.plumbing`, matplotlib. Never the trainer, the config, the models, TRL or transformers.
Imported by: the lab, the notebooks' glue, notebook 4.
"""

from srgrpo.plots.accuracy import plot_accuracy
from srgrpo.plots.command import main
from srgrpo.plots.training import load_log_history, plot_training, training_panels

__all__ = ["plot_training", "plot_accuracy", "load_log_history", "training_panels", "main"]
