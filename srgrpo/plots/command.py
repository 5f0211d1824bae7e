"""``python -m srgrpo.plots``: training runs and/or evaluation summaries to one image. ::

    python -m srgrpo.plots runs/gsm8k_t4 runs/gsm8k_t4_shared --output training.png
    python -m srgrpo.plots outputs/before.json outputs/after.json --output accuracy.png
    python -m srgrpo.plots runs/gsm8k_t4 outputs/before.json outputs/after.json --output both.png

Each argument is recognised as a run (a folder with ``trainer_state.json``, or that file itself) or an evaluation
summary (a JSON file with ``accuracy``); when both kinds are given, both plots are stacked in one image.
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path

from srgrpo.plots.accuracy import plot_accuracy
from srgrpo.plots.training import load_log_history, plot_training, state_file, training_panels

__all__ = ["PlotSettings", "main"]


def _classify(arg: str) -> str:
    """'run' or 'result' (see the module docstring); ValueError otherwise."""
    path = Path(arg).expanduser()
    if path.is_dir():
        state_file(path)  # raises a clear error if it is not a run
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


@dataclass
class PlotSettings:
    """``python -m srgrpo.plots --help`` lists these, after the inputs (run folders and evaluation summaries)."""

    output: str | None = field(default=None, metadata={
        "help": "image file to write (png, pdf, svg); default outputs/<first input's name>.png"})
    labels: list[str] | None = field(default=None, metadata={"help": "legend labels, one per input, in order"})
    smooth: float = field(default=0.8, metadata={"help": "EMA weight for training curves (0 = none)"})
    dpi: int = field(default=120, metadata={"help": "resolution of a bitmap image"})


def main(argv: list[str] | None = None) -> int:
    from transformers import HfArgumentParser

    from srgrpo.plumbing.flags import parse_flags

    parser = HfArgumentParser(PlotSettings, prog="python -m srgrpo.plots", allow_abbrev=False,
                              description="Plot training runs (folders with trainer_state.json) and/or evaluation "
                                          "summaries (JSON).")
    parser.add_argument("inputs", nargs="+", help="run folders, trainer_state.json files or eval summary JSONs")
    args, positional = parse_flags(parser, sys.argv[1:] if argv is None else argv)
    args.inputs = positional.inputs
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
