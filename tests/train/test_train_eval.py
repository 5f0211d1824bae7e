"""Smoke runs of ``python -m srgrpo.train`` and ``python -m srgrpo.eval_gsm8k`` on the offline tiny model.

The commands run as subprocesses, as a user would run them, on a small synthetic GSM8K-format data set written into
the test's temporary folder (so the real GSM8K files are not needed). Settings resolution, resuming and the records
file are also tested in-process.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import run_module as run, subprocess_env, write_synthetic_gsm8k



@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("train_eval")


@pytest.fixture(scope="module")
def data_dir(workdir) -> Path:
    folder = workdir / "gsm8k"
    write_synthetic_gsm8k(folder)
    return folder


@pytest.fixture(scope="module")
def env(workdir, data_dir, tiny_dir):
    tmp = workdir / "tmp"
    tmp.mkdir(exist_ok=True)
    return subprocess_env(
        SRGRPO_DATA_DIR=str(data_dir),
        TMPDIR=str(tmp),
        HF_HOME=str(tmp / "hf"),
        MPLCONFIGDIR=str(tmp / "mpl"),
        # One thread: on a shared 2-core machine, two torch threads fighting other jobs made steps up to 10x slower.
        OMP_NUM_THREADS="1",
    )


# ----------------------------------------------------------------------------------------------------------------
# Training
# ----------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def trained_run(workdir, env) -> tuple[Path, subprocess.CompletedProcess]:
    out = workdir / "run"
    proc = run(
        ["srgrpo.train", "--preset", "tiny_cpu", "--max_steps", "2", "--save_steps", "1", "--train_limit", "8",
         "--tau", "0.2", "--soft_advantage", "per_sample", "--output_dir", str(out)],
        env, cwd=workdir,
    )
    return out, proc


@pytest.mark.trains_with_trl
def test_train_smoke_outputs(trained_run, tmp_path):
    out, proc = trained_run
    assert "srgrpo: Unsloth not used" in proc.stdout
    # for a person: one row a step, no raw dicts, no library warnings, a summary and the next commands
    assert "{'loss'" not in proc.stdout and "FutureWarning" not in proc.stderr
    assert proc.stdout.count("\n    1 ") == 1 and "srgrpo: done — 2 steps" in proc.stdout
    assert f"python -m srgrpo.eval_gsm8k --model_name_or_path tiny --adapter {out}" in proc.stdout
    card = (out / "README.md").read_text()
    assert "[None]" not in card and 'model="None"' not in card and "## SR-GRPO" in card and "`tiny`" in card
    state = json.loads((out / "trainer_state.json").read_text())
    assert state["global_step"] == 2
    steps = [h for h in state["log_history"] if "reward" in h]
    assert [h["step"] for h in steps] == [1, 2]
    for key in ("reward", "reward_std", "soft_advantage_mean", "soft_advantage_std", "completion_length", "kl",
                "rewards/correctness_reward/mean", "rewards/format_reward/mean"):
        assert key in steps[0], key

    resolved = yaml.safe_load((out / "srgrpo_config.yaml").read_text())
    assert resolved["training_args"]["tau"] == 0.2
    assert resolved["training_args"]["soft_advantage"] == "per_sample"
    assert resolved["training_args"]["num_generations"] == 4  # from the preset
    assert resolved["training_args"]["max_steps"] == 2  # the command line over the preset
    assert resolved["script_args"]["model_name_or_path"] == "tiny"
    assert resolved["script_args"]["preset"].endswith("tiny_cpu.yaml")
    assert resolved["model"]["backend"] == "transformers" and resolved["model"]["use_lora"] is True
    assert resolved["reward_funcs"] == ["correctness_reward", "format_reward"]
    assert resolved["dataset"]["num_examples"] == 8
    assert resolved["global_step"] == 2

    assert (out / "adapter_model.safetensors").is_file() and (out / "adapter_config.json").is_file()
    assert (out / "tokenizer.json").is_file()
    assert (out / "checkpoint-1" / "optimizer.pt").is_file() and (out / "checkpoint-2").is_dir()

    from srgrpo.plots import plot_training

    fig = plot_training(out)
    png = tmp_path / "training.png"
    fig.savefig(png)
    assert png.stat().st_size > 1000


@pytest.mark.trains_with_trl
def test_train_resume(trained_run, workdir, env):
    src, _ = trained_run
    out = workdir / "resumed"
    shutil.copytree(src, out)
    proc = run(
        ["srgrpo.train", "--preset", "tiny_cpu", "--max_steps", "3", "--save_steps", "1", "--train_limit", "8",
         "--output_dir", str(out), "--resume_from_checkpoint"],
        env, cwd=workdir,
    )
    assert "resuming from" in proc.stdout and "checkpoint-2" in proc.stdout
    state = json.loads((out / "trainer_state.json").read_text())
    assert state["global_step"] == 3
    assert [h["step"] for h in state["log_history"] if "reward" in h] == [1, 2, 3]
    assert (out / "checkpoint-3").is_dir()


@pytest.mark.trains_with_trl
def test_trained_adapter_evaluates(trained_run, workdir, env, data_dir):
    out, _ = trained_run
    result = workdir / "after.json"
    run(["srgrpo.eval_gsm8k", "--model_name_or_path", "tiny", "--adapter", str(out), "--eval_limit", "2",
         "--eval_batch_size", "2", "--max_new_tokens", "8", "--output", str(result), "--progress", "false"], env,
        cwd=workdir)
    summary = json.loads(result.read_text())
    assert summary["n"] == 2 and summary["adapter"] == str(out.resolve())


# ----------------------------------------------------------------------------------------------------------------
# Settings resolution (in-process)
# ----------------------------------------------------------------------------------------------------------------


def test_cli_overrides_preset(tmp_path):
    from srgrpo.train.settings import parse_args

    script, args = parse_args(["--preset", "tiny_cpu", "--tau", "0.2", "--soft_advantage", "per_sample",
                               "--learning_rate", "3e-4", "--reward_funcs", "correctness",
                               "--output_dir", str(tmp_path)])
    assert args.tau == 0.2 and args.soft_advantage == "per_sample" and args.learning_rate == 3e-4
    assert script.reward_funcs == ["correctness"]
    assert script.model_name_or_path == "tiny" and args.max_completion_length == 32  # preset values kept
    assert args.use_cpu is True and args.bf16 is False

    # A YAML file as preset; `5e-6` (a string to YAML) is read with the flag's type; --config goes on top.
    preset = tmp_path / "mine.yaml"
    preset.write_text("model_name_or_path: tiny\nlearning_rate: 5e-6\ntau: 0.3\nuse_cpu: true\nbf16: false\n"
                      "reward_funcs: format\nmax_steps: 4\n")
    extra = tmp_path / "extra.yaml"
    extra.write_text("tau: 0.4\n")
    script, args = parse_args(["--preset", str(preset), "--config", str(extra), "--output_dir", str(tmp_path)])
    assert args.learning_rate == 5e-6 and isinstance(args.learning_rate, float)
    assert args.tau == 0.4 and args.max_steps == 4 and script.reward_funcs == ["format"]
    assert args.soft_advantage == "shared"  # the built-in default when nothing sets it


def test_default_output_dir_and_flag_forms():
    from srgrpo.train.settings import parse_args

    _, args = parse_args(["--preset=tiny_cpu", "--max_steps=7"])
    assert args.max_steps == 7 and Path(args.output_dir) == Path("runs/tiny_cpu")


def test_bad_inputs_give_clear_errors(tmp_path, capsys):
    from srgrpo.train.command import _resolve_resume, main, parse_args, resolve_reward_funcs

    assert main(["--preset", "no_such_preset"]) == 2
    err = capsys.readouterr().err
    assert "unknown preset 'no_such_preset'" in err and "tiny_cpu" in err and "gsm8k_t4" in err

    assert main(["--preset", "tiny_cpu", "--reward_funcs", "correctness", "bogus", "--dry_run"]) == 2
    assert "unknown reward function 'bogus'; valid names: correctness, format" in capsys.readouterr().err

    with pytest.raises(ValueError, match="valid names"):
        resolve_reward_funcs(["length"])

    bad = tmp_path / "bad.yaml"
    bad.write_text("model_name_or_path: tiny\nnot_a_flag: 1\n")
    with pytest.raises(ValueError, match="unknown setting.*not_a_flag"):
        parse_args(["--preset", str(bad)])
    bad.write_text("model_name: tiny\n")  # a preset written before the renames: the new name, not "unknown"
    with pytest.raises(ValueError, match="--model_name is now --model_name_or_path"):
        parse_args(["--preset", str(bad)])
    bad.write_text("soft_advantage: softest\n")
    with pytest.raises(ValueError, match="softest"):
        parse_args(["--preset", str(bad)])

    with pytest.raises(ValueError, match="no checkpoint-N folder"):
        _resolve_resume("true", str(tmp_path))
    assert _resolve_resume("auto", str(tmp_path)) is None
    assert _resolve_resume("false", str(tmp_path)) is None


def test_dry_run_writes_resolved_config(tmp_path):
    from srgrpo.train.command import main

    assert main(["--preset", "gsm8k_t4", "--dry_run", "--output_dir", str(tmp_path), "--tau", "0.25"]) == 0
    resolved = yaml.safe_load((tmp_path / "srgrpo_config.yaml").read_text())
    assert resolved["script_args"]["model_name_or_path"] == "Qwen/Qwen2.5-1.5B-Instruct"
    assert resolved["training_args"]["tau"] == 0.25
    assert resolved["training_args"]["num_generations"] == 8
    assert resolved["training_args"]["max_prompt_length"] == 256


def test_presets_are_listed_and_valid(capsys):
    from srgrpo.train.command import main
    from srgrpo.train.settings import available_presets, parse_args

    assert {"tiny_cpu", "gsm8k_t4"} <= set(available_presets())
    assert main(["--list_presets"]) == 0
    assert "gsm8k_t4" in capsys.readouterr().out
    for name in available_presets():
        parse_args(["--preset", name])  # every shipped preset parses


# ----------------------------------------------------------------------------------------------------------------
# Evaluation
# ----------------------------------------------------------------------------------------------------------------


def test_eval_smoke(workdir, env, tmp_path):
    out = workdir / "eval" / "e.json"
    run(["srgrpo.eval_gsm8k", "--model_name_or_path", "tiny", "--eval_limit", "8", "--eval_batch_size", "4",
         "--max_new_tokens", "32",
         "--output", str(out)], env, cwd=workdir)
    summary = json.loads(out.read_text())
    for key in ("model", "adapter", "split", "n", "accuracy", "strict_accuracy", "correct", "strict_correct",
                "accuracy_ci95", "generation", "wall_seconds", "versions"):
        assert key in summary, key
    assert summary["model"] == "tiny" and summary["split"] == "test" and summary["n"] == 8
    assert summary["generation"]["max_new_tokens"] == 32 and summary["generation"]["decoding"] == "greedy"
    records = [json.loads(line) for line in out.with_suffix(".jsonl").read_text().splitlines()]
    assert sorted(r["index"] for r in records) == list(range(8))
    assert summary["correct"] == sum(r["correct"] for r in records)
    assert summary["accuracy"] == pytest.approx(sum(r["correct"] for r in records) / 8)
    assert summary["strict_correct"] == sum(r["strict_correct"] for r in records)
    low, high = summary["accuracy_ci95"]
    assert 0 <= low <= summary["accuracy"] <= high <= 1
    assert {r["settings_id"] for r in records} == {summary["settings"]["settings_id"]}
    for r in records:
        assert set(r) >= {"index", "question", "gold", "completion", "predicted", "correct", "strict_correct"}

    from srgrpo.plots import plot_accuracy

    fig = plot_accuracy(out, {"n": 8, "correct": 6, "strict_correct": 5, "label": "fake after"})
    fig.savefig(tmp_path / "acc.png")
    assert (tmp_path / "acc.png").stat().st_size > 1000


class FakeGenerator:
    """Stands in for the model: answers even-numbered problems right in the kit's format, odd ones wrong."""

    def __init__(self, golds: dict[str, str]):
        self.golds = golds
        self.questions: list[str] = []

    def __call__(self, model, tokenizer, messages, max_new_tokens):
        out = []
        for m in messages:
            q = m[-1]["content"]
            self.questions.append(q)
            gold = int(self.golds[q])
            answer = gold if gold % 2 == 0 else gold + 1
            out.append((f"Adding the two numbers: {answer} + 0 = {answer}.\n#### {answer}", 7, False))
        return out


def test_eval_resumes_without_regenerating(tmp_path, monkeypatch, data_dir):
    import srgrpo.eval_gsm8k.command as ev

    golds = write_synthetic_gsm8k(tmp_path / "data")
    fake = FakeGenerator(golds)
    monkeypatch.setattr(ev, "generate_greedy", fake)
    out = tmp_path / "res.json"
    kw = dict(data_dir=str(tmp_path / "data"), batch_size=3, max_new_tokens=16, output=out, progress=False,
              log=lambda s: None)

    first = ev.evaluate("tiny", limit=4, **kw)
    assert first["n"] == 4 and len(fake.questions) == 4
    jsonl = out.with_suffix(".jsonl")
    before = jsonl.read_text().splitlines()
    # Simulate a kill in the middle of writing the next batch.
    with open(jsonl, "a") as f:
        f.write('{"index": 5, "question": "half a rec')

    fake.questions.clear()
    second = ev.evaluate("tiny", limit=8, **kw)
    assert len(fake.questions) == 4  # only the 4 missing problems were generated
    lines = jsonl.read_text().splitlines()
    assert lines[:4] == before  # the first records are untouched
    indices = [json.loads(line)["index"] for line in lines]
    assert sorted(indices) == list(range(8)) and len(indices) == 8  # none lost, none duplicated
    assert second["n"] == 8 and second["resumed_records"] == 4 and second["generated_records"] == 4
    expected = sum(int(golds[json.loads(line)["question"]]) % 2 == 0 for line in lines)
    assert second["correct"] == expected == second["strict_correct"]
    assert second["accuracy"] == pytest.approx(expected / 8)
    # the work "N + 0 = N" is one true equation: every correct answer is sound
    assert all((json.loads(line)["equations"], json.loads(line)["false_equations"]) == (1, 0) for line in lines[4:])
    assert second["sound"] == expected and second["wrong_work"] == 0

    # Nothing left to do: no generation at all; a smaller limit summarises the first problems only.
    fake.questions.clear()
    third = ev.evaluate("tiny", limit=3, **kw)
    assert fake.questions == [] and third["n"] == 3

    # Other settings in the same file are refused; --overwrite starts again.
    with pytest.raises(ev.SettingsMismatchError, match="new --output"):
        ev.evaluate("tiny", limit=8, **{**kw, "max_new_tokens": 17})
    ev.evaluate("tiny", limit=2, overwrite=True, **{**kw, "max_new_tokens": 17})
    assert len(jsonl.read_text().splitlines()) == 2


def test_read_records_rejects_damage_in_the_middle(tmp_path):
    from srgrpo.eval_gsm8k.records import read_records

    path = tmp_path / "r.jsonl"
    path.write_text('{"index": 0, "settings_id": "a"}\nnot json\n{"index": 2, "settings_id": "a"}\n')
    with pytest.raises(ValueError, match="line 2"):
        read_records(path)
    path.write_text('{"index": 0, "settings_id": "a"}\n{"index": 0, "settings_id": "a"}\n{"ind')
    assert list(read_records(path, settings_id="a")) == [0]
    assert path.read_text().endswith("}\n")  # the torn line was cut off


def test_eval_cli_errors(tmp_path, monkeypatch, capsys, data_dir):
    from srgrpo.eval_gsm8k import main

    monkeypatch.setenv("SRGRPO_DATA_DIR", str(data_dir))
    args = ["--eval_limit", "1", "--output", str(tmp_path / "x.json"), "--progress", "false"]
    assert main(["--model_name_or_path", str(tmp_path / "missing"), *args]) == 2
    assert "model folder not found" in capsys.readouterr().err
    assert main(["--model_name_or_path", "tiny", "--adapter", str(tmp_path), *args]) == 2
    assert "no adapter_config.json" in capsys.readouterr().err


def test_no_preset_picks_the_one_for_this_machine(capsys):
    from srgrpo.train.settings import parse_args

    # CPU here: the quickstart's bare `python -m srgrpo.train` is the CPU main job, a real model on easy problems.
    script, args = parse_args([])
    assert Path(script.preset).stem == "smollm2_cpu" and script.model_name_or_path == "smollm2"
    assert script.dataset_name == "arithmetic" and args.use_cpu
    assert "using 'smollm2_cpu'" in capsys.readouterr().out


def test_report_false_leaves_the_summary_line_to_the_caller(tmp_path, monkeypatch, data_dir):
    """Issue 31: notebook 4 printed each evaluation twice (evaluate's line with its file paths, then the plan's
    report); with ``report=False`` evaluate logs no summary line and the caller prints it once."""
    import srgrpo.eval_gsm8k.command as ev

    golds = write_synthetic_gsm8k(tmp_path / "data")
    monkeypatch.setattr(ev, "generate_greedy", FakeGenerator(golds))
    kw = dict(data_dir=str(tmp_path / "data"), batch_size=2, max_new_tokens=16, progress=False, limit=2)
    said, quiet = [], []
    summary = ev.evaluate("tiny", output=tmp_path / "a.json", log=said.append, **kw)
    ev.evaluate("tiny", output=tmp_path / "b.json", log=quiet.append, report=False, **kw)
    assert any(ev.summary_line(summary) in line and "records" in line for line in said)
    assert not any(ev.summary_line(summary) in line or "a.json" in line or "b.json" in line for line in quiet)
