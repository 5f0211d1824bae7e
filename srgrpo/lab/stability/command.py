"""``python -m srgrpo.lab stability``: is SR-GRPO "smoother and more stable" than GRPO? Fresh seeds, declared tests.

The plan, hypotheses and tests were fixed before the first run (:mod:`srgrpo.lab.stability.plan`, written into the
results file's ``declared`` block by ``--declare_only``); the runs are the real-model lab's (:mod:`srgrpo.lab.real.command`:
same settings id, same code, resumable: each finished run is kept in ``--work_dir`` and a rerun skips it); the tests
are :mod:`srgrpo.lab.stability.analysis`.

Output: ``--output`` (default ``data/results/stability.json``)::

    {"experiment": "stability", "declared": {...}, "settings", "settings_id", "complete",
     "start": the pretrained model's held-out evaluation, "runs": [every fresh run: curves, held-out counts, machine],
     "analysis": {"methods": {label: accuracies, SD, MAD, roughness, collapsed}, "tests": {"H1", "H2"},
                  "replication"}, "machines": [the CPUs the runs were computed on], "metadata", "figures"}
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Sequence

from srgrpo.lab.results import parse_command, run_and_write, write_declared
from srgrpo.lab.stability.plan import COMPARISON_SETTINGS_ID, DECLARED, StabilitySettings

__all__ = ["main", "summarise"]


def _machines(runs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The distinct CPUs (model and features) the runs were computed on, with how many runs each."""
    seen: dict[tuple, dict[str, Any]] = {}
    for run in runs:
        machine = run.get("machine") or {}
        key = (machine.get("cpu_model"), tuple(machine.get("cpu_features") or ()))
        entry = seen.setdefault(key, {"cpu_model": key[0], "cpu_features": list(key[1]), "runs": 0})
        entry["runs"] += 1
    return list(seen.values())


def summarise(comparison: dict[str, Any]) -> dict[str, Any]:
    """The stability file from the lab's run summary (:func:`srgrpo.lab.real.command.run_comparison`)."""
    from srgrpo.lab.stability.analysis import analyse

    start_accuracy = comparison["start"]["heldout"]["accuracy"]["percent"]
    return {
        "experiment": "stability",
        "declared": DECLARED,
        "settings": comparison["settings"],
        "settings_id": comparison["settings_id"],
        "complete": comparison["complete"],
        "start": comparison["start"],
        "runs": comparison["runs"],
        "analysis": analyse(comparison["runs"], start_accuracy),
        "machines": _machines(comparison["runs"]),
        "elapsed_s": comparison["elapsed_s"],
        "compute_s": comparison["compute_s"],
        "resumed_runs": comparison["resumed_runs"],
    }


def main(argv: Sequence[str] = ()) -> int:
    settings = parse_command(StabilitySettings, argv, "stability",
                             "Test, on fresh seeds, whether per_sample(tau=1) is more stable and smoother than grpo "
                             "(srgrpo.lab.stability.plan declares how).")
    from srgrpo.lab.real.settings import settings_id

    sid = settings_id(settings)
    if sid != COMPARISON_SETTINGS_ID:
        print(f"error: these settings (id {sid}) are not the comparison's ({COMPARISON_SETTINGS_ID}); the declared "
              f"experiment reruns its exact settings: change only --seeds, --workers, --threads, --work_dir or "
              f"--output", file=sys.stderr)
        return 2
    output = Path(settings.output)
    if settings.declare_only:
        write_declared(output, "stability", DECLARED, argv, settings_id=sid, complete=False, runs=[])
        print(f"wrote the declared plan to {output}; run `python -m srgrpo.lab stability` to run it")
        return 0
    from srgrpo.lab.real.command import run_comparison
    from srgrpo.lab.stability.figures import format_verdicts, save_figure

    summary = run_and_write(settings, argv, "stability", lambda s: summarise(run_comparison(s)),
                            lambda summary, out: [save_figure(summary, out)])
    if summary is None:
        return 130
    print(format_verdicts(summary))
    print(f"wrote {output} ({len(summary['runs'])} runs)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
