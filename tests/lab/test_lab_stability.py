"""The stability experiment (srgrpo.lab.stability.command*): its declared plan, its tests against a slow full enumeration, and
its report from the JSON."""

from __future__ import annotations

import itertools
import json
import statistics
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from srgrpo.lab.real.settings import settings_id
from srgrpo.lab.stability.analysis import abs_deviations, analyse, mad, permutation_p, roughness
from srgrpo.lab.stability.figures import stability_markdown, verdict_sentences
from srgrpo.lab.stability.plan import COMPARISON_SETTINGS_ID, DECLARED, FRESH_SEEDS, METHODS, StabilitySettings

REPO = Path(__file__).resolve().parents[2]


def enumerated_p(larger, smaller):
    """The slow, obviously correct reference: every split of the pooled values into groups of the two sizes."""
    pooled = list(larger) + list(smaller)
    observed = statistics.fmean(larger) - statistics.fmean(smaller)
    n, hits, total = len(larger), 0, 0
    for chosen in itertools.combinations(range(len(pooled)), n):
        rest = [pooled[i] for i in range(len(pooled)) if i not in chosen]
        diff = statistics.fmean(pooled[i] for i in chosen) - statistics.fmean(rest)
        hits += diff >= observed - 1e-12
        total += 1
    return hits / total


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(0, 40), min_size=2, max_size=6), st.lists(st.integers(0, 40), min_size=2, max_size=6))
def test_the_permutation_p_is_the_full_enumerations(larger, smaller):
    assert permutation_p(larger, smaller) == pytest.approx(enumerated_p(larger, smaller), abs=1e-9)


def test_the_issues_observation_on_seeds_1_to_5_is_reproduced_from_real_json():
    """The after-the-fact p the issue quotes (0.032, deviations from each method's own median permuted)."""
    real = json.loads((REPO / "data" / "results" / "real.json").read_text())
    acc = {label: [r["heldout"]["accuracy"]["percent"] for r in sorted(real["runs"], key=lambda r: r["seed"])
                   if r["label"] == label] for label in METHODS}
    assert acc["grpo"] == [22, 16, 4, 27, 25]
    p = permutation_p(abs_deviations(acc["grpo"]), abs_deviations(acc["per_sample(tau=1)"]))
    assert p == pytest.approx(8 / 252)  # 8 of the C(10, 5) = 252 splits


def test_measures_on_hand_examples():
    assert abs_deviations([1, 2, 10]) == [1, 0, 8] and mad([1, 2, 10]) == 3
    assert roughness([0.0, 1.0, 0.5, 0.5]) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="two steps"):
        roughness([1.0])
    with pytest.raises(ValueError, match="at least two values"):
        permutation_p([1.0], [1.0, 2.0])


def test_the_declared_settings_are_the_comparisons_and_the_seeds_are_fresh():
    s = StabilitySettings()
    assert settings_id(s) == COMPARISON_SETTINGS_ID
    real = json.loads((REPO / "data" / "results" / "real.json").read_text())
    assert real["settings_id"] == COMPARISON_SETTINGS_ID
    assert not set(s.seeds) & {0, *real["settings"]["seeds"]} and len(s.seeds) == 10
    committed = json.loads((REPO / "data" / "results" / "stability.json").read_text())
    assert committed["declared"] == DECLARED and committed["settings_id"] == COMPARISON_SETTINGS_ID


def test_the_command_refuses_other_settings(capsys):
    from srgrpo.lab.stability.command import main

    assert main(["--max_steps", "8", "--declare_only", "true"]) == 2
    assert "not the comparison's" in capsys.readouterr().err


def fake_run(label, seed, accuracy, rewards):
    return {"label": label, "seed": seed, "heldout": {"accuracy": {"percent": accuracy}},
            "curves": {"reward": rewards}}


def test_verdicts_follow_the_declared_order():
    """A narrow per_sample and a wide grpo: H1 supported; both rough alike: H2 not supported."""
    flat, jumpy = [0.1 * (i % 2) for i in range(16)], [0.1 * (i % 2) for i in range(16)]
    runs = [fake_run("per_sample(tau=1)", s, 20 + (s % 2), flat) for s in FRESH_SEEDS]
    runs += [fake_run("grpo", s, [0, 40, 3, 35, 20, 5, 38, 1, 30, 22][i], jumpy) for i, s in enumerate(FRESH_SEEDS)]
    analysis = analyse(runs, 5.0)
    assert analysis["tests"]["H1"]["supported"] and analysis["tests"]["H1"]["p"] < 0.01
    assert analysis["tests"]["H2"]["tested"] and not analysis["tests"]["H2"]["supported"]
    assert analysis["methods"]["grpo"]["collapsed"] == 3 and analysis["methods"]["per_sample(tau=1)"]["collapsed"] == 0
    sentences = verdict_sentences({"runs": runs, "analysis": analysis})
    assert sentences[0].startswith("H1 (") and "**supported**" in sentences[0]
    assert "**not supported**" in sentences[1]
    text = stability_markdown({"runs": runs, "analysis": analysis})
    assert "one run of `per_sample(tau=1)` is a safer bet" in text and "does not show how the two compare" in text
    # swapped: H1 fails, so H2 is not supported whatever its p (fixed sequence)
    swapped = [{**r, "label": "grpo" if r["label"] != "grpo" else "per_sample(tau=1)"} for r in runs]
    analysis = analyse(swapped, 5.0)
    assert not analysis["tests"]["H1"]["supported"] and not analysis["tests"]["H2"]["tested"]
    assert "not tested, because H1 was not supported" in verdict_sentences({"runs": swapped, "analysis": analysis})[1]


def test_an_unfinished_experiment_says_how_many_runs_are_missing():
    stability = json.loads((REPO / "data" / "results" / "stability.json").read_text())
    text = stability_markdown(stability)
    done = len(stability.get("runs", []))
    assert f"{20 - done} of 20 declared runs are still to run" in text or done == 20


def test_no_test_is_run_before_every_declared_run_is_in():
    """A p-value on the runs finished so far would be a look at the data before its end."""
    runs = [fake_run(label, s, 20.0, [0.0, 1.0]) for label in METHODS for s in FRESH_SEEDS[:-1]]
    assert analyse(runs, 5.0)["tests"] == {}
    sentences = verdict_sentences({"runs": runs, "analysis": analyse(runs, 5.0)})
    assert all("2 of 20 declared runs are still to run" in s for s in sentences)


def test_checkpointed_runs_are_counted_from_their_files(tmp_path):
    from srgrpo.lab.stability.figures import checkpointed_runs

    folder = tmp_path / "stability-runs" / "abc"
    folder.mkdir(parents=True)
    for name in ("start.json", "grpo__seed6.json", "per_sample-tau1__seed6.json", "grpo__seed3.json"):
        (folder / name).write_text("{}")
    assert checkpointed_runs(tmp_path, "abc") == 2 and checkpointed_runs(tmp_path, "other") == 0


def test_runs_outside_the_declared_seeds_are_not_part_of_the_test():
    runs = [fake_run(label, s, 10.0 + s % 3, [0.0, 0.1 * (s % 2)]) for label in METHODS for s in FRESH_SEEDS]
    extra = [fake_run("grpo", 16, 90.0, [0.0, 1.0]), fake_run("per_sample(tau=1)", 3, 0.0, [1.0, 0.0])]
    assert analyse(runs + extra, 5.0) == analyse(runs, 5.0)


def test_the_command_analyses_checkpointed_runs_into_a_new_folder(tmp_path):
    """The real command, as a subprocess, on the 20 declared runs already checkpointed (made from a committed run file,
    so nothing trains): it writes the results file and the figure into a folder that did not exist, and says the
    verdicts."""
    from conftest import run_module, subprocess_env

    source = REPO / "data" / "results" / "stability-runs" / COMPARISON_SETTINGS_ID
    folder = tmp_path / "runs" / COMPARISON_SETTINGS_ID
    folder.mkdir(parents=True)
    (folder / "start.json").write_text((source / "start.json").read_text())
    for key in ("grpo", "per_sample-tau1"):
        template = json.loads((source / f"{key}__seed6.json").read_text())
        for i, seed in enumerate(FRESH_SEEDS):
            stored = json.loads(json.dumps(template))
            stored["key"], stored["result"]["seed"] = f"{key}__seed{seed}", seed
            stored["result"]["heldout"]["accuracy"]["percent"] = 10.0 + (i if key == "grpo" else i % 2)
            (folder / f"{key}__seed{seed}.json").write_text(json.dumps(stored))
    output = tmp_path / "new" / "stability.json"
    proc = run_module(["srgrpo.lab", "stability", "--work_dir", str(tmp_path / "runs"), "--output", str(output)],
                      subprocess_env(HF_HUB_OFFLINE="1"), REPO)
    assert "0 to do" in proc.stdout and "H1 (" in proc.stdout and "H2 (" in proc.stdout
    written = json.loads(output.read_text())
    assert written["declared"] == DECLARED and written["complete"] and len(written["runs"]) == 20
    assert set(written["analysis"]["tests"]) == {"H1", "H2"} and (output.parent / "stability-seeds.png").is_file()
    assert written["analysis"]["methods"]["grpo"]["accuracy"] == [10.0 + i for i in range(10)]


def test_an_interrupted_run_says_how_to_resume_and_writes_nothing(tmp_path, capsys):
    from srgrpo.lab.results import run_and_write

    def interrupted(_settings):
        raise KeyboardInterrupt

    settings = StabilitySettings(output=str(tmp_path / "out" / "stability.json"), work_dir=str(tmp_path / "runs"))
    assert run_and_write(settings, [], "stability", interrupted, lambda summary, out: []) is None
    err = capsys.readouterr().err
    assert "interrupted: finished runs are kept in" in err and "run the same command to resume" in err
    assert not (tmp_path / "out" / "stability.json").exists()


def test_the_report_says_where_the_runs_were_computed_and_what_they_took():
    from srgrpo.lab.stability.figures import computed_on

    amd = {"cpu_model": "AMD EPYC", "cpu_features": ["avx2"], "runs": 19}
    intel = {"cpu_model": "Intel Xeon", "cpu_features": ["avx2", "amx_bf16"], "runs": 1}
    runs = [{"wall_s": 600.0}] * 19 + [{"wall_s": 1200.0}]
    one = computed_on({"machines": [{**amd, "runs": 20}], "runs": runs})
    assert "on one CPU kind: AMD EPYC (avx2)" in one and "10.0 min (median; 10.0 to 20.0), 3.5 hours in all" in one
    two = computed_on({"machines": [amd, intel], "runs": runs})
    assert "on 2 CPU kinds, pooled in the tests: AMD EPYC (avx2), 19 runs; Intel Xeon (avx2, amx_bf16), 1 run" in two
