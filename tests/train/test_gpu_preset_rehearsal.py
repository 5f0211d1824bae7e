"""The GPU preset rehearsed end to end on the CPU: what a first Colab run without Unsloth would otherwise catch.

``gsm8k_t4``'s settings exactly (4-bit NF4 + LoRA r16, ``adamw_8bit``, beta 0.1 against the adapters-off reference,
8 completions of one prompt, the cosine schedule with its 30 warm-up steps, checkpoints), with these swapped: the
model (the tiny model, a Qwen2 like Qwen2.5-1.5B, for Qwen2.5-1.5B itself), completions of 16 tokens instead of 384,
two steps from the first 16 problems, and a checkpoint every step instead of every 25. Then what a user runs next:
resuming from a checkpoint, the evaluate command on the saved adapter and the plot of the run. GSM8K comes from
``data/gsm8k`` where it is, the synthetic word problems (``--dataset_name arithmetic``) where it is not.

Why the tiny model and not SmolLM2-135M-Instruct: it is a Qwen2, the architecture of the preset's Qwen2.5-1.5B
(biases on q/k/v, grouped-query attention, tied embeddings), and its weights are 40 times smaller, so the case does not
hang on how fast bitsandbytes' CPU kernels are on the CI machine (the project's notes saw a 4-bit SmolLM2 forward and
backward take 59 s on an AVX2 CPU; the same call took 0.4 s here, with AVX-512). SmolLM2 passes too
(``SRGRPO_REHEARSE_SMOLLM2=1`` runs that case): on the kit's 2-core machine, beside other jobs, its case took 207 s,
the tiny one's 98 to 186 s.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil

import pytest
import yaml

from conftest import run_module as run, subprocess_env

OVERRIDES = {"max_steps": 2, "max_completion_length": 16, "save_steps": 1, "train_limit": 16}
MODELS = ["tiny", pytest.param("smollm2", marks=pytest.mark.skipif(
    os.environ.get("SRGRPO_REHEARSE_SMOLLM2", "") != "1",
    reason="SmolLM2 in 4-bit takes minutes a run on a CPU; SRGRPO_REHEARSE_SMOLLM2=1 runs it"))]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.trains_with_trl,
    pytest.mark.skipif(importlib.util.find_spec("bitsandbytes") is None,
                       reason="bitsandbytes is not installed (the test extra installs it)"),
]


def _expected_learning_rates(preset: dict, steps: int) -> list[float]:
    """The learning rate each step trains with (what the log shows), from transformers' own scheduler with the preset's
    settings: 0 at the first step of the warm-up, then 1/30 of the peak."""
    import torch
    from transformers import get_scheduler

    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=float(preset["learning_rate"]))
    scheduler = get_scheduler(preset["lr_scheduler_type"], optimizer, num_warmup_steps=preset["warmup_steps"],
                              num_training_steps=steps)
    rates = []
    for _ in range(steps):
        rates.append(scheduler.get_last_lr()[0])
        optimizer.step()
        scheduler.step()
    return rates


@pytest.mark.parametrize("model", MODELS)
def test_gsm8k_t4_rehearsed_on_the_cpu(model, tmp_path, tiny_dir):
    from srgrpo.tasks.gsm8k import find_data_file
    from srgrpo.train.settings import preset_settings

    gsm8k = find_data_file("train") is not None and find_data_file("test") is not None
    data = [] if gsm8k else ["--dataset_name", "arithmetic"]
    env = subprocess_env(TMPDIR=str(tmp_path), MPLCONFIGDIR=str(tmp_path / "mpl"), OMP_NUM_THREADS="1")
    out = tmp_path / "run"
    flags = [f"--{k}={v}" for k, v in OVERRIDES.items()]
    proc = run(["srgrpo.train", "--preset", "gsm8k_t4", "--model_name_or_path", model, *flags, *data, "--output_dir", str(out)],
               env, cwd=tmp_path, timeout=900)
    assert "on 4-bit NF4 base weights (bitsandbytes)" in proc.stdout
    assert "needs bitsandbytes" not in proc.stdout and "srgrpo: done — 2 steps" in proc.stdout

    # Its settings exactly: every setting of the preset but the ones swapped is what the run used.
    preset = preset_settings("gsm8k_t4")
    resolved = yaml.safe_load((out / "srgrpo_config.yaml").read_text())
    used = {**resolved["training_args"], **resolved["script_args"]}
    swapped = {"model_name_or_path", "output_dir", *OVERRIDES} | ({"dataset_name"} if data else set())
    for key, value in preset.items():
        if key in swapped:
            continue
        got = used[key]
        # how the parser writes two of them back: report_to "none" is transformers' empty list, load_in_4bit a word
        value = {"report_to": [] if value == "none" else value, "load_in_4bit": str(value).lower()}.get(key, value)
        assert got == value or str(got) == str(value) or (isinstance(value, float) and got == pytest.approx(value)), (
            key, got, value)
    assert resolved["model"]["load_in_4bit"] is True and resolved["model"]["lora"]["r"] == 16
    assert resolved["unsloth_active"] is False and resolved["base_trainer_class"] == "GRPOTrainer"

    # The run: beta 0.1 against the 4-bit base with adapters off (no second model), the preset's schedule.
    state = json.loads((out / "trainer_state.json").read_text())
    steps = [h for h in state["log_history"] if "reward" in h]
    assert [h["step"] for h in steps] == [1, 2]
    for h in steps:
        for key in ("kl", "loss", "grad_norm", "soft_advantage_std", "completion_length"):
            assert key in h and h[key] == h[key], key  # present and not NaN
    assert [h["learning_rate"] for h in steps] == pytest.approx(_expected_learning_rates(preset, 2), rel=1e-6)
    optimizer = __import__("torch").load(out / "checkpoint-1" / "optimizer.pt", weights_only=False)
    assert all("__bnb_optimizer_quant_state__" in s for s in optimizer["state"].values())  # adamw_8bit's state

    # The saved adapter names the full-precision base it was trained on (not a 4-bit copy).
    adapter_config = json.loads((out / "adapter_config.json").read_text())
    assert adapter_config["r"] == 16 and "bnb" not in str(adapter_config["base_model_name_or_path"]).lower()

    # A Colab session ends: resume from the first checkpoint (4-bit weights, 8-bit optimizer state).
    resumed = tmp_path / "resumed"
    shutil.copytree(out, resumed)
    shutil.rmtree(resumed / "checkpoint-2")
    proc = run(["srgrpo.train", "--preset", "gsm8k_t4", "--model_name_or_path", model, *flags, *data,
                "--output_dir", str(resumed), "--resume_from_checkpoint"], env, cwd=tmp_path, timeout=900)
    assert "resuming from" in proc.stdout and "checkpoint-1" in proc.stdout
    state = json.loads((resumed / "trainer_state.json").read_text())
    assert state["global_step"] == 2 and [h["step"] for h in state["log_history"] if "reward" in h] == [1, 2]

    # What the run prints next: the evaluate command on the adapter (merged into full-precision weights), then the
    # plot of the run and that evaluation.
    run(["srgrpo.eval_gsm8k", "--model_name_or_path", model, "--adapter", str(out), "--eval_limit", "4", "--eval_batch_size", "4",
         "--max_new_tokens", "16", "--progress", "false", *data, "--output", str(tmp_path / "after.json")], env, cwd=tmp_path)
    after = json.loads((tmp_path / "after.json").read_text())
    assert after["n"] == 4 and after["adapter"] == str(out.resolve())
    png = tmp_path / "run.png"
    run(["srgrpo.plots", str(out), str(tmp_path / "after.json"), "--output", str(png)], env, cwd=tmp_path)
    assert png.stat().st_size > 1000
