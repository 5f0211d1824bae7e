"""Notebook 4's plan (:mod:`srgrpo.train.main_job`) and the per-step table (:mod:`srgrpo.train.step_table`)."""

from __future__ import annotations

import io
from types import SimpleNamespace

import pytest

import srgrpo.train.main_job as M
from srgrpo.train.step_table import StepTable, step_rows, summary_lines
from srgrpo.train.settings import parse_args


def test_cpu_plan_trains_smollm2_briefly_and_says_what_it_shows(monkeypatch):
    monkeypatch.setattr(M, "gsm8k_available", lambda: True)
    plan = M.plan_main_job("cpu")
    assert not plan.gpu and plan.preset == "smollm2_cpu" and plan.model == "smollm2"
    assert plan.eval_dataset == "arithmetic" and plan.eval_limit >= 64
    text = plan.describe()
    assert "smollm2" in text and "does not show GSM8K accuracy" in text
    script, config = parse_args(plan.train_flags())
    assert script.model_name_or_path == "smollm2" and script.dataset_name == "arithmetic"
    assert config.max_steps == (plan.max_steps or plan.settings["max_steps"]) and config.output_dir == plan.output_dir


@pytest.mark.parametrize("have_gsm8k", [True, False])
def test_the_cpu_plan_is_the_same_with_or_without_gsm8k(monkeypatch, have_gsm8k):
    """Notebook 4's stored outputs must not depend on which data set a machine has (strict nbval, Quickstart line 2)."""
    monkeypatch.setattr(M, "gsm8k_available", lambda: have_gsm8k)
    plan = M.plan_main_job("cpu")
    assert plan.eval_dataset == "arithmetic" and "GSM8K is not available" not in plan.describe()
    monkeypatch.setattr(M, "gsm8k_available", lambda: not have_gsm8k)
    assert M.plan_main_job("cpu").describe() == plan.describe()  # what nbval compares is the same


def test_the_cpu_plan_checks_gsm8k_only_where_it_is_at_hand(monkeypatch):
    monkeypatch.setattr(M, "gsm8k_available", lambda: True)
    plan = M.plan_main_job("cpu")
    assert plan.gsm8k_check == 16 and plan.max_steps is None  # the preset's whole run
    assert M.plan_main_job("cpu", gsm8k_check=0).gsm8k_check == 0
    monkeypatch.setattr(M, "gsm8k_available", lambda: False)
    plan = M.plan_main_job("cpu")
    assert plan.gsm8k_check == 0 and plan.evaluate_gsm8k() is None
    assert "GSM8K is not on this machine" in plan.gsm8k_report(None)
    summary = {"n": 16, "correct": 0, "accuracy": 0.0, "accuracy_ci95": [0.0, 0.19], "strict_correct": 0,
               "strict_accuracy": 0.0, "format_rate": 0.25, "truncated_rate": 0.75}
    lines = plan.gsm8k_report(summary, summary).splitlines()
    assert lines[0] == "GSM8K test, the first 16 problems, greedy, 128 new tokens:"
    assert lines[1].startswith("before correct 0/16") and lines[2].startswith("after  correct 0/16")


def test_without_gsm8k_the_gpu_plan_evaluates_on_the_synthetic_problems_and_says_so(monkeypatch):
    monkeypatch.setattr(M, "gsm8k_available", lambda: False)
    plan = M.plan_main_job("cuda")
    assert plan.eval_dataset == "arithmetic" and "GSM8K is not available here" in plan.describe()


def test_gpu_plan_runs_the_t4_preset_whole_and_resumes(monkeypatch, tmp_path):
    monkeypatch.setattr(M, "gsm8k_available", lambda: True)
    plan = M.plan_main_job("cuda")
    assert plan.gpu and plan.preset == "gsm8k_t4" and plan.model.startswith("Qwen/") and plan.max_steps is None
    assert "--max_steps" not in plan.train_flags() and plan.eval_limit == 200
    plan.output_dir = str(tmp_path)
    assert plan.resume_from() is None
    (tmp_path / "checkpoint-25").mkdir()
    (tmp_path / "checkpoint-50").mkdir()
    assert plan.resume_from().endswith("checkpoint-50")


def test_a_cpu_run_starts_afresh_in_a_new_folder_and_deletes_nothing(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    plan = M.plan_main_job("cpu")
    earlier = tmp_path / plan.output_dir / "checkpoint-4"
    earlier.mkdir(parents=True)
    assert plan.resume_from() is None and earlier.is_dir()  # the earlier run is kept
    again = M.plan_main_job("cpu")
    assert again.output_dir != plan.output_dir and not (tmp_path / again.output_dir).exists()
    assert again.output_dir.startswith("runs/notebook_smollm2_cpu-")


def test_report_and_saved_files(tmp_path):
    plan = M.plan_main_job("cpu")
    s = {"n": 16, "correct": 1, "accuracy": 1 / 16, "accuracy_ci95": [0.011, 0.283], "strict_accuracy": 0.0, "strict_correct": 0,
         "format_rate": 0.25, "truncated_rate": 0.5}
    report = plan.report(s, s).splitlines()
    assert report[0].startswith("before correct 1/16 (6.2%") and "in format 4/16 (25.0%)" in report[0]
    assert "cut off 8/16 (50.0%)" in report[0] and "correct and in format 0/16 (0.0%)" in report[0]
    assert report[1].startswith("after  correct 1/16")
    plan.output_dir = str(tmp_path)
    (tmp_path / "adapter_model.safetensors").write_bytes(b"")
    text = plan.saved_files()
    assert "adapter_model.safetensors    saved" in text and "adapter_config.json          MISSING" in text


def _table_rows(text: str) -> dict[str, list[str]]:
    """The settings table's value rows (a row starts at the margin; the reasons under it are indented)."""
    lines = text.split("\n\n")[0].splitlines()[1:]
    return {line.split()[0]: line.split()[1:] for line in lines if not line.startswith(" ")}


def test_settings_table_shows_only_the_settings_in_which_the_presets_differ():
    """Issue 39: notebook 4 printed all 39 settings of the two presets; it now prints the ones that differ (a value
    a preset leaves out is the train command's default), the others named once as "the same in both"."""
    from srgrpo.train.preset_diff import setting_defaults
    from srgrpo.train.settings import preset_settings

    text = M.plan_main_job("cpu").settings_table()
    header = text.splitlines()[0]
    assert header.split() == ["setting", "smollm2_cpu", "*", "gsm8k_t4"] and "#" not in header
    table = _table_rows(text)
    cpu, gpu = preset_settings("smollm2_cpu"), preset_settings("gsm8k_t4")
    assert table["learning_rate"] == [str(cpu["learning_rate"]), str(gpu["learning_rate"])]
    assert table["max_completion_length"] == ["64", "384"]
    # the recipe's worked example is the CPU preset's; the GPU preset leaves the shared instructions at their default
    assert table["system_prompt"] == ["worked_example", "instructions", "(default)"] and "temperature" not in table
    assert table["optim"][1:] == ["(default)", str(gpu["optim"])]  # left at its default on the CPU
    # Oracle: the YAML files read as they are, a missing setting taking its field default.
    defaults = setting_defaults()
    every = set(cpu) | set(gpu)
    differ = {k for k in every if cpu.get(k, defaults[k]) != gpu.get(k, defaults[k])}
    assert set(table) == differ and {"tau", "beta", "seed", "model_name_or_path"} <= differ
    same = text.split("The same in both")[1]
    for key in every - differ:
        assert f" {key}," in same.replace("\n", " ") or f" {key}." in same.replace("\n", " "), key
    assert "lora_r" not in table and "num_generations" not in table  # the same in both
    assert M.plan_main_job("cuda").settings_table().splitlines()[0].split() == ["setting", "smollm2_cpu",
                                                                                  "gsm8k_t4", "*"]


def test_every_difference_between_the_presets_has_its_files_reason():
    """Issue 39: the table said "(its file gives no reason)"; now every setting in which the presets differ carries,
    from each preset that sets it, the comment on its line, and the table prints it under the row."""
    from srgrpo.train.preset_diff import preset_differences, setting_reasons

    differ, _ = preset_differences(["smollm2_cpu", "gsm8k_t4"])
    text = M.plan_main_job("cpu").settings_table(width=10_000)  # one line a reason
    for row in differ:
        assert any(row.reasons), row.setting
        for name, by_default, reason in zip(("smollm2_cpu", "gsm8k_t4"), row.by_default, row.reasons):
            if not by_default:
                assert reason and len(reason.split()) >= 3, (name, row.setting)  # a sentence, not a placeholder
                assert reason == setting_reasons(name)[row.setting]
                assert f"  {name}: " in text and reason in text
    assert "no reason" not in text


def test_setting_reasons_read_the_comment_on_a_settings_line_and_its_continuation(tmp_path):
    from srgrpo.train.preset_diff import setting_reasons

    preset = tmp_path / "p.yaml"
    preset.write_text("# A file comment: no setting's.\n"
                      "# A group comment: no setting's either.\n"
                      "tau: 1.0          # first line of the reason,\n"
                      "                  # and its continuation\n"
                      "beta: 0.0\n"
                      "  # an indented comment after a setting without one belongs to no one\n"
                      "reward_funcs: [correctness, format]   # summed\n"
                      "\n"
                      "# next group\n"
                      "seed: 3   # why 3\n")
    assert setting_reasons(str(preset)) == {"tau": "first line of the reason, and its continuation",
                                            "reward_funcs": "summed", "seed": "why 3"}


LOG = {"loss": 0.1, "reward": 0.5, "reward_std": 0.3, "rewards/correctness_reward/mean": 0.25,
       "rewards/format_reward/mean": 0.25, "frac_reward_zero_std": 0.5, "soft_advantage_mean": 0.0,
       "soft_advantage_std": 0.8, "completions/mean_length": 40.5, "completions/clipped_ratio": 0.25,
       "step_time": 38.2, "learning_rate": 5e-4}


def test_step_table_prints_one_aligned_row_per_step():
    out = io.StringIO()
    table = StepTable(stream=out)
    state = SimpleNamespace(is_world_process_zero=True, global_step=1)
    table.on_log(None, state, None, logs=LOG)
    state.global_step = 2
    table.on_log(None, state, None, logs={**LOG, "reward": 0.75})
    table.on_log(None, state, None, logs={"train_runtime": 10.0})  # the end-of-training summary: no row
    header, row1, row2 = out.getvalue().splitlines()
    assert header.split() == ["step", "reward", "correctness", "format", "zero", "std", "adv", "std", "length", "cut",
                              "off", "sec"]
    assert row1.split() == ["1", "0.500", "0.250", "0.250", "0.500", "0.800", "40.500", "0.250", "38.200"]
    assert row2.split()[:2] == ["2", "0.750"] and len(header) == len(row1) == len(row2)


def test_the_progress_bar_stays_under_the_rows():
    out = io.StringIO()
    table = StepTable(stream=out, progress=True)
    state = SimpleNamespace(is_world_process_zero=True, global_step=0, max_steps=2)
    table.on_train_begin(None, state, None)
    for step in (1, 2):
        state.global_step = step
        table.on_step_end(None, state, None)
        table.on_log(None, state, None, logs=LOG)
    assert table.bar.n == 2
    table.on_train_end(None, state, None)
    text = out.getvalue()
    assert text.count("38.200") == 2 and "training" in text and "2/2" in text and "{" not in text


def test_the_summary_compares_the_first_and_the_last_steps():
    history = [{**LOG, "step": i, "reward": 0.1 * i, "soft_advantage_std": 0.0} for i in range(1, 9)]
    history.append({"train_runtime": 3.0, "step": 8})
    lines = summary_lines(history)
    assert lines[0].split() == ["steps", "1-2", "->", "steps", "7-8"]
    reward = next(line for line in lines if line.startswith("reward"))
    assert reward.split() == ["reward", "0.150", "->", "0.750"]
    assert not any(line.startswith("sec") for line in lines) and summary_lines([]) == []


def test_step_rows_keeps_the_training_steps():
    history = [{**LOG, "step": 1}, {"train_runtime": 3.0, "step": 1}, {**LOG, "step": 2}]
    assert [r["step"] for r in step_rows(history)] == [1, 2]


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_every_plan_parses(device, monkeypatch):
    monkeypatch.setattr(M, "gsm8k_available", lambda: True)
    plan = M.plan_main_job(device)
    script, config = parse_args(plan.train_flags())
    assert script.model_name_or_path == plan.model
