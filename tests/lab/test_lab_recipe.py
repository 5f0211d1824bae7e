"""The recipe study: its declared plan, its validation problems, its ranking rule, its resumable runner.

No training here: the runner's subprocesses are replaced by a fake that writes what the real commands write, so the
record, resuming and the results file are tested in seconds; the real commands' flags are checked by the train
command's own dry run.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path
from statistics import median

import pytest
from hypothesis import given, settings, strategies as st

from srgrpo.lab.recipe import analysis, command, plan, runs
from srgrpo.tasks.word_problems import ARITHMETIC_TEST_SIZE, load_problems

REPO = Path(__file__).resolve().parents[2]


def test_validation_problems_are_disjoint_from_every_held_out_and_training_problem():
    validation = {p["question"] for p in load_problems("arithmetic", "validation")}
    test = load_problems("arithmetic", "test")
    train = {p["question"] for p in load_problems("arithmetic", "train")}
    assert len(validation) == plan.VALIDATION["n"] == 64
    assert len(test) == ARITHMETIC_TEST_SIZE
    assert not validation & {p["question"] for p in test}  # the held-out sets are test's first 64 / 200
    assert not validation & train


def test_the_worked_example_is_no_problem_of_any_split():
    from srgrpo.tasks.word_problems import WORKED_EXAMPLE

    question = WORKED_EXAMPLE.splitlines()[0].removeprefix("Question: ")
    for split in ("train", "test", "validation"):
        assert question not in {p["question"] for p in load_problems("arithmetic", split)}


def test_declared_block_names_every_config_and_the_rule():
    declared = json.loads(json.dumps(plan.DECLARED))
    assert set(declared["configs"]) == set(plan.CONFIGS)
    assert declared["targets"] == {"n": 64, "in_format": 58, "correct": 16}
    assert "today" in plan.CONFIGS and plan.CONFIGS["today"] == {}
    # tuning and confirmation seeds never overlap, nor with the main job's published seeds 0-2
    tuning = {s for r in plan.ROUNDS for s in r["seeds"]}
    confirmation = set(plan.CONFIRMATION["seeds"]) | set(plan.CONFIRMATION["other_precision_seeds"])
    assert not tuning & confirmation and not (tuning | confirmation) & {0, 1, 2}


@pytest.mark.parametrize("config", list(plan.CONFIGS))
def test_config_ids_are_stable_and_distinct(config):
    assert plan.config_id(config) == plan.config_id(config)
    others = {plan.config_id(c) for c in plan.CONFIGS if c != config}
    assert plan.config_id(config) not in others


def test_every_config_is_a_valid_train_command(tmp_path):
    """The train command's own parser accepts each configuration's flags and resolves them (its dry run)."""
    from srgrpo.train.settings import parse_args

    for config in plan.CONFIGS:
        script_args, training_args = parse_args(["--preset", plan.BASE_PRESET, "--output_dir", str(tmp_path / config),
                                                 *plan.train_overrides(config)])
        for key, value in plan.CONFIGS[config].items():
            got = getattr(script_args, key, None) if hasattr(script_args, key) else getattr(training_args, key)
            assert got == value, (config, key, got)


def _run(config, seed, correct, in_format, minutes=5.0):
    return {"config": config, "seed": seed, "minutes": minutes,
            "validation": {"n": 64, "correct": correct, "in_format": in_format, "cut_off": 0}}


def _slow_key(runs_):
    """The rule written out plainly, as the plan's docstring states it."""
    hits = [r["validation"]["in_format"] >= 58 and r["validation"]["correct"] >= 16 for r in runs_]
    near = [min(1.0, r["validation"]["correct"] / 16, r["validation"]["in_format"] / 58) for r in runs_]
    return (sum(hits) / len(hits), median(near), median(r["validation"]["correct"] for r in runs_),
            -median(r["minutes"] for r in runs_))


counts = st.tuples(st.integers(0, 64), st.integers(0, 64), st.floats(1, 20))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(counts, min_size=2, max_size=2), min_size=8, max_size=8))
def test_rank_orders_by_the_declared_rule(values):
    names = list(plan.CONFIGS)
    all_runs = [_run(name, seed, c, f, m) for name, vals in zip(names, values) for seed, (c, f, m) in zip((101, 102), vals)]
    ranked = analysis.rank(all_runs, names, [101, 102])
    keys = {name: _slow_key([r for r in all_runs if r["config"] == name]) for name in names}
    expected = sorted(names, key=lambda n: (tuple(-k for k in keys[n]), names.index(n)))
    assert ranked == expected


def test_round_two_follows_round_one_and_the_winner_only_when_all_are_in():
    names = list(plan.CONFIGS)
    scores = dict(zip(names, [(5, 0), (10, 60), (12, 59), (3, 10), (16, 60), (8, 30), (2, 2), (9, 58)]))
    round1 = [_run(n, s, *scores[n]) for n in names for s in (101, 102)]
    assert analysis.planned_runs(round1[:-1]) == [(c, s) for s in (101, 102) for c in names]
    planned = analysis.planned_runs(round1)
    best3 = analysis.rank(round1, names, [101, 102])[:3]
    assert best3 == ["example_temp1.0", "example_lr2.5e-4", "example"]
    assert planned[len(round1):] == [(c, s) for s in (103, 104, 105) for c in best3]
    partial = analysis.summarise(round1, {})
    assert partial["winner"] is None and partial["round2_configs"] == sorted(best3, key=names.index)
    everything = round1 + [_run(c, s, *scores[c]) for c, s in planned[len(round1):]]
    assert analysis.summarise(everything, {})["winner"] == "example_temp1.0"


def _fake_subprocess(calls):
    """Stand-ins for the train and evaluate commands: they write the files the real ones write."""

    def fake_call(cmd, env, log):
        calls.append(cmd)
        out = Path(cmd[cmd.index("--output_dir") + 1]) if "--output_dir" in cmd else None
        if "srgrpo.train" in cmd:
            out.mkdir(parents=True, exist_ok=True)
            (out / "trainer_state.json").write_text(json.dumps({"log_history": [{"reward": 0.5, "step": 1}]}))
            (out / "srgrpo_config.yaml").write_text("training_args:\n  bf16: true\n")
        else:
            assert env["SRGRPO_CPU_PRECISION"] == "bfloat16" and env["OMP_NUM_THREADS"] == "1"
            path = Path(cmd[cmd.index("--output") + 1])
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps({"n": 64, "correct": 20, "format_rate": 60 / 64, "truncated_rate": 1 / 64}))
        return 0

    return fake_call


def test_the_runner_records_resumes_and_refuses_a_changed_plan(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(runs, "_call", _fake_subprocess(calls))
    record = runs.run_one(tmp_path, "example", 101)
    assert record["validation"] == {"n": 64, "correct": 20, "in_format": 60, "cut_off": 1}
    assert record["precision"] == "bfloat16" and record["curves"]["reward"] == [0.5]
    train_cmd, eval_cmd = calls
    assert train_cmd[train_cmd.index("--system_prompt") + 1] == "worked_example"
    assert eval_cmd[eval_cmd.index("--system_prompt") + 1] == "worked_example"
    assert eval_cmd[eval_cmd.index("--dataset_test_split") + 1] == "validation"
    assert eval_cmd[eval_cmd.index("--max_new_tokens") + 1] == "96"
    assert runs.run_one(tmp_path, "example", 101) == record and len(calls) == 2  # finished: read back, not rerun
    path = runs.run_file(tmp_path, "example", 101)
    path.write_text(json.dumps({**record, "config_id": "000000000000"}))
    with pytest.raises(ValueError, match="declared plan changed"):
        runs.read_run(path)


def test_the_command_checkpoints_after_every_run_and_stops_at_max_runs(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(runs, "_call", _fake_subprocess(calls))
    out = tmp_path / "recipe.json"
    assert command.main(["--output", str(out), "--work_dir", str(tmp_path / "w"), "--max_runs", "2"]) == 0
    result = json.loads(out.read_text())
    assert result["declared"] == json.loads(json.dumps(plan.DECLARED))
    assert result["runs_done"] == 2 and result["winner"] is None
    assert set(result["pretrained"]) == {"instructions", "worked_example"}
    assert [c for c in plan.CONFIGS if result["configs"][c]["seeds"]] == ["today", "example"]


def test_declare_only_writes_the_plan_and_runs_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(runs, "_call", lambda *a, **k: pytest.fail("nothing may run"))
    out = tmp_path / "recipe.json"
    assert command.main(["--output", str(out), "--declare_only", "true"]) == 0
    assert json.loads(out.read_text())["status"] == "declared; no run yet"


def test_the_lab_lists_the_recipe_command():
    proc = subprocess.run([sys.executable, "-m", "srgrpo.lab", "recipe", "--help"], capture_output=True, text=True,
                          cwd=REPO)
    assert proc.returncode == 0 and "--declare_only" in proc.stdout


def test_the_committed_results_carry_the_declared_plan_unchanged():
    """data/results/recipe.json was written by the study's command: its declared block is the plan as it stands."""
    committed = json.loads((REPO / "data" / "results" / "recipe.json").read_text())
    assert committed["declared"] == json.loads(json.dumps(plan.DECLARED))
    for path in (REPO / "data" / "results" / "recipe-runs").glob("*/seed-*.json"):
        record = runs.read_run(path)  # raises if a stored run was made under another configuration id
        assert record["seed"] in {s for r in plan.ROUNDS for s in r["seeds"]}


def test_the_runner_asks_the_evaluate_command_with_flags_it_has(tmp_path):
    from transformers import HfArgumentParser

    from srgrpo.eval_gsm8k.command import EvalSettings

    cmd = runs._evaluate_cmd("worked_example", tmp_path / "e.json", tmp_path)
    settings = HfArgumentParser(EvalSettings).parse_args_into_dataclasses(args=cmd[3:])[0]
    assert (settings.dataset_test_split, settings.eval_limit, settings.max_new_tokens) == ("validation", 64, 96)
