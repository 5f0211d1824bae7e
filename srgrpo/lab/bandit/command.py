"""``python -m srgrpo.lab bandit --output FILE.json``: every advantage method on the contextual bandit, in seconds.

Writes ``FILE.json`` and a figure ``FILE.png`` beside it (``--png`` elsewhere). The JSON is a
:func:`srgrpo.lab.bandit.runs.compare_bandit` summary plus where it came from::

    {"experiment": "bandit",
     "metadata": {"command", "argv", "versions", "machine", "timestamp_utc"},
     "config": {"methods", "taus", "seeds", "steps", "prompts", "answers", "k", "lr", "seed",
                "reward", "threshold", "checkpoints"},
     "runs": {label: {"label", "method", "tau", "control", "wall_s", "checkpoints", "final",
                      "steps_to_80", "curve"}},
     "wall_s": seconds, "png": path}

so ``plot_bandit(json.load(open(FILE)))`` redraws the figure. The options are the fields of :class:`BanditCommand`.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from srgrpo.lab.bandit.runs import DEFAULT_CHECKPOINTS, DEFAULTS, REWARDS, compare_bandit, format_table, plot_bandit
from srgrpo.lab.methods import DEFAULT_TAUS, METHODS
from srgrpo.lab.results import parse_command, run_metadata, write_json

__all__ = ["BanditCommand", "main"]


@dataclass
class BanditCommand:
    """The options of ``python -m srgrpo.lab bandit``."""

    output: str = field(default=None, metadata={"help": "results JSON to write", "required": True})
    png: str | None = field(default=None, metadata={"help": "figure path (default: the output's stem + .png)"})
    methods: list[str] = field(default_factory=lambda: list(METHODS),
                               metadata={"help": "advantage methods", "choices": METHODS})
    taus: list[float] = field(default_factory=lambda: list(DEFAULT_TAUS),
                              metadata={"help": "temperatures of the soft methods"})
    num_seeds: int = field(default=DEFAULTS["seeds"], metadata={"help": "replicates"})
    max_steps: int = field(default=DEFAULTS["steps"], metadata={"help": "policy-gradient steps"})
    prompts: int = field(default=DEFAULTS["prompts"], metadata={"help": "prompts per replicate"})
    answers: int = field(default=DEFAULTS["answers"], metadata={"help": "answers per prompt"})
    num_generations: int = field(default=DEFAULTS["k"], metadata={"help": "samples per prompt, the group size"})
    learning_rate: float = field(default=DEFAULTS["lr"], metadata={"help": "step size"})
    seed: int = field(default=DEFAULTS["seed"], metadata={"help": "random seed"})
    reward: str = field(default="bernoulli", metadata={
        "help": "0/1 rewards or the answer's success probability", "choices": REWARDS})
    checkpoints: list[int] = field(default_factory=lambda: list(DEFAULT_CHECKPOINTS),
                                   metadata={"help": "steps reported in the table (plus the last step)"})


def main(argv: Sequence[str] = ()) -> int:
    args = parse_command(BanditCommand, argv, "bandit",
                         "Compare advantage methods on a contextual bandit (srgrpo.lab.bandit.runs).",
                         extra_renamed={"--seeds": "--num_seeds"})
    start = time.perf_counter()
    try:
        summary = compare_bandit(
            args.methods, args.taus, seeds=args.num_seeds, steps=args.max_steps, prompts=args.prompts,
            answers=args.answers, k=args.num_generations, lr=args.learning_rate, seed=args.seed, reward=args.reward,
            checkpoints=args.checkpoints,
        )
    except ValueError as err:  # a bad setting: say which, without a traceback
        print(f"error: {err}", file=sys.stderr)
        return 2
    compute_s = time.perf_counter() - start
    output = Path(args.output)
    png = Path(args.png) if args.png is not None else output.with_suffix(".png")
    png.parent.mkdir(parents=True, exist_ok=True)
    plot_bandit(summary, path=png)
    wall_s = time.perf_counter() - start
    write_json(output, {"experiment": "bandit", "metadata": run_metadata(["bandit", *argv]), **summary,
                        "wall_s": round(wall_s, 3), "png": str(png)})
    print(format_table(summary))
    print(f"\n{len(summary['runs'])} runs x {args.num_seeds} seeds x {args.max_steps} steps: "
          f"{compute_s:.1f} s computing, {wall_s:.1f} s with the figure")
    print(f"wrote {output} and {png}")
    return 0
