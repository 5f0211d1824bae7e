"""The train command in 4-bit without Unsloth (``--load_in_4bit true``), the 8-bit optimizer both ways, and what the
presets write about 4-bit.

The command runs as a subprocess, as a user runs it, on the tiny model and a synthetic GSM8K-format set; the
fallbacks run in-process with bitsandbytes hidden (``sys.modules["bitsandbytes"] = None``: ``find_spec`` says it is
not installed and importing it fails, as on a machine without it).
"""

from __future__ import annotations

import importlib.util
import json

import pytest
import torch
import yaml

from conftest import hide_bitsandbytes, run_module as run, subprocess_env, write_synthetic_gsm8k

needs_bitsandbytes = pytest.mark.skipif(
    importlib.util.find_spec("bitsandbytes") is None,
    reason="bitsandbytes is not installed (the test extra installs it: pip install -c requirements/cpu.txt -e .[test])",
)


@pytest.fixture(scope="module")
def env(tmp_path_factory, tiny_dir):
    work = tmp_path_factory.mktemp("four_bit")
    write_synthetic_gsm8k(work / "gsm8k")
    return work, subprocess_env(SRGRPO_DATA_DIR=str(work / "gsm8k"), TMPDIR=str(work), MPLCONFIGDIR=str(work / "mpl"),
                                OMP_NUM_THREADS="1")


@needs_bitsandbytes
@pytest.mark.trains_with_trl
def test_train_command_in_4bit_with_the_8bit_optimizer(env):
    work, environ = env
    out = work / "run"
    proc = run(["srgrpo.train", "--preset", "tiny_cpu", "--max_steps", "2", "--save_steps", "1", "--train_limit", "8",
                "--load_in_4bit", "true", "--optim", "adamw_8bit", "--output_dir", str(out)], environ, cwd=work)
    assert "on 4-bit NF4 base weights (bitsandbytes), computing in float32" in proc.stdout
    assert "needs bitsandbytes" not in proc.stdout  # no optimizer fallback where it is installed
    assert "srgrpo: done — 2 steps" in proc.stdout
    resolved = yaml.safe_load((out / "srgrpo_config.yaml").read_text())
    assert resolved["script_args"]["load_in_4bit"] == "true"
    assert resolved["model"]["load_in_4bit"] is True and "NF4" in resolved["model"]["quantization"]
    assert resolved["training_args"]["optim"] == "adamw_8bit"
    assert resolved["versions"]["bitsandbytes"]
    # bitsandbytes' 8-bit Adam: its state, not torch's; the moments of tensors of 4096 values or more as uint8 codes
    # with a quantization map (the tiny model's mlp adapters), smaller ones in 32 bits (bitsandbytes' min_8bit_size)
    state = torch.load(out / "checkpoint-1" / "optimizer.pt", weights_only=False)["state"]
    quant = [s["__bnb_optimizer_quant_state__"] for s in state.values()]
    assert len(quant) == len(state) == 2 * 7 * 4
    eight_bit = [q for q in quant if q["state1"].dtype == torch.uint8]
    assert eight_bit and all({"qmap1", "absmax1", "state2"} <= set(q) for q in eight_bit)
    assert all(s["step"] == 1 for s in state.values())  # it took the first step
    # the same per-step metrics as a full-precision run (tests/train/test_train_eval.py)
    steps = [h for h in json.loads((out / "trainer_state.json").read_text())["log_history"] if "reward" in h]
    assert [h["step"] for h in steps] == [1, 2]
    for key in ("reward", "reward_std", "soft_advantage_mean", "soft_advantage_std", "completion_length", "kl",
                "rewards/correctness_reward/mean", "rewards/format_reward/mean"):
        assert key in steps[0], key
    assert all(torch.isfinite(torch.tensor([h["loss"], h["kl"], h["grad_norm"]])).all() for h in steps)


def test_the_8bit_optimizer_falls_back_without_bitsandbytes(monkeypatch, capsys, tmp_path):
    from srgrpo.train.settings import parse_args

    hide_bitsandbytes(monkeypatch)
    _, args = parse_args(["--preset", "gsm8k_t4", "--output_dir", str(tmp_path)])
    assert str(getattr(args.optim, "value", args.optim)) == "adamw_torch"
    assert "optim=adamw_8bit needs bitsandbytes, which is not installed — using adamw_torch instead" in (
        capsys.readouterr().out)


@needs_bitsandbytes
def test_the_8bit_optimizer_is_kept_where_bitsandbytes_is_installed(capsys, tmp_path):
    from srgrpo.train.settings import parse_args

    _, args = parse_args(["--preset", "gsm8k_t4", "--output_dir", str(tmp_path)])
    assert str(getattr(args.optim, "value", args.optim)) == "adamw_8bit"
    assert "needs bitsandbytes" not in capsys.readouterr().out


def test_4bit_asked_without_bitsandbytes_is_a_clear_error(monkeypatch, capsys, env):
    from srgrpo.train.command import main

    work, environ = env
    monkeypatch.setenv("SRGRPO_DATA_DIR", environ["SRGRPO_DATA_DIR"])
    hide_bitsandbytes(monkeypatch)
    assert main(["--preset", "tiny_cpu", "--load_in_4bit", "true", "--output_dir", str(work / "refused")]) == 2
    err = capsys.readouterr().err
    assert "load_in_4bit=true without Unsloth loads the base weights with bitsandbytes, which is not installed" in err
    assert "pip install" in err and "--load_in_4bit false" in err


def test_what_the_presets_write_about_4bit(tmp_path, capsys):
    """The CPU presets say they do not load 4-bit; the GPU preset asks for it; without a preset it is auto (4-bit on a
    CUDA GPU only); a value that is not auto/true/false is refused."""
    from srgrpo.train.command import main
    from srgrpo.train.settings import parse_args

    written = {}
    for preset in ("smollm2_cpu", "tiny_cpu", "gsm8k_t4"):
        out = tmp_path / preset
        assert main(["--preset", preset, "--dry_run", "--output_dir", str(out)]) == 0
        written[preset] = yaml.safe_load((out / "srgrpo_config.yaml").read_text())["script_args"]["load_in_4bit"]
    assert written == {"smollm2_cpu": "false", "tiny_cpu": "false", "gsm8k_t4": "true"}
    plain = tmp_path / "plain.yaml"
    plain.write_text("model_name_or_path: tiny\n")
    script, _ = parse_args(["--preset", str(plain), "--output_dir", str(tmp_path / "p")])
    assert script.load_in_4bit == "auto"
    script, _ = parse_args(["--preset", "tiny_cpu", "--load_in_4bit", "True", "--output_dir", str(tmp_path / "q")])
    assert script.load_in_4bit == "true"
    capsys.readouterr()
    assert main(["--preset", "tiny_cpu", "--load_in_4bit", "maybe", "--dry_run",
                 "--output_dir", str(tmp_path / "bad")]) == 2
    assert "load_in_4bit must be auto, true or false, got 'maybe'" in capsys.readouterr().err


def test_the_cpu_main_job_stays_in_full_precision(capsys):
    """What must not change: the CPU main job's preset loads no 4-bit weights, even where bitsandbytes is installed."""
    from srgrpo.train.settings import parse_args, preset_settings

    assert preset_settings("smollm2_cpu")["load_in_4bit"] is False
    script, _ = parse_args([])  # no preset on a CPU: smollm2_cpu
    assert script.model_name_or_path == "smollm2" and script.load_in_4bit == "false"


def test_cli_help_says_what_auto_means():
    from srgrpo.train.settings import build_parser

    text = build_parser().format_help()
    assert "--load_in_4bit" in text and "auto (on a CUDA GPU only" in " ".join(text.split())
