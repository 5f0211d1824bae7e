"""The real-model lab's figures and plain-text table, drawn from its JSON (:mod:`srgrpo.lab.real`), never from a
live model: training curves per method (mean over seeds, the seeds' range shaded) and held-out rates before and after
with 95 % intervals over seeds, in the kit's one palette (:mod:`srgrpo.palette`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from srgrpo.palette import method_style, run_label

__all__ = ["CURVE_PANELS", "HELDOUT_PANELS", "plot_real_curves", "plot_real_heldout", "save_figures", "format_table"]

#: Training curves drawn: name in the run files -> axis label.
CURVE_PANELS = {
    "reward": "training reward (correctness + format)",
    "format": "format reward (sampled)",
    "correctness": "correctness (sampled)",
    "cut_off": "share cut off at the token limit",
}
#: Held-out rates drawn: name -> axis label.
HELDOUT_PANELS = {
    "accuracy": "held-out accuracy (%)",
    "strict_format": "strict format: '#### N' last, stopped (%)",
    "stopped": "stopped before the token limit (%)",
}


def _taus(summary: dict[str, Any]) -> list[float]:
    return sorted({m["tau"] for m in summary["methods"].values() if m["tau"] is not None})


def plot_real_curves(summary: dict[str, Any], path=None, panels=tuple(CURVE_PANELS)):
    """Mean training curve of every method, one panel per quantity; the band is the range over seeds."""
    from matplotlib.figure import Figure

    taus = _taus(summary)
    fig = Figure(figsize=(4.2 * len(panels), 4.0), layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, name in zip(axes, panels):
        for method in summary["methods"].values():
            curve = method["curves"][name]
            style = method_style(method, taus)
            ax.plot(curve["step"], curve["mean"], label=run_label(method), **style)
            if len(method["seeds"]) > 1 and None not in curve["min"] + curve["max"]:
                ax.fill_between(curve["step"], curve["min"], curve["max"], color=style["color"], alpha=0.1,
                                linewidth=0)
        ax.set_xlabel("step")
        ax.set_title(CURVE_PANELS[name], fontsize=10)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7, loc="upper left")
    seeds = len(next(iter(summary["methods"].values()))["seeds"])
    fig.suptitle(f"SmolLM2-135M-Instruct, training on synthetic word problems: mean of {seeds} seeds "
                 f"(band: range)", fontsize=11)
    if path is not None:
        fig.savefig(path, dpi=110)
    return fig


def plot_real_heldout(summary: dict[str, Any], path=None, panels=tuple(HELDOUT_PANELS)):
    """Held-out rates of every method after training (mean and 95 % interval over seeds), the start as a line."""
    from matplotlib.figure import Figure

    taus = _taus(summary)
    methods = list(summary["methods"].values())
    fig = Figure(figsize=(4.2 * len(panels), 4.2), layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    n = summary["start"]["heldout"]["n"]
    for ax, name in zip(axes, panels):
        for i, method in enumerate(methods):
            stat = method["after"][name]
            style = method_style(method, taus)
            yerr = None
            if stat["low"] is not None:
                yerr = [[stat["mean"] - stat["low"]], [stat["high"] - stat["mean"]]]
            ax.bar(i, stat["mean"], color=style["color"], alpha=0.85, yerr=yerr, capsize=4)
            ax.plot([i] * len(method["per_seed"][name]), method["per_seed"][name], "k.", markersize=4)
        ax.axhline(summary["start"]["heldout"][name]["percent"], color="0.3", linestyle="--", linewidth=1,
                   label="pretrained model")
        ax.set_xticks(range(len(methods)), [run_label(m) for m in methods], rotation=35, ha="right", fontsize=8)
        ax.set_title(HELDOUT_PANELS[name], fontsize=10)
        ax.set_ylim(0, 100)
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend(fontsize=8, loc="upper left")
    fig.suptitle(f"Greedy answers to {n} held-out problems after training: mean over seeds, 95% interval, "
                 f"dots = seeds", fontsize=11)
    if path is not None:
        fig.savefig(path, dpi=110)
    return fig


def save_figures(summary: dict[str, Any], output) -> list[Path]:
    """Both figures beside ``output`` (``real.json`` -> ``real-curves.png``, ``real-heldout.png``)."""
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    curves = output.with_name(f"{output.stem}-curves.png")
    heldout = output.with_name(f"{output.stem}-heldout.png")
    plot_real_curves(summary, curves)
    plot_real_heldout(summary, heldout)
    return [curves, heldout]


def _cell(stat: dict[str, Any], sign: bool = False) -> str:
    fmt = "{:+.1f}" if sign else "{:.1f}"
    text = fmt.format(stat["mean"])
    if stat["low"] is not None:
        text += f" [{fmt.format(stat['low'])}, {fmt.format(stat['high'])}]"
    return text


def format_table(summary: dict[str, Any]) -> str:
    """Plain text: per method, accuracy and strict format after (and their change), stopped share, seconds a run."""
    start = summary["start"]["heldout"]
    head = (f"{'method':<28} {'accuracy %':>20} {'change':>22} {'strict format %':>20} {'stopped %':>20} "
            f"{'s/run':>6}")
    lines = [f"pretrained model: accuracy {start['accuracy']['percent']:.1f}%, strict format "
             f"{start['strict_format']['percent']:.1f}%, stopped {start['stopped']['percent']:.1f}% "
             f"(n={start['n']})", head, "-" * len(head)]
    for m in summary["methods"].values():
        lines.append(f"{run_label(m):<28} {_cell(m['after']['accuracy']):>20} {_cell(m['change']['accuracy'], True):>22} "
                     f"{_cell(m['after']['strict_format']):>20} {_cell(m['after']['stopped']):>20} "
                     f"{m['wall_s']['mean']:>6.0f}")
    return "\n".join(lines)
