r"""Plots of training runs and of evaluation results, as ``matplotlib.figure.Figure`` objects.

* :func:`plot_training` reads the ``log_history`` of one or more training runs (``trainer_state.json`` in the run's
  output folder, or in its newest ``checkpoint-N`` while a run is still going) and draws one panel per metric:
  the reward with a +-1 std band, each reward function's mean, the soft advantage (mean with a +-1 std band), the KL
  to the reference model and the mean completion length. Panels whose metric no run logged are left out. Raw values
  are drawn faintly and an exponential moving average on top; several runs are overlaid, labelled by their folder
  names unless ``labels`` are given.
* :func:`plot_accuracy` draws the accuracy and strict accuracy of evaluation results (the JSON summaries written by
  :mod:`srgrpo.eval_gsm8k`, or dicts), with 95 % Wilson intervals (:func:`srgrpo.stats.wilson_interval`), e.g. before/after.

The figures are built without ``pyplot``'s global state, so notebooks display them by returning them, and scripts
save them with ``fig.savefig(path)``. From a shell::

    python -m srgrpo.plots runs/gsm8k_t4 runs/gsm8k_t4_shared --output training.png
    python -m srgrpo.plots outputs/before.json outputs/after.json --output accuracy.png
    python -m srgrpo.plots runs/gsm8k_t4 outputs/before.json outputs/after.json --output both.png

Each argument is recognised as a run (a folder with ``trainer_state.json``, or that file itself) or an evaluation
summary (a JSON file with ``accuracy``); when both kinds are given, both plots are stacked in one image.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any, Iterable, Sequence

from srgrpo.glossary import EVAL_KEYS
from srgrpo.stats import ema, wilson_interval

__all__ = [
    "wilson_interval",
    "ema",
    "load_log_history",
    "training_panels",
    "plot_training",
    "plot_accuracy",
    "main",
]


# --------------------------------------------------------------------------------------------------------------------
# Training runs
# --------------------------------------------------------------------------------------------------------------------


def _state_file(run: str | Path) -> Path:
    path = Path(run).expanduser()
    if path.is_file():
        return path
    if not path.is_dir():
        raise FileNotFoundError(f"training run not found: {path}")
    direct = path / "trainer_state.json"
    if direct.is_file():
        return direct
    checkpoints = sorted(
        (p for p in path.glob("checkpoint-*/trainer_state.json") if p.parent.name.split("-")[-1].isdigit()),
        key=lambda p: int(p.parent.name.split("-")[-1]),
    )
    if checkpoints:
        return checkpoints[-1]
    raise FileNotFoundError(
        f"{path} has no trainer_state.json (nor checkpoint-N/trainer_state.json): is it a training output folder?"
    )


def load_log_history(run: str | Path | dict | list) -> list[dict[str, Any]]:
    """The ``log_history`` of a run: a run folder, a ``trainer_state.json`` path, a state dict or the list itself.

    A folder without ``trainer_state.json`` (a run still training) uses its newest ``checkpoint-N``.
    """
    if isinstance(run, list):
        return run
    if isinstance(run, dict):
        return list(run.get("log_history", []))
    path = _state_file(run)
    state = json.loads(path.read_text(encoding="utf-8"))
    if "log_history" not in state:
        raise ValueError(f"{path} has no log_history: not a trainer_state.json")
    return list(state["log_history"])


def _series(history: list[dict], key: str) -> tuple[list[float], list[float]]:
    xs, ys = [], []
    for i, entry in enumerate(history):
        value = entry.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            xs.append(entry.get("step", i + 1))
            ys.append(float(value))
    return xs, ys


def training_panels(histories: Iterable[list[dict]]) -> list[dict[str, Any]]:
    """The panels :func:`plot_training` draws for these histories: ``{"title", "key", "band", "ylabel"}`` each,
    in order, only those whose metric appears in at least one history."""
    histories = list(histories)
    keys = set()
    for h in histories:
        for entry in h:
            keys.update(entry)
    panels = []
    if "reward" in keys:
        panels.append({"title": "reward (sum of reward functions)", "key": "reward", "band": "reward_std"})
    reward_funcs = sorted({k.split("/")[1] for k in keys if k.startswith("rewards/") and k.endswith("/mean")})
    for name in reward_funcs:
        short = name[: -len("_reward")] if name.endswith("_reward") else name
        panels.append({"title": f"reward: {short}", "key": f"rewards/{name}/mean", "band": None})
    if "soft_advantage_std" in keys:
        # The spread, not the mean: per_sample's (and GRPO's) mean is 0 by construction; 0 spread = no signal.
        panels.append({"title": "advantage spread (std over completions)", "key": "soft_advantage_std", "band": None})
    if "frac_reward_zero_std" in keys:
        panels.append({"title": "groups without signal (share)", "key": "frac_reward_zero_std", "band": None})
    if "kl" in keys:
        panels.append({"title": "KL to reference", "key": "kl", "band": None})
    if "completion_length" in keys:
        panels.append({"title": "completion length (tokens)", "key": "completion_length", "band": None})
    elif "completions/mean_length" in keys:
        panels.append({"title": "completion length (tokens)", "key": "completions/mean_length", "band": None})
    if "completions/clipped_ratio" in keys:
        panels.append({"title": "cut off at the token limit (share)", "key": "completions/clipped_ratio", "band": None})
    return panels


def _reward_range(histories: list[list[dict]]) -> tuple[float, float] | None:
    """The range the summed reward can take when every reward function's logged mean stays in [0, 1] (the kit's
    rewards): ``(0, number of functions)``; ``None`` when that cannot be told from the logs."""
    funcs = {k for h in histories for e in h for k in e if k.startswith("rewards/") and k.endswith("/mean")}
    values = [e[k] for h in histories for e in h for k in funcs if isinstance(e.get(k), (int, float))]
    if not funcs or not values or min(values) < 0 or max(values) > 1:
        return None
    return 0.0, float(len(funcs))


def _new_figure(fig, figsize):
    if fig is not None:
        return fig
    from matplotlib.figure import Figure

    return Figure(figsize=figsize, layout="constrained")


def _run_label(run, index: int) -> str:
    if isinstance(run, (str, Path)):
        path = Path(run).expanduser().resolve()
        return path.parent.name if path.is_file() else path.name
    return f"run {index + 1}"


def plot_training(*runs, labels: Sequence[str] | None = None, smooth: float = 0.8, ncols: int = 3, fig=None,
                  min_steps_to_smooth: int = 10):
    """Training curves of one or more runs, overlaid: a ``matplotlib.figure.Figure``.

    ``runs`` are run folders, ``trainer_state.json`` paths, state dicts or log-history lists. ``labels`` name the
    runs in the legend (default: the folder names). ``smooth`` is the EMA weight of :func:`ema` (0 = no smoothing);
    runs shorter than ``min_steps_to_smooth`` steps are drawn unsmoothed (an average of a few points misleads). Steps
    are integers on the x axis; the reward's ±1 std band is kept inside the reward's range. ``fig`` draws into an
    existing figure or sub-figure instead of a new one.
    """
    if not runs:
        raise ValueError("plot_training needs at least one run")
    if labels is not None and len(labels) != len(runs):
        raise ValueError(f"got {len(labels)} labels for {len(runs)} runs")
    histories = [load_log_history(r) for r in runs]
    labels = list(labels) if labels is not None else [_run_label(r, i) for i, r in enumerate(runs)]
    panels = training_panels(histories)
    if not panels:
        raise ValueError("none of the runs logged a metric to plot (reward, rewards/*, soft_advantage_*, kl, "
                         "completion_length); is logging_steps set and has a step finished?")
    from matplotlib.ticker import MaxNLocator

    # Columns that leave no empty slot when one of ncols-1..ncols+1 does (a spare slot is given the legend).
    choices = [c for c in (ncols, ncols + 1, ncols - 1) if 1 <= c <= len(panels)] or [1]
    ncols = min(choices, key=lambda c: (-len(panels) % c, choices.index(c)))
    nrows = math.ceil(len(panels) / ncols)
    fig = _new_figure(fig, (4.3 * ncols, 3.0 * nrows))
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    colors = [f"C{i % 10}" for i in range(len(runs))]
    longest = max(len(_series(h, panels[0]["key"])[0]) for h in histories)
    if longest < min_steps_to_smooth:
        smooth = 0.0
    reward_range = _reward_range(histories)
    for ax, panel in zip(axes, panels):
        for history, label, color in zip(histories, labels, colors):
            xs, ys = _series(history, panel["key"])
            if not xs:
                continue
            band = None
            if panel["band"]:
                bx, bs = _series(history, panel["band"])
                lookup = dict(zip(bx, bs))
                if all(x in lookup for x in xs):
                    band = [lookup[x] for x in xs]
            if smooth:
                ax.plot(xs, ys, color=color, alpha=0.25, linewidth=1)
            if band is not None:
                low, high = [y - s for y, s in zip(ys, band)], [y + s for y, s in zip(ys, band)]
                if reward_range is not None:
                    low = [max(v, reward_range[0]) for v in low]
                    high = [min(v, reward_range[1]) for v in high]
                ax.fill_between(xs, low, high, color=color, alpha=0.10, linewidth=0)
            ax.plot(xs, ema(ys, smooth) if smooth else ys, color=color, linewidth=2, label=label,
                    marker="o" if len(xs) < min_steps_to_smooth else None, markersize=3)
        ax.set_title(panel["title"], fontsize=10)
        ax.set_xlabel("step")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    handles, names = [], []
    for ax in axes[: len(panels)]:
        for h, n in zip(*ax.get_legend_handles_labels()):
            if n not in names:
                handles.append(h)
                names.append(n)
    spare = list(axes[len(panels):])
    for ax in spare:
        ax.set_axis_off()
    if handles and spare:
        spare[0].legend(handles, names, fontsize=9, loc="center", title="runs")
    elif handles:
        axes[0].legend(handles, names, fontsize=8, loc="best")
    return fig


# --------------------------------------------------------------------------------------------------------------------
# Evaluation results
# --------------------------------------------------------------------------------------------------------------------


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
    n = data.get("n")
    count_key = {"accuracy": "correct", "strict_accuracy": "strict_correct"}.get(kind)
    k = data.get(count_key) if count_key else None
    if n is None or k is None:
        if n is not None and data.get(kind) is not None:
            k = round(float(data[kind]) * int(n))
        else:
            return None
    return int(k), int(n)


#: The bars of :func:`plot_accuracy`: the summary's key, its name in the legend, its colour.
ACCURACY_BARS = [(key, EVAL_KEYS[key], color) for key, color in
                 (("accuracy", "C0"), ("strict_accuracy", "C1"), ("format_rate", "C2"), ("truncated_rate", "C3"))]


def _dataset_title(datas: list[dict]) -> str:
    from srgrpo.word_problems import PROBLEM_SETS

    sets = {PROBLEM_SETS.get(str(d.get("dataset")), str(d.get("dataset"))) for d in datas if d.get("dataset")}
    if not sets and any(d.get("split") for d in datas):
        sets = {"GSM8K"}  # summaries written before the dataset field existed were GSM8K's
    split = {d.get("split") for d in datas} - {None}
    name = " / ".join(sorted(sets)) if sets else "held-out"
    return f"{name}{' ' + '/'.join(sorted(split)) if split else ''}"


def plot_accuracy(*results, labels: Sequence[str] | None = None, fig=None, rates: bool = True):
    """Accuracy, strict accuracy and (``rates``) the format and cut-off rates of evaluation results, in %, with 95 %
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
    fig = _new_figure(fig, (max(4.5, 1.1 * len(datas) * len(kinds) + 1.5), 3.8))
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


# --------------------------------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------------------------------


def _classify(arg: str) -> str:
    """'run' or 'result' (see the module docstring); ValueError otherwise."""
    path = Path(arg).expanduser()
    if path.is_dir():
        _state_file(path)  # raises a clear error if it is not a run
        return "run"
    if not path.is_file():
        raise ValueError(f"not found: {path}")
    if path.suffix == ".jsonl":
        raise ValueError(f"{path} is a per-example records file; pass the evaluation summary {path.with_suffix('.json')}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ValueError(f"{path} is not JSON: {exc}") from exc
    if isinstance(data, dict) and "log_history" in data:
        return "run"
    if isinstance(data, dict) and ("accuracy" in data or "correct" in data):
        return "result"
    raise ValueError(f"{path} is neither a trainer_state.json nor an evaluation summary")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m srgrpo.plots",
        description="Plot training runs (folders with trainer_state.json) and/or evaluation summaries (JSON).",
    )
    parser.add_argument("inputs", nargs="+", help="run folders, trainer_state.json files or eval summary JSONs")
    parser.add_argument("--output", "-o", default=None,
                        help="image file to write (png, pdf, svg); default outputs/<first input's name>.png")
    parser.add_argument("--labels", nargs="+", default=None, help="legend labels, one per input, in order")
    parser.add_argument("--smooth", type=float, default=0.8, help="EMA weight for training curves (0 = none)")
    parser.add_argument("--dpi", type=int, default=120)
    args = parser.parse_args(argv)
    try:
        kinds = [_classify(a) for a in args.inputs]
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.labels is not None and len(args.labels) != len(args.inputs):
        print(f"error: got {len(args.labels)} labels for {len(args.inputs)} inputs", file=sys.stderr)
        return 2
    labels = args.labels or [None] * len(args.inputs)
    runs = [(a, l) for a, l, k in zip(args.inputs, labels, kinds) if k == "run"]
    results = [(a, l) for a, l, k in zip(args.inputs, labels, kinds) if k == "result"]

    def lab(pairs):
        return [l for _, l in pairs] if args.labels else None

    from matplotlib.figure import Figure

    if runs and results:
        n_panels = len(training_panels([load_log_history(a) for a, _ in runs]))
        train_h = 3.0 * math.ceil(n_panels / 3) + 0.5
        fig = Figure(figsize=(13, train_h + 4), layout="constrained")
        top, bottom = fig.subfigures(2, 1, height_ratios=[train_h, 4])
        plot_training(*[a for a, _ in runs], labels=lab(runs), smooth=args.smooth, fig=top)
        plot_accuracy(*[a for a, _ in results], labels=lab(results), fig=bottom)
    elif runs:
        fig = plot_training(*[a for a, _ in runs], labels=lab(runs), smooth=args.smooth)
    else:
        fig = plot_accuracy(*[a for a, _ in results], labels=lab(results))
    out = Path(args.output).expanduser() if args.output else Path("outputs") / f"{Path(args.inputs[0]).stem}.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=args.dpi)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
