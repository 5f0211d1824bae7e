"""The notebook glue (srgrpo.notebook): the sliders draw and return srgrpo.advantages' numbers, the setup keeps
outputs stable, the notebooks' helpers read the committed results."""

from __future__ import annotations

import math
import sys

import pytest
from conftest import bar_heights, close, expected

pytest.importorskip("ipywidgets")
pytest.importorskip("matplotlib")

from srgrpo.lab import bandit_taus  # noqa: E402
from srgrpo.advantage_figures import plot_advantages  # noqa: E402
from srgrpo.notebook.advantage_lab import bandit_explorer, bandit_highlights  # noqa: E402
from srgrpo.notebook.setup import configure_png, in_colab, load_results, results_file, setup_notebook  # noqa: E402
from srgrpo.notebook.soft_advantage import advantage_explorer  # noqa: E402
from srgrpo.notebook.trainer_on_cpu import arithmetic_checks, arithmetic_data, arithmetic_explorer  # noqa: E402
from srgrpo.notebook.trainer_on_cpu import arithmetic_highlights, show_problems, tiny_warm_start  # noqa: E402

REWARDS = [1.0, 0.0, 0.5, 0.0, 1.0, 0.2]
TAUS = [0.05, 0.1, 0.37, 0.5, 1.0, 2.0, 3.0]


@pytest.mark.parametrize("tau", TAUS)


def test_update_returns_and_plots_the_advantages_of_srgrpo_advantages(tau):
    explorer = advantage_explorer(REWARDS, tau=0.5)
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
    explorer = advantage_explorer(REWARDS, tau=0.5)
    first = explorer.figure
    assert type(explorer.slider).__name__ == "FloatSlider"
    for tau in (0.1, 1.5, 3.0):
        explorer.slider.value = tau
        assert explorer.data["tau"] == pytest.approx(tau)
        assert close(explorer.data["shared"], expected(REWARDS, tau)["shared"])
    assert explorer.figure is not first


def test_the_slider_range_and_a_fixed_advantage_axis():
    explorer = advantage_explorer(REWARDS, tau=0.5, tau_min=0.05, tau_max=3.0, step=0.05)
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
    explorer = advantage_explorer(REWARDS)
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
    explorer = advantage_explorer(REWARDS)
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
    assert in_colab()
    explorer = advantage_explorer(REWARDS)
    explorer.show()
    box = shown[-1]
    assert isinstance(box, widgets.VBox)
    assert box.children[0] is explorer.slider and isinstance(box.children[1], widgets.Output)
    explorer.slider.value = 0.25
    assert explorer.data["tau"] == pytest.approx(0.25)


@pytest.fixture(scope="module")


def bandit_summary():
    return load_results("bandit.json")


def test_bandit_slider_offers_the_summary_taus_and_returns_its_numbers(bandit_summary):
    explorer = bandit_explorer(bandit_summary)
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
    text = bandit_highlights(bandit_summary)
    grpo = bandit_summary["runs"]["grpo"]["final"]
    assert f"{grpo['mean']:.2f} [{grpo['low']:.2f}, {grpo['high']:.2f}]" in text
    assert "(control)" in text


def test_setup_notebook_outside_ipython_prints_nothing(capsys):
    setup_notebook()
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""


def test_setup_notebook_makes_png_bytes_version_free():
    pytest.importorskip("matplotlib_inline")
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    try:
        configure_png(shell)  # what setup_notebook does after "%matplotlib inline" in a kernel
        fig, _ = plot_advantages(REWARDS, 0.5)
        png = shell.display_formatter.formatters["image/png"](fig)
        assert png is not None
        raw = png if isinstance(png, bytes) else __import__("base64").b64decode(png)
        assert raw.startswith(b"\x89PNG") and b"Software" not in raw
        twin, _ = plot_advantages(REWARDS, 0.5)  # the same figure built again renders to the same bytes
        assert shell.display_formatter.formatters["image/png"](twin) == png
    finally:
        InteractiveShell.clear_instance()


def test_results_file_finds_committed_results_and_explains_a_missing_one():
    assert results_file("bandit.json").name == "bandit.json"
    with pytest.raises(FileNotFoundError, match="data/results/nope.json"):
        results_file("nope.json")


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
    text = arithmetic_highlights(fake_arithmetic_summary())
    assert "warm start: 400 supervised steps, held-out accuracy 30.0% on 200 problems" in text
    assert "2 seeds per method" in text
    assert "shared(tau=0.5)" in text and "-10.0 [-11.0, -9.0]" in text
    assert "constant (control)" in text


def test_arithmetic_slider_redraws_the_curves_of_one_tau():
    summary = fake_arithmetic_summary()
    explorer = arithmetic_explorer(summary)
    assert [v for _, v in explorer.slider.options] == [0.5, 1.0]
    assert set(explorer.data) == {"grpo", "shared(tau=0.5)", "per_sample(tau=0.5)", "constant"}
    explorer.slider.value = 1.0
    assert set(explorer.data) == {"grpo", "per_sample(tau=1)", "constant"}
    assert explorer.data["per_sample(tau=1)"] == 0.31


def test_tiny_warm_start_keeps_the_labs_progress_off_stderr(monkeypatch, capsys):
    import srgrpo.lab.warm_start as warm_start_module

    def fake_warm_start(settings):
        print("[arithmetic] warm start: step 50", file=sys.stderr)
        return "folder", {"accuracy": 1.0, "settings": settings}

    monkeypatch.setattr(warm_start_module, "warm_start", fake_warm_start)
    folder, info = tiny_warm_start(warm_steps=7, n_heldout=5)
    out = capsys.readouterr()
    assert out.err == "" and "step 50" in out.out
    assert info["settings"] == {"warm_steps": 7, "n_heldout": 5}


def test_arithmetic_data_is_the_labs_split():
    from srgrpo.lab.arithmetic_settings import DEFAULTS
    from srgrpo.lab.tasks import format_prompt, make_splits

    dataset, heldout = arithmetic_data(n_heldout=10)
    train, want = make_splits(DEFAULTS["n_train"], 10, DEFAULTS["data_seed"])
    assert heldout == want and len(dataset) == len(train)
    assert dataset[0] == {"prompt": format_prompt(train[0]["question"]), "answer": train[0]["answer"]}
    assert "Q:" in show_problems(1)


def test_arithmetic_checks_follow_the_numbers():
    summary = fake_arithmetic_summary()
    text = arithmetic_checks(summary)
    lines = dict(line.rsplit(" ", 1) for line in text.splitlines()[:5])
    assert all(v == "True" for v in lines.values()), text
    assert text.splitlines()[-1].endswith("grpo, shared(tau=0.5), per_sample(tau=0.5), per_sample(tau=1), constant")
    summary["runs"]["shared(tau=0.5)"]["change"]["mean"] = 6.0
    text = arithmetic_checks(summary)
    assert "every shared run ends below the warm start:" in text and text.splitlines()[0].endswith("False")


def test_the_scaled_learning_rate_comparison_is_the_bandits_own_runs():
    from srgrpo.lab.bandit import run_bandit
    from srgrpo.notebook.advantage_lab import compare_scaled_lr, format_scaled_lr

    small = dict(seeds=2, steps=20, prompts=4)
    rows = compare_scaled_lr(taus=[0.1, 2.0], lr=0.2, **small)
    for row in rows:
        assert row["scaled_lr"] == pytest.approx(0.2 / row["tau"])
        fixed = run_bandit("per_sample", row["tau"], lr=0.2, **small)[:, -1].mean().item()
        scaled = run_bandit("per_sample", row["tau"], lr=0.2 / row["tau"], **small)[:, -1].mean().item()
        assert (row["fixed"], row["scaled"]) == (fixed, scaled)
    # At tau = 0.1 dividing the lr by tau makes steps 10x larger: on the same bandits it ends higher.
    assert rows[0]["scaled"] > rows[0]["fixed"]
    assert f"{rows[0]['scaled']:.2f}" in format_scaled_lr(rows)
