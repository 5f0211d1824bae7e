"""The confirmation's figure: each fresh seed of the main job, before -> after, against the study's targets.

Drawn from the results files ``benchmarks/main_job_seeds.py`` writes (``data/benchmarks/main_job_seeds.json``, and the
other precision's file beside it), never from a live model. One panel a count the targets name (correct, in format),
one line a seed from the pretrained model's count to the trained one's; the target is a dashed line, so a reader sees
at once how many seeds end above it. The pretrained model answers greedily, so "before" is one point for every seed of
one precision: the lines fan out from it, and their spread is what one run of ``python -m srgrpo`` can give.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

from srgrpo.lab.recipe.plan import TARGETS
from srgrpo.plots.palette import COLORS

__all__ = ["PANELS", "confirmation_inputs", "plot_confirmation", "seed_lines"]

#: Panels: the count in a run row's ``before`` / ``after`` -> its label.
PANELS: dict[str, str] = {"correct": "correct", "in_format": "in format"}
#: A precision's colour: bf16, the main job's choice on a CPU with native bf16, in the kit's SR-GRPO colour.
_COLORS = {"bfloat16": COLORS["per_sample"], "float32": "tab:blue"}


def seed_lines(results: Mapping[str, Any], key: str) -> list[tuple[int, int, int]]:
    """``(seed, before, after)`` for every run of one results file, for the count ``key``."""
    if key not in PANELS:
        raise ValueError(f"no panel for {key!r}; one of {', '.join(PANELS)}")
    return [(int(run["seed"]), int(run["before"][key]), int(run["after"][key])) for run in results["runs"]]


def plot_confirmation(by_precision: Mapping[str, Mapping[str, Any]], output: str | Path | None = None,
                      title: str | None = None):
    """The figure for ``{precision: results}`` (a ``main_job_seeds.py`` results dict each); saved to ``output`` when
    given. Returns the matplotlib figure."""
    import matplotlib

    if output is not None:
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    if not by_precision:
        raise ValueError("no results to draw: pass {precision: the dict main_job_seeds.py wrote}")
    fig, axes = plt.subplots(1, len(PANELS), figsize=(4.2 * len(PANELS), 3.8), sharey=True)
    n = TARGETS["n"]
    for ax, (key, label) in zip(axes, PANELS.items()):
        for precision, results in by_precision.items():
            color = _COLORS.get(precision, "grey")
            lines = seed_lines(results, key)
            for i, (seed, before, after) in enumerate(lines):
                # Seeds that end on the same count would hide each other: a small sideways step keeps each visible.
                x_after = 1 + 0.012 * (i - (len(lines) - 1) / 2)
                ax.plot([0, x_after], [before, after], color=color, alpha=0.55, linewidth=1.2, marker="o",
                        markersize=3.5, label=f"{precision} ({len(lines)} seeds)" if i == 0 else None)
        ax.axhline(TARGETS[key], color="black", linestyle="--", linewidth=1)
        ax.text(1.06, TARGETS[key], f"target {TARGETS[key]}/{n}", va="center", fontsize=8)
        ax.set_xticks([0, 1], ["pretrained", "after training"])
        ax.set_xlim(-0.15, 1.35)
        ax.set_ylim(0, n)
        ax.set_title(f"{label} (of {n} held-out problems)", fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylabel("count")
    axes[0].legend(fontsize=8, loc="upper left")
    fig.suptitle(title or "python -m srgrpo, fresh seeds: before -> after", fontsize=11)
    fig.tight_layout()
    if output is not None:
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(output, dpi=110)
    return fig


def confirmation_inputs(paths: Sequence[str | Path]) -> dict[str, Any]:
    """``{precision: results}`` from ``main_job_seeds.py`` results files, each one's precision read from its recipe."""
    import json

    out: dict[str, Any] = {}
    for path in paths:
        data = json.loads(Path(path).read_text())
        precision = (data.get("recipe") or {}).get("precision")
        if not precision:
            raise ValueError(f"{path} records no recipe precision: it was written before main_job_seeds.py recorded "
                             "recipes; rerun its seeds with benchmarks/main_job_seeds.py")
        if precision in out:
            raise ValueError(f"two results files in {precision}: pass one a precision")
        out[precision] = data
    return out
