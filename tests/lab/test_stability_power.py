"""The stability experiment's power (srgrpo.lab.stability.power): the vectorised declared test against scipy's, the
observed p against the stored one, and the committed JSON against a rerun of its command."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from srgrpo.lab.stability.analysis import abs_deviations, permutation_p
from srgrpo.lab.stability.plan import ALPHA, METHODS
from srgrpo.lab.stability.power import exact_p_values, observed_residuals, simulate, split_matrix

REPO = Path(__file__).resolve().parents[2]
STABILITY = json.loads((REPO / "data" / "results" / "stability.json").read_text())
POWER = json.loads((REPO / "data" / "results" / "stability_power.json").read_text())


def test_the_split_matrix_holds_every_split_once():
    splits = split_matrix(3, 2)
    assert splits.shape == (10, 5) and (splits.sum(axis=1) == 3).all()
    assert len({tuple(row) for row in splits}) == 10
    assert split_matrix(10, 10).shape == (184_756, 20)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(0, 12), min_size=2, max_size=6), st.lists(st.integers(0, 12), min_size=2, max_size=6))
def test_the_vectorised_p_is_scipys(first, second):
    # Small integers: many ties, the hard case for a permutation p.
    assert exact_p_values(np.array(first) / 2, np.array(second) / 2)[0] == pytest.approx(
        permutation_p(np.array(first) / 2, np.array(second) / 2), abs=1e-12)


def test_a_batch_of_declared_tests_is_scipys_one_at_a_time():
    rng = np.random.default_rng(3)
    first = np.round(rng.normal(0, 6, size=(3, 10)) * 2) / 2
    second = np.round(rng.normal(0, 3, size=(3, 10)) * 2) / 2
    batch = exact_p_values(first, second)
    for row in range(3):
        assert batch[row] == pytest.approx(permutation_p(first[row], second[row]), abs=1e-12)


def test_the_observed_runs_give_the_stored_h1_p():
    observed = observed_residuals(STABILITY)
    stored = STABILITY["analysis"]["tests"]["H1"]["p"]
    assert round(observed["h1_p"], 5) == stored
    acc = {label: STABILITY["analysis"]["methods"][label]["accuracy"] for label in METHODS}
    assert observed["h1_p"] == pytest.approx(permutation_p(abs_deviations(acc["grpo"]),
                                                           abs_deviations(acc["per_sample(tau=1)"])), abs=1e-12)
    for label in METHODS:
        assert observed["mad"][label] == pytest.approx(STABILITY["analysis"]["methods"][label]["mad"], abs=0.01)
    assert len(observed["residuals"]) == 20 and observed["residuals"][:10] == pytest.approx(
        [a - STABILITY["analysis"]["methods"]["grpo"]["median"] for a in acc["grpo"]])


def test_the_simulation_is_seeded_and_a_smaller_spread_is_found_more_often():
    residuals = observed_residuals(STABILITY)["residuals"]
    first = simulate(residuals, [1.0, 0.5, 0.1], simulations=100, seed=7, batch=40)
    assert first == simulate(residuals, [1.0, 0.5, 0.1], simulations=100, seed=7, batch=100)
    assert first[1.0] < first[0.5] < first[0.1]
    assert first[0.1] >= 95  # a tenth of the spread: the test can hardly miss it


def test_the_committed_power_is_sane():
    rows = {row["ratio"]: row for row in POWER["power"]}
    assert POWER["alpha"] == ALPHA and POWER["splits"] == 184_756
    assert POWER["settings"]["simulations"] >= 1000 and {0.5, 0.25, 1.0} <= set(rows)
    # The exact test's size: with no difference the rate stays at or below alpha (within the simulation's error).
    assert rows[1.0]["low"] <= ALPHA
    rates = [rows[r]["rate"] for r in sorted(rows, reverse=True)]
    assert rates == sorted(rates)
    assert POWER["observed"]["h1_p"] == pytest.approx(STABILITY["analysis"]["tests"]["H1"]["p"], abs=1e-5)


@pytest.mark.slow
def test_the_committed_json_is_what_its_command_computes(tmp_path):
    out = tmp_path / "power.json"
    args = []  # every stored setting, passed back
    for key, value in POWER["settings"].items():
        args += [f"--{key}", *(map(str, value) if isinstance(value, list) else [str(value)])]
    done = subprocess.run([sys.executable, "-m", "srgrpo.lab", "power", *args, "--output", str(out)], cwd=REPO,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(out.read_text())["power"] == POWER["power"]


def test_an_unfinished_experiment_is_refused(tmp_path):
    unfinished = tmp_path / "stability.json"
    unfinished.write_text(json.dumps({"experiment": "stability", "complete": False, "runs": []}))
    done = subprocess.run([sys.executable, "-m", "srgrpo.lab", "power", "--input", str(unfinished), "--output",
                           str(tmp_path / "power.json")], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 2 and "not a complete stability experiment" in done.stderr
    assert not (tmp_path / "power.json").exists()
