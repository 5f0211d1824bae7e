"""The check of the work against a person's labels: the figures docs/answer-checking.md states, computed.

``tests/tasks/labelled_work.jsonl`` holds completions, each read by a person who wrote down the equations in it (by the
rule of :mod:`srgrpo.tasks.work`) and whether each is false. :func:`agreement` compares the checker with them;
:func:`agreement_table` is the table the docs print (tests/tasks/test_work.py holds the two equal).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from srgrpo.tasks.work import find_equations

LABELS = Path(__file__).parent / "labelled_work.jsonl"
SETS = ("development", "held-out")


def load_labels() -> list[dict]:
    return [json.loads(line) for line in LABELS.read_text(encoding="utf-8").splitlines() if line.strip()]


def _core(text: str) -> str:
    """The arithmetic of an equation's text (its numbers, operators and '='), to pair the checker's with a label's."""
    text = re.sub(r"(?<=[\d)\s])[xX×](?=[\s\d($])", "*", text).replace("÷", "/")
    return re.sub(r"[^0-9+\-*/=.]", "", text)


def pair(labelled: list[str], found: list[str]) -> list[tuple[int, int]]:
    """(label index, checker index) of the equations both saw, paired in order by their arithmetic."""
    pairs, start = [], 0
    cores = [_core(t) for t in labelled]
    for j, text in enumerate(found):
        c = _core(text)
        for i in range(start, len(cores)):
            if cores[i] == c or (cores[i] and cores[i] in c) or (c and c in cores[i]):
                pairs.append((i, j))
                start = i + 1
                break
    return pairs


@dataclass
class Agreement:
    """The checker against the labels, on one set of completions."""

    completions: int = 0
    same_counts: int = 0  # same number of equations and same number of false ones
    same_false: int = 0  # same number of false equations (what "sound" depends on)
    labelled: int = 0  # equations the person counted
    labelled_false: int = 0
    found: int = 0  # equations the checker counted
    found_false: int = 0
    paired: int = 0  # equations both counted
    same_verdict: int = 0  # of those, judged alike (true / false)
    false_alarms: list[str] = field(default_factory=list)  # called false, labelled true or not an equation
    missed: list[str] = field(default_factory=list)  # labelled false, called true or not found
    unseen: int = 0  # false claims a person sees that the rule leaves alone (in words, across lines...)
    sound_same: int = 0  # correct answers on which the checker and the person agree about "sound"
    correct: int = 0


def agreement(rows: list[dict]) -> Agreement:
    a = Agreement()
    for row in rows:
        got = find_equations(row["completion"], cut_off=row["cut_off"])
        labels = row["equations"]
        a.completions += 1
        n_false = sum(e["false"] for e in labels)
        got_false = sum(not e.holds for e in got)
        a.same_counts += len(got) == len(labels) and got_false == n_false
        a.same_false += got_false == n_false
        a.labelled += len(labels)
        a.labelled_false += n_false
        a.found += len(got)
        a.found_false += got_false
        a.unseen += len(row["unseen"])
        pairs = pair([e["text"] for e in labels], [e.text for e in got])
        a.paired += len(pairs)
        a.same_verdict += sum(labels[i]["false"] == (not got[j].holds) for i, j in pairs)
        paired_found = {j for _, j in pairs}
        paired_labels = {i for i, _ in pairs}
        for i, j in pairs:
            if not got[j].holds and not labels[i]["false"]:
                a.false_alarms.append(got[j].text)
            if labels[i]["false"] and got[j].holds:
                a.missed.append(labels[i]["text"])
        a.false_alarms += [got[j].text for j in range(len(got)) if j not in paired_found and not got[j].holds]
        a.missed += [labels[i]["text"] for i in range(len(labels)) if i not in paired_labels and labels[i]["false"]]
        if row["correct"]:
            a.correct += 1
            a.sound_same += (got_false == 0) == (n_false == 0)
    return a


def agreement_table(rows: list[dict] | None = None) -> str:
    """The markdown table of docs/answer-checking.md's section on the check of the work."""
    rows = load_labels() if rows is None else rows
    by_set = {name: agreement([r for r in rows if r["set"] == name]) for name in SETS}
    head = "| | " + " | ".join(f"{name} set" for name in SETS) + " |"
    lines = [head, "|---|" + "---|" * len(SETS)]

    def row(label, cell):
        lines.append(f"| {label} | " + " | ".join(cell(by_set[name]) for name in SETS) + " |")

    row("completions read", lambda a: f"{a.completions}")
    row("equations a person counts (false)", lambda a: f"{a.labelled} ({a.labelled_false})")
    row("equations the checker counts (false)", lambda a: f"{a.found} ({a.found_false})")
    row("completions where both count the same equations and the same false ones",
        lambda a: f"{a.same_counts} / {a.completions}")
    row("completions where both count the same number of false equations",
        lambda a: f"{a.same_false} / {a.completions}")
    row("equations both count, judged alike", lambda a: f"{a.same_verdict} / {a.paired}")
    row("correct answers both call sound or both not", lambda a: f"{a.sound_same} / {a.correct}")
    row("false alarms: called false, but true or not an equation", lambda a: f"{len(a.false_alarms)}")
    row("false equations missed", lambda a: f"{len(a.missed)}")
    row("false claims the rule leaves alone (words, glued units, names)", lambda a: f"{a.unseen}")
    return "\n".join(lines)
