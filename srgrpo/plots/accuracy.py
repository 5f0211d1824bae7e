"""Evaluation results: :func:`plot_accuracy` draws the share correct, correct and in format, in format and cut off.

It reads the JSON summaries written by :mod:`srgrpo.eval_gsm8k` (or dicts), with 95 % Wilson intervals
(:func:`srgrpo.plumbing.stats.wilson_interval`), e.g. before/after a training run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

from srgrpo.glossary import EVAL_KEYS, eval_count
from srgrpo.plots.training import new_figure
from srgrpo.plumbing.stats import wilson_interval

__all__ = ["ACCURACY_BARS", "plot_accuracy"]


def _load_result(result) -> dict[str, Any]:
    if isinstance(result, dict):
        return result
    path = Path(result).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"evaluation result not found: {path}")
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or ("accuracy" not in data and "correct" not in data):
        raise ValueError(f"{path} is not an evaluation summary (no 'accuracy'): expected the JSON of srgrpo.eval_gsm8k")
    return data


def _result_label(result, data: dict, index: int) -> str:
    if data.get("label"):
        return str(data["label"])
    if isinstance(result, (str, Path)):
        return Path(result).stem
    if data.get("adapter"):
        return Path(str(data["adapter"])).name
    if data.get("model"):
        return str(data["model"]).split("/")[-1]
    return f"result {index + 1}"


def _counts(data: dict, kind: str) -> tuple[int, int] | None:
    """(successes, n) for kind 'accuracy', 'strict_accuracy', 'format_rate' or 'truncated_rate'."""
    k = eval_count(data, kind)
    return None if k is None else (k, int(data["n"]))


#: The bars of :func:`plot_accuracy`: the summary's key, its name in the legend, its colour.
ACCURACY_BARS = [(key, EVAL_KEYS[key], color) for key, color in
                 (("accuracy", "C0"), ("strict_accuracy", "C1"), ("format_rate", "C2"), ("truncated_rate", "C3"))]


def _dataset_title(datas: list[dict]) -> str:
    from srgrpo.tasks.word_problems import PROBLEM_SETS

    sets = {PROBLEM_SETS.get(str(d.get("dataset")), str(d.get("dataset"))) for d in datas if d.get("dataset")}
    if not sets and any(d.get("split") for d in datas):
        sets = {"GSM8K"}  # summaries written before the dataset field existed were GSM8K's
    split = {d.get("split") for d in datas} - {None}
    name = " / ".join(sorted(sets)) if sets else "held-out"
    return f"{name}{' ' + '/'.join(sorted(split)) if split else ''}"


def plot_accuracy(*results, labels: Sequence[str] | None = None, fig=None, rates: bool = True):
    """The share correct, correct and in format and (``rates``) in format and cut off of evaluation results, in %, with 95 %
    Wilson intervals: a ``Figure`` titled with the problem set.

    ``results`` are summary JSON paths written by :mod:`srgrpo.eval_gsm8k` or dicts with ``n`` and ``correct``
    (and optionally ``strict_correct``, ``format_rate``, ``truncated_rate``), or ``n`` and ``accuracy``. ``labels``
    default to the file names (or a dict's ``label``, adapter or model). The format and cut-off rates are where a
    short RL run shows first: the answer line is learnt, and the model learns to stop.
    """
    if not results:
        raise ValueError("plot_accuracy needs at least one result")
    if labels is not None and len(labels) != len(results):
        raise ValueError(f"got {len(labels)} labels for {len(results)} results")
    datas = [_load_result(r) for r in results]
    labels = list(labels) if labels is not None else [_result_label(r, d, i) for i, (r, d) in enumerate(zip(results, datas))]
    kinds = [bar for bar in ACCURACY_BARS[: 4 if rates else 2]
             if bar[0] == "accuracy" or any(_counts(d, bar[0]) for d in datas)]
    fig = new_figure(fig, (max(4.5, 1.1 * len(datas) * len(kinds) + 1.5), 3.8))
    ax = fig.subplots()
    width = 0.8 / len(kinds)
    for j, (kind, name, color) in enumerate(kinds):
        xs, ys, lo, hi = [], [], [], []
        for i, data in enumerate(datas):
            counts = _counts(data, kind)
            if counts is None:
                continue
            k, n = counts
            p = k / n if n else 0.0
            low, high = wilson_interval(k, n)
            xs.append(i + (j - (len(kinds) - 1) / 2) * width)
            ys.append(100 * p)
            lo.append(max(0.0, 100 * (p - low)))  # Wilson's bound at k=0 can be a rounding error above 0
            hi.append(max(0.0, 100 * (high - p)))
        ax.bar(xs, ys, width=width * 0.95, color=color, alpha=0.85, label=name,
               yerr=[lo, hi], capsize=3, error_kw={"elinewidth": 1})
        for x, y, h in zip(xs, ys, hi):
            ax.text(x, min(y + h + 2, 103), f"{y:.0f}%", ha="center", va="bottom", fontsize=7)
    ns = [c[1] for c in (_counts(d, "accuracy") for d in datas) if c]
    ax.set_xticks(range(len(datas)), labels)
    ax.set_ylim(0, 112)
    ax.set_ylabel("% of the problems")
    title = _dataset_title(datas)
    if ns:
        title += f" (n={ns[0]})" if len(set(ns)) == 1 else f" (n={min(ns)}-{max(ns)})"
    ax.set_title(title + ", greedy; 95% Wilson intervals", fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    if len(kinds) > 1:
        ax.legend(fontsize=7, loc="upper left", ncols=2)
    return fig
