r"""Figures, tables and the tau slider of the kit's notebooks.

The notebooks only call what is here (and :mod:`srgrpo.lab`); every number they show comes from
:mod:`srgrpo.advantages`. Nothing in this module defines new math: it evaluates
``group_zscores``, ``soft_weights``, ``soft_advantages`` and ``grpo_advantages`` on small groups,
formats the results, and draws them.

Figures are built with :class:`matplotlib.figure.Figure` (never ``pyplot``), so they do not linger in
global state and a notebook shows one exactly where it asks for it.

The slider
----------
:class:`FigureSlider` ties a core ipywidgets slider to a function ``render(value) -> (Figure,
data)``. :meth:`FigureSlider.show` displays the slider and a *static* figure at once (so a
notebook viewer that runs no code still shows it); moving the slider calls
:meth:`FigureSlider.update`, which redraws and replaces the displayed image:

- in Jupyter (ipywidgets 8) through a display handle (``display(fig, display_id=True)`` then
  ``handle.update(fig)``);
- in Google Colab (ipywidgets 7.7) inside an ``Output`` widget, Colab's documented way.

Only core widgets whose API is the same in ipywidgets 7 and 8 are used (``FloatSlider``,
``SelectionSlider``, ``Output``, ``VBox``). :meth:`FigureSlider.update` is a plain method: tests
(and curious readers) call it with any value and get the plotted numbers back.
"""

from __future__ import annotations

import json
import logging
import math
import os
import sys
import warnings
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import torch

from srgrpo.advantages import grpo_advantages, group_zscores, soft_advantages, soft_weights, validate_tau

__all__ = [
    "COLORS",
    "setup_notebook",
    "in_colab",
    "results_file",
    "load_results",
    "as_rewards",
    "fmt",
    "advantage_table",
    "format_steps",
    "plot_advantages",
    "FigureSlider",
    "advantage_explorer",
    "tau_limits",
    "format_tau_limits",
    "plot_tau_sweep",
    "binary_advantages",
    "format_binary",
    "plot_binary",
    "format_credit",
    "bandit_explorer",
    "bandit_highlights",
    "show_problems",
    "arithmetic_data",
    "tiny_warm_start",
    "load_warm_start",
    "arithmetic_highlights",
    "arithmetic_explorer",
    "arithmetic_checks",
]

#: One colour per advantage rule, shared by every figure (the lab's figures use the same ones).
COLORS: dict[str, str] = {"grpo": "black", "shared": "tab:blue", "per_sample": "tab:orange", "weights": "tab:green"}

#: PNG options that keep a figure's bytes identical from run to run (no "Software" version chunk).
PRINT_FIGURE_KWARGS: dict[str, Any] = {"bbox_inches": "tight", "metadata": {"Software": None}}

# Libraries whose warnings and progress bars say nothing to a notebook reader.
_QUIET_MODULES = r"(torch|transformers|trl|peft|accelerate|datasets|huggingface_hub|tokenizers|bitsandbytes|unsloth|unsloth_zoo|tqdm|matplotlib|jupyter_client|ipywidgets|google)(\..*)?"
_QUIET_LOGGERS = ("transformers", "trl", "peft", "accelerate", "datasets", "huggingface_hub", "torch", "unsloth")


# ----------------------------------------------------------------------------------------------------------------
# Notebook setup and files
# ----------------------------------------------------------------------------------------------------------------


def in_colab() -> bool:
    """True inside Google Colab."""
    return "google.colab" in sys.modules


def setup_notebook(quiet_libraries: bool = True) -> None:
    """Prepare a notebook kernel for the kit; prints nothing.

    - inline matplotlib with PNG output whose bytes do not depend on the matplotlib version
      (``metadata={'Software': None}``), so re-executing an unchanged notebook gives an unchanged file;
    - known library warnings silenced (deprecations and notices of torch, transformers, TRL, ...),
      and those libraries' loggers set to errors only;
    - Hugging Face download and ``datasets.map`` progress bars switched off (a training run's own
      progress bar follows ``TQDM_DISABLE``, which the kit's test and execution commands set).

    Outside IPython only the warnings and loggers are configured.
    """
    if quiet_libraries:
        for category in (DeprecationWarning, FutureWarning, PendingDeprecationWarning, UserWarning, RuntimeWarning):
            warnings.filterwarnings("ignore", category=category, module=_QUIET_MODULES)
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=FutureWarning)
        for name in _QUIET_LOGGERS:
            logging.getLogger(name).setLevel(logging.ERROR)
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        if "datasets" in sys.modules:
            sys.modules["datasets"].disable_progress_bars()
        if "transformers" in sys.modules:
            from transformers.utils import logging as hf_logging

            hf_logging.set_verbosity_error()
            hf_logging.disable_progress_bar()
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython ships with Jupyter
        return
    shell = get_ipython()
    if shell is None or not hasattr(shell, "run_line_magic"):
        return
    try:
        shell.run_line_magic("matplotlib", "inline")
    except Exception:  # pragma: no cover - a shell without GUI support (plain InteractiveShell)
        pass
    _configure_png(shell)


def _configure_png(shell) -> None:
    """Show figures as PNG without the version-dependent ``Software`` chunk (see :func:`setup_notebook`)."""
    try:
        from IPython.core.pylabtools import select_figure_formats
        from matplotlib_inline.backend_inline import InlineBackend
    except ImportError:  # pragma: no cover - matplotlib-inline ships with ipykernel
        return
    cfg = InlineBackend.instance(parent=shell)
    cfg.print_figure_kwargs = dict(PRINT_FIGURE_KWARGS)
    # The inline backend registers its formatters only once: register them again with these options.
    select_figure_formats(shell, {"png"}, **PRINT_FIGURE_KWARGS)


def results_file(name: str) -> Path:
    """The path of a committed result, ``data/results/<name>``, wherever the notebook runs from.

    Looks in ``data/results`` under the current folder, under its parent (a notebook runs in
    ``notebooks/``), and next to this package's repository (an editable install).
    """
    candidates = [
        Path.cwd() / "data" / "results" / name,
        Path.cwd().parent / "data" / "results" / name,
        Path(__file__).resolve().parent.parent / "data" / "results" / name,
    ]
    for path in candidates:
        if path.is_file():
            return path
    raise FileNotFoundError(
        f"data/results/{name} not found (looked in {', '.join(str(p.parent) for p in candidates)}). "
        "Run the notebook from the kit's repository (a clone has the committed results), "
        "or regenerate the file with the command its notebook names."
    )


def load_results(name: str) -> dict[str, Any]:
    """Read a committed result JSON of ``data/results`` (see :func:`results_file`)."""
    with open(results_file(name), encoding="utf-8") as fh:
        return json.load(fh)


# ----------------------------------------------------------------------------------------------------------------
# One group, step by step
# ----------------------------------------------------------------------------------------------------------------


def as_rewards(rewards: Sequence[float] | torch.Tensor) -> torch.Tensor:
    """One group's rewards as a float64 tensor (float64 keeps printed digits identical across machines)."""
    return torch.as_tensor(rewards, dtype=torch.float64).reshape(-1).clone()


def fmt(values: Iterable[float] | torch.Tensor, digits: int = 3) -> str:
    """``[0.5, -1.25]`` with a fixed number of decimals, signs aligned: what the notebooks print."""
    if isinstance(values, torch.Tensor):
        values = values.tolist()
    out = []
    for v in values:
        s = f"{v:+.{digits}f}"
        if float(s) == 0:  # never print "-0.000"
            s = f"{0:+.{digits}f}"
        out.append(s.replace("+", " "))
    return "[" + ", ".join(out) + "]"


def advantage_table(rewards: Sequence[float] | torch.Tensor, tau: float) -> dict[str, Any]:
    """Every quantity of one group at one ``tau``, straight from :mod:`srgrpo.advantages`.

    Returns a dict of plain floats and lists: ``tau``, ``rewards``, ``mean``, ``std`` (Bessel),
    ``z``, ``weights`` (``soft_weights``), ``a_soft`` (the shared value), and the per-completion
    advantages ``shared``, ``per_sample`` (``soft_advantages`` in each mode) and ``grpo``
    (``grpo_advantages``).
    """
    tau = validate_tau(tau)
    r = as_rewards(rewards)
    k = r.numel()
    shared = soft_advantages(r, k, tau=tau, mode="shared")
    return {
        "tau": tau,
        "rewards": r.tolist(),
        "mean": r.mean().item(),
        "std": r.std().item(),
        "z": group_zscores(r, k).tolist(),
        "weights": soft_weights(r, k, tau=tau).tolist(),
        "a_soft": shared[0].item(),
        "shared": shared.tolist(),
        "per_sample": soft_advantages(r, k, tau=tau, mode="per_sample").tolist(),
        "grpo": grpo_advantages(r, k).tolist(),
    }


def format_steps(rewards: Sequence[float] | torch.Tensor, tau: float, digits: int = 3) -> str:
    """The formula worked through on one group, one line per step, rounded to ``digits`` decimals."""
    t = advantage_table(rewards, tau)
    w = t["weights"]
    lines = [
        f"rewards r            = {fmt(t['rewards'], digits)}",
        f"mean, std            = {t['mean']:.{digits}f}, {t['std']:.{digits}f}",
        f"z = (r - mean)/std   = {fmt(t['z'], digits)}",
        f"z / tau  (tau={tau:g})   = {fmt([z / t['tau'] for z in t['z']], digits)}",
        f"w = softmax(z / tau) = {fmt(w, digits)}   (sum {sum(w):.{digits}f})",
        f"w * r                = {fmt([wi * ri for wi, ri in zip(w, t['rewards'])], digits)}",
        f"A_soft = sum(w * r)  = {t['a_soft']:.{digits}f}",
    ]
    return "\n".join(lines)


def _advantage_limits(rewards: torch.Tensor, taus: Sequence[float]) -> tuple[float, float]:
    """A y-range that holds every advantage of the group for the given taus (so a slider never rescales)."""
    k = rewards.numel()
    values = [rewards, grpo_advantages(rewards, k)]
    for tau in taus:
        values.append(soft_advantages(rewards, k, tau=tau, mode="per_sample"))
    allv = torch.cat(values)
    low, high = min(allv.min().item(), 0.0), max(allv.max().item(), 0.0)
    pad = 0.08 * (high - low or 1.0)
    return low - pad, high + pad


def plot_advantages(
    rewards: Sequence[float] | torch.Tensor,
    tau: float,
    *,
    ylim: tuple[float, float] | None = None,
    figsize: tuple[float, float] = (10.5, 3.8),
):
    """Two panels for one group at one ``tau``: the softmax weights, and the three advantages side by side.

    Left: :math:`w_i` per completion (the dotted line is the uniform weight :math:`1/K`). Right: for
    every completion, SR-GRPO's ``shared`` advantage (the same bar everywhere), the ``per_sample``
    advantage and GRPO's :math:`z_i`.

    Returns:
        ``(figure, data)``, ``data`` being :func:`advantage_table`'s dict, the numbers drawn.
    """
    from matplotlib.figure import Figure

    data = advantage_table(rewards, tau)
    r = as_rewards(rewards)
    k = r.numel()
    xs = list(range(k))
    labels = [f"#{i + 1}\nr={v:g}" for i, v in enumerate(data["rewards"])]

    fig = Figure(figsize=figsize, layout="constrained")
    ax_w, ax_a = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.6]})

    ax_w.bar(xs, data["weights"], color=COLORS["weights"], alpha=0.85)
    ax_w.axhline(1 / k, color="0.4", linestyle=":", linewidth=1)
    ax_w.text(k - 0.5, 1 / k, "1/K", va="bottom", ha="right", fontsize=8, color="0.3")
    ax_w.set_ylim(0, 1.0)
    ax_w.set_xticks(xs, labels, fontsize=8)
    ax_w.set_ylabel("weight $w_i$")
    ax_w.set_title(rf"weights $w = \mathrm{{softmax}}(z/\tau)$, $\tau$ = {data['tau']:.2f}", fontsize=10)

    width = 0.27
    series = (("shared", "shared: $A_{soft}$"), ("per_sample", r"per_sample: $\tau(Kw_i-1)$"), ("grpo", "GRPO: $z_i$"))
    for j, (key, label) in enumerate(series):
        ax_a.bar([x + (j - 1) * width for x in xs], data[key], width=width, color=COLORS[key], label=label)
    ax_a.axhline(0, color="0.3", linewidth=0.8)
    ax_a.set_xticks(xs, labels, fontsize=8)
    ax_a.set_ylim(*(ylim if ylim is not None else _advantage_limits(r, [data["tau"]])))
    ax_a.set_ylabel("advantage $A_i$")
    ax_a.set_title(f"advantages: every completion gets A_soft = {data['a_soft']:.3f} under 'shared'", fontsize=10)
    ax_a.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=3, frameon=False)
    ax_a.grid(axis="y", alpha=0.3)
    return fig, data


# ----------------------------------------------------------------------------------------------------------------
# The slider
# ----------------------------------------------------------------------------------------------------------------


class FigureSlider:
    """A core ipywidgets slider that redraws one figure (see the module docstring).

    Args:
        render: ``render(value) -> (Figure, data)``; called once at construction and on every move.
        slider: a core slider widget (``FloatSlider``, ``SelectionSlider``, ...).

    Attributes:
        slider: the widget; setting ``slider.value`` redraws, exactly like moving it by hand.
        figure, data: what the last :meth:`update` drew, and its numbers.
    """

    def __init__(self, render: Callable[[Any], tuple[Any, Any]], slider):
        self.render = render
        self.slider = slider
        self.figure, self.data = render(slider.value)
        self._handle = None
        self._output = None
        slider.observe(self._on_change, names="value")

    def update(self, value) -> Any:
        """Redraw for ``value`` (and replace the displayed image if :meth:`show` was called); return the numbers."""
        self.figure, self.data = self.render(value)
        if self._output is not None:
            from IPython.display import display

            self._output.clear_output(wait=True)
            with self._output:
                display(self.figure)
        elif self._handle is not None:
            self._handle.update(self.figure)
        return self.data

    def _on_change(self, change: Mapping[str, Any]) -> None:
        self.update(change["new"])

    def show(self) -> None:
        """Display the slider and, right away, the figure for its current value."""
        from IPython.display import display

        if in_colab():
            import ipywidgets as widgets

            self._output = widgets.Output()
            with self._output:
                display(self.figure)
            display(widgets.VBox([self.slider, self._output]))
        else:
            display(self.slider)
            self._handle = display(self.figure, display_id=True)


def advantage_explorer(
    rewards: Sequence[float] | torch.Tensor,
    tau: float = 0.5,
    *,
    tau_min: float = 0.05,
    tau_max: float = 3.0,
    step: float = 0.05,
) -> FigureSlider:
    """A ``FloatSlider`` for :math:`\\tau` that redraws :func:`plot_advantages` for one group.

    ``explorer.update(tau)`` returns :func:`advantage_table`'s numbers; the advantage axis is fixed
    over the slider's whole range so that moving it shows the bars change, not the scale.
    """
    import ipywidgets as widgets

    r = as_rewards(rewards)
    n_steps = int(round((tau_max - tau_min) / step))
    ylim = _advantage_limits(r, [tau_min + i * step for i in range(n_steps + 1)])
    slider = widgets.FloatSlider(
        value=tau, min=tau_min, max=tau_max, step=step, description="tau", continuous_update=False,
        readout_format=".2f",
    )
    return FigureSlider(lambda t: plot_advantages(r, t, ylim=ylim), slider)


# ----------------------------------------------------------------------------------------------------------------
# Limits in tau
# ----------------------------------------------------------------------------------------------------------------


def tau_limits(rewards: Sequence[float] | torch.Tensor, taus: Sequence[float]) -> list[dict[str, float]]:
    """For each tau: the shared ``A_soft``, the largest weight, and how far ``per_sample`` is from GRPO's z.

    Returns rows ``{"tau", "a_soft", "max_weight", "per_sample_minus_z"}`` where the last is
    :math:`\\max_i |A^{per\\_sample}_i - z_i|`.
    """
    r = as_rewards(rewards)
    k = r.numel()
    z = grpo_advantages(r, k)
    rows = []
    for tau in taus:
        per = soft_advantages(r, k, tau=tau, mode="per_sample")
        rows.append(
            {
                "tau": float(tau),
                "a_soft": soft_advantages(r, k, tau=tau, mode="shared")[0].item(),
                "max_weight": soft_weights(r, k, tau=tau).max().item(),
                "per_sample_minus_z": (per - z).abs().max().item(),
            }
        )
    return rows


def format_tau_limits(rewards: Sequence[float] | torch.Tensor, taus: Sequence[float], digits: int = 3) -> str:
    """:func:`tau_limits` as a table, with the group's max and mean (the two limits of ``A_soft``) on top."""
    r = as_rewards(rewards)
    lines = [
        f"max r = {r.max().item():.{digits}f}   mean r = {r.mean().item():.{digits}f}   K = {r.numel()}",
        "",
        f"{'tau':>8}  {'A_soft (shared)':>15}  {'largest w_i':>11}  {'max |per_sample - z|':>20}",
    ]
    for row in tau_limits(r, taus):
        lines.append(
            f"{row['tau']:>8g}  {row['a_soft']:>15.{digits}f}  {row['max_weight']:>11.{digits}f}"
            f"  {row['per_sample_minus_z']:>20.{digits}f}"
        )
    return "\n".join(lines)


def plot_tau_sweep(
    rewards: Sequence[float] | torch.Tensor,
    taus: Sequence[float] | None = None,
    figsize: tuple[float, float] = (10.5, 3.8),
):
    """Both forms as functions of :math:`\\tau` (log axis) for one group, with their limits dashed.

    Left: the shared ``A_soft`` between the group's mean (large tau) and max (small tau). Right:
    ``per_sample`` advantages of each distinct reward, approaching GRPO's :math:`z_i` (dashed).
    """
    from matplotlib.figure import Figure

    r = as_rewards(rewards)
    k = r.numel()
    if taus is None:
        taus = [10 ** (-2 + 4 * i / 160) for i in range(161)]
    shared = [soft_advantages(r, k, tau=t, mode="shared")[0].item() for t in taus]
    per = torch.stack([soft_advantages(r, k, tau=t, mode="per_sample") for t in taus])  # (T, K)
    z = grpo_advantages(r, k)

    fig = Figure(figsize=figsize, layout="constrained")
    ax_s, ax_p = fig.subplots(1, 2)
    ax_s.plot(taus, shared, color=COLORS["shared"], linewidth=2, label="shared $A_{soft}$")
    ax_s.axhline(r.max().item(), color="0.3", linestyle="--", linewidth=1, label="max r  (tau -> 0)")
    ax_s.axhline(r.mean().item(), color="0.6", linestyle="--", linewidth=1, label="mean r  (tau -> inf)")
    ax_s.set_xscale("log")
    ax_s.set_xlabel(r"$\tau$")
    ax_s.set_ylabel("advantage (same for all completions)")
    ax_s.set_title("shared: from max to mean", fontsize=10)
    ax_s.legend(fontsize=8)
    ax_s.grid(alpha=0.3)

    seen = {}
    for i, v in enumerate(r.tolist()):
        seen.setdefault(v, i)  # one curve per distinct reward (equal rewards have equal advantages)
    cmap = _cmap("viridis")
    values = sorted(seen)
    for j, v in enumerate(values):
        i = seen[v]
        color = cmap(0.1 + 0.8 * j / max(len(values) - 1, 1))
        ax_p.plot(taus, per[:, i].tolist(), color=color, linewidth=2, label=f"r = {v:g}")
        ax_p.axhline(z[i].item(), color=color, linestyle="--", linewidth=1)
    ax_p.set_xscale("log")
    ax_p.set_xlabel(r"$\tau$")
    ax_p.set_ylabel("advantage $A_i$")
    ax_p.set_title(r"per_sample: $\tau(Kw_i-1)$ tends to GRPO's $z_i$ (dashed)", fontsize=10)
    ax_p.legend(fontsize=8, loc="upper left")
    ax_p.grid(alpha=0.3)
    return fig


def _cmap(name: str):
    from matplotlib import colormaps

    return colormaps[name]


# ----------------------------------------------------------------------------------------------------------------
# Binary rewards: k of K correct
# ----------------------------------------------------------------------------------------------------------------


def binary_advantages(num_generations: int, taus: Sequence[float]) -> dict[str, Any]:
    """Advantages of a 0/1-reward group with ``k`` correct completions, for every ``k`` and ``tau``.

    Returns ``{"K", "taus", "k": [0..K], "shared": [[A(k, tau) for tau] for k],
    "per_sample_correct", "per_sample_wrong": same shape (``None`` where no completion is of that
    kind), "grpo_correct", "grpo_wrong": [value for k]}``, all from :mod:`srgrpo.advantages`.
    """
    K = int(num_generations)
    out: dict[str, Any] = {"K": K, "taus": [float(t) for t in taus], "k": list(range(K + 1))}
    keys = ("shared", "per_sample_correct", "per_sample_wrong")
    for key in keys:
        out[key] = []
    out["grpo_correct"], out["grpo_wrong"] = [], []
    for k in range(K + 1):
        r = torch.tensor([1.0] * k + [0.0] * (K - k), dtype=torch.float64)
        g = grpo_advantages(r, K)
        out["grpo_correct"].append(g[0].item() if k > 0 else None)
        out["grpo_wrong"].append(g[-1].item() if k < K else None)
        rows = {key: [] for key in keys}
        for tau in taus:
            p = soft_advantages(r, K, tau=tau, mode="per_sample")
            rows["shared"].append(soft_advantages(r, K, tau=tau, mode="shared")[0].item())
            rows["per_sample_correct"].append(p[0].item() if k > 0 else None)
            rows["per_sample_wrong"].append(p[-1].item() if k < K else None)
        for key in keys:
            out[key].append(rows[key])
    return out


def format_binary(num_generations: int, taus: Sequence[float], digits: int = 3) -> str:
    """The shared ``A_soft`` of a 0/1 group as a table: one row per number of correct completions ``k``."""
    b = binary_advantages(num_generations, taus)
    K = b["K"]
    head = f"{'k of ' + str(K):>7}  {'k/K':>6}  " + "  ".join(f"{'tau=' + format(t, 'g'):>9}" for t in b["taus"])
    lines = ["shared A_soft (every completion of the group gets this value)", head, "-" * len(head)]
    for k, row in zip(b["k"], b["shared"]):
        cells = "  ".join(f"{v:>9.{digits}f}" for v in row)
        lines.append(f"{k:>7}  {k / K:>6.3f}  {cells}")
    return "\n".join(lines)


def plot_binary(num_generations: int = 8, taus: Sequence[float] = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0),
                line_taus: Sequence[float] = (0.1, 0.5, 2.0), figsize: tuple[float, float] = (11, 4.0)):
    """Left: the shared ``A_soft`` over (k correct, tau) as a heatmap. Right: what a correct and a
    wrong completion get under each rule, as a function of k (``per_sample`` and ``shared`` at each
    of ``line_taus``)."""
    from matplotlib.figure import Figure

    b = binary_advantages(num_generations, taus)
    lines_b = binary_advantages(num_generations, line_taus)
    K = b["K"]
    fig = Figure(figsize=figsize, layout="constrained")
    ax_h, ax_l = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.25]})

    grid = torch.tensor(b["shared"]).T  # (tau, k)
    im = ax_h.imshow(grid.numpy(), aspect="auto", origin="lower", cmap="Blues", vmin=0, vmax=1)
    for ti in range(len(b["taus"])):
        for k in range(K + 1):
            v = grid[ti, k].item()
            ax_h.text(k, ti, f"{v:.2f}", ha="center", va="center", fontsize=7, color="white" if v > 0.6 else "black")
    ax_h.set_xticks(range(K + 1), [str(k) for k in range(K + 1)])
    ax_h.set_yticks(range(len(b["taus"])), [f"{t:g}" for t in b["taus"]])
    ax_h.set_xlabel(f"k correct out of K = {K}")
    ax_h.set_ylabel(r"$\tau$")
    ax_h.set_title("shared $A_{soft}$: the same for right and wrong completions", fontsize=10)
    fig.colorbar(im, ax=ax_h, shrink=0.85)

    ks_c = [k for k in b["k"] if k > 0]
    ks_w = [k for k in b["k"] if k < K]
    oranges, blues = _cmap("Oranges"), _cmap("Blues")
    n = max(len(lines_b["taus"]) - 1, 1)
    ax_l.plot(ks_c, [b["grpo_correct"][k] for k in ks_c], color=COLORS["grpo"], linewidth=2, label="GRPO $z$")
    ax_l.plot(ks_w, [b["grpo_wrong"][k] for k in ks_w], color=COLORS["grpo"], linewidth=2, linestyle="--")
    for ti, tau in enumerate(lines_b["taus"]):
        color = oranges(0.4 + 0.55 * ti / n)
        ax_l.plot(ks_c, [lines_b["per_sample_correct"][k][ti] for k in ks_c], color=color, marker="o",
                  markersize=3, label=f"per_sample, tau={tau:g}")
        ax_l.plot(ks_w, [lines_b["per_sample_wrong"][k][ti] for k in ks_w], color=color, marker="o",
                  markersize=3, linestyle="--")
    for ti, tau in enumerate(lines_b["taus"]):
        ax_l.plot(lines_b["k"], [row[ti] for row in lines_b["shared"]], color=blues(0.4 + 0.55 * ti / n),
                  linewidth=1.5, linestyle="-.", label=f"shared, tau={tau:g} (right = wrong)")
    ax_l.axhline(0, color="0.3", linewidth=0.8)
    ax_l.set_xlabel(f"k correct out of K = {K}")
    ax_l.set_ylabel("advantage")
    ax_l.set_title("a correct completion (solid) and a wrong one (dashed)", fontsize=10)
    ax_l.legend(fontsize=7, ncol=2, loc="upper right")
    ax_l.grid(alpha=0.3)
    return fig


def format_credit(groups: Mapping[str, Sequence[float]], tau: float = 0.5, digits: int = 3) -> str:
    """What a correct (reward 1) and a wrong (reward 0) completion of each 0/1 group receive, per rule.

    ``groups`` maps a name to a group's rewards. The last column says whether the rule pushes the
    wrong completions *down* (a negative advantage): the point of credit assignment.
    """
    head = f"{'group':<22} {'rule':<11} {'A(correct)':>10} {'A(wrong)':>9}  wrong pushed down?"
    lines = [head, "-" * len(head)]
    for name, rewards in groups.items():
        t = advantage_table(rewards, tau)
        r = t["rewards"]
        ic = r.index(max(r))
        iw = r.index(min(r))
        for j, key in enumerate(("grpo", "per_sample", "shared")):
            label = name if j == 0 else ""
            rule = key if key != "grpo" else "GRPO"
            lines.append(
                f"{label:<22} {rule:<11} {t[key][ic]:>10.{digits}f} {t[key][iw]:>9.{digits}f}  {t[key][iw] < 0}"
            )
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------------------------
# The bandit lab
# ----------------------------------------------------------------------------------------------------------------


def bandit_explorer(summary: Mapping[str, Any], tau: float | None = None) -> FigureSlider:
    """A ``SelectionSlider`` over a bandit summary's temperatures that redraws :func:`srgrpo.lab.plot_bandit`.

    GRPO and the controls are always drawn; the soft methods at the chosen tau. ``update(tau)``
    returns ``{label: final fraction of the optimum}`` of the drawn runs.
    """
    import ipywidgets as widgets

    from srgrpo.lab import bandit_taus, plot_bandit
    from srgrpo.lab.methods import SOFT_METHODS

    taus = bandit_taus(summary)
    if not taus:
        raise ValueError("this summary has no soft runs (shared/per_sample), so there is no tau to choose.")
    if tau is None:
        tau = min(taus, key=lambda t: abs(t - 0.5))

    def render(value):
        fig = plot_bandit(summary, tau=value)
        drawn = {
            label: run["final"]["mean"]
            for label, run in summary["runs"].items()
            if run["method"] not in SOFT_METHODS or math.isclose(run["tau"], value)
        }
        return fig, drawn

    slider = widgets.SelectionSlider(options=[(f"{t:g}", t) for t in taus], value=tau, description="tau",
                                     continuous_update=False)
    return FigureSlider(render, slider)


def bandit_highlights(summary: Mapping[str, Any], digits: int = 2) -> str:
    """The few numbers worth reading in a bandit summary, as sentences (printed by notebook 2).

    Each method's final fraction of the optimum with its 95% interval, the best tau of each soft
    form, and how many seeds reached the threshold.
    """
    runs = summary["runs"]
    cfg = summary["config"]
    last = cfg["steps"]
    thr = cfg.get("threshold", 0.8)

    def final(run):
        f = run["final"]
        if f.get("low") is None:
            return f"{f['mean']:.{digits}f}"
        return f"{f['mean']:.{digits}f} [{f['low']:.{digits}f}, {f['high']:.{digits}f}]"

    def reach(run):
        s = run["steps_to_80"]
        n = s["reached"] + s["never"]
        if s["reached"] == 0:
            return f"never reached {thr:.0%} (0/{n} seeds)"
        return f"reached {thr:.0%} after {s['mean']:.0f} steps on average ({s['reached']}/{n} seeds)"

    start = next(iter(runs.values()))["checkpoints"][0]["mean"]
    lines = [f"start (uniform policy): {start:.{digits}f} of the optimum; after {last} steps (mean [95% interval]):"]
    by_method: dict[str, list] = {}
    for run in runs.values():
        by_method.setdefault(run["method"], []).append(run)
    for method, group in by_method.items():
        if len(group) == 1:
            run = group[0]
            tag = " (control)" if run.get("control") else ""
            lines.append(f"  {run['label'] + tag:<38} {final(run):<20} {reach(run)}")
        else:
            best = max(group, key=lambda r: r["final"]["mean"])
            worst = min(group, key=lambda r: r["final"]["mean"])
            lines.append(f"  {method + ' best: ' + best['label']:<38} {final(best):<20} {reach(best)}")
            lines.append(f"  {method + ' worst: ' + worst['label']:<38} {final(worst):<20} {reach(worst)}")
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------------------------
# Notebook 3: SRGRPOTrainer on the tiny model (the arithmetic lab's task and warm start)
# ----------------------------------------------------------------------------------------------------------------


def show_problems(n: int = 2, seed: int = 1) -> str:
    """A few of the lab's arithmetic problems exactly as the model sees them: prompt, then target completion."""
    from srgrpo.lab.tasks import format_completion, format_prompt, generate_problems

    blocks = []
    for p in generate_problems(n, seed=seed):
        blocks.append(f"{format_prompt(p['question'])}{format_completion(p['solution'])}")
    return "\n\n".join(blocks)


def arithmetic_data(n_heldout: int = 100, seed: int | None = None):
    """The lab's training prompts as a ``datasets.Dataset`` (``prompt``, ``answer``) and its held-out problems.

    The same split as :func:`srgrpo.lab.arithmetic.compare_arithmetic` (its ``n_train`` and ``data_seed``), with
    ``n_heldout`` held-out problems (the held-out set depends only on the seed and its size).
    """
    from datasets import Dataset

    from srgrpo.lab.arithmetic import DEFAULTS
    from srgrpo.lab.tasks import format_prompt, make_splits

    seed = DEFAULTS["data_seed"] if seed is None else seed
    train, heldout = make_splits(DEFAULTS["n_train"], n_heldout, seed)
    dataset = Dataset.from_dict({
        "prompt": [format_prompt(p["question"]) for p in train],
        "answer": [p["answer"] for p in train],
    })
    return dataset, heldout


def tiny_warm_start(warm_steps: int, n_heldout: int = 100, **settings):
    """The lab's supervised warm start (:func:`srgrpo.lab.arithmetic.warm_start`) with a smaller budget.

    Trained once and cached (like the lab's own); its progress lines go to stdout, not stderr. Returns
    ``(folder, info)`` where ``info["accuracy"]`` is the greedy held-out accuracy in percent.
    """
    import contextlib

    from srgrpo.lab.arithmetic import warm_start

    with contextlib.redirect_stderr(sys.stdout):
        return warm_start({"warm_steps": warm_steps, "n_heldout": n_heldout, **settings})


def load_warm_start(folder):
    """``(model, tokenizer)`` of a warm-start folder: a plain ``Qwen2ForCausalLM`` and the kit's tiny tokenizer."""
    from transformers import AutoModelForCausalLM

    from srgrpo.tiny import load_tiny_tokenizer

    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    return model, load_tiny_tokenizer(folder)


def arithmetic_highlights(summary: Mapping[str, Any]) -> str:
    """The settings and the headline numbers of a committed arithmetic-lab summary, printed from the JSON."""
    cfg = summary["config"]
    warm = summary.get("warm_start", {})
    seeds = summary.get("seeds", [])
    lines = [
        f"warm start: {warm.get('steps')} supervised steps, held-out accuracy {warm.get('accuracy'):.1f}% "
        f"on {cfg.get('n_heldout')} problems",
        f"RL: {cfg.get('rl_steps')} steps per run, {cfg.get('prompts_per_step')} prompts x "
        f"{cfg.get('num_generations')} completions per step, lr {cfg.get('learning_rate')}, "
        f"temperature {cfg.get('temperature')}, beta {cfg.get('beta')}, {len(seeds)} seeds per method",
        "",
        "held-out accuracy after RL (mean over seeds), change from the warm start in points [95% interval]:",
    ]
    for run in summary["runs"].values():
        after, change = run.get("after"), run.get("change")
        if not after or not change:
            continue
        label = run["label"] + (" (control)" if run.get("control") else "")
        interval = "" if change.get("low") is None else f" [{change['low']:+.1f}, {change['high']:+.1f}]"
        lines.append(f"  {label:<30} {after['mean']:5.1f}%   {change['mean']:+5.1f}{interval}")
    return "\n".join(lines)


def arithmetic_explorer(summary: Mapping[str, Any], tau: float | None = None) -> FigureSlider:
    """A ``SelectionSlider`` over an arithmetic summary's temperatures redrawing its reward curves
    (:func:`srgrpo.lab.arithmetic.plot_arithmetic_curves`); ``update(tau)`` returns the drawn labels' last reward."""
    import ipywidgets as widgets

    from srgrpo.lab.arithmetic import plot_arithmetic_curves
    from srgrpo.lab.methods import SOFT_METHODS

    taus = sorted({r["tau"] for r in summary["runs"].values() if r["method"] in SOFT_METHODS})
    if not taus:
        raise ValueError("this summary has no soft runs (shared/per_sample), so there is no tau to choose.")
    if tau is None:
        tau = min(taus, key=lambda t: abs(t - 0.5))

    def render(value):
        fig = plot_arithmetic_curves(summary, tau=value)
        drawn = {
            label: run["curve"]["mean"][-1]
            for label, run in summary["runs"].items()
            if run.get("curve") and run["curve"].get("mean")
            and (run["method"] not in SOFT_METHODS or math.isclose(run["tau"], value))
        }
        return fig, drawn

    slider = widgets.SelectionSlider(options=[(f"{t:g}", t) for t in taus], value=tau, description="tau",
                                     continuous_update=False)
    return FigureSlider(render, slider)


def arithmetic_checks(summary: Mapping[str, Any]) -> str:
    """Plain yes/no statements about a committed arithmetic-lab summary, computed from its numbers.

    The markdown of notebook 3 reads the results through these lines, so its text cannot drift from the JSON.
    """
    runs = [r for r in summary["runs"].values() if r.get("change")]

    def mean(run):
        return run["change"]["mean"]

    def of(method):
        return [r for r in runs if r["method"] == method]

    def excludes_zero(run):
        low, high = run["change"].get("low"), run["change"].get("high")
        return low is not None and (low > 0 or high < 0)

    shared, per, grpo = of("shared"), of("per_sample"), of("grpo")
    controls = [r for r in runs if r.get("control")]
    sure = [r["label"] for r in runs if excludes_zero(r)]
    good = grpo + [p for p in per if p["tau"] >= 0.5]
    facts = [
        ("every shared run ends below the warm start", bool(shared) and all(mean(r) < 0 for r in shared)),
        ("every control ends below the warm start", bool(controls) and all(mean(r) < 0 for r in controls)),
        ("GRPO ends above the warm start", bool(grpo) and all(mean(r) > 0 for r in grpo)),
        ("per_sample ends above the warm start for tau >= 0.5",
         any(p["tau"] >= 0.5 for p in per) and all(mean(r) > 0 for r in per if r["tau"] >= 0.5)),
        ("the best shared run is below the worst GRPO / per_sample(tau >= 0.5) run",
         bool(shared) and bool(good) and max(mean(r) for r in shared) < min(mean(r) for r in good)),
    ]
    width = max(len(text) for text, _ in facts) + 1
    lines = [f"{text + ':':<{width}} {value}" for text, value in facts]
    lines.append(f"changes whose 95% interval excludes zero: {', '.join(sure) if sure else 'none'}")
    return "\n".join(lines)
