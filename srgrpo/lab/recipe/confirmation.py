"""The confirmation: the study's winner as the main job's recipe, on fresh seeds, read against the declared targets.

The study chose on tuning seeds and validation problems; the confirmation runs the real command
(``benchmarks/main_job_seeds.py``: ``python -m srgrpo --seed N``) on seeds never used in tuning and on the 64 held-out
problems, and :data:`srgrpo.lab.recipe.plan.CONFIRMATION` says before any of them ran what counts as a pass:

    in format >= 58/64 and correct >= 16/64 in at least 9 of 10 seeds, and no seed below 8/64 correct.

Each seed is judged on its own (a seed *reaches* a target or not), and the pass is counted over seeds, the unit that
varies. Beside the counts, the held-out records say *why* a count moved: a problem the pretrained model answered
correctly and the trained one did not is *lost*, the reverse *gained*; the after count is ``before - lost + gained``.
A recipe whose prompt already gets many answers right can fix the format and still lose more than it gains.

Read from the results files only (``data/benchmarks/main_job_seeds.json`` and its float32 sibling, and the per-seed
record files they name), never from a live model.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any, Mapping

from srgrpo.lab.recipe.plan import CONFIRMATION, TARGETS

__all__ = ["PASS", "judge", "lost_and_gained", "confirmation_markdown"]

#: The declared pass, as numbers: targets a seed, how many seeds must reach both, and the floor no seed may fall below.
PASS = {"in_format": TARGETS["in_format"], "correct": TARGETS["correct"], "seeds_needed": 9, "of": 10,
        "correct_floor": 8}


def judge(results: Mapping[str, Any]) -> dict[str, Any]:
    """The declared pass for one results file: which seeds reach each target, both, and which fall below the floor."""
    runs = results["runs"]
    fmt = [r["seed"] for r in runs if r["after"]["in_format"] >= PASS["in_format"]]
    correct = [r["seed"] for r in runs if r["after"]["correct"] >= PASS["correct"]]
    both = [s for s in fmt if s in correct]
    below = [r["seed"] for r in runs if r["after"]["correct"] < PASS["correct_floor"]]
    return {"seeds": [r["seed"] for r in runs], "in_format": fmt, "correct": correct, "both": both, "below_floor": below,
            "passed": len(both) >= PASS["seeds_needed"] and len(runs) >= PASS["of"] and not below}


def lost_and_gained(records: Mapping[str, Any]) -> dict[str, int]:
    """Problems correct before but not after (``lost``), and after but not before (``gained``), in one seed's records
    (``{"before": [...], "after": [...]}``, matched by their ``index``)."""
    before = {r["index"]: bool(r["correct"]) for r in records["before"]}
    after = {r["index"]: bool(r["correct"]) for r in records["after"]}
    if before.keys() != after.keys():
        raise ValueError("the before and after records answer different problems; they cannot be compared")
    return {"lost": sum(before[i] and not after[i] for i in before),
            "gained": sum(after[i] and not before[i] for i in before)}


def _records(run: Mapping[str, Any], root: Path) -> dict[str, Any] | None:
    path = run.get("records")
    if not path or not (root / path).is_file():
        return None
    return json.loads((root / path).read_text())


def _seeds(seeds: list[int]) -> str:
    if len(seeds) > 2 and seeds == list(range(seeds[0], seeds[-1] + 1)):
        return f"{seeds[0]}-{seeds[-1]}"
    return ", ".join(map(str, seeds))


def _precision_text(precision: str, results: Mapping[str, Any], verdict: Mapping[str, Any], root: Path) -> str:
    s = results["summary"]
    n = s["correct"]["n"]

    def counts(key: str) -> str:
        return f"{s[key]['before']}/{n} -> " + ", ".join(map(str, s[key]["after"]))

    text = (f"{precision}, seeds {_seeds(verdict['seeds'])}: in format {counts('in_format')}; correct "
            f"{counts('correct')} (median {statistics.median(s['correct']['after']):g}); cut off {counts('cut_off')}; "
            f"{min(s['minutes']):.1f}-{max(s['minutes']):.1f} min a run. In format >= {PASS['in_format']} in "
            f"{len(verdict['in_format'])} of {len(verdict['seeds'])} seeds, correct >= {PASS['correct']} in "
            f"{len(verdict['correct'])}, both in {len(verdict['both'])}; below {PASS['correct_floor']} correct: "
            + (", ".join(f"seed {r['seed']} ({r['after']['correct']})" for r in results["runs"]
                         if r["seed"] in verdict["below_floor"]) or "none") + ".")
    moves = [(r["seed"], lost_and_gained(rec)) for r in results["runs"] if (rec := _records(r, root)) is not None]
    if moves:
        lost = [m["lost"] for _, m in moves]
        gained = [m["gained"] for _, m in moves]
        text += (f" Of the pretrained model's {s['correct']['before']} correct answers a seed lost "
                 f"{min(lost)}-{max(lost)} (median {statistics.median(lost):g}) and gained {min(gained)}-{max(gained)} "
                 f"new ones (median {statistics.median(gained):g}).")
    return text


def confirmation_markdown(by_precision: Mapping[str, Mapping[str, Any]], pretrained_validation: Mapping[str, Any],
                          root: Path, figure: str | None = None) -> str:
    """The confirmation's paragraph for docs/lab.md: each precision's seeds against the declared pass, where the
    counts moved (lost and gained), and the gap between where the validation and the held-out problems start."""
    verdicts = {p: judge(r) for p, r in by_precision.items()}
    main_name = "bfloat16" if "bfloat16" in by_precision else next(iter(by_precision))
    main, verdict = by_precision[main_name], verdicts[main_name]
    held_before, n = main["summary"]["correct"]["before"], main["summary"]["correct"]["n"]
    head = (f"**The confirmation: the winner as the main job's recipe, on fresh seeds** (`benchmarks/main_job_seeds.py`, "
            f"which runs `python -m srgrpo --seed N` on the {n} held-out problems; declared pass: {CONFIRMATION['pass']})")
    parts = [_precision_text(p, r, verdicts[p], root) for p, r in by_precision.items()]
    outcome = ("Passed." if verdict["passed"] else
               f"**Not passed**: both targets in {len(verdict['both'])} of {len(verdict['seeds'])} {main_name} seeds, "
               f"{PASS['seeds_needed']} needed.")
    gap = (f"With the recipe's system message the pretrained model answers {pretrained_validation['correct']}/"
           f"{pretrained_validation['n']} validation problems correctly but {held_before}/{n} held-out ones, so a "
           "count that was a gain on the validation problems can be a loss on the held-out ones.")
    return (head + "\n\n" + " ".join([*parts, outcome, gap])
            + (f"\n\n![the confirmation seeds, before -> after]({figure})" if figure else ""))
