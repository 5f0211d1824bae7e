"""The soft advantage in numbers, text and figures (srgrpo.plots.explain, srgrpo.plots.advantage_figures): srgrpo.advantages' numbers."""

from __future__ import annotations

import pytest
import torch
from conftest import expected

pytest.importorskip("matplotlib")


from srgrpo.advantages import soft_advantages  # noqa: E402
from srgrpo.plots.advantage_figures import plot_advantages, plot_binary, plot_tau_sweep  # noqa: E402
from srgrpo.plots.explain import advantage_table, binary_advantages, fmt, format_credit, format_steps  # noqa: E402
from srgrpo.plots.explain import format_tau_limits, tau_limits  # noqa: E402

REWARDS = [1.0, 0.0, 0.5, 0.0, 1.0, 0.2]
TAUS = [0.05, 0.1, 0.37, 0.5, 1.0, 2.0, 3.0]


def test_format_steps_prints_the_library_values():
    text = format_steps(REWARDS, 0.5)
    want = expected(REWARDS, 0.5)
    assert fmt(want["z"]) in text
    assert fmt(want["weights"]) in text
    assert f"A_soft = sum(w * r)  = {want['shared'][0]:.3f}" in text


def test_fmt_never_prints_negative_zero():
    assert fmt([-1e-12, 0.0, -0.0004, 1.5]) == "[ 0.000,  0.000,  0.000,  1.500]"
    assert fmt(torch.tensor([-2.0])) == "[-2.000]"


def test_tau_limits_reach_max_mean_and_grpo():
    rows = tau_limits(REWARDS, [0.001, 1e4])
    small, large = rows
    assert small["a_soft"] == pytest.approx(max(REWARDS), abs=1e-6)
    assert large["a_soft"] == pytest.approx(sum(REWARDS) / len(REWARDS), abs=1e-3)
    assert large["per_sample_minus_z"] < 1e-3
    assert small["max_weight"] == pytest.approx(0.5, abs=1e-6)  # two completions tie for best
    text = format_tau_limits(REWARDS, [0.01, 1000])
    assert "max r = 1.000" in text and "mean r = 0.450" in text


def test_binary_advantages_match_the_library():
    taus = [0.1, 0.5, 2.0]
    b = binary_advantages(8, taus)
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
    text = format_credit({"1 of 4": [1, 0, 0, 0], "3 of 4": [1, 1, 1, 0]}, tau=0.5)
    lines = [line for line in text.splitlines() if "shared" in line]
    assert len(lines) == 2 and all(line.rstrip().endswith("False") for line in lines)
    assert sum(line.rstrip().endswith("True") for line in text.splitlines()) == 4  # GRPO and per_sample, twice


def test_figures_have_the_expected_layout():
    assert len(plot_tau_sweep(REWARDS).axes) == 2
    assert len(plot_binary(8).axes) == 3  # heatmap, its colour bar, lines
    fig, data = plot_advantages(REWARDS, 0.5)
    assert len(fig.axes) == 2 and data["tau"] == 0.5


def test_bad_tau_is_refused():
    with pytest.raises(ValueError):
        advantage_table(REWARDS, 0.0)


def test_the_binary_heatmap_is_laid_out_like_the_table():
    """Issue 31: notebook 1's heatmap had a tau = 0.25 row its table lacked; both now read BINARY_TAUS, and the line
    panel draws five series (GRPO, per_sample and shared at one tau) with a readable legend. Issue 39: the heatmap had
    tau on its rows where the table has a column a tau; now each cell stands where the table prints its value."""
    from srgrpo.plots.explain import BINARY_TAUS, format_binary

    fig = plot_binary(8)
    heatmap, lines, _ = fig.axes  # the colour bar comes last
    table = format_binary(8).splitlines()
    head, body = table[1], [line.split() for line in table[3:]]
    columns = [float(t.get_text()) for t in heatmap.get_xticklabels()]
    assert columns == list(BINARY_TAUS) == [float(t.split("=")[1]) for t in head.split() if t.startswith("tau=")]
    assert [int(t.get_text()) for t in heatmap.get_yticklabels()] == [int(row[0]) for row in body]
    # Each cell's text sits at (column, row) of the table's value, k = 0 at the top as in the table.
    cells = {(round(t.get_position()[0]), round(t.get_position()[1])): t.get_text() for t in heatmap.texts}
    for k, row in enumerate(body):
        for ti, value in enumerate(row[2:]):
            assert abs(float(cells[(ti, k)]) - float(value)) <= 0.0051, (k, ti)  # 2 digits against the table's 3
    top, bottom = heatmap.get_ylim()[::-1]
    assert top < bottom  # imshow's origin "upper": row 0 drawn at the top
    assert len(lines.get_legend().get_texts()) == 3 and lines.get_legend().get_texts()[0].get_fontsize() >= 9
