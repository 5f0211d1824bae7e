"""The notebook glue (srgrpo.notebook): the sliders draw and return srgrpo.advantages' numbers, the setup keeps
outputs stable, the notebooks' helpers read the committed results."""

from __future__ import annotations

import json
import math
import sys

import pytest
from conftest import REPO, bar_heights, close, expected

pytest.importorskip("ipywidgets")
pytest.importorskip("matplotlib")

from srgrpo.lab import bandit_taus  # noqa: E402
from srgrpo.plots.advantage_figures import plot_advantages  # noqa: E402
from srgrpo.notebook.advantage_lab import bandit_explorer, bandit_highlights  # noqa: E402
from srgrpo.notebook.setup import configure_png, in_colab, load_results, results_file, setup_notebook  # noqa: E402
from srgrpo.notebook.soft_advantage import advantage_explorer  # noqa: E402
from srgrpo.notebook.trainer_on_cpu import (live_examples, live_report, live_settings, real_conclusions,  # noqa: E402
                                          real_examples, real_highlights, stability_paragraph)

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


def fake_real_summary():
    """A real-lab summary built by the lab's own comparison from made-up runs (3 seeds a method)."""
    from srgrpo.lab.real.comparison import compare, comparisons
    from srgrpo.lab.real.settings import PRIMARY_COMPARISONS

    def heldout(accuracy, strict):
        rates = {"accuracy": accuracy, "strict_format": strict, "answer_line": strict, "stopped": 90.0}
        return {"n": 200, **{k: {"count": int(2 * v), "percent": v, "ci95": [0, 100]} for k, v in rates.items()},
                "mean_tokens": 30.0}

    def example(i, ok):
        return {"index": i, "question": f"question {i}", "gold": "7", "completion": f"answer {i}", "correct": ok,
                "strict_format": ok, "stopped": True}

    def runs(label, method, tau, accuracies, stricts):
        return [{"label": label, "method": method, "tau": tau, "seed": seed, "control": method == "constant",
                 "heldout": heldout(a, f), "train_s": 500.0, "eval_s": 60.0, "wall_s": 560.0,
                 "examples": [example(0, False), example(1, False), example(2, False), example(9, True)],
                 "curves": {"step": [1, 2], **{k: [0.1, 0.2] for k in ("reward", "correctness", "format", "cut_off")}}}
                for seed, (a, f) in enumerate(zip(accuracies, stricts))]

    start = {"heldout": heldout(5.0, 0.0), "examples": [example(0, False)]}
    all_runs = (runs("grpo", "grpo", None, [20.0, 22.0, 24.0], [95.0, 92.0, 99.0])
                + runs("shared(tau=0.5)", "shared", 0.5, [3.0, 6.0, 9.0], [10.0, 10.0, 10.0])
                + runs("constant", "constant", None, [1.0, 2.0, 3.0], [0.0, 0.0, 0.0]))
    return {"settings": {"model_name_or_path": "smollm2", "max_steps": 10, "prompts_per_step": 2, "num_generations": 8,
                         "max_completion_length": 64, "temperature": 0.7, "lora_r": 16, "learning_rate": 5e-4,
                         "beta": 0.0, "num_iterations": 1, "seeds": [0, 1, 2], "max_new_tokens": 64},
            "start": start, "methods": compare(all_runs, start), "runs": all_runs, "compute_s": 5040.0,
            "comparisons": comparisons(all_runs, PRIMARY_COMPARISONS),
            "metadata": {"machine": {"cpu_count": 2}}}


def test_real_highlights_print_the_json_numbers():
    text = real_highlights(fake_real_summary())
    assert "smollm2: 10 steps a run, 2 problems x 8 completions" in text
    assert "pretrained model: correct 5.0%, in format 0.0%" in text
    assert "3 seeds per method" in text and "9 runs, 84 min in all: 9 runs took 9.3 min each (84 min); median 9.3 min" in text
    grpo = next(line for line in text.splitlines() if line.strip().startswith("grpo"))
    assert "22.0 (20/22/24)" in grpo and "+17.0 [+12.0, +22.0]" in grpo and "95.3 (95/92/99)" in grpo
    assert "constant (control)" in text


def test_real_conclusions_are_a_table_that_follows_the_json():
    summary = fake_real_summary()
    lines = real_conclusions(summary).splitlines()
    grpo = next(line for line in lines if line.startswith("grpo"))
    assert "+17.0 [+12.0, +22.0]" in grpo and "3 of 3 seeds" in grpo and grpo.endswith("yes")
    shared = next(line for line in lines if line.startswith("shared"))
    # shared's changes -2, 1, 4: mean +1; format 10% in every seed.
    assert "0 of 3 seeds" in shared
    assert shared.endswith("no: format < 90% in 3 of 3 seeds; gain < 10 points; gain's interval reaches 0")
    assert next(line for line in lines if line.startswith("constant")).endswith("(control)")
    # The declared comparisons that ran (grpo - constant, shared - constant), paired by seed: 19/20/21 and 2/4/6.
    text = "\n".join(lines)
    assert "2 declared comparisons of held-out accuracy" in text
    grpo_vs = next(line for line in lines if line.strip().startswith("grpo - constant"))
    assert "+20.0 [+17.5, +22.5]" in grpo_vs and "+19/+20/+21 (3/3 above 0)" in grpo_vs
    assert grpo_vs.endswith(": significant")
    assert "not run here: per_sample(tau=1) vs grpo" in text


def test_real_findings_are_sentences_from_the_json():
    from srgrpo.lab.real.figures import format_findings

    lines = format_findings(fake_real_summary())
    assert lines[0] == ("`grpo`: in format 95/92/99% (3 of 3 seeds at 90% or more), accuracy change "
                        "+17.0 points [+12.0, +22.0]; the aim is met.")
    # shared: -6.5 would put the rate below 0 from a start of 5.0 %: the interval ends at -5.0 (bounded_change)
    assert lines[1].endswith("(0 of 3 seeds at 90% or more), accuracy change +1.0 points [-5.0, +8.4]; the aim is "
                             "not met (format < 90% in 3 of 3 seeds; gain < 10 points; gain's interval reaches 0).")
    assert lines[2].startswith("`constant` (control)") and "aim" not in lines[2]
    assert lines[3].startswith("Of the 2 declared comparisons of held-out accuracy, 1 is significant after Holm's")
    assert "`grpo` - `constant` +20.0 points [+17.5, +22.5]" in lines[3]


def test_real_examples_set_a_success_beside_a_failure():
    text = real_examples(fake_real_summary(), "grpo", seed=1)
    assert text.startswith("Q0: question 0  (gold 7)")
    assert "--- the pretrained model (correct: no" in text and "--- grpo, seed 1 (correct: no" in text
    assert "Q9: question 9" in text and "--- grpo, seed 1, a success (correct: yes, in format: yes" in text
    with pytest.raises(ValueError, match="no run 'grpo' with seed 7"):
        real_examples(fake_real_summary(), "grpo", seed=7)


def test_live_settings_keep_the_committed_recipe_at_a_small_budget():
    summary = fake_real_summary()
    settings = live_settings(summary)
    assert settings.max_steps == 6 and settings.eval_limit == 20 and settings.learning_rate == 5e-4
    assert settings.threads == 2 and not settings.figures
    heldout = fake_real_summary()["start"]["heldout"]
    report = live_report(heldout, heldout, 3).splitlines()
    assert report[0].startswith("before:") and "correct 10/200" in report[0]
    assert report[1].startswith("after 3 steps:")


def test_live_examples_show_answers_with_an_answer_line_that_are_not_in_format_first():
    """Issue 39: notebook 3's live run reported "answer line 17/20, stopped 17/20" beside "in format 0/20" and said why
    only in general; two of its greedy answers now show it. Records are scored by the evaluation's own score_record
    (with heldout_records' two extra fields), so the marks are the rewards' verdicts, not the glue's."""
    from srgrpo.eval_gsm8k.records import score_record
    from srgrpo.lab.real.task import heldout_summary

    texts = [("Ann has 3 + 4 = 7 apples.\n#### 7", False),  # in format, correct
             ("Ann has 3 + 4 = 7 apples and more and more", True),  # cut off
             ("#### 7", False),  # an answer line that stopped, no work before it: not in format
             ("3 + 4 = 7\n#### 7\n#### 7", False),  # the answer line repeated: not in format
             ("3 + 4 = 7\n#### 7 apples", False)]  # decorated: format reward 0.5, and no answer line
    records = []
    for i, (text, cut) in enumerate(texts):
        record = score_record(i, {"question": f"question {i}", "answer": "7"}, text, 10, cut)
        record.update(strict_format=record["format_score"] == 1.0, stopped=not cut)  # as heldout_records adds them
        records.append(record)
    text = live_examples(records)
    blocks = text.split("Q")[1:]
    assert [b.split(":")[0] for b in blocks] == ["2", "3"]  # the two puzzling answers, in problem order
    assert "(correct: yes, in format: no, answer line: yes, stopped: yes; format reward 0)\n#### 7" in blocks[0]
    assert "(correct: yes, in format: no, answer line: yes, stopped: yes; format reward 0)\n3 + 4 = 7\n#### 7\n#### 7" in blocks[1]
    rest = live_examples(records, n=5).split("Q")[3:]  # then the others, in problem order
    assert [b.split(":")[0] for b in rest] == ["0", "1", "4"]
    assert "answer line: no, stopped: yes; format reward 0.5)" in rest[2]
    # Every mark agrees with the counts live_report prints from the same records.
    counts = heldout_summary(records)
    shown = live_examples(records, n=len(records))
    assert shown.count("in format: yes") == counts["strict_format"]["count"]
    assert shown.count("answer line: yes") == counts["answer_line"]["count"]
    assert shown.count("stopped: yes") == counts["stopped"]["count"]


def test_the_scaled_learning_rate_comparison_is_the_bandits_own_runs():
    from srgrpo.lab.bandit.runs import run_bandit
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


def test_change_intervals_never_imply_a_rate_outside_0_to_100():
    """Issue 31: constant's -3.9 [-6.6, -1.2] from a start of 5.0 % put the rate below 0; the interval is clipped to
    what the rate allows and marked, with a note saying so."""
    import re

    from srgrpo.lab.real.figures import CLIPPED_NOTE, bounded_change, format_table

    stat = {"mean": -3.9, "low": -6.62, "high": -1.18}
    clipped, was = bounded_change(stat, 5.0)
    assert was and clipped["low"] == -5.0 and clipped["high"] == -1.18 and clipped["mean"] == -3.9
    assert stat["low"] == -6.62  # the stat itself is left alone
    assert bounded_change({"mean": 5.0, "low": 1.0, "high": 12.0}, 95.0) == ({"mean": 5.0, "low": 1.0, "high": 5.0},
                                                                             True)
    assert bounded_change({"mean": 1.0, "low": -1.0, "high": 2.0}, 5.0)[1] is False
    assert bounded_change({"mean": 1.0, "low": None, "high": None}, 5.0)[1] is False

    summary = load_results("real.json")
    start = summary["start"]["heldout"]["accuracy"]["percent"]
    text = format_table(summary)
    changes = re.findall(r"([+-]\d+\.\d) \[([+-]\d+\.\d), ([+-]\d+\.\d)\](\*?)", text)
    assert len(changes) == len(summary["methods"])
    for mean, low, high, _ in changes:
        assert 0.0 <= start + float(low) <= start + float(mean) <= start + float(high) <= 100.0
    constant = next(line for line in text.splitlines() if line.startswith("constant"))
    assert "-3.9 [-5.0, -1.2]*" in constant
    assert text.rstrip().endswith(CLIPPED_NOTE)


def test_stability_paragraph_says_what_was_declared_and_what_is_done():
    from srgrpo.lab.stability.plan import DECLARED, FRESH_SEEDS, METHODS

    text = stability_paragraph({"runs": [], "complete": False})
    assert "docs/stability.md" in text and DECLARED["question"] in text
    assert f"It declared {len(DECLARED['hypotheses'])} hypotheses, tested on 20 runs" in text
    assert "in progress" in text and "**" not in text
    bullets = [line for line in text.splitlines() if line.startswith("- ")]
    assert [b.split(" ")[1].rstrip(":") for b in bullets] == [h["id"] for h in DECLARED["hypotheses"]]
    # once complete, each hypothesis gets its verdict sentence
    runs = [{"label": label, "seed": seed, "heldout": {"accuracy": {"percent": 20.0 + (seed % 3) * (label == "grpo")}},
             "curves": {"reward": [0.0, 0.5, 0.25]}} for label in METHODS for seed in FRESH_SEEDS]
    from srgrpo.lab.stability.analysis import analyse

    done = stability_paragraph({"runs": runs, "complete": True, "analysis": analyse(runs, 5.0)})
    verdicts = [line for line in done.splitlines() if line.startswith("- ")]
    assert len(verdicts) == 2 and all("supported" in v for v in verdicts)
    assert "For a user:" in done and "does not show how the two compare" in done
    assert "**" not in done and "`" not in done  # printed in the notebook, not rendered
    # the committed results file: its verdicts once complete, "in progress" until then
    committed = json.loads((REPO / "data" / "results" / "stability.json").read_text())
    assert ("in progress" in stability_paragraph()) != bool(committed.get("complete"))


def test_preset_taus_prints_every_shipped_preset():
    from srgrpo.notebook.advantage_lab import PRESETS, preset_taus
    from srgrpo.train.settings import PRESETS_DIR

    assert set(PRESETS) == {p.stem for p in PRESETS_DIR.glob("*.yaml")}
    lines = preset_taus().splitlines()
    assert "preset smollm2_cpu: soft_advantage=per_sample, tau=1.0" in lines
    assert "preset gsm8k_t4: soft_advantage=per_sample, tau=0.5" in lines


def test_importing_the_glue_writes_nothing_to_stderr():
    """Issue 39: with the `kernels` package installed, bitsandbytes (imported through peft) logs two warnings on a CPU
    with AVX512-BF16 while it is imported, offline; in a notebook's first cell that is stderr, which strict nbval
    compares. The glue quiets those loggers when srgrpo.notebook is first imported. The import runs in a fresh
    interpreter with the notebooks' environment (notebooks/execute.py's NOTEBOOK_ENV)."""
    import os
    import subprocess

    sys.path.insert(0, str(REPO / "notebooks"))
    try:
        from execute import NOTEBOOK_ENV
    finally:
        sys.path.remove(str(REPO / "notebooks"))
    env = {**os.environ, **NOTEBOOK_ENV, "PYTHONPATH": str(REPO)}
    code = ("import srgrpo.notebook.soft_advantage, srgrpo.notebook.advantage_lab, srgrpo.notebook.trainer_on_cpu; "
            "import peft, logging; print(logging.getLogger('bitsandbytes').getEffectiveLevel())")
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert proc.stdout.strip() == str(__import__("logging").ERROR)
