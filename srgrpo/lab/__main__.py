"""Command line of the learning lab: ``python -m srgrpo.lab <experiment> [options]``.

Each experiment lives in its own module (:data:`COMMANDS`), imported only when it is chosen; the module's
``main(argv)`` parses the rest of the command line into its settings dataclass (``--help`` lists them) and returns
the exit status.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

#: Experiments: name -> (module, one-line help). The module defines ``main(argv) -> int``.
COMMANDS: dict[str, tuple[str, str]] = {
    "bandit": ("srgrpo.lab.bandit.command", "compare advantage methods on a contextual bandit (seconds)"),
    "real": ("srgrpo.lab.real.command", "SmolLM2-135M-Instruct on synthetic word problems, every method, several seeds"),
    "stability": ("srgrpo.lab.stability.command", "per_sample(tau=1) vs grpo on 10 fresh seeds: is the softmax weighting "
                                          "more stable and smoother? (declared tests)"),
    "recipe": ("srgrpo.lab.recipe.command", "which CPU recipe makes the main job learn every time? (declared study, "
                                            "tuning seeds and validation problems; hours)"),
    "wrong_work": ("srgrpo.lab.wrong_work.command", "does RL make 'right answer, wrong work' more common? (declared "
                                                    "test over the main job's confirmation seeds)"),
    "power": ("srgrpo.lab.stability.power", "the stability experiment's declared test: how often it would have found "
                                            "per_sample's spread halved or quartered (simulated from its runs)"),
    "report": ("srgrpo.lab.report", "write the committed results into docs/lab.md's tables (--check: verify)"),
}


def build_parser() -> argparse.ArgumentParser:
    """The parser that chooses the experiment; the experiment's own options are its module's."""
    parser = argparse.ArgumentParser(
        prog="python -m srgrpo.lab", description="The learning lab: watch each advantage method learn, on a CPU.",
        epilog="experiments: " + "; ".join(f"{name}: {text}" for name, (_, text) in COMMANDS.items())
        + ". `python -m srgrpo.lab EXPERIMENT --help` lists an experiment's options.",
    )
    parser.add_argument("experiment", choices=list(COMMANDS), metavar="EXPERIMENT",
                        help=f"one of {', '.join(COMMANDS)}")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    build_parser().parse_args(argv[:1])  # --help, or an unknown experiment: usage and exit
    module = importlib.import_module(COMMANDS[argv[0]][0])
    return int(module.main(argv[1:]) or 0)


if __name__ == "__main__":
    sys.exit(main())
