"""Training curves: :func:`plot_training` draws the ``log_history`` of one or more training runs.

It reads ``trainer_state.json`` in the run's output folder (or in its newest ``checkpoint-N`` while a run is still
going) and draws one panel per metric: the reward with a +-1 std band, each reward function's mean, the spread of the
soft advantage, the share of groups without signal, the KL to the reference model, the mean completion length and the
share of completions cut off. Panels whose metric no run logged are left out. Each step's raw value is the bold line (the one to read numbers off); runs of 10 steps or more add an
exponential moving average as a faint line (it lags behind). The reward's shaded band is +-1 standard deviation of the
step's rewards over its completions. Several runs are overlaid, labelled by their folder names unless ``labels`` are
given; a grid slot with no panel is removed, not filled with a legend.

The figure is built without ``pyplot``'s global state: a notebook displays it by returning it, a script saves it with
``fig.savefig(path)``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Iterable, Sequence

from srgrpo.plumbing.stats import ema

__all__ = ["load_log_history", "training_panels", "plot_training", "new_figure"]


def state_file(run: str | Path) -> Path:
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
    path = state_file(run)
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


#: The panels with one curve each, in order: the metric's key (or the names it had across TRL's versions, first
#: found wins) and the panel's title. The spread of the advantage, not its mean: per_sample's (and GRPO's) mean is 0
#: by construction, and 0 spread means no signal.
_SIMPLE_PANELS = [
    ("soft_advantage_std", "advantage spread (std over completions)"),
    ("frac_reward_zero_std", "groups without signal (share)"),
    ("kl", "KL to reference"),
    (("completion_length", "completions/mean_length"), "completion length (tokens)"),
    ("completions/clipped_ratio", "cut off at the token limit (share)"),
]


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
    for key, title in _SIMPLE_PANELS:
        if isinstance(key, tuple):  # the first of these names that a run logged (TRL renamed some)
            key = next((k for k in key if k in keys), None)
        if key in keys:
            panels.append({"title": title, "key": key, "band": None})
    return panels


def _reward_range(histories: list[list[dict]]) -> tuple[float, float] | None:
    """The range the summed reward can take when every reward function's logged mean stays in [0, 1] (the kit's
    rewards): ``(0, number of functions)``; ``None`` when that cannot be told from the logs."""
    funcs = {k for h in histories for e in h for k in e if k.startswith("rewards/") and k.endswith("/mean")}
    values = [e[k] for h in histories for e in h for k in funcs if isinstance(e.get(k), (int, float))]
    if not funcs or not values or min(values) < 0 or max(values) > 1:
        return None
    return 0.0, float(len(funcs))


def new_figure(fig, figsize):
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

    # Columns that leave the fewest empty slots (an empty slot is removed).
    choices = [c for c in (ncols, ncols + 1, ncols - 1) if 1 <= c <= len(panels)] or [1]
    ncols = min(choices, key=lambda c: (-len(panels) % c, choices.index(c)))
    nrows = math.ceil(len(panels) / ncols)
    fig = new_figure(fig, (4.3 * ncols, 3.0 * nrows + 0.4))
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    colors = [f"C{i % 10}" for i in range(len(runs))]
    longest = max(len(_series(h, panels[0]["key"])[0]) for h in histories)
    if longest < min_steps_to_smooth:
        smooth = 0.0
    reward_range = _reward_range(histories)
    banded = False
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
            if band is not None:
                low, high = [y - s for y, s in zip(ys, band)], [y + s for y, s in zip(ys, band)]
                if reward_range is not None:
                    low = [max(v, reward_range[0]) for v in low]
                    high = [min(v, reward_range[1]) for v in high]
                ax.fill_between(xs, low, high, color=color, alpha=0.10, linewidth=0)
                banded = True
            # The raw values, bold: what the text and tables quote.
            ax.plot(xs, ys, color=color, linewidth=2, label=label, marker="o", markersize=3)
            if smooth:  # the moving average, faint: it lags behind the raw values
                ax.plot(xs, ema(ys, smooth), color=color, alpha=0.45, linewidth=1.2, linestyle="--")
        ax.set_title(panel["title"], fontsize=10)
        ax.set_xlabel("step")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    for ax in axes[len(panels):]:
        fig.delaxes(ax)
    key = ["bold: each step's value"]
    if smooth:
        key.append(f"faint dashed: its moving average (EMA {smooth:g}; lags behind)")
    if banded:
        key.append("shaded: reward +-1 std over the step's completions")
    fig.suptitle("; ".join(key), fontsize=9)
    if len(runs) > 1:
        axes[0].legend(fontsize=8, loc="best")
    return fig
