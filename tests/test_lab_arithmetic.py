"""Tests of the lab's tiny-LM half: the arithmetic task, the control trainer, the summary, and the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from srgrpo.lab.tasks import (
    TEMPLATES,
    flawed_solution,
    format_completion,
    format_prompt,
    generate_problems,
    make_splits,
)
from srgrpo.rewards import correctness_reward, extract_gold_answer

from conftest import REPO, subprocess_env


# A model small enough that warm start and RL cost a second or two each.
TINY_OVERRIDES = '{"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2}'


# --- the task ---------------------------------------------------------------------------------


def test_generator_is_deterministic():
    assert make_splits(300, 40, seed=3) == make_splits(300, 40, seed=3)
    assert generate_problems(50, seed=1) != generate_problems(50, seed=2)


def test_train_and_heldout_are_disjoint_and_distinct():
    train, heldout = make_splits(3000, 200, seed=0)
    train_q = [p["question"] for p in train]
    heldout_q = [p["question"] for p in heldout]
    assert len(set(train_q)) == 3000 and len(set(heldout_q)) == 200
    assert not set(train_q) & set(heldout_q)


def test_heldout_does_not_depend_on_train_size():
    assert make_splits(10, 30, seed=5)[1] == make_splits(500, 30, seed=5)[1]


def test_every_reference_solution_scores_one():
    train, heldout = make_splits(4000, 200, seed=0)
    problems = train + heldout
    completions = [format_completion(p["solution"]) for p in problems]
    assert correctness_reward(completions, [p["answer"] for p in problems]) == [1.0] * len(problems)
    # The gold answer is the solution's own "#### N" line, a non-negative integer.
    assert all(extract_gold_answer(p["solution"]) == p["answer"] and int(p["answer"]) >= 0 for p in problems)
    # Every template is used; half the problems take one step, half two.
    assert {p["template"] for p in problems} == set(range(len(TEMPLATES)))
    two_steps = sum(p["steps"] == 2 for p in problems) / len(problems)
    assert 0.45 < two_steps < 0.55


def test_solution_lines_are_right():
    for p in generate_problems(500, seed=7):
        *lines, last = p["solution"].split("\n")
        assert len(lines) == p["steps"] and last == f"#### {p['answer']}"
        for line in lines:
            expr, result = line.split(" = ")
            x, op, y = expr.split(" ")
            value = {"+": int(x) + int(y), "-": int(x) - int(y), "*": int(x) * int(y), "/": int(x) / int(y)}[op]
            assert value == int(result)


def test_flawed_solution_keeps_the_work_and_misreports_the_answer():
    from srgrpo.lab.arithmetic import warm_demonstrations

    problems = generate_problems(300, seed=2)
    for p in problems:
        flawed = flawed_solution(p)
        assert flawed.rsplit("\n", 1)[0] == p["solution"].rsplit("\n", 1)[0]
        assert correctness_reward([flawed], [p["answer"]]) == [0.0]
    demos = warm_demonstrations(problems, 0.6, seed=0)
    assert demos == warm_demonstrations(problems, 0.6, seed=0)
    share = sum(d != p["solution"] for d, p in zip(demos, problems)) / len(problems)
    assert 0.5 < share < 0.7
    assert warm_demonstrations(problems, 0.0, seed=0) == [p["solution"] for p in problems]


def test_prompt_format():
    assert format_prompt("How many?") == "Q: How many?\nA:"
    assert format_completion("1 + 1 = 2\n#### 2") == " 1 + 1 = 2\n#### 2"


# --- the control trainer ----------------------------------------------------------------------


@pytest.mark.trains_with_trl
@pytest.mark.parametrize("method", ["constant", "random_reward"])
def test_control_trainer_replaces_the_advantages(tmp_path, tiny_dir, method):
    from datasets import Dataset

    from srgrpo.config import SRGRPOConfig
    from srgrpo.lab.arithmetic import control_trainer_class
    from srgrpo.tiny import load_tiny

    model, tokenizer = load_tiny(tiny_dir)
    train, _ = make_splits(16, 0, seed=0)
    data = Dataset.from_dict({"prompt": [format_prompt(p["question"]) for p in train],
                              "answer": [p["answer"] for p in train]})
    args = SRGRPOConfig(output_dir=str(tmp_path), use_cpu=True, bf16=False, gradient_checkpointing=False,
                      report_to="none", save_strategy="no", logging_steps=1, disable_tqdm=True, max_steps=1,
                        per_device_train_batch_size=8, num_generations=4, max_completion_length=4, seed=0,
                        beta=0.0)
    # Rewards that vary within groups, so GRPO on real rewards would not be all zeros.
    reward = lambda completions, **kw: [float(i % 2) for i in range(len(completions))]  # noqa: E731
    trainer = control_trainer_class()(model=model, reward_funcs=[reward], args=args, train_dataset=data,
                                      processing_class=tokenizer, lab_method=method, lab_seed=0)
    trainer.train()
    logged = next(h for h in trainer.state.log_history if "soft_advantage_mean" in h)
    if method == "constant":
        assert logged["soft_advantage_mean"] == pytest.approx(1.0) and logged["soft_advantage_std"] == pytest.approx(0.0)
    else:  # GRPO's z-scores of fake rewards: zero-sum per group, not all zero
        assert logged["soft_advantage_mean"] == pytest.approx(0.0, abs=1e-5) and logged["soft_advantage_std"] > 0


def test_control_trainer_refuses_a_soft_method():
    from srgrpo.lab.arithmetic import control_trainer_class

    with pytest.raises(ValueError):
        control_trainer_class()(lab_method="per_sample")


# --- summary, figures, table ------------------------------------------------------------------


def _fake_summary():
    from srgrpo.lab.arithmetic import summarise_runs

    runs = {}
    for label, method, tau, control in (("grpo", "grpo", None, False), ("per_sample(tau=0.5)", "per_sample", 0.5, False),
                                        ("constant", "constant", None, True)):
        per_seed = {
            str(s): {"seed": s, "before": 30.0, "after": 30.0 + s + (5 if method == "grpo" else 0),
                     "change": s + (5 if method == "grpo" else 0), "wall_s": 10.0 + s, "rl_s": 9.0, "eval_s": 1.0,
                     "steps": 3, "curve": {"step": [1, 2, 3], "reward": [0.3, 0.35 + 0.01 * s, 0.4]}}
            for s in range(3)
        }
        runs[label] = {"label": label, "method": method, "tau": tau, "control": control, "per_seed": per_seed}
    summarise_runs(runs, [0, 1, 2])
    return {"config": {"seeds": 3, "rl_steps": 3, "prompts_per_step": 4, "num_generations": 4,
                       "learning_rate": 1e-3, "temperature": 1.0},
            "warm_start": {"accuracy": 30.0}, "runs": runs}


def test_summary_intervals_and_curves():
    summary = _fake_summary()
    grpo = summary["runs"]["grpo"]
    assert grpo["complete"] and grpo["after"]["mean"] == pytest.approx(36.0)
    assert grpo["after"]["low"] < 36.0 < grpo["after"]["high"]
    assert grpo["change"]["mean"] == pytest.approx(6.0)
    assert grpo["curve"]["step"] == [1, 2, 3] and grpo["curve"]["mean"][1] == pytest.approx(0.36)


def test_figures_and_table(tmp_path):
    from matplotlib.figure import Figure

    from srgrpo.lab.arithmetic import format_table, plot_arithmetic_accuracy, plot_arithmetic_curves

    summary = _fake_summary()
    assert isinstance(plot_arithmetic_curves(summary, tmp_path / "c.png"), Figure)
    assert isinstance(plot_arithmetic_accuracy(summary, tmp_path / "a.png"), Figure)
    assert (tmp_path / "c.png").stat().st_size > 0 and (tmp_path / "a.png").stat().st_size > 0
    table = format_table(summary)
    assert "per_sample(tau=0.5)" in table and "constant (control)" in table and "+6.0" in table


# --- the command line -------------------------------------------------------------------------


@pytest.mark.trains_with_trl
def test_cli_writes_results_and_resumes(tmp_path, python):
    output = tmp_path / "out" / "arith.json"
    cmd = [
        python, "-m", "srgrpo.lab", "arithmetic", "--output", str(output),
        "--methods", "grpo", "per_sample", "constant", "--taus", "0.5", "--seeds", "1",
        "--rl_steps", "1", "--warm_steps", "2", "--n_train", "64", "--n_heldout", "8",
        "--prompts_per_step", "2", "--num_generations", "2", "--max_completion_length", "8",
        "--warm_batch_size", "8", "--model_overrides", TINY_OVERRIDES, "--cache_dir", str(tmp_path / "cache"),
    ]
    first = subprocess.run(cmd, cwd=REPO, env=subprocess_env(), capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr[-3000:]
    data = json.loads(output.read_text())

    assert data["experiment"] == "arithmetic"
    assert {"command", "argv", "versions", "machine", "timestamp_utc"} <= set(data["metadata"])
    assert "arithmetic" in data["metadata"]["command"]
    assert data["seeds"] == [0]
    assert data["config"]["rl_steps"] == 1 and data["config"]["methods"] == ["grpo", "per_sample", "constant"]
    warm = data["warm_start"]
    assert warm["steps"] == 2 and 0.0 <= warm["accuracy"] <= 100.0
    assert Path(warm["path"]).is_relative_to(tmp_path / "cache")
    assert list(data["runs"]) == ["grpo", "per_sample(tau=0.5)", "constant"]
    for run in data["runs"].values():
        assert run["complete"]
        seed0 = run["per_seed"]["0"]
        assert seed0["before"] == warm["accuracy"] and 0.0 <= seed0["after"] <= 100.0
        assert seed0["change"] == pytest.approx(seed0["after"] - seed0["before"], abs=1e-3)
        assert seed0["steps"] == 1 and seed0["wall_s"] > 0
        assert seed0["curve"]["step"] == [1] and len(seed0["curve"]["reward"]) == 1
        for name in ("before", "after", "change", "wall_s"):
            assert set(run[name]) >= {"mean", "low", "high"} and run[name]["low"] is None  # one seed
        assert run["curve"]["step"] == [1]
    assert data["runs"]["constant"]["control"] and not data["runs"]["grpo"]["control"]
    for png in data["png"].values():
        assert Path(png).is_file() and Path(png).stat().st_size > 0
    assert Path(data["png"]["curves"]).parent == output.parent
    assert data["runs_wall_s"] == pytest.approx(sum(r["per_seed"]["0"]["wall_s"] for r in data["runs"].values()), abs=0.1)
    assert "grpo" in first.stdout and "change" in first.stdout

    # Same command again: every run is read back, none is trained again.
    second = subprocess.run(cmd, cwd=REPO, env=subprocess_env(), capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr[-3000:]
    assert second.stderr.count("skipped") == 3
    again = json.loads(output.read_text())
    assert again["warm_start"]["cached"] is True
    for label, run in again["runs"].items():
        assert run["per_seed"] == data["runs"][label]["per_seed"]


def test_cli_rejects_bad_settings(tmp_path, python):
    cmd = [python, "-m", "srgrpo.lab", "arithmetic", "--output", str(tmp_path / "x.json"), "--rl_steps", "0",
           "--cache_dir", str(tmp_path / "cache")]
    result = subprocess.run(cmd, cwd=REPO, env=subprocess_env(), capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "rl_steps" in result.stderr
    assert not (tmp_path / "x.json").exists()
