"""The confirmation figure draws what the results files say: a line a seed, before -> after, against the targets."""

from __future__ import annotations

import json

import matplotlib
import pytest

matplotlib.use("Agg")

from srgrpo.lab.recipe.figures import PANELS, confirmation_inputs, plot_confirmation, seed_lines  # noqa: E402
from srgrpo.lab.recipe.plan import TARGETS  # noqa: E402


def _results(precision, afters, before=(16, 27)):
    runs = [{"seed": 1000 + i, "before": {"n": 64, "correct": before[0], "in_format": before[1], "cut_off": 17},
             "after": {"n": 64, "correct": c, "in_format": f, "cut_off": 0}} for i, (c, f) in enumerate(afters)]
    return {"benchmark": "main_job_seeds", "runs": runs, "recipe": {"id": "abc", "precision": precision}}


def test_every_seed_is_one_line_from_its_before_count_to_its_after_count(tmp_path):
    bf16 = _results("bfloat16", [(7, 63), (16, 61), (11, 63)])
    f32 = _results("float32", [(12, 60), (9, 64)])
    out = tmp_path / "fig" / "confirmation.png"
    fig = plot_confirmation({"bfloat16": bf16, "float32": f32}, output=out)
    assert out.is_file() and out.stat().st_size > 10_000
    for ax, key in zip(fig.axes, PANELS):
        drawn = sorted((round(line.get_ydata()[0]), round(line.get_ydata()[-1])) for line in ax.get_lines()
                       if len(line.get_xdata()) == 2 and line.get_linestyle() != "--")
        expected = sorted((b, a) for res in (bf16, f32) for _, b, a in seed_lines(res, key))
        assert drawn == expected
        targets = [line.get_ydata()[0] for line in ax.get_lines() if line.get_linestyle() == "--"]
        assert targets == [TARGETS[key]]


def test_inputs_are_keyed_by_the_precision_their_recipe_records(tmp_path):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(_results("bfloat16", [(7, 63)])))
    b.write_text(json.dumps(_results("float32", [(9, 64)])))
    assert list(confirmation_inputs([a, b])) == ["bfloat16", "float32"]
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"runs": []}))
    with pytest.raises(ValueError, match="records no recipe precision"):
        confirmation_inputs([old])
    with pytest.raises(ValueError, match="two results files in bfloat16"):
        confirmation_inputs([a, a])
    with pytest.raises(ValueError, match="no panel"):
        seed_lines(_results("bfloat16", [(1, 1)]), "cut_off")
