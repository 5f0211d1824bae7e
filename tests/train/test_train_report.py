"""What the train command tells its user (srgrpo.train.report): the next commands, the summary, the model card."""

from __future__ import annotations

from pathlib import Path

import pytest

from srgrpo.train import report as R
from srgrpo.train.settings import parse_args

from conftest import REPO


@pytest.mark.parametrize("preset,gpu", [("smollm2_cpu", False), ("gsm8k_t4", True)])
def test_the_training_page_gives_the_commands_the_train_command_prints(preset, gpu):
    script, config = parse_args(["--preset", preset])
    commands = R.next_commands(script, config, on_gpu=gpu)
    readme = (REPO / "docs" / "training.md").read_text()
    assert len(commands) == 3
    for command in commands:
        assert command in readme, command


def test_the_cpu_recipe_evaluates_before_and_after_on_the_same_settings():
    import shlex

    script, config = parse_args(["--preset", "smollm2_cpu", "--output_dir", "runs/x y"])
    before, after, plot = (shlex.split(c) for c in R.next_commands(script, config, on_gpu=False))

    def settings(args):
        drop = {"--adapter", "--output"}
        return [a for i, a in enumerate(args) if a not in drop and (i == 0 or args[i - 1] not in drop)]

    assert settings(before) == settings(after)
    assert after[after.index("--adapter") + 1] == "runs/x y"  # quoted for the shell, read back whole
    assert "--dataset_name arithmetic --eval_limit 64 --max_new_tokens 96" in shlex.join(before)
    assert plot[3:6] == ["runs/x y", before[before.index("--output") + 1], after[after.index("--output") + 1]]


def test_the_final_report_says_what_moved_and_what_to_run_next():
    script, config = parse_args(["--preset", "smollm2_cpu"])
    history = [{"step": i, "reward": 0.1 * i, "rewards/format_reward/mean": 0.05 * i, "step_time": 20.0}
               for i in range(1, 17)]
    text = R.final_report(history, script, config, steps=16, seconds=371.0, on_gpu=False)
    assert text.startswith("srgrpo: done — 16 steps in 6 min 11 s")
    assert "reward" in text and "0.250 -> 1.450" in text and f"sampled* at temperature {config.temperature}" in text
    for command in R.next_commands(script, config, on_gpu=False):
        assert command in text
    assert "{" not in text  # no raw dicts


def test_the_model_card_names_the_hub_model_not_a_local_folder(tmp_path):
    from srgrpo.models.smollm2 import SMOLLM2_HUB_ID

    assert R._base_model_id("smollm2") == SMOLLM2_HUB_ID
    assert R._base_model_id("Qwen/Qwen2.5-1.5B-Instruct") == "Qwen/Qwen2.5-1.5B-Instruct"
    assert R._base_model_id("tiny") is None and R._base_model_id(str(tmp_path)) is None
