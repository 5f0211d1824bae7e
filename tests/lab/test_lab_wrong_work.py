"""The wrong-work analysis (#39 part 2): the declared test against a slow, obviously correct reference, the command on
fabricated confirmation seeds, its refusals, the committed declaration, and the lab's stored examples.

Fabricated records are :func:`srgrpo.eval_gsm8k.records.score_record` of three written completions (sound, right
answer with wrong work, wrong answer), copied to each problem: the checker runs on real text, and a property test can
build hundreds of seeds without running it hundreds of times. No model is loaded.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from srgrpo.eval_gsm8k.records import score_record
from srgrpo.lab.wrong_work import analysis, command, plan, seeds as seeds_mod
from srgrpo.tasks.work import check_work

from conftest import subprocess_env

REPO = Path(__file__).resolve().parents[2]
QUESTION = {"question": "Tom has 3 apples and gets 4 more. How many apples does he have?", "answer": "7"}
COMPLETIONS = {
    "sound": "Tom has 3 + 4 = 7 apples.\n#### 7",
    "wrong": "Tom has 3 + 4 = 8 apples. He gives 1 away: 8 - 1 = 7.\n#### 7",
    "incorrect": "Tom has 3 + 4 = 7 apples. He buys 2 more: 7 + 2 = 9.\n#### 9",
}
TEMPLATES = {kind: score_record(0, QUESTION, text, 20, False) for kind, text in COMPLETIONS.items()}
KINDS = st.sampled_from(sorted(COMPLETIONS))


def records(kinds):
    return [dict(TEMPLATES[kind], index=i) for i, kind in enumerate(kinds)]


def test_the_templates_are_what_they_say():
    assert [(TEMPLATES[k]["correct"], TEMPLATES[k]["false_equations"]) for k in ("sound", "wrong", "incorrect")] == [
        (True, 0), (True, 1), (False, 0)]


# --------------------------------------------------------------------------------------------------------------------
# The reference: plain loops, scipy's t interval
# --------------------------------------------------------------------------------------------------------------------


def reference(seeds):
    """The plan read literally: per seed W/C after minus W/C before, the mean and scipy's 95% t interval."""
    from scipy.stats import ttest_1samp

    ds = []
    for seed in sorted(seeds):
        share = {}
        for when in ("before", "after"):
            correct = [r for r in seeds[seed][when] if r["correct"]]
            wrong = [r for r in correct if check_work(r["completion"]).false > 0]
            share[when] = len(wrong) / len(correct) if correct else None
        if share["before"] is not None and share["after"] is not None:
            ds.append(share["after"] - share["before"])
    if len(ds) < 2:
        return ds, None
    if len(set(ds)) == 1:
        return ds, (ds[0], ds[0], ds[0])
    ci = ttest_1samp(ds, 0.0).confidence_interval(0.95)
    return ds, (sum(ds) / len(ds), ci.low, ci.high)


seed_kinds = st.lists(KINDS, min_size=plan.N_PROBLEMS, max_size=plan.N_PROBLEMS)
seed_sets = st.lists(st.tuples(seed_kinds, seed_kinds), min_size=2, max_size=6)


def _seeds(pairs):
    return {1000 + i: {"before": records(b), "after": records(a)} for i, (b, a) in enumerate(pairs)}


@settings(max_examples=40, deadline=None)
@given(seed_sets)
def test_the_declared_test_agrees_with_the_reference(pairs):
    seeds = _seeds(pairs)
    test = analysis.seed_test(analysis.seed_rows(seeds))
    ds, ci = reference(seeds)
    assert test["d"] == pytest.approx(ds)
    if ci is None or test["answer"].startswith("not testable"):
        assert ci is None or any(r["before_share"] is None for r in analysis.seed_rows(seeds))
        return
    assert (test["mean"], test["low"], test["high"]) == pytest.approx(ci)
    assert test["answer"] == ("more common" if ci[1] > 0 else "less common" if ci[2] < 0 else "neither shown")


@settings(max_examples=30, deadline=None)
@given(st.lists(seed_kinds, min_size=2, max_size=5))
def test_the_statistic_is_zero_when_after_equals_before(kinds):
    seeds = {1000 + i: {"before": records(k), "after": records(k)} for i, k in enumerate(kinds)}
    test = analysis.seed_test(analysis.seed_rows(seeds))
    if test["n"] >= 2 and not test["no_correct_before"]:
        assert test["mean"] == 0 and test["answer"] == "neither shown"


@settings(max_examples=30, deadline=None)
@given(seed_sets)
def test_swapping_before_and_after_flips_the_sign(pairs):
    forward = analysis.seed_test(analysis.seed_rows(_seeds(pairs)))
    backward = analysis.seed_test(analysis.seed_rows(_seeds([(a, b) for b, a in pairs])))
    assert backward["d"] == pytest.approx([-d for d in forward["d"]])
    if forward["mean"] is not None and backward["mean"] is not None:
        assert backward["mean"] == pytest.approx(-forward["mean"])
        assert (backward["low"], backward["high"]) == pytest.approx((-forward["high"], -forward["low"]))
        flip = {"more common": "less common", "less common": "more common", "neither shown": "neither shown"}
        assert backward["answer"] == flip[forward["answer"]]


@settings(max_examples=30, deadline=None)
@given(seed_sets)
def test_the_pooled_counts_equal_a_direct_count(pairs):
    seeds = _seeds(pairs)
    pooled = analysis.pooled(analysis.seed_rows(seeds))
    after = [r for s in seeds.values() for r in s["after"]]
    assert pooled["after"]["correct"] == sum(r["correct"] for r in after)
    assert pooled["after"]["wrong_work"] == sum(r["correct"] and r["completion"] == COMPLETIONS["wrong"] for r in after)
    assert pooled["before"]["wrong_work"] == pairs[0][0].count("wrong")


def test_a_seed_without_a_correct_answer_is_left_out_and_named():
    seeds = {1000: {"before": records(["wrong", "sound"] * 32), "after": records(["incorrect"] * 64)},
             1001: {"before": records(["wrong", "sound"] * 32), "after": records(["wrong"] * 64)},
             1002: {"before": records(["wrong", "sound"] * 32), "after": records(["wrong"] * 32 + ["sound"] * 32)}}
    test = analysis.seed_test(analysis.seed_rows(seeds))
    assert test["left_out_no_correct_after"] == [1000] and test["seeds"] == [1001, 1002]
    assert test["d"] == [0.5, 0.0] and test["n"] == 2
    none_before = {s: {"before": records(["incorrect"] * 64), "after": v["after"]} for s, v in seeds.items()}
    assert analysis.seed_test(analysis.seed_rows(none_before))["answer"].startswith("not testable: no correct answer "
                                                                                   "before")
    one_left = {s: v for s, v in seeds.items() if s != 1002}
    assert analysis.seed_test(analysis.seed_rows(one_left))["answer"].startswith("not testable: 1 seed")


def test_records_without_a_stored_count_are_checked_from_their_completion():
    old = [{k: v for k, v in r.items() if k not in ("equations", "false_equations")}
           for r in records(["wrong", "sound", "incorrect"] * 3)]
    assert analysis.counts(old) == analysis.counts(records(["wrong", "sound", "incorrect"] * 3)) == {
        "n": 9, "correct": 6, "wrong_work": 3}


def test_the_bootstrap_is_reproducible_and_zero_when_nothing_changes():
    kinds = ["wrong", "sound", "incorrect", "sound"] * 16
    same = {1000 + i: {"before": records(kinds), "after": records(kinds)} for i in range(3)}
    boot = analysis.bootstrap(same, draws=500)
    assert boot["low"] == 0 and boot["high"] == 0
    more = {1000 + i: {"before": records(kinds), "after": records(["wrong"] * 60 + ["sound"] * 4)} for i in range(3)}
    first, again = analysis.bootstrap(more, draws=500), analysis.bootstrap(more, draws=500)
    assert first == again and 0 < first["low"] < first["high"] < 1


def test_the_caveat_names_a_seed_interval_the_bootstrap_does_not_back():
    assert analysis.caveat({"low": 0.1, "high": 0.3}, {"low": -0.2, "high": 0.5})
    assert analysis.caveat({"low": 0.1, "high": 0.3}, {"low": 0.05, "high": 0.5}) is None
    assert analysis.caveat({"low": -0.1, "high": 0.3}, {"low": -0.2, "high": 0.5}) is None


# --------------------------------------------------------------------------------------------------------------------
# The command on fabricated seed folders
# --------------------------------------------------------------------------------------------------------------------

WINNER_CHANGES = {"system_prompt": "worked_example", "learning_rate": 0.00025}


def _recipe(precision, **changes):
    return {"preset": "smollm2_cpu", "script": {"system_prompt": "worked_example", "lora_r": 8},
            "training": {"learning_rate": 0.00025, "bf16": precision == "bfloat16", "seed_free": 1, **changes},
            "precision": precision}


def write_seeds(folder: Path, name: str, seeds, precision: str, recipe_id: str, recipe=None):
    """A results file of benchmarks/main_job_seeds.py, and each seed's records beside it, as the script writes them."""
    output = folder / f"{name}.json"
    rows = []
    for i, seed in enumerate(seeds):
        before = records(["wrong", "sound", "incorrect", "incorrect"] * 16)  # 16 of 32 correct: share 0.5
        after = records(["wrong"] * (8 + i) + ["sound"] * 12 + ["incorrect"] * (44 - i))
        companion = output.with_suffix("") / f"seed-{seed}.json"
        companion.parent.mkdir(parents=True, exist_ok=True)
        companion.write_text(json.dumps({"seed": seed, "recipe_id": recipe_id, "precision": precision,
                                         "before": before, "after": after}))
        rows.append({"seed": seed, "recipe_id": recipe_id, "precision": precision,
                     "before": {"n": 64, "correct": sum(r["correct"] for r in before)},
                     "after": {"n": 64, "correct": sum(r["correct"] for r in after)},
                     "records": str(companion.relative_to(folder.parent.parent))})  # as the script: from the repo
    data = {"benchmark": "main_job_seeds", "runs": rows,
            "recipe": {"id": recipe_id, **(recipe if recipe is not None else _recipe(precision))}}
    output.write_text(json.dumps(data))
    return output


@pytest.fixture
def lab(tmp_path):
    """A repository-like folder: the lab's results (a recipe study with a winner, the committed examples) and the
    confirmation seeds of that recipe."""
    results = tmp_path / "data" / "results"
    results.mkdir(parents=True)
    for name in plan.EXAMPLE_FILES:
        shutil.copy(REPO / "data" / "results" / name, results / name)
    (results / "recipe.json").write_text(json.dumps({"winner": "example_lr2.5e-4", "configs": {
        "example_lr2.5e-4": {"changes": WINNER_CHANGES}}}))
    bench = tmp_path / "data" / "benchmarks"
    bench.mkdir(parents=True)
    primary = write_seeds(bench, "main_job_seeds", plan.PRIMARY_SEEDS, "bfloat16", "aaaaaaaaaaaa")
    other = write_seeds(bench, "main_job_seeds_float32", plan.OTHER_SEEDS, "float32", "bbbbbbbbbbbb")
    return {"root": tmp_path, "results": results, "inputs": [primary, other]}


def _argv(lab, output="out.json"):
    return ["--input", *map(str, lab["inputs"]), "--results", str(lab["results"]), "--output",
            str(lab["root"] / output)]


def test_the_command_computes_the_declared_test_on_fabricated_seeds(lab):
    proc = subprocess.run([sys.executable, "-m", "srgrpo.lab", "wrong_work", *_argv(lab)], cwd=lab["root"],
                          capture_output=True, text=True, timeout=300, env=subprocess_env())
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads((lab["root"] / "out.json").read_text())
    assert out["declared"] == json.loads(json.dumps(plan.DECLARED)) and out["status"] == "computed"
    assert out["recipe"]["winner"] == "example_lr2.5e-4"
    loaded = seeds_mod.load_seeds(lab["inputs"])
    ds, ci = reference({s: loaded["seeds"][s] for s in plan.PRIMARY_SEEDS})
    assert out["test"]["d"] == pytest.approx(ds, abs=1e-4)
    assert (out["test"]["mean"], out["test"]["low"], out["test"]["high"]) == pytest.approx(ci, abs=1e-4)
    # before: 16 wrong of 32 correct; after, seed i: 8 + i wrong of 20 + i correct
    assert out["before"]["share"] == 0.5 and out["before"]["identical_in_every_seed"] is True
    assert out["test"]["answer"] == "neither shown" or out["test"]["answer"] in ("more common", "less common")
    assert out["pooled"]["after"] == {"n": 640, "correct": sum(20 + i for i in range(10)),
                                      "wrong_work": sum(8 + i for i in range(10))}
    assert [r["seed"] for r in out["other_precision"]["seeds"]] == list(plan.OTHER_SEEDS)
    assert out["stored_examples"] == command.read_examples(REPO / "data" / "results")
    assert out["answer"] in proc.stdout and out["test"]["answer"] in out["answer"]
    from srgrpo.lab.report import wrong_work_markdown  # the lab page's paragraph, once the seeds are in

    page = wrong_work_markdown(out)
    assert out["answer"] in page
    assert all(f"`{label}` {m['wrong_work']} of {m['correct']}" in page
               for label, m in out["stored_examples"]["methods"].items())


def test_missing_seeds_are_named_with_the_command_that_makes_them(lab):
    output = lab["root"] / "out.json"
    assert command.main(_argv(lab)[:2] + ["--results", str(lab["results"]), "--output", str(output)]) == 1
    out = json.loads(output.read_text())
    assert set(out) == {"experiment", "declared", "status", "metadata"}
    assert "missing: 2000, 2001, 2002 (float32)" in out["status"]
    assert ("python benchmarks/main_job_seeds.py --seeds 2000 2001 2002 --cpu_precision float32 --output "
            "data/benchmarks/main_job_seeds_float32.json") in out["status"]
    # as a subprocess, with no seed results at all: every seed missing, the message on stderr
    none = [str(lab["root"] / "none.json"), str(lab["root"] / "none_float32.json")]
    proc = subprocess.run([sys.executable, "-m", "srgrpo.lab", "wrong_work", "--input", *none, "--results",
                           str(lab["results"]), "--output", str(output)], cwd=lab["root"], capture_output=True,
                          text=True, timeout=300, env=subprocess_env())
    assert proc.returncode == 1 and "no input file exists" in proc.stderr
    assert "missing: 1000, 1001, 1002, 1003, 1004, 1005, 1006, 1007, 1008, 1009 (bfloat16)" in proc.stderr
    assert "python benchmarks/main_job_seeds.py --seeds 1000 1001" in proc.stderr


def _refusal(lab, capsys):
    assert command.main(_argv(lab)) == 1
    return capsys.readouterr().err


def test_records_of_another_recipe_are_refused(lab, capsys):
    bench = lab["inputs"][0].parent
    write_seeds(bench, "main_job_seeds", plan.PRIMARY_SEEDS, "bfloat16", "aaaaaaaaaaaa",
                recipe=_recipe("bfloat16", learning_rate=0.0005))
    assert "not the recipe study's winner 'example_lr2.5e-4': it has learning_rate = 0.0005" in _refusal(lab, capsys)


def test_the_two_precisions_must_be_one_recipe(lab, capsys):
    write_seeds(lab["inputs"][1].parent, "main_job_seeds_float32", plan.OTHER_SEEDS, "float32", "bbbbbbbbbbbb",
                recipe=_recipe("float32", seed_free=2))
    assert "differ in more than the precision: training.seed_free" in _refusal(lab, capsys)


def test_records_that_cannot_tell_their_recipe_are_refused_saying_so(lab, capsys):
    data = json.loads(lab["inputs"][0].read_text())
    for row in data["runs"]:
        del row["recipe_id"]
    lab["inputs"][0].write_text(json.dumps(data))
    assert "does not say which recipe made it" in _refusal(lab, capsys)


def test_no_winner_yet_refuses_every_seed(lab, capsys):
    (lab["results"] / "recipe.json").write_text(json.dumps({"winner": None, "configs": {}}))
    assert "has no winner yet" in _refusal(lab, capsys)


def test_records_of_other_problems_are_an_error(lab, capsys):
    companion = lab["inputs"][0].with_suffix("") / "seed-1003.json"
    data = json.loads(companion.read_text())
    data["after"] = data["after"][1:] + data["after"][:1]
    companion.write_text(json.dumps(data))
    assert command.main(_argv(lab)) == 2
    assert "not the same problems in the same order" in capsys.readouterr().err


# --------------------------------------------------------------------------------------------------------------------
# The declaration, the plan's seeds, the stored examples
# --------------------------------------------------------------------------------------------------------------------


def test_the_committed_declaration_is_the_plan():
    committed = json.loads((REPO / "data" / "results" / "wrong_work.json").read_text())
    assert committed["experiment"] == "wrong_work"
    assert committed["declared"] == json.loads(json.dumps(plan.DECLARED))


def test_the_default_inputs_are_where_the_missing_seeds_message_sends_them():
    assert plan.WrongWorkSettings().input == [seeds_mod.DEFAULT_OUTPUTS[p] for p in ("bfloat16", "float32")]
    assert plan.WrongWorkSettings().output == "data/results/wrong_work.json"


def test_the_seeds_are_the_recipe_studys_confirmation_seeds():
    from srgrpo.lab.__main__ import COMMANDS
    from srgrpo.lab.recipe.plan import CONFIRMATION, PRECISION

    assert list(plan.PRIMARY_SEEDS) == CONFIRMATION["seeds"] and plan.PRIMARY_PRECISION == PRECISION
    assert list(plan.OTHER_SEEDS) == CONFIRMATION["other_precision_seeds"]
    assert COMMANDS["wrong_work"][0] == "srgrpo.lab.wrong_work.command"


def _reference_examples():
    """Per method, (correct stored examples, of them with a false equation), read straight from the JSON."""
    out = {}
    starts = set()
    for name in plan.EXAMPLE_FILES:
        data = json.loads((REPO / "data" / "results" / name).read_text())
        runs = [("pretrained", data["start"]["examples"])] if data["settings_id"] not in starts else []
        starts.add(data["settings_id"])
        for label, examples in runs + [(r["label"], r["examples"]) for r in data["runs"]]:
            c, w = out.get(label, (0, 0))
            correct = [e for e in examples if e["correct"]]
            out[label] = (c + len(correct),
                          w + sum(check_work(e["completion"], cut_off=not e["stopped"]).false > 0 for e in correct))
    return out


def test_the_stored_examples_are_counted_per_method():
    summary = command.read_examples(REPO / "data" / "results")
    assert {k: (m["correct"], m["wrong_work"]) for k, m in summary["methods"].items()} == _reference_examples()
    assert summary["methods"]["grpo"]["runs"] == 15  # seeds 1-5 (real.json) and 6-15 (stability.json)


def test_the_docs_quote_the_stored_examples_as_generated():
    line = analysis.examples_text(command.read_examples(REPO / "data" / "results"))
    page = " ".join((REPO / "docs" / "answer-checking.md").read_text().split())
    assert line in page, line
