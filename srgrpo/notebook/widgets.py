"""Where the notebooks' helpers used to live, kept so that ``from srgrpo.notebook.widgets import ...`` keeps working.

The helpers now live by what they are: the numbers and text of the soft advantage in :mod:`srgrpo.plots.explain`, its
figures in :mod:`srgrpo.plots.advantage_figures` (colours in :mod:`srgrpo.plots.palette`), the slider in
:mod:`srgrpo.notebook.slider`, notebook setup in :mod:`srgrpo.notebook.setup`, and each notebook's own helpers in
the module named for it under :mod:`srgrpo.notebook`. New code imports from there. (The helpers of the retired
from-scratch arithmetic lab went with it; notebook 3's are in :mod:`srgrpo.notebook.trainer_on_cpu`.)
"""

from __future__ import annotations

from srgrpo.plots.advantage_figures import plot_advantages, plot_binary, plot_tau_sweep
from srgrpo.plots.explain import advantage_table, as_rewards, binary_advantages, fmt, format_binary, format_credit
from srgrpo.plots.explain import format_steps, format_tau_limits, tau_limits
from srgrpo.notebook.advantage_lab import bandit_explorer, bandit_highlights
from srgrpo.notebook.setup import PRINT_FIGURE_KWARGS, in_colab, load_results, results_file, setup_notebook
from srgrpo.notebook.slider import FigureSlider
from srgrpo.notebook.soft_advantage import advantage_explorer
from srgrpo.plots.palette import COLORS

__all__ = [  # sorted
    "COLORS",
    "FigureSlider",
    "PRINT_FIGURE_KWARGS",
    "advantage_explorer",
    "advantage_table",
    "as_rewards",
    "bandit_explorer",
    "bandit_highlights",
    "binary_advantages",
    "fmt",
    "format_binary",
    "format_credit",
    "format_steps",
    "format_tau_limits",
    "in_colab",
    "load_results",
    "plot_advantages",
    "plot_binary",
    "plot_tau_sweep",
    "results_file",
    "setup_notebook",
    "tau_limits",
]
