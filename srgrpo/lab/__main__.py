"""Command line of the learning lab: ``python -m srgrpo.lab <experiment> --output FILE.json``.

``bandit``
    Compares every advantage method on the contextual bandit of :mod:`srgrpo.lab.bandit` and
    writes ``FILE.json`` and a figure ``FILE.png`` beside it (``--png`` elsewhere). The JSON is a
    :func:`srgrpo.lab.bandit.compare_bandit` summary plus where it came from::

        {"experiment": "bandit",
         "metadata": {"command", "argv", "versions", "machine", "timestamp_utc"},
         "config": {"methods", "taus", "seeds", "steps", "prompts", "answers", "k", "lr", "seed",
                    "reward", "threshold", "checkpoints"},
         "runs": {label: {"label", "method", "tau", "control", "wall_s", "checkpoints", "final",
                          "steps_to_80", "curve"}},
         "wall_s": seconds, "png": path}

    so ``plot_bandit(json.load(open(FILE)))`` redraws the figure.

Other experiments live in their own modules (see :data:`EXTERNAL_COMMANDS`): such a module is
imported only when its subcommand is chosen, and its subcommand is offered only once the module
exists.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
import time
from pathlib import Path
from typing import Callable, Sequence

#: Subcommands implemented elsewhere: name -> (module, one-line help). The module defines
#: ``add_arguments(parser)`` (fill in its ``argparse`` subparser) and ``main(args) -> int``.
EXTERNAL_COMMANDS: dict[str, tuple[str, str]] = {
    "arithmetic": ("srgrpo.lab.arithmetic", "tiny language model on arithmetic word problems"),
    "report": ("srgrpo.lab.report", "write the committed results into the README's tables (--check: verify)"),
}


def _add_bandit_arguments(parser: argparse.ArgumentParser) -> None:
    from srgrpo.lab.bandit import DEFAULT_CHECKPOINTS, DEFAULTS, REWARDS
    from srgrpo.lab.methods import DEFAULT_TAUS, METHODS

    parser.add_argument("--output", required=True, type=Path, help="results JSON to write")
    parser.add_argument("--png", type=Path, default=None, help="figure path (default: the output's stem + .png)")
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS), metavar="METHOD",
                        help=f"advantage methods (default: all of {', '.join(METHODS)})")
    parser.add_argument("--taus", nargs="+", type=float, default=list(DEFAULT_TAUS), metavar="TAU",
                        help="temperatures of the soft methods (default: %(default)s)")
    parser.add_argument("--seeds", type=int, default=DEFAULTS["seeds"], help="replicates (default: %(default)s)")
    parser.add_argument("--steps", type=int, default=DEFAULTS["steps"], help="policy-gradient steps (default: %(default)s)")
    parser.add_argument("--prompts", type=int, default=DEFAULTS["prompts"], help="prompts per replicate (default: %(default)s)")
    parser.add_argument("--answers", type=int, default=DEFAULTS["answers"], help="answers per prompt (default: %(default)s)")
    parser.add_argument("--k", type=int, default=DEFAULTS["k"], help="samples per prompt, the group size (default: %(default)s)")
    parser.add_argument("--lr", type=float, default=DEFAULTS["lr"], help="step size (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=DEFAULTS["seed"], help="random seed (default: %(default)s)")
    parser.add_argument("--reward", choices=REWARDS, default="bernoulli",
                        help="0/1 rewards or the answer's success probability (default: %(default)s)")
    parser.add_argument("--checkpoints", nargs="+", type=int, default=list(DEFAULT_CHECKPOINTS), metavar="STEP",
                        help="steps reported in the table (default: %(default)s, plus the last step)")


def _bandit_main(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from srgrpo.lab.bandit import compare_bandit, format_table, plot_bandit
    from srgrpo.lab.results import run_metadata, write_json

    start = time.perf_counter()
    try:
        summary = compare_bandit(
            args.methods, args.taus, seeds=args.seeds, steps=args.steps, prompts=args.prompts,
            answers=args.answers, k=args.k, lr=args.lr, seed=args.seed, reward=args.reward,
            checkpoints=args.checkpoints,
        )
    except ValueError as err:  # a bad setting: say which, without a traceback
        print(f"error: {err}", file=sys.stderr)
        return 2
    compute_s = time.perf_counter() - start
    png = args.png if args.png is not None else args.output.with_suffix(".png")
    png.parent.mkdir(parents=True, exist_ok=True)
    plot_bandit(summary, path=png)
    wall_s = time.perf_counter() - start
    result = {
        "experiment": "bandit",
        "metadata": run_metadata(argv),
        **summary,
        "wall_s": round(wall_s, 3),
        "png": str(png),
    }
    write_json(args.output, result)
    print(format_table(summary))
    print(f"\n{len(summary['runs'])} runs x {args.seeds} seeds x {args.steps} steps: "
          f"{compute_s:.1f} s computing, {wall_s:.1f} s with the figure")
    print(f"wrote {args.output} and {png}")
    return 0


def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    """The lab's parser; an external subcommand's module is imported only if ``argv`` chooses it."""
    parser = argparse.ArgumentParser(prog="python -m srgrpo.lab", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="EXPERIMENT")
    bandit = sub.add_parser("bandit", help="compare advantage methods on a contextual bandit (seconds)",
                            description="Compare advantage methods on a contextual bandit (srgrpo.lab.bandit).")
    _add_bandit_arguments(bandit)
    bandit.set_defaults(run=_bandit_main)
    chosen = argv[0] if argv else None
    for name, (module, help_text) in EXTERNAL_COMMANDS.items():
        if importlib.util.find_spec(module) is None:
            continue  # not written yet: do not offer it
        command = sub.add_parser(name, help=help_text, description=help_text)
        if name == chosen:
            mod = importlib.import_module(module)
            mod.add_arguments(command)
            command.set_defaults(run=lambda args, _argv, _main=mod.main: _main(args))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(argv).parse_args(argv)
    run: Callable[[argparse.Namespace, Sequence[str]], int] = args.run
    return int(run(args, argv) or 0)


if __name__ == "__main__":
    sys.exit(main())
