"""The confirmation is read against its declared pass, seed by seed, and its lost/gained counts add up to the records.

Oracles: the pass recomputed by a loop over the declared sentence's own numbers; ``before - lost + gained == after``
on every committed seed's records; the committed page says what the committed files say.
"""

from __future__ import annotations

import itertools
import json

import pytest
from conftest import REPO

from srgrpo.lab.recipe.confirmation import PASS, confirmation_markdown, judge, lost_and_gained
from srgrpo.lab.recipe.plan import CONFIRMATION

SEEDS = [REPO / "data" / "benchmarks" / name for name in ("main_job_seeds.json", "main_job_seeds_float32.json")]


def _results(afters):
    return {"runs": [{"seed": 1000 + i, "after": {"correct": c, "in_format": f}} for i, (c, f) in enumerate(afters)]}


def _slow_pass(afters) -> bool:
    """The declared sentence, read literally: "in format >= 58/64 and correct >= 16/64 in at least 9 of 10 seeds, no
    seed below 8/64 correct"."""
    reached = 0
    for c, f in afters:
        if f >= 58 and c >= 16:
            reached += 1
        if c < 8:
            return False
    return reached >= 9 and len(afters) >= 10


def test_the_pass_numbers_are_the_declared_sentences():
    assert ("in format >= {in_format}/64 and correct >= {correct}/64 in at least {seeds_needed} of {of} seeds, "
            "no seed below {correct_floor}/64 correct").format(**PASS) == CONFIRMATION["pass"]


@pytest.mark.parametrize("values", list(itertools.product([7, 8, 15, 16, 30], [57, 58, 64])))
def test_the_pass_is_the_declared_rule_on_every_boundary(values):
    c, f = values
    for n_good in (8, 9, 10):
        afters = [(16, 58)] * n_good + [(c, f)] * (10 - n_good)
        assert judge(_results(afters))["passed"] == _slow_pass(afters), afters


def test_lost_and_gained_account_for_every_committed_seed():
    for path in SEEDS:
        for run in json.loads(path.read_text())["runs"]:
            records = json.loads((REPO / run["records"]).read_text())
            moved = lost_and_gained(records)
            assert run["before"]["correct"] - moved["lost"] + moved["gained"] == run["after"]["correct"], run["seed"]


def test_lost_and_gained_refuse_records_of_different_problems():
    rec = {"index": 0, "correct": True}
    with pytest.raises(ValueError, match="different problems"):
        lost_and_gained({"before": [rec], "after": [{**rec, "index": 1}]})


def test_the_page_says_what_the_seeds_files_say():
    from srgrpo.lab.recipe.figures import confirmation_inputs

    by_precision = confirmation_inputs(SEEDS)
    study = json.loads((REPO / "data" / "results" / "recipe.json").read_text())
    text = confirmation_markdown(by_precision, study["pretrained"]["worked_example"]["validation"], REPO)
    page = (REPO / "docs" / "lab.md").read_text()
    assert text in page
    bf16 = by_precision["bfloat16"]["summary"]
    assert "correct 16/64 -> " + ", ".join(map(str, bf16["correct"]["after"])) in text
    verdict = judge(by_precision["bfloat16"])
    assert verdict["passed"] is False and "**Not passed**" in text


def test_the_pages_why_is_true_of_the_records():
    """docs/lab.md: "every seed lost most of the pretrained model's correct answers and gained others"."""
    assert "every seed lost most of the pretrained\nmodel's correct answers and gained others" in (
        REPO / "docs" / "lab.md").read_text()
    for path in SEEDS:
        for run in json.loads(path.read_text())["runs"]:
            moved = lost_and_gained(json.loads((REPO / run["records"]).read_text()))
            assert moved["lost"] > run["before"]["correct"] / 2 and moved["gained"] > 0, run["seed"]
