"""Tests of the learning lab's bandit half: methods, results helpers, the bandit and its CLI."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import pytest
import torch

from srgrpo.advantages import grpo_advantages, group_zscores
from srgrpo.lab import (
    DEFAULT_TAUS,
    METHODS,
    compare_bandit,
    mean_ci95,
    method_advantages,
    method_grid,
    plot_bandit,
    run_bandit,
    run_metadata,
    write_json,
)
from srgrpo.lab import __main__ as lab_cli
from srgrpo.lab.results import t_quantile_975
from conftest import REPO



# --- methods ---------------------------------------------------------------------------------


def test_constant_gives_ones():
    rewards = torch.tensor([0.0, 1.0, 1.0, 0.0, 0.3, 0.3, 0.9, 0.1])
    assert torch.equal(method_advantages("constant", rewards, 4), torch.ones(8))


def test_constant_leaves_unscorable_completions_out():
    rewards = torch.tensor([0.0, float("nan"), 1.0, 0.0])
    assert method_advantages("constant", rewards, 2).tolist() == [1.0, 0.0, 1.0, 1.0]


def test_grpo_and_soft_methods_are_the_package_functions():
    rewards = torch.tensor([0.0, 1.0, 1.0, 0.0, 1.0, 1.0, 1.0, 0.0])
    assert torch.equal(method_advantages("grpo", rewards, 4), grpo_advantages(rewards, 4))
    shared = method_advantages("shared", rewards, 4, tau=0.5)
    assert torch.allclose(shared.view(2, 4), shared.view(2, 4)[:, :1].expand(2, 4))  # one value per group
    per_sample = method_advantages("per_sample", rewards, 4, tau=0.5)
    assert torch.allclose(per_sample.view(2, 4).sum(dim=1), torch.zeros(2), atol=1e-6)  # zero-sum


def test_random_reward_ignores_which_completion_was_right():
    # Same rewards, shuffled within and across groups: with the same generator state the fake
    # rewards, hence the advantages, are identical. Only the batch's mean and range reach them.
    gen = torch.Generator().manual_seed(0)
    rewards = (torch.rand(64 * 8, generator=gen) < 0.3).float()
    shuffled = rewards[torch.randperm(rewards.numel(), generator=gen)]
    assert not torch.equal(rewards, shuffled)
    a = method_advantages("random_reward", rewards, 8, generator=torch.Generator().manual_seed(7))
    b = method_advantages("random_reward", shuffled, 8, generator=torch.Generator().manual_seed(7))
    assert torch.equal(a, b)
    assert a.abs().sum() > 0  # a real GRPO-scaled update, just a blind one
    # Its advantage is uncorrelated with correctness (GRPO's is strongly positively correlated).
    many = torch.stack([method_advantages("random_reward", rewards, 8, generator=gen) for _ in range(200)])
    corr = torch.corrcoef(torch.stack([many.mean(0), rewards]))[0, 1]
    assert abs(corr) < 0.2
    assert torch.corrcoef(torch.stack([grpo_advantages(rewards, 8), rewards]))[0, 1] > 0.5


def test_random_reward_matches_the_batch_mean_and_range():
    gen = torch.Generator().manual_seed(1)
    rewards = torch.where(torch.rand(4000, generator=gen) < 0.25, 2.0, -1.0)  # two values, mean ~ -0.25
    fake = torch.stack([method_advantages("random_reward", torch.full((8,), v), 4, generator=gen) for v in (0.0, 1.0)])
    assert torch.equal(fake, torch.zeros_like(fake))  # no spread, nothing to learn, as with GRPO
    from srgrpo.lab.methods import _random_rewards

    drawn = _random_rewards(rewards, gen)
    assert set(drawn.unique().tolist()) == {-1.0, 2.0}
    assert abs(drawn.mean().item() - rewards.mean().item()) < 0.1


def test_unknown_method_and_misplaced_tau_are_rejected():
    rewards = torch.zeros(8)
    with pytest.raises(ValueError, match="unknown advantage method"):
        method_advantages("ppo", rewards, 4)
    with pytest.raises(ValueError, match="takes no tau"):
        method_advantages("grpo", rewards, 4, tau=0.5)
    with pytest.raises(ValueError, match="tau"):
        method_advantages("per_sample", rewards, 4, tau=0.0)
    with pytest.raises(ValueError, match="unknown advantage method"):
        method_grid(["grpo", "soft"], [0.5])
    with pytest.raises(ValueError, match="need at least one tau"):
        method_grid(["shared"], [])


def test_method_grid_expands_soft_methods_over_taus():
    grid = method_grid(METHODS, DEFAULT_TAUS)
    assert len(grid) == 3 + 2 * len(DEFAULT_TAUS)
    labels = [label for _, _, label in grid]
    assert labels[:2] == ["grpo", "shared(tau=0.1)"]
    assert "per_sample(tau=0.5)" in labels and labels[-2:] == ["constant", "random_reward"]
    assert ("grpo", None, "grpo") in grid
    assert method_grid(["grpo", "grpo", "per_sample"], [1, 1.0]) == [
        ("grpo", None, "grpo"),
        ("per_sample", 1.0, "per_sample(tau=1)"),
    ]


def test_per_sample_at_large_tau_is_grpo_numerically():
    gen = torch.Generator().manual_seed(0)
    for rewards in (torch.randn(64 * 8, generator=gen), (torch.rand(64 * 8, generator=gen) < 0.3).float()):
        z = group_zscores(rewards, 8)
        grpo = method_advantages("grpo", rewards, 8)
        assert (method_advantages("per_sample", rewards, 8, tau=1000.0) - grpo).abs().max() < 1e-2
        # At tau = 100 the gap is the second-order term of tau (K w - 1) = z + (z^2 - mean z^2) / (2 tau) + ...,
        # up to 0.026 for a lone success among 8 (z = 2.47): measured, not noise.
        gap = method_advantages("per_sample", rewards, 8, tau=100.0) - grpo
        z2 = z.view(-1, 8).square()
        predicted = ((z2 - z2.mean(dim=1, keepdim=True)) / 200).view(-1)
        assert (gap - predicted).abs().max() < 2e-3


# --- results helpers ---------------------------------------------------------------------------


def test_mean_ci95_by_hand():
    mean, low, high = mean_ci95([1, 2, 3])
    half = 4.302653 * 1.0 / math.sqrt(3)  # sd of [1, 2, 3] is 1, t(0.975, df=2) = 4.3027
    assert mean == 2.0
    assert low == pytest.approx(2 - half, abs=1e-5) and high == pytest.approx(2 + half, abs=1e-5)
    assert mean_ci95(torch.tensor([5.0, 5.0])) == (5.0, 5.0, 5.0)
    one = mean_ci95([0.7])
    assert one[0] == 0.7 and math.isnan(one[1]) and math.isnan(one[2])
    with pytest.raises(ValueError):
        mean_ci95([])


def test_t_quantile_table_and_expansion():
    # Reference values computed with mpmath (inverse of the regularised incomplete beta).
    exact = {1: 12.70620474, 7: 2.364624252, 30: 2.042272456, 31: 2.039513446, 40: 2.02107539,
             60: 2.000297822, 120: 1.979930405, 1000: 1.962339081}
    for df, value in exact.items():
        assert t_quantile_975(df) == pytest.approx(value, abs=1e-6)
    with pytest.raises(ValueError):
        t_quantile_975(0)


def test_write_json_is_atomic_and_strict(tmp_path):
    path = tmp_path / "sub" / "r.json"
    write_json(path, {"a": 1})
    write_json(path, {"x": float("nan"), "t": torch.tensor([1.5, 2.0]), "tup": (1, 2)})
    assert json.loads(path.read_text()) == {"x": None, "t": [1.5, 2.0], "tup": [1, 2]}
    assert [p.name for p in path.parent.iterdir()] == ["r.json"]  # no temporary file left behind
    with pytest.raises(TypeError):
        write_json(path, {"bad": object()})
    assert json.loads(path.read_text())["tup"] == [1, 2]  # a failed write leaves the old file intact
    assert [p.name for p in path.parent.iterdir()] == ["r.json"]


def test_run_metadata_keys():
    meta = run_metadata(["bandit", "--output", "a b.json"])
    assert meta["command"] == "python -m srgrpo.lab bandit --output 'a b.json'"
    assert set(meta["versions"]) == {"python", "torch", "trl", "transformers", "srgrpo"}
    assert meta["versions"]["torch"] == torch.__version__
    assert meta["machine"]["cpu_count"] == os.cpu_count()
    assert {"cpu_model", "platform", "torch_threads"} <= set(meta["machine"])
    assert meta["timestamp_utc"].endswith("+00:00")


# --- the bandit --------------------------------------------------------------------------------


def test_run_bandit_shape_and_determinism():
    a = run_bandit("grpo", seeds=3, steps=10, prompts=4, answers=5, k=4, seed=3)
    assert a.shape == (3, 11)
    assert torch.equal(a, run_bandit("grpo", seeds=3, steps=10, prompts=4, answers=5, k=4, seed=3))
    assert ((a > 0) & (a <= 1)).all()
    # Environments are drawn first: every method starts from the same bandits.
    b = run_bandit("shared", 0.5, seeds=3, steps=10, prompts=4, answers=5, k=4, seed=3)
    assert torch.equal(a[:, 0], b[:, 0])
    with pytest.raises(ValueError):
        run_bandit("grpo", seeds=0)
    with pytest.raises(ValueError):
        run_bandit("grpo", tau=0.5)


def test_grpo_learns_and_constant_does_not_beat_it():
    grpo = run_bandit("grpo", seeds=8, steps=300, seed=0).mean(dim=0)
    constant = run_bandit("constant", seeds=8, steps=300, seed=0).mean(dim=0)
    assert grpo[-1] > grpo[0] + 0.4  # measured: 0.32 -> 0.94
    assert constant[-1] <= grpo[-1]
    assert constant[-1] < grpo[0] + 0.1  # self-reinforcement alone barely moves (0.32 -> 0.33)


def test_per_sample_with_large_tau_learns_like_grpo():
    # Same seed, so same bandits and (while the policies agree) the same samples. Measured over
    # base seeds 0-5 with 16 seeds x 150 steps: max |mean curve difference| 0.0009-0.0013 for
    # tau = 100, against 0.009-0.014 between GRPO runs with different seeds and 0.04 for tau = 0.5.
    settings = {"seeds": 16, "steps": 150, "seed": 0}
    grpo = run_bandit("grpo", **settings).mean(dim=0)
    large = run_bandit("per_sample", 100.0, **settings).mean(dim=0)
    assert (grpo - large).abs().max() < 0.01
    small = run_bandit("per_sample", 0.5, **settings).mean(dim=0)
    assert (grpo - small).abs().max() > 0.01  # the tolerance does tell methods apart


def test_compare_bandit_summary_and_plot(tmp_path):
    summary = compare_bandit(["grpo", "per_sample", "constant"], [0.5, 2.0], seeds=3, steps=30, prompts=4)
    assert list(summary["runs"]) == ["grpo", "per_sample(tau=0.5)", "per_sample(tau=2)", "constant"]
    assert summary["config"]["checkpoints"] == [0, 30]
    run = summary["runs"]["grpo"]
    assert len(run["curve"]["mean"]) == 31 and run["curve"]["low"][0] <= run["curve"]["mean"][0]
    s80 = run["steps_to_80"]
    assert s80["reached"] + s80["never"] == 3 and len(s80["per_seed"]) == 3
    fig = plot_bandit(summary, tau=2.0)
    labels = [line.get_label() for line in fig.axes[0].get_lines() if not line.get_label().startswith("_")]
    assert labels == ["grpo", "per_sample(tau=2)", "constant (control)"]
    assert len([l for l in plot_bandit(summary).axes[0].get_lines() if not l.get_label().startswith("_")]) == 4
    with pytest.raises(ValueError, match="tau=1"):
        plot_bandit(summary, tau=1.0)
    plot_bandit(summary, path=tmp_path / "f.png")
    assert (tmp_path / "f.png").stat().st_size > 0


# --- the command line --------------------------------------------------------------------------


def test_cli_bandit_writes_json_and_png(tmp_path):
    out = tmp_path / "x.json"
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    cmd = [sys.executable, "-m", "srgrpo.lab", "bandit", "--output", str(out), "--num_seeds", "2", "--max_steps", "20",
           "--prompts", "4", "--taus", "0.5", "1.0"]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(out.read_text())
    assert data["experiment"] == "bandit"
    assert {"command", "argv", "versions", "machine", "timestamp_utc"} <= set(data["metadata"])
    assert data["metadata"]["argv"][:3] == ["bandit", "--output", str(out)]
    assert data["config"]["seeds"] == 2 and data["config"]["steps"] == 20
    assert data["config"]["checkpoints"] == [0, 20]
    expected = [label for _, _, label in method_grid(METHODS, [0.5, 1.0])]
    assert list(data["runs"]) == expected
    for label in expected:
        run = data["runs"][label]
        assert [c["step"] for c in run["checkpoints"]] == [0, 20]
        for point in run["checkpoints"] + [run["final"]]:
            assert point["low"] <= point["mean"] <= point["high"]
        assert {"mean", "low", "high", "reached", "never", "per_seed"} <= set(run["steps_to_80"])
        assert len(run["curve"]["mean"]) == 21
    png = out.with_suffix(".png")
    assert data["png"] == str(png) and png.stat().st_size > 0
    assert "grpo" in proc.stdout and "steps to 80%" in proc.stdout
    plot_bandit(data)  # the file redraws as it is


def test_cli_rejects_bad_settings(tmp_path, capsys):
    assert lab_cli.main(["bandit", "--output", str(tmp_path / "x.json"), "--num_seeds", "0"]) == 2
    assert "seeds" in capsys.readouterr().err
    assert not (tmp_path / "x.json").exists()


def test_cli_imports_an_experiment_only_when_chosen(tmp_path, monkeypatch, capsys):
    (tmp_path / "fake_lab_command.py").write_text("def main(argv):\n    return int(argv[1])\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(lab_cli.COMMANDS, "fake", ("fake_lab_command", "a fake experiment"))
    assert "fake_lab_command" not in sys.modules
    assert lab_cli.main(["fake", "--n", "7"]) == 7
    assert "fake_lab_command" in sys.modules
    with pytest.raises(SystemExit):
        lab_cli.main(["no_such_experiment"])
    assert "invalid choice" in capsys.readouterr().err


def test_curves_that_overlap_are_drawn_as_one_line():
    """Issue 31: notebook 2's full figure drew four shared curves within 0.02 of each other; they are one line,
    labelled with every tau, while the tau slider still draws each."""
    summary = compare_bandit(["grpo", "shared", "per_sample"], [0.5, 2.0], seeds=3, steps=30, prompts=4)
    labels = [l.get_label() for l in plot_bandit(summary).axes[0].get_lines() if not l.get_label().startswith("_")]
    shared = [label for label in labels if label.startswith("shared")]
    assert len(shared) == 1 and "tau=0.5, 2" in shared[0]
    assert len([label for label in labels if label.startswith("per_sample")]) == 2  # they differ: both drawn
    assert len([l for l in plot_bandit(summary, overlap=0).axes[0].get_lines()
                if l.get_label().startswith("shared")]) == 2
    assert [l.get_label() for l in plot_bandit(summary, tau=2.0).axes[0].get_lines()
            if l.get_label().startswith("shared")] == ["shared(tau=2)"]


def test_the_two_controls_can_be_told_apart_where_they_overlap():
    """Issue 39: notebook 2's two grey control curves lay on each other in one grey and could not be told apart. In
    the committed figure they still overlap (neither learns), so each needs its own grey, dash style and marker, and
    their markers must not fall on the same steps."""
    summary = json.loads((REPO / "data" / "results" / "bandit.json").read_text())
    lines = {l.get_label(): l for l in plot_bandit(summary).axes[0].get_lines()}
    constant, random = lines["constant (control)"], lines["random_reward (control)"]
    gap = max(abs(a - b) for a, b in zip(constant.get_ydata(), random.get_ydata()))
    assert gap < 0.02  # the case that needs it: the two curves overlap
    assert constant.get_color() != random.get_color()
    assert constant.get_linestyle() != random.get_linestyle()
    assert constant.get_marker() not in ("None", "", None) and random.get_marker() not in ("None", "", None)
    assert constant.get_marker() != random.get_marker()
    # Markers every tenth of the line, the second set halfway between the first: never on the same spot.
    (start_c, every_c), (start_r, every_r) = constant.get_markevery(), random.get_markevery()
    assert every_c == every_r and abs(start_c - start_r) == every_c / 2
