r"""Figures of the soft advantage: one group's weights and advantages, both forms over tau, k of K correct.

Built with :class:`matplotlib.figure.Figure` (never ``pyplot``), so they do not linger in global state and a notebook
shows one exactly where it asks for it; colours come from the kit's one palette (:mod:`srgrpo.plots.palette`). The numbers
drawn are :mod:`srgrpo.plots.explain`'s, hence :mod:`srgrpo.advantages`'. Notebook 1 (``01_soft_advantage``) shows them.
"""

from __future__ import annotations

from typing import Sequence

import torch

from srgrpo.advantages import grpo_advantages, soft_advantages
from srgrpo.plots.explain import BINARY_TAUS, advantage_limits, advantage_table, as_rewards, binary_advantages
from srgrpo.plots.palette import COLORS, colormap

__all__ = ["BINARY_TAUS", "plot_advantages", "plot_tau_sweep", "plot_binary"]


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
    ax_a.set_ylim(*(ylim if ylim is not None else advantage_limits(r, [data["tau"]])))
    ax_a.set_ylabel("advantage $A_i$")
    ax_a.set_title(f"advantages: every completion gets A_soft = {data['a_soft']:.3f} under 'shared'", fontsize=10)
    ax_a.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=3, frameon=False)
    ax_a.grid(axis="y", alpha=0.3)
    return fig, data


# ----------------------------------------------------------------------------------------------------------------


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
    cmap = colormap("viridis")
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


def plot_binary(num_generations: int = 8, taus: Sequence[float] = BINARY_TAUS,
                line_taus: Sequence[float] = (0.5,), figsize: tuple[float, float] = (11, 4.0)):
    """Left: the shared ``A_soft`` over (k correct, tau) as a heatmap laid out like
    :func:`srgrpo.plots.explain.format_binary`'s table at the same ``taus`` (k down the rows from 0 at the top, one
    column a tau). Right: what a correct and a wrong completion get under each rule, as a function of k (GRPO,
    and ``per_sample`` and ``shared`` at each of ``line_taus``: one by default, five lines in all)."""
    from matplotlib.figure import Figure

    b = binary_advantages(num_generations, taus)
    lines_b = binary_advantages(num_generations, line_taus)
    K = b["K"]
    fig = Figure(figsize=figsize, layout="constrained")
    ax_h, ax_l = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.25]})

    grid = torch.tensor(b["shared"])  # (k, tau): the table's rows and columns
    im = ax_h.imshow(grid.numpy(), aspect="auto", origin="upper", cmap="Blues", vmin=0, vmax=1)
    for k in range(K + 1):
        for ti in range(len(b["taus"])):
            v = grid[k, ti].item()
            ax_h.text(ti, k, f"{v:.2f}", ha="center", va="center", fontsize=7, color="white" if v > 0.6 else "black")
    ax_h.set_xticks(range(len(b["taus"])), [f"{t:g}" for t in b["taus"]])
    ax_h.set_yticks(range(K + 1), [str(k) for k in range(K + 1)])
    ax_h.set_xlabel(r"$\tau$")
    ax_h.set_ylabel(f"k correct out of K = {K}")
    ax_h.set_title("shared $A_{soft}$: the same for right and wrong completions", fontsize=10)
    fig.colorbar(im, ax=ax_h, shrink=0.85)

    ks_c = [k for k in b["k"] if k > 0]
    ks_w = [k for k in b["k"] if k < K]
    oranges, blues = colormap("Oranges"), colormap("Blues")
    n = max(len(lines_b["taus"]) - 1, 1)
    ax_l.plot(ks_c, [b["grpo_correct"][k] for k in ks_c], color=COLORS["grpo"], linewidth=2, label="GRPO $z$")
    single = len(lines_b["taus"]) == 1
    ax_l.plot(ks_w, [b["grpo_wrong"][k] for k in ks_w], color=COLORS["grpo"], linewidth=2, linestyle="--")
    for ti, tau in enumerate(lines_b["taus"]):
        color = COLORS["per_sample"] if single else oranges(0.4 + 0.55 * ti / n)
        ax_l.plot(ks_c, [lines_b["per_sample_correct"][k][ti] for k in ks_c], color=color, marker="o",
                  markersize=3, label=f"per_sample, tau={tau:g}")
        ax_l.plot(ks_w, [lines_b["per_sample_wrong"][k][ti] for k in ks_w], color=color, marker="o",
                  markersize=3, linestyle="--")
    for ti, tau in enumerate(lines_b["taus"]):
        ax_l.plot(lines_b["k"], [row[ti] for row in lines_b["shared"]],
                  color=COLORS["shared"] if single else blues(0.4 + 0.55 * ti / n),
                  linewidth=1.5, linestyle="-.", label=f"shared, tau={tau:g} (right = wrong)")
    ax_l.axhline(0, color="0.3", linewidth=0.8)
    ax_l.set_xlabel(f"k correct out of K = {K}")
    ax_l.set_ylabel("advantage")
    ax_l.set_title("a correct completion (solid) and a wrong one (dashed)", fontsize=10)
    ax_l.legend(fontsize=9, ncol=1 if single else 2, loc="upper right")
    ax_l.grid(alpha=0.3)
    return fig
