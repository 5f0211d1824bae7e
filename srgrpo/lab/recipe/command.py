"""``python -m srgrpo.lab recipe``: run (or resume) the declared recipe study and write ``data/results/recipe.json``.

    python -m srgrpo.lab recipe --declare_only true     # the declared plan alone: committed before the first run
    python -m srgrpo.lab recipe                         # run what is missing, one run at a time; resumable
    python -m srgrpo.lab recipe --max_runs 2            # stop after two new runs (a checkpoint to commit)

The results file is rewritten after every finished run (atomically): the declared block, the pretrained model's
validation answers with each system message, every configuration's runs and its key by the declared rule, the rounds,
and, once every planned run is in, the winner. Ctrl-C loses no finished run; the same command resumes.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Sequence

from srgrpo.lab.recipe.analysis import planned_runs, summarise
from srgrpo.lab.recipe.plan import CONFIGS, DECLARED, RecipeSettings
from srgrpo.lab.recipe.runs import evaluate_pretrained, read_run, run_file, run_one, system_prompt_of
from srgrpo.lab.results import parse_command, write_declared

__all__ = ["main", "finished_runs"]


def finished_runs(work_dir: Path) -> list[dict[str, Any]]:
    """Every finished run's record in ``work_dir`` (of the declared configurations, at any seed)."""
    runs = []
    for config in CONFIGS:
        for path in sorted((Path(work_dir) / config).glob("seed-*.json")):
            runs.append(read_run(path))
    return runs


def _write(settings: RecipeSettings, argv: Sequence[str], body: dict[str, Any]) -> None:
    write_declared(settings.output, "recipe", DECLARED, argv, **body)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    settings = parse_command(RecipeSettings, argv, "recipe", (__doc__ or "").splitlines()[0])
    if settings.declare_only:
        _write(settings, argv, {"status": "declared; no run yet"})
        print(f"wrote the declared plan to {settings.output}")
        return 0
    work = Path(settings.work_dir)
    new = 0
    try:
        pretrained = {p: evaluate_pretrained(work, p, settings.threads)
                      for p in sorted({system_prompt_of(c) for c in CONFIGS})}
        while True:
            runs = finished_runs(work)
            _write(settings, argv, summarise(runs, pretrained))
            todo = [(c, s) for c, s in planned_runs(runs) if not run_file(work, c, s).is_file()]
            if not todo or (settings.max_runs is not None and new >= settings.max_runs):
                break
            config, seed = todo[0]
            record = run_one(work, config, seed, settings.threads)
            new += 1
            if settings.progress:
                v = record["validation"]
                print(f"{config} seed {seed}: correct {v['correct']}/{v['n']}, in format {v['in_format']}/{v['n']}, "
                      f"cut off {v['cut_off']}/{v['n']} ({record['minutes']} min); {len(todo) - 1} planned runs to go",
                      flush=True)
    except KeyboardInterrupt:
        print(f"interrupted: finished runs are kept in {work}; run the same command to resume", file=sys.stderr)
        return 130
    print(f"wrote {settings.output}")
    return 0
