"""Notebook 4, ``04_gsm8k_unsloth``: the main job in cells, and what its "correct" does not see.

The notebook's training cells call the library directly (:mod:`srgrpo.train.main_job`, :mod:`srgrpo.eval_gsm8k`);
this module holds its one lesson read from committed files: *right answer, wrong work*. The reward, like the
evaluation's *correct*, reads only the last number, so a completion can earn full marks with a false equation on the
way (``13 - 4 - 3 = 12``). :func:`wrong_work_examples` picks two such answers from the main job's confirmation seeds'
stored held-out records, by a fixed rule, and :func:`wrong_work_lesson` prints them with their false equations and the
declared test's answer from ``data/results/wrong_work.json`` (``python -m srgrpo.lab wrong_work``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from srgrpo.plumbing.runtime import REPO_ROOT, RESULTS_DIR
from srgrpo.tasks.work import check_work

__all__ = ["WRONG_WORK_RESULTS", "wrong_work_examples", "wrong_work_lesson"]

#: The wrong-work analysis: its declared test's answer, and the records files it read (paths from the repository root).
WRONG_WORK_RESULTS = RESULTS_DIR / "wrong_work.json"


def _wrong_work(record: dict[str, Any]) -> bool:
    return bool(record["correct"]) and int(record.get("false_equations") or 0) > 0


def wrong_work_examples(results: str | Path = WRONG_WORK_RESULTS, root: str | Path = REPO_ROOT) -> list[dict[str, Any]]:
    """Two stored held-out answers that are correct with a false equation: the pretrained model's first (the same in
    every seed: it answers greedily), and the first trained answer, in seed order, to a problem on which the pretrained
    model did the same, so the two answer one problem. Each: ``who``, ``seed``, ``question``, ``gold``, ``completion``
    and ``false`` (the false equations' text, as :func:`srgrpo.tasks.work.check_work` reads them).

    Raises ``ValueError`` when the records hold no such pair."""
    data = json.loads(Path(results).read_text())
    files = data["inputs"]["records"]
    primary = [str(s) for s in data["test"]["seeds"]]
    records = {seed: json.loads((Path(root) / files[seed]).read_text()) for seed in primary}
    first = primary[0]
    before = [r for r in records[first]["before"] if _wrong_work(r)]
    for seed in primary:
        for rec in records[seed]["after"]:
            match = next((b for b in before if b["index"] == rec["index"]), None)
            if match is not None and _wrong_work(rec):
                return [_example("pretrained", None, match), _example("trained", int(seed), rec)]
    raise ValueError(f"{results}: no problem answered right with wrong work both before and after training; "
                     "nothing to show side by side")


def _example(who: str, seed: int | None, record: dict[str, Any]) -> dict[str, Any]:
    work = check_work(record["completion"], cut_off=bool(record.get("truncated")))
    return {"who": who, "seed": seed, "index": record["index"], "question": record["question"],
            "gold": record["gold"], "completion": record["completion"],
            "false": [e.text for e in work.equations if not e.holds]}


def wrong_work_lesson(results: str | Path = WRONG_WORK_RESULTS, root: str | Path = REPO_ROOT) -> str:
    """The lesson's printout: the two examples (question, answer, its false equations), then how often a correct
    answer had false work before and after training, and the declared test's answer with its interval."""
    data = json.loads(Path(results).read_text())
    lines = []
    for ex in wrong_work_examples(results, root):
        who = "pretrained model" if ex["seed"] is None else f"after training, seed {ex['seed']}"
        lines += [f"-- {who}: held-out problem {ex['index']}, gold {ex['gold']} (correct)",
                  f"   {ex['question']}",
                  *("   | " + line for line in ex["completion"].splitlines()),
                  "   false: " + "; ".join(ex["false"]), ""]
    before, pooled, test = data["before"], data["pooled"], data["test"]
    lines += [f"correct answers with a false equation: before training {before['wrong_work']} of {before['correct']}; "
              f"after, over {test['n']} seeds, {pooled['after']['wrong_work']} of {pooled['after']['correct']}",
              f"declared test (mean change in that share a seed, 95% t interval over seeds): {test['answer']}, "
              f"{test['mean']:+.3f} [{test['low']:+.3f}, {test['high']:+.3f}]"]
    return "\n".join(lines)
