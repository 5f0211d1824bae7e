"""Markdown tables of the lab's committed results, for the README.

The README shows the lab's numbers, and none of them is typed by hand: they are generated from the
JSON files the lab commands wrote (``data/results/bandit.json``, ``data/results/arithmetic.json``)
and written between two markers in the README::

    <!-- lab-results:start -->
    ... generated ...
    <!-- lab-results:end -->

``python -m srgrpo.lab report`` rewrites that block; ``python -m srgrpo.lab report --check`` exits
with status 1 if it is stale, and a test runs the same check, so the README can never drift from the
results it cites.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from srgrpo.lab.results import parse_command
from srgrpo.runtime import REPO_ROOT, RESULTS_DIR

__all__ = ["START", "END", "bandit_markdown", "arithmetic_markdown", "results_markdown", "update_readme",
           "ReportCommand", "main"]

START = "<!-- lab-results:start -->"
END = "<!-- lab-results:end -->"


def _interval(stat: dict[str, Any] | None, fmt: str = "{:.2f}") -> str:
    """``mean [low, high]``, or the mean alone when there is no interval."""
    if not stat or stat.get("mean") is None:
        return "n/a"
    text = fmt.format(stat["mean"])
    if stat.get("low") is not None and stat.get("high") is not None:
        text += f" [{fmt.format(stat['low'])}, {fmt.format(stat['high'])}]"
    return text


def _label(run: dict[str, Any]) -> str:
    return f"`{run['label']}`" + (" (control)" if run.get("control") else "")


def bandit_markdown(summary: dict[str, Any]) -> str:
    """Fraction of the optimum at each checkpoint and steps to 80%, per method, mean [95% interval]."""
    cfg = summary["config"]
    runs = list(summary["runs"].values())
    steps = [c["step"] for c in runs[0]["checkpoints"] if c["step"] > 0]
    head = "| method | " + " | ".join(f"step {s}" for s in steps) + " | steps to 80% (seeds that got there) |"
    rows = [head, "|" + "---|" * (len(steps) + 2)]
    for run in runs:
        cells = [_interval(c) for c in run["checkpoints"] if c["step"] > 0]
        s80 = run["steps_to_80"]
        n = s80["reached"] + s80["never"]
        reach = "never" if s80["reached"] == 0 else _interval(s80, "{:.0f}")
        rows.append(f"| {_label(run)} | " + " | ".join(cells) + f" | {reach} ({s80['reached']}/{n}) |")
    caption = (f"Expected reward as a fraction of the optimum, mean [95% interval] over {cfg['seeds']} seeds "
               f"({cfg['prompts']} prompts x {cfg['answers']} answers, K={cfg['k']}, lr={cfg['lr']}).")
    return caption + "\n\n" + "\n".join(rows)


def arithmetic_markdown(summary: dict[str, Any]) -> str:
    """Held-out accuracy before and after RL, and the change, per method, mean [95% interval]."""
    cfg = summary["config"]
    warm = summary["warm_start"]
    rows = ["| method | before (%) | after (%) | change (points) | seconds per run |", "|---|---|---|---|---|"]
    for run in summary["runs"].values():
        if not run.get("complete", True):
            continue
        rows.append(f"| {_label(run)} | {_interval(run['before'], '{:.1f}')} | {_interval(run['after'], '{:.1f}')} | "
                    f"{_interval(run['change'], '{:+.1f}')} | {_interval(run['wall_s'], '{:.0f}')} |")
    seeds = summary.get("seeds") or cfg.get("seed_list")
    caption = (f"Greedy accuracy on {cfg.get('n_heldout', '?')} held-out problems, mean [95% interval] over "
               f"{len(seeds) if seeds else '?'} seeds; warm start {warm['accuracy']:.1f}% "
               f"after {warm.get('steps', '?')} supervised steps ({warm.get('wall_s', 0):.0f} s).")
    return caption + "\n\n" + "\n".join(rows)


def results_markdown(results_dir: Path | str | None = None) -> str:
    """The README block: each committed lab result as a table with its command and figure."""
    folder = Path(results_dir) if results_dir is not None else RESULTS_DIR
    parts = []
    bandit = folder / "bandit.json"
    if bandit.is_file():
        summary = json.loads(bandit.read_text())
        parts.append("**Bandit** (`python -m srgrpo.lab bandit --output data/results/bandit.json`, "
                     f"{summary['wall_s']:.0f} s on the machine recorded in the JSON)\n\n"
                     + bandit_markdown(summary) + "\n\n![bandit learning curves](data/results/bandit.png)")
    arithmetic = folder / "arithmetic.json"
    if arithmetic.is_file():
        summary = json.loads(arithmetic.read_text())
        figures = summary.get("png") or {}
        links = " ".join(f"![arithmetic {name}](data/results/{Path(p).name})" for name, p in sorted(figures.items()))
        # Summed from the runs themselves: the file's own wall_s is that of its last (possibly resumed) invocation.
        run_s = [s["wall_s"] for r in summary["runs"].values() for s in r.get("per_seed", {}).values()]
        parts.append("**Tiny LM on arithmetic word problems** (`python -m srgrpo.lab arithmetic --output "
                     f"data/results/arithmetic.json`, {len(run_s)} RL runs, {sum(run_s) / 60:.0f} min)\n\n"
                     + arithmetic_markdown(summary) + ("\n\n" + links if links else ""))
    if not parts:
        return "No lab results are committed yet: run `python -m srgrpo.lab bandit --output data/results/bandit.json`."
    return "\n\n".join(parts)


def update_readme(readme: Path | str | None = None, results_dir: Path | str | None = None,
                  check: bool = False) -> bool:
    """Rewrite the generated block of the README; return True if it was already up to date.

    With ``check=True`` nothing is written. Raises ``ValueError`` when the markers are missing.
    """
    path = Path(readme) if readme is not None else REPO_ROOT / "README.md"
    text = path.read_text()
    if START not in text or END not in text:
        raise ValueError(f"{path} has no {START} ... {END} block to fill; add the two markers where the tables go.")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    new = f"{head}{START}\n{results_markdown(results_dir)}\n{END}{tail}"
    if new == text:
        return True
    if not check:
        path.write_text(new)
    return False


@dataclass
class ReportCommand:
    """The options of ``python -m srgrpo.lab report``."""

    readme: str = field(default=str(REPO_ROOT / "README.md"), metadata={"help": "README to update"})
    results: str = field(default=str(RESULTS_DIR), metadata={"help": "folder of results JSON"})
    check: bool = field(default=False, metadata={"help": "only check; exit 1 if the README is stale"})


def main(argv: Sequence[str] = ()) -> int:
    args = parse_command(ReportCommand, argv, "report", "Write the committed lab results into the README's tables.")
    try:
        fresh = update_readme(args.readme, args.results, check=args.check)
    except ValueError as err:
        print(f"error: {err}")
        return 2
    if args.check:
        print("README lab results are up to date." if fresh else
              "README lab results are stale: run `python -m srgrpo.lab report`.")
        return 0 if fresh else 1
    print("README lab results were already up to date." if fresh else f"updated {args.readme}")
    return 0
