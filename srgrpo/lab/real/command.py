"""``python -m srgrpo.lab real``: every advantage method on a real pretrained model (SmolLM2-135M-Instruct), on a CPU.

The experiment (task in :mod:`srgrpo.lab.real.task`, runs in :mod:`srgrpo.lab.real.runs`, settings in
:mod:`srgrpo.lab.real.settings`): measure the pretrained model's greedy answers to the held-out problems once, then
for every seed and every method train from that model with the same settings and budget and measure again.

Resumable
---------
Each finished run is written at once, atomically, to ``work_dir/<settings id>/<method>__seed<k>.json``; rerunning
the same command skips those runs (``--seeds 0 1 2 3`` after ``--seeds 0 1 2`` runs only seed 3). Changing a setting
that changes what a run computes gives a new settings id, so old runs are never mixed in. A run interrupted midway is
redone from its start.

Output
------
``--output FILE.json`` (default ``data/results/real.json``)::

    {"experiment": "real", "metadata": {command, argv, versions, machine, timestamp_utc},
     "settings": {...}, "settings_id", "complete": bool,
     "start": {"heldout": {n, accuracy, strict_format, answer_line, stopped, mean_tokens}, "examples", "eval_s"},
     "methods": {label: srgrpo.lab.real.comparison.method_summary(...)},
     "comparisons": srgrpo.lab.real.comparison.comparisons(...) (primary, Holm-adjusted; exploratory),
     "runs": [every run's result: curves, heldout, examples, seconds],
     "elapsed_s", "compute_s", "resumed_runs", "figures": [...]}

and the figures beside it (:mod:`srgrpo.lab.real.figures`). ``--workers 2`` runs two runs at once, each in its own
process with ``--threads`` torch threads (each peaks near 6 GB of memory).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any, Sequence

from srgrpo.lab.real.comparison import compare, comparisons
from srgrpo.lab.real.settings import PRIMARY_COMPARISONS, PRIMARY_RATE, RealLabSettings, RunSpec, run_grid, settings_id
from srgrpo.lab.results import machine_record, parse_command, run_and_write, write_json
from srgrpo.plumbing.runtime import torch_threads

__all__ = ["run_comparison", "main"]

_START = "start"


def _read_run(path: Path, sid: str) -> dict[str, Any] | None:
    """A finished run's result, or ``None`` when the file is missing, unreadable or from other settings."""
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(stored, dict) or stored.get("settings_id") != sid or "result" not in stored:
        return None
    return stored["result"]


def _work(settings: RealLabSettings, spec: RunSpec | None) -> dict[str, Any]:
    """Do one unit of work (the start's evaluation when ``spec`` is None, else one run) and store it."""
    from srgrpo.lab.real.runs import evaluate_start, train_and_evaluate
    from srgrpo.lab.real.task import heldout_problems

    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # one line a finished run, not a loading bar a model
    folder = settings.runs_folder()
    folder.mkdir(parents=True, exist_ok=True)
    with torch_threads(settings.threads):
        import torch

        torch.manual_seed(0 if spec is None else spec.seed)
        problems = heldout_problems(settings.eval_limit)
        if spec is None:
            result = evaluate_start(settings, problems)
        else:
            with tempfile.TemporaryDirectory(prefix="real-lab-", dir=folder) as scratch:
                result = train_and_evaluate(settings, spec, problems, scratch)
    key = _START if spec is None else spec.key
    result["machine"] = machine_record()  # runs resumed on another machine say where each was computed
    write_json(folder / f"{key}.json", {"settings_id": settings_id(settings), "key": key, "result": result})
    return result


def _describe(spec: RunSpec | None, result: dict[str, Any], start: dict[str, Any] | None) -> str:
    held = result["heldout"]
    if spec is None:
        return (f"pretrained model: accuracy {held['accuracy']['percent']:.1f}%, in format "
                f"{held['strict_format']['percent']:.1f}%, stopped {held['stopped']['percent']:.1f}% "
                f"({result['eval_s']:.0f} s)")
    before = start["heldout"] if start else None

    def rate(name: str) -> str:
        after = f"{held[name]['percent']:.1f}%"
        return f"{before[name]['percent']:.1f}% -> {after}" if before else after

    return (f"{spec.label} seed {spec.seed}: accuracy {rate('accuracy')}, in format {rate('strict_format')}, "
            f"stopped {rate('stopped')} ({result['wall_s']:.0f} s)")


def run_comparison(settings: RealLabSettings, log=print) -> dict[str, Any]:
    """Run (or resume) the comparison and return the summary that :func:`main` writes."""
    began = time.perf_counter()
    sid = settings_id(settings)
    folder = settings.runs_folder()
    grid = run_grid(settings)
    todo: list[RunSpec | None] = [None, *grid]
    done: dict[str, dict[str, Any]] = {}
    for spec in todo:
        key = _START if spec is None else spec.key
        found = _read_run(folder / f"{key}.json", sid)
        if found is not None:
            done[key] = found
    resumed = len(done)
    pending = [s for s in todo if (_START if s is None else s.key) not in done]
    say = log if settings.progress else (lambda _: None)
    say(f"real-model lab: {len(grid)} runs ({len(settings.seeds)} seeds) + the pretrained model's evaluation; "
        f"{resumed} already done in {folder}, {len(pending)} to do on {settings.workers} worker(s)")
    finished_walls: list[float] = []

    def record(spec: RunSpec | None, result: dict[str, Any]) -> None:
        done[_START if spec is None else spec.key] = result
        if spec is not None:
            finished_walls.append(result["wall_s"])
        left = sum(1 for s in pending if (_START if s is None else s.key) not in done)
        eta = ""
        if finished_walls and left:
            minutes = sum(finished_walls) / len(finished_walls) * left / settings.workers / 60
            eta = f"; about {minutes:.0f} min left"
        say(f"[{len(done)}/{len(todo)}] {_describe(spec, result, done.get(_START))}{eta}")

    if settings.workers == 1 or len(pending) <= 1:
        for spec in pending:
            record(spec, _work(settings, spec))
    else:
        import multiprocessing

        context = multiprocessing.get_context("spawn")  # a fresh interpreter: no torch threads or state inherited
        with ProcessPoolExecutor(max_workers=settings.workers, mp_context=context) as pool:
            futures = {pool.submit(_work, settings, spec): spec for spec in pending}
            for future in as_completed(futures):
                record(futures[future], future.result())

    runs = [done[spec.key] for spec in grid]
    start = done[_START]
    return {
        "experiment": "real",
        "settings": {k: v for k, v in settings.to_dict().items() if k not in ("output", "work_dir", "progress")},
        "settings_id": sid,
        "complete": True,
        "start": start,
        "methods": compare(runs, start),
        "comparisons": comparisons(runs, PRIMARY_COMPARISONS, PRIMARY_RATE),
        "runs": runs,
        "elapsed_s": round(time.perf_counter() - began, 1),
        "compute_s": round(start["eval_s"] + sum(r["wall_s"] for r in runs), 1),
        "resumed_runs": resumed,
    }


def main(argv: Sequence[str] = ()) -> int:
    settings = parse_command(RealLabSettings, argv, "real",
                             "Compare advantage methods on SmolLM2-135M-Instruct, offline, on a CPU (srgrpo.lab.real.command).")
    from srgrpo.lab.real.figures import format_comparisons, format_table, save_figures

    summary = run_and_write(settings, argv, "real", run_comparison, save_figures)
    if summary is None:
        return 130

    print(format_table(summary))
    print(format_comparisons(summary))
    print(f"wrote {settings.output} ({len(summary['runs'])} runs, {summary['elapsed_s']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
