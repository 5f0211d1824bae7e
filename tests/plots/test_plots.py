"""srgrpo.plots on fabricated training logs and evaluation results."""

from __future__ import annotations

import json

import pytest
from matplotlib.figure import Figure

from srgrpo.plots import load_log_history, main, plot_accuracy, plot_training, training_panels
from srgrpo.plumbing.stats import ema, wilson_interval


def fake_history(steps: int = 12, *, kl: bool = True, soft: bool = True, funcs=("correctness_reward", "format_reward")):
    history = []
    for s in range(1, steps + 1):
        entry = {"step": s, "loss": 0.01 * s, "reward": 0.1 * s, "reward_std": 0.05,
                 "completion_length": 100 + s, "learning_rate": 1e-5}
        for i, f in enumerate(funcs):
            entry[f"rewards/{f}/mean"] = 0.05 * s + i
            entry[f"rewards/{f}/std"] = 0.1
        if kl:
            entry["kl"] = 0.001 * s
        if soft:
            entry["soft_advantage_mean"] = 0.0
            entry["soft_advantage_std"] = 0.3
        history.append(entry)
    history.append({"step": steps, "train_runtime": 12.0, "train_loss": 0.1})  # Trainer's final summary entry
    return history


def test_wilson_interval_hand_computed():
    # p = 0.8, n = 10, z = 1.96: center = (0.8 + 0.19208) / 1.38416 = 0.71674,
    # half = 1.96 / 1.38416 * sqrt(0.016 + 0.009604) = 0.22658
    low, high = wilson_interval(8, 10)
    assert low == pytest.approx(0.4902, abs=1e-4) and high == pytest.approx(0.9433, abs=1e-4)
    assert wilson_interval(0, 0) == (0.0, 1.0)
    low, high = wilson_interval(0, 20)
    assert low == 0.0 and 0 < high < 0.2
    # symmetry: k successes mirror n - k failures
    a, b = wilson_interval(3, 17)
    c, d = wilson_interval(14, 17)
    assert a == pytest.approx(1 - d) and b == pytest.approx(1 - c)
    # wider at 99 %
    assert wilson_interval(8, 10, z=2.576)[0] < wilson_interval(8, 10)[0]
    with pytest.raises(ValueError):
        wilson_interval(5, 3)
    assert "sqrt" in wilson_interval.__doc__


def test_ema():
    assert ema([1.0, 2.0, 3.0], 0.0) == [1.0, 2.0, 3.0]
    assert ema([2.0] * 5, 0.9) == pytest.approx([2.0] * 5)  # debiased: starts at the data
    out = ema([1.0, float("nan"), 3.0], 0.5)
    assert out[1] == out[0] == 1.0 and 1.0 < out[2] < 3.0
    with pytest.raises(ValueError):
        ema([1.0], 1.0)


def test_plot_training_overlays_runs_and_skips_missing_panels(tmp_path):
    full = fake_history()
    partial = fake_history(8, kl=False, soft=False, funcs=("correctness_reward",))
    panels = [p["key"] for p in training_panels([full, partial])]
    # the advantage's spread, never its mean (0 by construction for per_sample and GRPO)
    assert panels == ["reward", "rewards/correctness_reward/mean", "rewards/format_reward/mean",
                      "soft_advantage_std", "kl", "completion_length"]
    assert [p["key"] for p in training_panels([partial])] == ["reward", "rewards/correctness_reward/mean",
                                                              "completion_length"]

    fig = plot_training(full, partial, labels=["shared", "per_sample"], smooth=0.5)
    assert isinstance(fig, Figure)
    drawn = [ax for ax in fig.axes if ax.axison]
    assert len(drawn) == 6 and len(fig.axes) == 6  # 6 panels in 2 rows of 3: no empty slot
    legend = drawn[0].get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["shared", "per_sample"]
    reward_ax = drawn[0]
    assert len(reward_ax.lines) == 4  # raw + smoothed for each run
    assert len(reward_ax.collections) == 2  # a std band for each run
    kl_ax = drawn[4]
    assert len(kl_ax.lines) == 2  # only the run that logged kl
    assert all(float(t).is_integer() for t in reward_ax.get_xticks())  # steps are whole numbers
    fig.savefig(tmp_path / "t.png")

    with pytest.raises(ValueError, match="labels"):
        plot_training(full, labels=["a", "b"])
    with pytest.raises(ValueError, match="none of the runs"):
        plot_training([{"step": 1, "loss": 0.1}])


def test_short_runs_are_not_smoothed_and_the_band_stays_in_the_rewards_range():
    history = [{"step": s, "reward": r, "reward_std": 0.9, "rewards/correctness_reward/mean": r / 2,
                "rewards/format_reward/mean": r / 2, "completions/clipped_ratio": 0.5, "frac_reward_zero_std": 0.5}
               for s, r in enumerate([0.1, 1.9, 0.5], start=1)]
    fig = plot_training(history, smooth=0.8)
    reward_ax = next(ax for ax in fig.axes if ax.get_title().startswith("reward (sum"))
    assert len(reward_ax.lines) == 1 and list(reward_ax.lines[0].get_ydata()) == [0.1, 1.9, 0.5]  # raw, unsmoothed
    band = reward_ax.collections[0].get_paths()[0].vertices[:, 1]
    assert band.min() >= 0.0 and band.max() <= 2.0  # two rewards in [0, 1]: the sum lies in [0, 2]
    titles = [ax.get_title() for ax in fig.axes if ax.axison]
    assert "cut off at the token limit (share)" in titles and "groups without signal (share)" in titles
    assert not any(ax.axison and not ax.get_title() for ax in fig.axes)


def test_run_folders_and_checkpoints(tmp_path):
    done = tmp_path / "done_run"
    done.mkdir()
    (done / "trainer_state.json").write_text(json.dumps({"log_history": fake_history(5), "global_step": 5}))
    going = tmp_path / "running"
    for step in (2, 10):
        (going / f"checkpoint-{step}").mkdir(parents=True)
        (going / f"checkpoint-{step}" / "trainer_state.json").write_text(
            json.dumps({"log_history": fake_history(step)}))
    assert len(load_log_history(going)) == 11  # the newest checkpoint (10, not 2: numeric order)
    fig = plot_training(done, going)
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["done_run", "running"]
    with pytest.raises(FileNotFoundError, match="training run not found"):
        load_log_history(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="training output folder"):
        load_log_history(tmp_path / "empty")


def test_plot_accuracy_before_after(tmp_path):
    before = {"model": "Qwen/Qwen2.5-1.5B-Instruct", "split": "test", "n": 200, "correct": 120,
              "strict_correct": 80, "accuracy": 0.6, "strict_accuracy": 0.4}
    after_path = tmp_path / "after.json"
    after_path.write_text(json.dumps({**before, "correct": 140, "strict_correct": 130, "accuracy": 0.7,
                                      "strict_accuracy": 0.65, "adapter": "/x/runs/gsm8k_t4"}))
    fig = plot_accuracy(before, after_path)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["Qwen2.5-1.5B-Instruct", "after"]
    heights = sorted(round(p.get_height(), 3) for p in ax.patches)
    assert heights == [40.0, 60.0, 65.0, 70.0]  # in %, on a % axis
    assert "n=200" in ax.get_title() and "GSM8K test" in ax.get_title() and ax.get_ylim()[1] > 100
    fig.savefig(tmp_path / "a.png")

    # Only accuracy known: one bar per result, labels given.
    fig = plot_accuracy({"n": 10, "accuracy": 0.8}, labels=["x"])
    assert [round(p.get_height(), 2) for p in fig.axes[0].patches] == [80.0]

    # The format and cut-off rates beside accuracy; the title names the problem set.
    synthetic = {"dataset": "arithmetic", "split": "test", "n": 64, "correct": 12, "strict_correct": 10,
                 "format_rate": 0.95, "truncated_rate": 0.0}
    fig = plot_accuracy({**synthetic, "correct": 2, "strict_correct": 0, "format_rate": 0.0, "truncated_rate": 0.875},
                        synthetic, labels=["before", "after"])
    ax = fig.axes[0]
    assert "Synthetic word problems test" in ax.get_title() and "GSM8K" not in ax.get_title()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "correct", "correct and in format", "in format", "cut off"]
    assert sorted(round(p.get_height(), 1) for p in ax.patches)[-2:] == [87.5, 95.3]  # 61 of 64
    with pytest.raises(ValueError, match="not an evaluation summary"):
        (tmp_path / "bad.json").write_text("{}")
        plot_accuracy(tmp_path / "bad.json")


def test_cli_detects_runs_and_results(tmp_path, capsys, monkeypatch):
    run = tmp_path / "run"
    run.mkdir()
    (run / "trainer_state.json").write_text(json.dumps({"log_history": fake_history(6)}))
    res = tmp_path / "res.json"
    res.write_text(json.dumps({"n": 8, "correct": 3, "strict_correct": 1, "accuracy": 0.375, "split": "test"}))
    for inputs, name in (([run], "r.png"), ([res], "e.png"), ([run, res], "both.png")):
        assert main([*map(str, inputs), "--output", str(tmp_path / name)]) == 0
        assert (tmp_path / name).stat().st_size > 1000
    monkeypatch.chdir(tmp_path)
    assert main([str(run)]) == 0 and (tmp_path / "outputs" / "run.png").is_file()  # outputs/ by default
    assert main([str(res.with_suffix(".jsonl")), "--output", str(tmp_path / "x.png")]) == 2
    assert "not found" in capsys.readouterr().err
    assert main([str(run), "--labels", "a", "b", "--output", str(tmp_path / "x.png")]) == 2


def test_one_run_draws_the_raw_values_bold_the_average_faint_and_no_legend_slot():
    """Issue 31: notebook 4's seven panels of one run: the raw curve is the bold one (the text reads it), the moving
    average faint, the band explained in the figure, and no eighth slot holding only a legend."""
    history = fake_history(16)
    for entry in history[:-1]:
        entry["frac_reward_zero_std"] = 0.5
        entry["completions/clipped_ratio"] = 0.1
    del_keys = ("kl",)
    for entry in history:
        for k in del_keys:
            entry.pop(k, None)
    fig = plot_training(history, smooth=0.8)
    assert len(fig.axes) == 7 and all(ax.axison for ax in fig.axes)  # 7 panels, no spare axes
    assert all(ax.get_legend() is None for ax in fig.axes)  # one run: nothing to tell apart
    reward_ax = next(ax for ax in fig.axes if ax.get_title().startswith("reward (sum"))
    raw, average = reward_ax.lines
    assert list(raw.get_ydata()) == [0.1 * s for s in range(1, 17)]
    assert raw.get_linewidth() > average.get_linewidth() and (average.get_alpha() or 1) < 1 and raw.get_alpha() is None
    title = fig.get_suptitle()
    assert "bold" in title and "moving average" in title and "std" in title
