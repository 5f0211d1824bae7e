"""Notebook 1, ``01_soft_advantage``: the soft advantage worked through on one group, with a tau slider.

The numbers and text come from :mod:`srgrpo.plots.explain`, the figures from :mod:`srgrpo.plots.advantage_figures` (both
re-exported here, so the notebook imports from one place); this module adds the slider, :func:`advantage_explorer`.
"""

from __future__ import annotations

from typing import Sequence

import torch

from srgrpo.plots.advantage_figures import plot_advantages, plot_binary, plot_tau_sweep
from srgrpo.plots.explain import (
    advantage_limits,
    advantage_table,
    as_rewards,
    fmt,
    format_binary,
    format_credit,
    format_steps,
    format_tau_limits,
    tau_limits,
)
from srgrpo.notebook.setup import setup_notebook
from srgrpo.notebook.slider import FigureSlider, tau_slider

__all__ = [
    "advantage_explorer",
    "advantage_table",
    "fmt",
    "format_binary",
    "format_credit",
    "format_steps",
    "format_tau_limits",
    "tau_limits",
    "plot_advantages",
    "plot_binary",
    "plot_tau_sweep",
    "setup_notebook",
]


def advantage_explorer(
    rewards: Sequence[float] | torch.Tensor,
    tau: float = 0.5,
    *,
    tau_min: float = 0.05,
    tau_max: float = 3.0,
    step: float = 0.05,
) -> FigureSlider:
    """A ``FloatSlider`` for :math:`\\tau` that redraws :func:`plot_advantages` for one group (notebook 1).

    ``explorer.update(tau)`` returns :func:`advantage_table`'s numbers; the advantage axis is fixed
    over the slider's whole range so that moving it shows the bars change, not the scale.
    """
    r = as_rewards(rewards)
    n_steps = int(round((tau_max - tau_min) / step))
    ylim = advantage_limits(r, [tau_min + i * step for i in range(n_steps + 1)])
    return tau_slider(lambda t: plot_advantages(r, t, ylim=ylim), tau=tau, tau_min=tau_min, tau_max=tau_max,
                      step=step)
