"""The notebooks' figures and sliders (srgrpo.widgets): the numbers they draw are srgrpo.advantages' numbers."""

from __future__ import annotations

import math
import sys

import pytest
import torch

pytest.importorskip("ipywidgets")
pytest.importorskip("matplotlib")

from srgrpo.advantages import grpo_advantages, group_zscores, soft_advantages, soft_weights  # noqa: E402
from srgrpo.lab import bandit_taus  # noqa: E402
from srgrpo import widgets as W  # noqa: E402

REWARDS = [1.0, 0.0, 0.5, 0.0, 1.0, 0.2]
TAUS = [0.05, 0.1, 0.37, 0.5, 1.0, 2.0, 3.0]


def expected(rewards, tau):
    r = torch.tensor(rewards, dtype=torch.float64)
    k = r.numel()
    return {
        "z": group_zscores(r, k).tolist(),
        "weights": soft_weights(r, k, tau=tau).tolist(),
        "shared": soft_advantages(r, k, tau=tau, mode="shared").tolist(),
        "per_sample": soft_advantages(r, k, tau=tau, mode="per_sample").tolist(),
        "grpo": grpo_advantages(r, k).tolist(),
    }


def close(a, b, tol=1e-12):
    return len(a) == len(b) and all(math.isclose(x, y, rel_tol=tol, abs_tol=tol) for x, y in zip(a, b))


def bar_heights(ax):
    return [p.get_height() for p in ax.patches]


# --------------------------------------------------------------------------------------------------------------
# The tau slider of notebook 1
# --------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("tau", TAUS)
def test_update_returns_and_plots_the_advantages_of_srgrpo_advantages(tau):
    explorer = W.advantage_explorer(REWARDS, tau=0.5)
    data = explorer.update(tau)
    want = expected(REWARDS, tau)
    for key in ("z", "weights", "shared", "per_sample", "grpo"):
        assert close(data[key], want[key]), key
    assert math.isclose(data["a_soft"], want["shared"][0], rel_tol=1e-12)
    assert data["tau"] == pytest.approx(tau)

    # What is drawn is what was returned: weights on the left, shared / per_sample / grpo bars on the right.
    ax_w, ax_a = explorer.figure.axes
    assert close(bar_heights(ax_w), want["weights"])
    k = len(REWARDS)
    heights = bar_heights(ax_a)
    assert close(heights[:k], want["shared"])
    assert close(heights[k : 2 * k], want["per_sample"])
    assert close(heights[2 * k :], want["grpo"])
    assert f"{tau:.2f}" in ax_w.get_title()


def test_setting_the_slider_value_fires_the_redraw():
    explorer = W.advantage_explorer(REWARDS, tau=0.5)
    first = explorer.figure
    assert type(explorer.slider).__name__ == "FloatSlider"
    for tau in (0.1, 1.5, 3.0):
        explorer.slider.value = tau
        assert explorer.data["tau"] == pytest.approx(tau)
        assert close(explorer.data["shared"], expected(REWARDS, tau)["shared"])
    assert explorer.figure is not first


def test_the_slider_range_and_a_fixed_advantage_axis():
    explorer = W.advantage_explorer(REWARDS, tau=0.5, tau_min=0.05, tau_max=3.0, step=0.05)
    s = explorer.slider
    assert (s.min, s.max, s.step, s.value) == (0.05, 3.0, 0.05, 0.5)
    limits = {explorer.figure.axes[1].get_ylim()}
    for tau in (0.05, 1.0, 3.0):
        explorer.slider.value = tau
        limits.add(explorer.figure.axes[1].get_ylim())
    assert len(limits) == 1  # the bars move, the scale does not
    low, high = limits.pop()
    for tau in (0.05, 1.0, 3.0):
        values = sum((expected(REWARDS, tau)[k] for k in ("shared", "per_sample", "grpo")), [])
        assert low < min(values) and max(values) < high


class FakeHandle:
    def __init__(self):
        self.shown = []

    def update(self, obj):
        self.shown.append(obj)


def test_a_move_replaces_the_displayed_figure_through_its_display_handle():
    explorer = W.advantage_explorer(REWARDS)
    explorer._handle = FakeHandle()
    explorer.slider.value = 1.25
    assert explorer._handle.shown == [explorer.figure]


def test_show_displays_slider_then_figure(monkeypatch):
    shown = []

    def fake_display(*objs, display_id=None, **kwargs):
        shown.extend(objs)
        return FakeHandle() if display_id else None

    monkeypatch.setattr("IPython.display.display", fake_display)
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    explorer = W.advantage_explorer(REWARDS)
    explorer.show()
    assert shown[0] is explorer.slider
    assert shown[1] is explorer.figure  # a static figure, before any interaction
    explorer.slider.value = 2.0
    assert explorer._handle.shown == [explorer.figure]


def test_colab_gets_an_output_widget(monkeypatch):
    import ipywidgets as widgets

    shown = []
    monkeypatch.setattr("IPython.display.display", lambda *objs, **kw: shown.extend(objs))
    monkeypatch.setitem(sys.modules, "google.colab", type(sys)("google.colab"))
    assert W.in_colab()
    explorer = W.advantage_explorer(REWARDS)
    explorer.show()
    box = shown[-1]
    assert isinstance(box, widgets.VBox)
    assert box.children[0] is explorer.slider and isinstance(box.children[1], widgets.Output)
    explorer.slider.value = 0.25
    assert explorer.data["tau"] == pytest.approx(0.25)


# --------------------------------------------------------------------------------------------------------------
# Tables and figures of notebook 1
# --------------------------------------------------------------------------------------------------------------


def test_format_steps_prints_the_library_values():
    text = W.format_steps(REWARDS, 0.5)
    want = expected(REWARDS, 0.5)
    assert W.fmt(want["z"]) in text
    assert W.fmt(want["weights"]) in text
    assert f"A_soft = sum(w * r)  = {want['shared'][0]:.3f}" in text


def test_fmt_never_prints_negative_zero():
    assert W.fmt([-1e-12, 0.0, -0.0004, 1.5]) == "[ 0.000,  0.000,  0.000,  1.500]"
    assert W.fmt(torch.tensor([-2.0])) == "[-2.000]"


def test_tau_limits_reach_max_mean_and_grpo():
    rows = W.tau_limits(REWARDS, [0.001, 1e4])
    small, large = rows
    assert small["a_soft"] == pytest.approx(max(REWARDS), abs=1e-6)
    assert large["a_soft"] == pytest.approx(sum(REWARDS) / len(REWARDS), abs=1e-3)
    assert large["per_sample_minus_z"] < 1e-3
    assert small["max_weight"] == pytest.approx(0.5, abs=1e-6)  # two completions tie for best
    text = W.format_tau_limits(REWARDS, [0.01, 1000])
    assert "max r = 1.000" in text and "mean r = 0.450" in text


def test_binary_advantages_match_the_library():
    taus = [0.1, 0.5, 2.0]
    b = W.binary_advantages(8, taus)
    assert b["k"] == list(range(9))
    for k in range(9):
        r = torch.tensor([1.0] * k + [0.0] * (8 - k), dtype=torch.float64)
        for j, tau in enumerate(taus):
            assert b["shared"][k][j] == pytest.approx(soft_advantages(r, 8, tau=tau)[0].item(), abs=1e-12)
            per = soft_advantages(r, 8, tau=tau, mode="per_sample")
            if 0 < k:
                assert b["per_sample_correct"][k][j] == pytest.approx(per[0].item(), abs=1e-12)
            if k < 8:
                assert b["per_sample_wrong"][k][j] == pytest.approx(per[-1].item(), abs=1e-12)
    assert b["per_sample_correct"][0] == [None] * 3 and b["grpo_wrong"][8] is None
    assert all(v == pytest.approx(1.0) for v in b["shared"][8])  # all correct: the largest push (GRPO: 0)
    assert all(v == 0 for v in b["shared"][0])
    assert b["grpo_correct"][8] == 0


def test_credit_table_says_shared_never_pushes_wrong_answers_down():
    text = W.format_credit({"1 of 4": [1, 0, 0, 0], "3 of 4": [1, 1, 1, 0]}, tau=0.5)
    lines = [line for line in text.splitlines() if "shared" in line]
    assert len(lines) == 2 and all(line.rstrip().endswith("False") for line in lines)
    assert sum(line.rstrip().endswith("True") for line in text.splitlines()) == 4  # GRPO and per_sample, twice


def test_figures_have_the_expected_layout():
    assert len(W.plot_tau_sweep(REWARDS).axes) == 2
    assert len(W.plot_binary(8).axes) == 3  # heatmap, its colour bar, lines
    fig, data = W.plot_advantages(REWARDS, 0.5)
    assert len(fig.axes) == 2 and data["tau"] == 0.5


def test_bad_tau_is_refused():
    with pytest.raises(ValueError):
        W.advantage_table(REWARDS, 0.0)


# --------------------------------------------------------------------------------------------------------------
# Notebook 2: the bandit slider over the committed results
# --------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bandit_summary():
    return W.load_results("bandit.json")


def test_bandit_slider_offers_the_summary_taus_and_returns_its_numbers(bandit_summary):
    explorer = W.bandit_explorer(bandit_summary)
    taus = bandit_taus(bandit_summary)
    assert [value for _, value in explorer.slider.options] == taus
    for tau in taus:
        explorer.slider.value = tau
        drawn = explorer.data
        soft = [label for label in drawn if bandit_summary["runs"][label]["method"] in ("shared", "per_sample")]
        assert soft and all(math.isclose(bandit_summary["runs"][label]["tau"], tau) for label in soft)
        for label, value in drawn.items():
            assert value == bandit_summary["runs"][label]["final"]["mean"]
        assert "grpo" in drawn and "constant" in drawn
        assert len(explorer.figure.axes[0].get_lines()) == len(drawn) + 1  # + the 80% line


def test_bandit_highlights_print_the_json_numbers(bandit_summary):
    text = W.bandit_highlights(bandit_summary)
    grpo = bandit_summary["runs"]["grpo"]["final"]
    assert f"{grpo['mean']:.2f} [{grpo['low']:.2f}, {grpo['high']:.2f}]" in text
    assert "(control)" in text


# --------------------------------------------------------------------------------------------------------------
# Setup and files
# --------------------------------------------------------------------------------------------------------------


def test_setup_notebook_outside_ipython_prints_nothing(capsys):
    W.setup_notebook()
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""


def test_setup_notebook_makes_png_bytes_version_free():
    pytest.importorskip("matplotlib_inline")
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    try:
        W._configure_png(shell)  # what setup_notebook does after "%matplotlib inline" in a kernel
        fig, _ = W.plot_advantages(REWARDS, 0.5)
        png = shell.display_formatter.formatters["image/png"](fig)
        assert png is not None
        raw = png if isinstance(png, bytes) else __import__("base64").b64decode(png)
        assert raw.startswith(b"\x89PNG") and b"Software" not in raw
        twin, _ = W.plot_advantages(REWARDS, 0.5)  # the same figure built again renders to the same bytes
        assert shell.display_formatter.formatters["image/png"](twin) == png
    finally:
        InteractiveShell.clear_instance()


def test_results_file_finds_committed_results_and_explains_a_missing_one():
    assert W.results_file("bandit.json").name == "bandit.json"
    with pytest.raises(FileNotFoundError, match="data/results/nope.json"):
        W.results_file("nope.json")


# --------------------------------------------------------------------------------------------------------------
# Notebook 3: the arithmetic lab helpers
# --------------------------------------------------------------------------------------------------------------


def fake_arithmetic_summary():
    def run(label, method, tau, after, change, rewards):
        return {
            "label": label, "method": method, "tau": tau, "control": method in ("constant", "random_reward"),
            "complete": True, "per_seed": {"0": {"after": after}, "1": {"after": after}},
            "before": {"mean": 30.0, "low": 30.0, "high": 30.0},
            "after": {"mean": after, "low": after - 1, "high": after + 1},
            "change": {"mean": change, "low": change - 1, "high": change + 1},
            "wall_s": {"mean": 60.0, "low": 50.0, "high": 70.0},
            "curve": {"step": [1, 2, 3], "mean": rewards, "low": rewards, "high": rewards},
        }

    return {
        "config": {"n_heldout": 200, "rl_steps": 3, "prompts_per_step": 16, "num_generations": 8,
                   "learning_rate": 5e-4, "temperature": 1.0, "beta": 0.0, "seeds": 2},
        "seeds": [0, 1],
        "warm_start": {"steps": 400, "accuracy": 30.0},
        "runs": {
            "grpo": run("grpo", "grpo", None, 35.0, 5.0, [0.3, 0.32, 0.35]),
            "shared(tau=0.5)": run("shared(tau=0.5)", "shared", 0.5, 20.0, -10.0, [0.3, 0.25, 0.2]),
            "per_sample(tau=0.5)": run("per_sample(tau=0.5)", "per_sample", 0.5, 34.0, 4.0, [0.3, 0.31, 0.33]),
            "per_sample(tau=1)": run("per_sample(tau=1)", "per_sample", 1.0, 33.0, 3.0, [0.3, 0.3, 0.31]),
            "constant": run("constant", "constant", None, 25.0, -5.0, [0.3, 0.28, 0.27]),
        },
    }


def test_arithmetic_highlights_print_the_json_numbers():
    text = W.arithmetic_highlights(fake_arithmetic_summary())
    assert "warm start: 400 supervised steps, held-out accuracy 30.0% on 200 problems" in text
    assert "2 seeds per method" in text
    assert "shared(tau=0.5)" in text and "-10.0 [-11.0, -9.0]" in text
    assert "constant (control)" in text


def test_arithmetic_slider_redraws_the_curves_of_one_tau():
    summary = fake_arithmetic_summary()
    explorer = W.arithmetic_explorer(summary)
    assert [v for _, v in explorer.slider.options] == [0.5, 1.0]
    assert set(explorer.data) == {"grpo", "shared(tau=0.5)", "per_sample(tau=0.5)", "constant"}
    explorer.slider.value = 1.0
    assert set(explorer.data) == {"grpo", "per_sample(tau=1)", "constant"}
    assert explorer.data["per_sample(tau=1)"] == 0.31


def test_tiny_warm_start_keeps_the_labs_progress_off_stderr(monkeypatch, capsys):
    import srgrpo.lab.arithmetic as arithmetic

    def fake_warm_start(settings):
        print("[arithmetic] warm start: step 50", file=sys.stderr)
        return "folder", {"accuracy": 1.0, "settings": settings}

    monkeypatch.setattr(arithmetic, "warm_start", fake_warm_start)
    folder, info = W.tiny_warm_start(warm_steps=7, n_heldout=5)
    out = capsys.readouterr()
    assert out.err == "" and "step 50" in out.out
    assert info["settings"] == {"warm_steps": 7, "n_heldout": 5}


def test_arithmetic_data_is_the_labs_split():
    from srgrpo.lab.arithmetic import DEFAULTS
    from srgrpo.lab.tasks import format_prompt, make_splits

    dataset, heldout = W.arithmetic_data(n_heldout=10)
    train, want = make_splits(DEFAULTS["n_train"], 10, DEFAULTS["data_seed"])
    assert heldout == want and len(dataset) == len(train)
    assert dataset[0] == {"prompt": format_prompt(train[0]["question"]), "answer": train[0]["answer"]}
    assert "Q:" in W.show_problems(1)


def test_arithmetic_checks_follow_the_numbers():
    summary = fake_arithmetic_summary()
    text = W.arithmetic_checks(summary)
    lines = dict(line.rsplit(" ", 1) for line in text.splitlines()[:5])
    assert all(v == "True" for v in lines.values()), text
    assert text.splitlines()[-1].endswith("grpo, shared(tau=0.5), per_sample(tau=0.5), per_sample(tau=1), constant")
    summary["runs"]["shared(tau=0.5)"]["change"]["mean"] = 6.0
    text = W.arithmetic_checks(summary)
    assert "every shared run ends below the warm start:" in text and text.splitlines()[0].endswith("False")
