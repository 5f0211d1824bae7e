"""Notebook 4's lesson, right answer with wrong work: its examples are what the stored records hold, chosen by the rule
its docstring states, and its numbers are the committed analysis's.

Oracles: the examples recomputed by a plain scan over every seed's records; each shown equation checked again here
with Python's own exact arithmetic; the printed counts read back from ``data/results/wrong_work.json``.
"""

from __future__ import annotations

import ast
import json
import operator
import re
from fractions import Fraction

import pytest
from conftest import REPO

from srgrpo.notebook.gsm8k_unsloth import WRONG_WORK_RESULTS, wrong_work_examples, wrong_work_lesson

DATA = json.loads(WRONG_WORK_RESULTS.read_text())


def _records(seed: str) -> dict:
    return json.loads((REPO / DATA["inputs"]["records"][seed]).read_text())


def _scan() -> tuple[dict, int, dict]:
    """Every (seed, after record) that answers right with false work a problem the pretrained model answered right
    with false work; the first in seed order, then in record order."""
    seeds = [str(s) for s in DATA["test"]["seeds"]]
    bad = [r for r in _records(seeds[0])["before"] if r["correct"] and r["false_equations"]]
    found = [(int(seed), pos, b, r) for seed in seeds for pos, r in enumerate(_records(seed)["after"])
             for b in bad if r["index"] == b["index"] and r["correct"] and r["false_equations"]]
    seed, _, before, after = min(found, key=lambda t: (seeds.index(str(t[0])), t[1]))
    return before, seed, after


_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}


def _value(node: ast.AST) -> Fraction:
    """Exact value of a parsed arithmetic expression: integers and + - * / only (never evaluated as Python)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, int):
        return Fraction(node.value)
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        return _OPS[type(node.op)](_value(node.left), _value(node.right))
    raise AssertionError(f"not plain arithmetic: {ast.dump(node)}")


def _false_by_hand(equation: str) -> bool:
    """A chain ``a op b = c = ...`` of plain integers and + - * /, units dropped: does some ``=`` fail?"""
    sides = [re.sub(r"[A-Za-z][A-Za-z ]*", "", side).strip() for side in equation.split("=")]
    values = [_value(ast.parse(side, mode="eval").body) for side in sides]
    return any(a != b for a, b in zip(values, values[1:]))


def test_the_examples_are_the_first_pair_the_rule_names():
    before, seed, after = _scan()
    shown = wrong_work_examples()
    assert [e["who"] for e in shown] == ["pretrained", "trained"]
    assert shown[0]["completion"] == before["completion"] and shown[0]["seed"] is None
    assert shown[1]["completion"] == after["completion"] and shown[1]["seed"] == seed
    assert shown[0]["index"] == shown[1]["index"] and shown[0]["gold"] == shown[1]["gold"]


def test_the_pretrained_example_is_the_same_in_every_seed():
    """It answers greedily: the before records are one measurement, whichever seed's file is read."""
    example = wrong_work_examples()[0]
    for seed in DATA["test"]["seeds"]:
        record = next(r for r in _records(str(seed))["before"] if r["index"] == example["index"])
        assert record["completion"] == example["completion"]


def test_every_equation_called_false_is_false_by_plain_arithmetic():
    for example in wrong_work_examples():
        assert example["false"]
        for equation in example["false"]:
            assert _false_by_hand(equation), equation


def test_the_lesson_prints_the_committed_answer_and_counts():
    text = wrong_work_lesson()
    before, pooled, test = DATA["before"], DATA["pooled"], DATA["test"]
    assert f"before training {before['wrong_work']} of {before['correct']}" in text
    assert f"after, over {test['n']} seeds, {pooled['after']['wrong_work']} of {pooled['after']['correct']}" in text
    assert f"{test['answer']}, {test['mean']:+.3f} [{test['low']:+.3f}, {test['high']:+.3f}]" in text
    for example in wrong_work_examples():
        assert all(f"   | {line}" in text for line in example["completion"].splitlines())


def test_notebook_4_says_what_the_declared_test_answered():
    nb = json.loads((REPO / "notebooks" / "04_gsm8k_unsloth.ipynb").read_text())
    text = " ".join(" ".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown").split())
    assert "neither more common nor less by as much as ten seeds can see" in text
    assert DATA["test"]["answer"] == "neither shown" and DATA["test"]["low"] < 0 < DATA["test"]["high"]
    assert DATA["test"]["n"] == 10


def test_records_without_such_a_pair_get_a_clear_error(tmp_path):
    record = {"index": 0, "question": "q", "gold": "1", "completion": "1 + 1 = 3\n#### 1", "correct": True,
              "false_equations": 1, "truncated": False}
    seed_file = tmp_path / "seed.json"
    seed_file.write_text(json.dumps({"before": [record], "after": [{**record, "correct": False}]}))
    results = tmp_path / "wrong_work.json"
    results.write_text(json.dumps({"inputs": {"records": {"1": "seed.json"}}, "test": {"seeds": [1]}}))
    with pytest.raises(ValueError, match="no problem answered right with wrong work"):
        wrong_work_examples(results, tmp_path)


def _evaluate_calls(source: str) -> list[dict[str, str]]:
    """The keyword arguments (name -> source text) of every ``evaluate(...)`` call in ``source``."""
    return [{k.arg: ast.unparse(k.value) for k in node.keywords} for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "evaluate"]


def test_notebook_4_evaluates_the_held_out_problems_as_the_main_job_does():
    """The cells "you can copy" must ask what ``python -m srgrpo`` asks: the same problems, tokens, system message
    (the recipe's worked example) and device; only where the results are written may differ."""
    main_calls = _evaluate_calls((REPO / "srgrpo" / "__main__.py").read_text())
    assert len(main_calls) == 1
    asked = {k: v for k, v in main_calls[0].items() if k not in ("output", "progress")}
    nb = json.loads((REPO / "notebooks" / "04_gsm8k_unsloth.ipynb").read_text())
    cells = [c for c in nb["cells"] if c["cell_type"] == "code"]
    calls = [call for c in cells for call in _evaluate_calls("".join(c["source"]))]
    assert len(calls) == 2  # before and after
    for call in calls:
        assert {k: call.get(k) for k in asked} == asked


def _stored_counts(nb: dict) -> dict[str, dict[str, int]]:
    """``before`` / ``after`` -> word -> count, read from the stored output of the cell that prints both lines."""
    for cell in nb["cells"]:
        text = "".join("".join(o.get("text", "")) for o in cell.get("outputs", []))
        if "\nafter  correct" in text:
            lines = (ln.split(None, 1) for ln in text.splitlines() if ln.startswith(("before ", "after ")))
            return {when: {w: int(k) for w, k in re.findall(r"(?:^|, )(correct|in format|cut off) (\d+)/64", rest)}
                    for when, rest in lines}
    raise AssertionError("notebook 4 stores no before/after evaluation output")


def test_notebook_4s_words_about_its_stored_run_are_its_stored_outputs():
    nb = json.loads((REPO / "notebooks" / "04_gsm8k_unsloth.ipynb").read_text())
    counts = _stored_counts(nb)
    b, a = counts["before"], counts["after"]
    text = " ".join(" ".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown").split())
    assert f"went from {b['correct']} to {a['correct']} correct of 64" in text
    assert f"from {b['in format']} answers in format to {a['in format']} of 64" in text
    assert f"in format {b['in format']} -> {a['in format']} of 64 held-out answers, cut off {b['cut off']} -> " \
           f"{a['cut off']}, while correct went from {b['correct']} to {a['correct']} of 64" in text
    assert a["cut off"] == 0 and f"from {b['cut off']} answers cut off to none" in text
