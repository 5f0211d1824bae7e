"""SR-GRPO on Unsloth's real rewrite of TRL's GRPOTrainer, on a CPU (``pytest -m unsloth``).

Runs in the Unsloth / Colab environment (``.ci/build-unsloth-env``: requirements/colab-unsloth.txt); skipped where
Unsloth is not installed. Unsloth's rewrite is process-wide, so every check runs in a child interpreter that applies
it (tests/unsloth_support.py, the one place that does) before importing the kit; each child pays the import and the
rewrite once and runs several cases, whose results the tests below read one by one.

What this covers and what it cannot (Unsloth's model loader, kernels, 4-bit, vLLM need a GPU): see
``tests/unsloth_support.py`` and docs/gpu-colab.md.
"""

from __future__ import annotations

import math

import pytest
import yaml

import unsloth_support as us
from conftest import write_synthetic_gsm8k

pytestmark = [
    pytest.mark.unsloth,
    pytest.mark.skipif(
        not us.unsloth_installed(),
        reason="Unsloth is not installed: these tests run in the Unsloth / Colab environment "
        "(.ci/build-unsloth-env, then .venv-unsloth/bin/python -m pytest -m unsloth)",
    ),
]

CASES = ["shared:0.0", "shared:0.1", "per_sample:0.0", "per_sample:0.1"]


def _setup_ok(res: dict) -> None:
    assert "setup_error" not in res, res["setup_error"]


@pytest.fixture(scope="module")
def training(tmp_path_factory, tiny_dir) -> dict:
    res = us.run_child("unsloth_train_cases.py", tmp_path_factory.mktemp("unsloth_cases"), *CASES, timeout=900)
    _setup_ok(res)
    return res


@pytest.fixture(scope="module")
def train_command(tmp_path_factory, tiny_dir) -> dict:
    work = tmp_path_factory.mktemp("unsloth_train")
    data = work / "gsm8k"
    write_synthetic_gsm8k(data)
    import os

    os.environ["SRGRPO_DATA_DIR"] = str(data)  # read by the child through its environment
    try:
        res = us.run_child("unsloth_train_command.py", work, str(work / "run"), timeout=600)
    finally:
        os.environ.pop("SRGRPO_DATA_DIR", None)
    _setup_ok(res)
    res["out"] = work / "run"
    return res


def test_srgrpo_trainer_sits_on_unsloths_trainer(training):
    assert training["unsloth_active"] is True
    assert training["base"] == "UnslothGRPOTrainer", training["base"]
    assert training["base_is_trl_binding"] is True
    # Unsloth renames its config back to TRL's name (so it pickles); the rewrite gave SRGRPOConfig its base.
    assert training["config_base"] == "GRPOConfig"


@pytest.mark.parametrize("case", CASES)
def test_advantages_reaching_unsloths_loss_are_srs(training, case):
    res = training["cases"][case]
    assert "error" not in res, res["error"]
    # the kit's CPU mixin sits between them and steps aside under Unsloth (srgrpo.cpu.fast_path)
    assert res["trainer_mro"][1:4] == ["SRGRPOTrainer", "CPUFastPathMixin", "UnslothGRPOTrainer"]
    assert res["has_for_training"], "the kit did not give the plain transformers model Unsloth's for_training"
    assert res["generation_batches"] == 2
    assert res["some_reward_none"], "the oracle should include unscorable rewards"
    # 2 steps x 2 prompts x 4 completions, every one seen by unsloth_zoo's grpo_accumulated_loss.
    assert res["loss_rows"] == 16, (
        f"{res['loss_rows']} rows reached grpo_accumulated_loss: Unsloth's compute_loss changed how it calls it"
    )
    assert res["n_mismatches"] == 0, f"advantages in Unsloth's loss differ from soft_advantages: {res['mismatches']}"


@pytest.mark.parametrize("case", CASES)
def test_metrics_are_logged(training, case):
    res = training["cases"][case]
    assert "error" not in res, res["error"]
    assert res["logged_steps"] == 2
    beta = float(case.split(":")[1])
    needed = {"reward", "soft_advantage_mean", "soft_advantage_std", "completion_length"} | ({"kl"} if beta else set())
    assert needed <= set(res["logged_keys"]), sorted(needed - set(res["logged_keys"]))
    if case.startswith("per_sample"):
        assert all(abs(m) < 1e-5 for m in res["soft_advantage_mean"])  # per-sample advantages sum to 0 per group


@pytest.mark.parametrize("case", CASES)
def test_completions_table_shows_sr_advantages(training, case):
    res = training["cases"][case]
    assert "error" not in res, res["error"]
    assert res["table_advantages"] is not None, "the trainer no longer keeps _logs['advantages']"
    assert res["table_advantages"] == pytest.approx(res["expected_table_advantages"], abs=1e-5)


@pytest.mark.parametrize("case", [c for c in CASES if float(c.split(":")[1]) > 0])
def test_prompts_are_truncated(training, case):
    res = training["cases"][case]
    assert "error" not in res, res["error"]
    assert res["truncate"]
    assert res["prompts_seen"] > 0, (
        "Unsloth internal moved: GRPOTrainer._tokenize_prompts is no longer called by the rewritten trainer, so "
        "SRGRPOTrainer's max_prompt_length is not applied"
    )
    assert res["prompts_truncated"] == res["prompts_seen"] == 16  # every chat prompt is longer than 10 tokens
    assert res["prompt_lengths_at_loss"] == [res["max_prompt_length"]]


def test_import_order_trl_first_still_gives_unsloths_trainer(train_command):
    order = train_command["order"]
    assert order["early_name"] == "GRPOTrainer" and not order["early_is_rewritten"]  # the user's name: pristine
    assert order["base"] == "UnslothGRPOTrainer" and order["base_is_rewritten"]


def test_train_command_under_the_rewrite(train_command):
    assert "train_error" not in train_command, train_command["train_error"]
    assert train_command["train_returncode"] == 0, train_command["_stderr"][-4000:]
    out = train_command["out"]
    resolved = yaml.safe_load((out / "srgrpo_config.yaml").read_text())
    assert resolved["unsloth_active"] is True
    assert resolved["base_trainer_class"] == "UnslothGRPOTrainer"
    assert "unsloth" in resolved["base_trainer_module"].lower()
    assert resolved["model"]["backend"] == "transformers"  # the tiny model: loaded by transformers, trained by Unsloth
    assert resolved["versions"]["unsloth"] and resolved["versions"]["trl"] == "1.15.0"
    assert resolved["global_step"] == 2
    assert (out / "adapter_model.safetensors").is_file() and (out / "tokenizer.json").is_file()
    assert (out / "checkpoint-2").is_dir()
    import json

    steps = [h for h in json.loads((out / "trainer_state.json").read_text())["log_history"] if "reward" in h]
    assert [h["step"] for h in steps] == [1, 2]
    for key in ("soft_advantage_mean", "soft_advantage_std", "kl", "completion_length"):
        assert key in steps[0] and not math.isnan(steps[0][key]), key
