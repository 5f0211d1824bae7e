"""The kit's one palette: the colour and line style of every advantage method, in every figure.

GRPO is black, SR-GRPO's ``shared`` form blue (dashed in learning curves), its ``per_sample`` form orange, the
softmax weights green and the controls grey; a temperature keeps its shade whatever subset of runs is drawn, so a
slider does not repaint the legend. The figures of notebook 1 (:mod:`srgrpo.plots.advantage_figures`) and of the learning
lab (:mod:`srgrpo.lab.bandit.figures`, :mod:`srgrpo.lab.real.figures`) draw with it.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

__all__ = ["COLORS", "colormap", "method_style", "run_label", "same_tau"]

#: One colour per advantage rule (and for the softmax weights), shared by every figure.
COLORS: dict[str, str] = {"grpo": "black", "shared": "tab:blue", "per_sample": "tab:orange", "weights": "tab:green"}


def colormap(name: str):
    """A matplotlib colormap by name (``"Blues"``, ``"Oranges"``, ``"viridis"``), imported on first use."""
    from matplotlib import colormaps

    return colormaps[name]


def same_tau(a: float, b: float) -> bool:
    """Whether two temperatures are the same one (read back from JSON, ``0.1`` may differ in its last digit)."""
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def run_label(run: Mapping[str, Any]) -> str:
    """A lab run's legend label: its method label, marked ``(control)`` for the controls."""
    return run["label"] + (" (control)" if run.get("control") else "")


def method_style(run: Mapping[str, Any], taus: Sequence[float]) -> dict[str, Any]:
    """Line style of a lab run (``{"method", "tau"}``) among the summary's ``taus``: GRPO black, shared blue dashed,
    per_sample orange, controls grey (``constant`` dark and dotted with circles, ``random_reward`` light and dash-dotted
    with triangles); darker for a larger tau."""
    method = run["method"]
    if method == "grpo":
        return {"color": COLORS["grpo"], "linestyle": "-", "linewidth": 2.2}
    # The two controls learn nothing, so their curves lie on each other: two greys, two dash styles and two markers
    # (placed at alternate tenths of the axis, so neither hides the other's) tell them apart where they touch.
    if method == "constant":
        return {"color": "0.25", "linestyle": ":", "linewidth": 2.0, "marker": "o", "markersize": 4,
                "markevery": (0.0, 0.1)}
    if method == "random_reward":
        return {"color": "0.6", "linestyle": "-.", "linewidth": 1.6, "marker": "^", "markersize": 5,
                "markevery": (0.05, 0.1)}
    rank = next((i for i, t in enumerate(taus) if same_tau(t, run["tau"])), 0)
    shade = 0.45 + 0.5 * (rank / max(len(taus) - 1, 1))
    if method == "shared":
        return {"color": colormap("Blues")(shade), "linestyle": "--", "linewidth": 1.6}
    return {"color": colormap("Oranges")(shade), "linestyle": "-", "linewidth": 1.6}
