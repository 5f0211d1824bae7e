"""The real-model lab (``python -m srgrpo.lab real``): the command at a tiny budget, its JSON, resuming, the figures,
and the committed comparison.

The command runs as a subprocess on the offline tiny model (seconds a run); SmolLM2 itself trains live in notebook 3.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from srgrpo.lab.real.comparison import compare, comparisons, excludes_zero, mean_curve
from srgrpo.lab.real.runs import examples
from srgrpo.lab.real.settings import PRIMARY_COMPARISONS, RealLabSettings, RunSpec, run_grid, settings_id
from srgrpo.lab.real.task import heldout_summary

from conftest import REPO, run_module, subprocess_env

TINY_BUDGET = ["--model_name_or_path", "tiny", "--max_steps", "2", "--methods", "grpo", "per_sample", "constant",
               "--per_sample_taus", "1", "--eval_limit", "4", "--eval_batch_size", "4",
               "--max_completion_length", "8", "--max_new_tokens", "8"]


@pytest.fixture(scope="module")
def tiny_comparison(tmp_path_factory, tiny_dir):
    """Seeds 0 and 1 at a tiny budget on two workers, then the same command with seed 2 added."""
    root = tmp_path_factory.mktemp("real")
    out, work = root / "real.json", root / "work"
    common = ["srgrpo.lab", "real", *TINY_BUDGET, "--output", str(out), "--work_dir", str(work)]
    first = run_module([*common, "--seeds", "0", "1", "--workers", "2"], env=subprocess_env(), cwd=root)
    summary_2 = json.loads(out.read_text())
    stamps = {p.name: p.stat().st_mtime_ns for p in work.rglob("*.json")}
    second = run_module([*common, "--seeds", "0", "1", "2", "--workers", "1"], env=subprocess_env(), cwd=root)
    return {"out": out, "work": work, "first": first, "second": second, "summary_2": summary_2,
            "summary": json.loads(out.read_text()), "stamps": stamps}


@pytest.mark.trains_with_trl
def test_the_json_says_what_ran_and_what_it_measured(tiny_comparison):
    s = tiny_comparison["summary_2"]
    assert s["experiment"] == "real" and s["complete"] and s["resumed_runs"] == 0
    assert s["metadata"]["command"].startswith("python -m srgrpo.lab real")
    assert {"python", "torch", "trl", "transformers", "srgrpo"} <= set(s["metadata"]["versions"])
    assert s["metadata"]["machine"]["cpu_count"] >= 1
    assert s["settings"]["seeds"] == [0, 1] and s["settings"]["model_name_or_path"] == "tiny"
    assert list(s["methods"]) == ["grpo", "per_sample(tau=1)", "constant"]
    assert s["methods"]["constant"]["control"] and not s["methods"]["grpo"]["control"]
    assert len(s["runs"]) == 6 and {r["seed"] for r in s["runs"]} == {0, 1}
    start = s["start"]["heldout"]
    assert start["n"] == 4 and set(start) >= {"accuracy", "strict_format", "answer_line", "stopped", "mean_tokens"}
    for run in s["runs"]:
        assert run["steps"] == 2 and run["curves"]["step"] == [1, 2]
        assert set(run["curves"]) >= {"reward", "correctness", "format", "cut_off", "length", "seconds"}
        assert run["heldout"]["n"] == 4 and len(run["examples"]) in (3, 4)
        assert run["train_s"] > 0 and run["eval_s"] > 0 and run["wall_s"] >= run["train_s"]
    grpo = s["methods"]["grpo"]
    assert grpo["seeds"] == [0, 1] and len(grpo["per_seed"]["accuracy"]) == 2
    after = grpo["after"]["accuracy"]
    assert after["n"] == 2 and after["min"] <= after["mean"] <= after["max"] and "low" not in after
    block = s["comparisons"]
    assert [(r["label"], r["other"]) for r in block["primary"]] == [
        ("per_sample(tau=1)", "grpo"), ("grpo", "constant"), ("per_sample(tau=1)", "constant")]
    assert block["missing"] == ["per_sample(tau=1) vs shared(tau=0.5)", "shared(tau=0.5) vs constant"]
    assert all(r["n"] == 2 and len(r["per_seed"]) == 2 for r in block["primary"])
    assert len(block["exploratory"]) == 3 * 4 - 3  # 3 pairs x 4 rates, less the 3 declared
    figures = [Path(p) for p in s["figures"]]
    assert [p.name for p in figures] == ["real-heldout.png", "real-comparisons.png", "real-curves.png"]
    assert all(p.is_file() and p.stat().st_size > 10_000 for p in figures)


@pytest.mark.trains_with_trl
def test_a_rerun_does_not_redo_finished_runs(tiny_comparison):
    s, work = tiny_comparison["summary"], tiny_comparison["work"]
    assert s["resumed_runs"] == 7  # the start's evaluation and the 6 runs of seeds 0 and 1
    assert "7 already done" in tiny_comparison["second"].stdout
    for name, stamp in tiny_comparison["stamps"].items():
        assert next(work.rglob(name)).stat().st_mtime_ns == stamp, f"{name} was redone"
    assert len(s["runs"]) == 9 and s["methods"]["grpo"]["seeds"] == [0, 1, 2]
    assert "[8/10]" in tiny_comparison["second"].stdout  # progress: one line per finished run
    assert "pretrained model: correct" in tiny_comparison["second"].stdout  # the plain-text table at the end
    assert "3 declared comparisons of held-out accuracy" in tiny_comparison["second"].stdout
    first = {(r["label"], r["seed"]): r for r in tiny_comparison["summary_2"]["runs"]}
    for run in s["runs"]:
        if run["seed"] < 2:
            assert run == first[(run["label"], run["seed"])]


@pytest.mark.trains_with_trl
def test_a_damaged_run_file_is_redone_and_other_settings_are_kept_apart(tiny_comparison, tmp_path):
    work = tiny_comparison["work"]
    folder = next(p for p in work.iterdir() if p.is_dir())
    settings = RealLabSettings(model_name_or_path="tiny", max_steps=2, methods=["grpo"], seeds=[0], eval_limit=4,
                               eval_batch_size=4, max_completion_length=8, max_new_tokens=8,
                               work_dir=str(work), per_sample_taus=[1.0])
    assert settings.runs_folder() == folder  # the grid (methods, seeds) is not part of the settings id
    assert RealLabSettings(**{**settings.to_dict(), "max_steps": 3}).runs_folder() != folder
    assert RealLabSettings(**{**settings.to_dict(), "workers": 2, "threads": 2}).runs_folder() == folder
    from srgrpo.lab.real.command import _read_run

    sid = settings_id(settings)
    path = folder / "grpo__seed0.json"
    assert _read_run(path, sid) is not None
    copy = tmp_path / "grpo__seed0.json"
    copy.write_text(path.read_text()[:50])  # cut off mid-file
    assert _read_run(copy, sid) is None
    copy.write_text(path.read_text().replace(sid, "0" * 12))  # made with other settings
    assert _read_run(copy, sid) is None


def test_bad_settings_are_clear_errors():
    with pytest.raises(ValueError, match="unknown advantage method 'ppo'"):
        RealLabSettings(methods=["ppo"])
    with pytest.raises(ValueError, match="num_generations must be at least 2"):
        RealLabSettings(num_generations=1)
    with pytest.raises(ValueError, match="distinct seeds"):
        RealLabSettings(seeds=[0, 0])
    with pytest.raises(ValueError, match="per_sample_taus is empty"):
        RealLabSettings(per_sample_taus=[])
    with pytest.raises(ValueError, match="tau"):
        RealLabSettings(shared_taus=[0.0])


def test_the_grid_is_seed_major_with_one_run_per_temperature():
    grid = run_grid(RealLabSettings(seeds=[3, 4]))
    labels = ["grpo", "per_sample(tau=1)", "shared(tau=0.5)", "constant", "random_reward"]
    assert [g.label for g in grid] == labels * 2
    assert [g.seed for g in grid] == [3] * 5 + [4] * 5
    assert {label for pair in PRIMARY_COMPARISONS for label in pair} <= set(labels)  # the defaults run them all
    assert RunSpec("per_sample", 1.0, 0).key == "per_sample-tau1__seed0"
    assert len({g.key for g in grid}) == len(grid)


def _fake_run(label, seed, accuracy, curve):
    rates = {name: {"count": 0, "percent": accuracy if name == "accuracy" else 50.0, "ci95": [0, 100]}
             for name in ("accuracy", "strict_format", "answer_line", "stopped")}
    return {"label": label, "method": label, "tau": None, "seed": seed, "control": False,
            "heldout": {"n": 10, **rates, "mean_tokens": 30.0}, "train_s": 10.0, "eval_s": 1.0, "wall_s": 11.0,
            "curves": {"step": [1, 2], **{k: list(curve) for k in ("reward", "correctness", "format", "cut_off")}}}


def test_the_comparison_against_a_slow_reference():
    import statistics

    start = {"heldout": _fake_run("x", 0, 10.0, [0, 0])["heldout"]}
    runs = [_fake_run("grpo", s, a, c) for s, a, c in ((0, 20.0, [0.1, 0.3]), (1, 30.0, [0.2, 0.5]),
                                                       (2, 25.0, [0.3, 0.4]))]
    runs.append(_fake_run("constant", 0, 10.0, [0.0, 0.0]))
    summary = compare(runs, start)
    grpo = summary["grpo"]
    changes = [10.0, 20.0, 15.0]
    half = 4.302652729911275 * statistics.stdev(changes) / 3 ** 0.5
    assert grpo["change"]["accuracy"]["mean"] == pytest.approx(15.0)
    assert grpo["change"]["accuracy"]["low"] == pytest.approx(15.0 - half, abs=0.01)
    assert grpo["change"]["accuracy"]["high"] == pytest.approx(15.0 + half, abs=0.01)
    assert excludes_zero(grpo["change"]["accuracy"])
    assert summary["constant"]["change"]["accuracy"]["low"] is None  # one seed: no interval
    assert not excludes_zero(summary["constant"]["change"]["accuracy"])
    curve = mean_curve(runs[:3], "reward")
    assert curve["mean"] == pytest.approx([0.2, 0.4]) and curve["min"] == [0.1, 0.3] and curve["max"] == [0.3, 0.5]


def test_heldout_summary_counts_and_intervals():
    records = [{"correct": i < 3, "strict_format": i < 5, "any_answer_line": i < 6, "stopped": i < 8, "num_tokens": 10}
               for i in range(10)]
    s = heldout_summary(records)
    assert s["accuracy"]["count"] == 3 and s["accuracy"]["percent"] == 30.0
    low, high = s["accuracy"]["ci95"]
    assert low < 30.0 < high
    assert s["stopped"]["percent"] == 80.0 and s["mean_tokens"] == 10.0
    with pytest.raises(ValueError, match="no held-out records"):
        heldout_summary([])


def test_the_committed_comparison_is_complete_and_drawn():
    path = REPO / "data" / "results" / "real.json"
    summary = json.loads(path.read_text())
    cfg = summary["settings"]
    assert summary["complete"] and cfg["model_name_or_path"] == "smollm2" and len(cfg["seeds"]) >= 5
    assert summary["start"]["heldout"]["n"] >= 200
    expected = {"grpo", "per_sample(tau=1)", "shared(tau=0.5)", "constant", "random_reward"}
    assert set(summary["methods"]) == expected
    assert len(summary["runs"]) == len(expected) * len(cfg["seeds"])
    assert [(r["label"], r["other"]) for r in summary["comparisons"]["primary"]] == list(PRIMARY_COMPARISONS)
    assert all(r["n"] == len(cfg["seeds"]) for r in summary["comparisons"]["primary"])
    for name in summary["figures"]:
        assert (REPO / "data" / "results" / Path(name).name).is_file()


def _p_by_integration(t: float, df: int) -> float:
    """Slow reference: two-sided p of Student's t by Simpson's rule on its density, from 0 to |t|."""
    import math

    c = math.gamma((df + 1) / 2) / (math.sqrt(df * math.pi) * math.gamma(df / 2))
    n, h = 20_000, abs(t) / 20_000
    f = [c * (1 + (i * h) ** 2 / df) ** (-(df + 1) / 2) for i in range(n + 1)]
    area = h / 3 * (f[0] + f[-1] + 4 * sum(f[1:-1:2]) + 2 * sum(f[2:-1:2]))
    return 1 - 2 * area


def test_the_declared_comparisons_are_paired_t_tests_adjusted_together():
    import statistics

    start = {"heldout": _fake_run("x", 0, 10.0, [0, 0])["heldout"]}
    accuracy = {"grpo": [20.0, 30.0, 25.0, 22.0, 31.0], "per_sample(tau=1)": [24.0, 29.0, 33.0, 30.0, 35.0],
                "shared(tau=0.5)": [9.0, 12.0, 6.0, 11.0, 10.0], "constant": [10.0, 14.0, 9.0, 8.0, 12.0]}
    runs = [_fake_run(label, seed, a, [0, 0]) for label, values in accuracy.items() for seed, a in enumerate(values)]
    for run in runs:
        run["control"] = run["label"] == "constant"
    block = comparisons(runs, PRIMARY_COMPARISONS)
    assert [(r["label"], r["other"]) for r in block["primary"]] == list(PRIMARY_COMPARISONS)
    for row in block["primary"]:
        diffs = [a - b for a, b in zip(accuracy[row["label"]], accuracy[row["other"]])]
        assert row["per_seed"] == diffs and row["positive"] == sum(d > 0 for d in diffs)
        t = statistics.mean(diffs) / (statistics.stdev(diffs) / 5 ** 0.5)
        assert row["t"] == pytest.approx(t, abs=0.01)
        assert row["p"] == pytest.approx(_p_by_integration(t, 4), abs=2e-4)
        assert (row["low"] > 0 or row["high"] < 0) == (row["p"] < 0.05)  # the interval and the test agree
    ps = sorted(r["p"] for r in block["primary"])
    holm_sorted = sorted(r["p_holm"] for r in block["primary"])
    assert holm_sorted[0] == pytest.approx(min(1, 5 * ps[0]), abs=1e-4)  # the smallest is multiplied by 5
    assert all(r["p_holm"] >= r["p"] for r in block["primary"])
    assert all(r["significant"] == (r["p_holm"] < 0.05) for r in block["primary"])
    assert block["missing"] == [] and len(block["exploratory"]) == 6 * 4 - 5  # 6 pairs x 4 rates, less 5
    assert not any((r["label"], r["other"]) in PRIMARY_COMPARISONS and r["rate"] == "accuracy"
                   for r in block["exploratory"])


def test_examples_set_a_strict_success_beside_the_first_answers():
    def record(i, ok):
        return {"index": i, "question": "q", "gold": "1", "completion": "c", "correct": ok, "strict_format": ok,
                "stopped": True}

    records = [record(i, i == 5) for i in range(8)]
    assert [e["index"] for e in examples(records)] == [0, 1, 2, 5]
    assert [e["index"] for e in examples([record(i, False) for i in range(8)])] == [0, 1, 2]  # none to show
    assert [e["index"] for e in examples([record(i, i == 1) for i in range(8)])] == [0, 1, 2]  # already there


def test_methods_are_compared_with_each_control_seed_by_seed():
    start = {"heldout": _fake_run("x", 0, 10.0, [0, 0])["heldout"]}
    runs = [_fake_run("grpo", s, a, [0, 0]) for s, a in ((0, 20.0), (1, 30.0), (2, 25.0))]
    runs += [_fake_run("constant", s, a, [0, 0]) for s, a in ((0, 10.0), (1, 24.0), (2, 12.0))]
    for r in runs[3:]:
        r["control"] = True
    for r, wall in zip(runs, (11.0, 40.0, 13.0)):  # one run slowed by other work: the median ignores it
        r["wall_s"] = wall
    summary = compare(runs, start)
    vs = summary["grpo"]["vs"]["constant"]["accuracy"]
    assert vs["mean"] == pytest.approx((10 + 6 + 13) / 3, abs=0.01) and vs["n"] == 3
    assert set(summary["grpo"]["vs"]) == {"constant"} and summary["constant"]["vs"] == {}
    assert summary["grpo"]["wall_s"] == {"median": 13.0, "mean": 21.3, "min": 11.0, "max": 40.0}
