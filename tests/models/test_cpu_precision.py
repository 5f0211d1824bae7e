"""The CPU's precision is chosen by capability, confirmed by a measured (cached) probe; the capability is mocked."""

from __future__ import annotations

import json

import pytest

import srgrpo.models.cpu_precision as cp

INTEL_AMX = "processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Platinum 8481C\nflags\t\t: fpu sse avx2 avx512f " \
            "avx512_bf16 amx_bf16 amx_tile\n"
AMD_AVX2 = "processor\t: 0\nmodel name\t: AMD EPYC 7B13\nflags\t\t: fpu sse avx2 fma\n"
ARM_BF16 = "processor\t: 0\nFeatures\t: fp asimd sve bf16 i8mm\n"
ARM_PLAIN = "processor\t: 0\nFeatures\t: fp asimd\n"


class Probe:
    def __init__(self, speedup):
        self.speedup, self.calls = speedup, 0

    def __call__(self):
        self.calls += 1
        return {"speedup": self.speedup, "float32_ms": 10.0, "bfloat16_ms": 10.0 / self.speedup}


@pytest.fixture(autouse=True)
def cache_file(tmp_path, monkeypatch):
    monkeypatch.delenv(cp.ENV_VAR, raising=False)  # the suite pins float32 (conftest); these tests choose
    path = tmp_path / "cpu_precision.json"
    monkeypatch.setattr(cp, "_cache_file", lambda: path)
    return path


def test_flags_are_read_from_cpuinfo():
    assert cp.native_bf16_flags(INTEL_AMX, "x86_64") == ["amx_bf16", "avx512_bf16"]
    assert cp.native_bf16_flags(AMD_AVX2, "x86_64") == []
    assert cp.native_bf16_flags(ARM_BF16, "aarch64") == ["bf16"]
    assert cp.native_bf16_flags(ARM_PLAIN, "aarch64") == []
    assert cp.cpu_model_name(AMD_AVX2) == "AMD EPYC 7B13"


def test_without_native_bf16_float32_is_chosen_and_nothing_is_measured():
    probe = Probe(100.0)  # even a probe that would say yes is never asked
    choice = cp.choose_cpu_precision("auto", cpuinfo=AMD_AVX2, machine="x86_64", probe=probe)
    assert choice.dtype == "float32" and not choice.bf16 and probe.calls == 0
    assert "AMD EPYC 7B13 has no native bf16" in choice.describe()


@pytest.mark.parametrize("cpuinfo,machine", [(INTEL_AMX, "x86_64"), (ARM_BF16, "aarch64")])
def test_native_bf16_that_measures_faster_is_chosen(cpuinfo, machine):
    probe = Probe(8.0)
    choice = cp.choose_cpu_precision("auto", cpuinfo=cpuinfo, machine=machine, probe=probe)
    assert choice.dtype == "bfloat16" and choice.probe["speedup"] == 8.0 and probe.calls == 1
    assert "x8.0" in choice.reason


def test_native_bf16_that_measures_slow_is_not_chosen():
    choice = cp.choose_cpu_precision("auto", cpuinfo=INTEL_AMX, machine="x86_64", probe=Probe(cp.MIN_SPEEDUP - 0.1))
    assert choice.dtype == "float32" and "needs x" in choice.reason


def test_the_probe_runs_once_per_machine(cache_file):
    probe = Probe(6.0)
    first = cp.choose_cpu_precision("auto", cpuinfo=INTEL_AMX, machine="x86_64", probe=probe)
    second = cp.choose_cpu_precision("auto", cpuinfo=INTEL_AMX, machine="x86_64", probe=probe)
    assert probe.calls == 1 and first.dtype == second.dtype == "bfloat16"
    assert first.probe["cached"] is False and second.probe["cached"] is True
    assert len(json.loads(cache_file.read_text())) == 1
    cache_file.write_text("{not json")  # a damaged cache is measured again, not trusted
    cp.choose_cpu_precision("auto", cpuinfo=INTEL_AMX, machine="x86_64", probe=probe)
    assert probe.calls == 2


@pytest.mark.parametrize("requested,cpuinfo,expected", [
    ("float32", INTEL_AMX, "float32"), ("fp32", INTEL_AMX, "float32"),
    ("bfloat16", AMD_AVX2, "bfloat16"), ("bf16", INTEL_AMX, "bfloat16"),
])
def test_a_forced_precision_is_kept_and_emulation_is_named(requested, cpuinfo, expected):
    choice = cp.choose_cpu_precision(requested, cpuinfo=cpuinfo, machine="x86_64", probe=Probe(0.01))
    assert choice.dtype == expected
    if expected == "bfloat16" and cpuinfo is AMD_AVX2:
        assert "emulated" in choice.reason


def test_the_environment_pins_what_auto_means(monkeypatch):
    monkeypatch.setenv(cp.ENV_VAR, "float32")
    choice = cp.choose_cpu_precision("auto", cpuinfo=INTEL_AMX, machine="x86_64", probe=Probe(9.0))
    assert choice.dtype == "float32" and cp.ENV_VAR in choice.reason
    assert cp.choose_cpu_precision("bfloat16", cpuinfo=INTEL_AMX, machine="x86_64").dtype == "bfloat16"


def test_an_unknown_precision_says_what_is_allowed():
    with pytest.raises(ValueError, match="auto, float32, bfloat16"):
        cp.choose_cpu_precision("half")


def test_the_real_probe_times_both_dtypes():
    result = cp.probe_bf16_speedup(repeats=1)
    assert result["float32_ms"] > 0 and result["bfloat16_ms"] > 0 and result["speedup"] > 0
    assert result["repeats"] == 1 and (result["load"] is None or result["load"] >= 0)


def test_the_probe_takes_turns_so_a_burst_of_load_slows_both_dtypes_alike(monkeypatch):
    """The products alternate float32, bf16, float32, ... and each dtype keeps its best time."""
    import torch

    order = []
    real_matmul = torch.Tensor.__matmul__
    monkeypatch.setattr(torch.Tensor, "__matmul__", lambda a, b: order.append(a.dtype) or real_matmul(a, b))
    cp.probe_bf16_speedup(repeats=3)
    timed = order[2:]  # after one warm-up each
    assert timed == [torch.float32, torch.bfloat16] * 3


def test_a_probe_measured_on_a_busy_machine_is_used_but_not_cached(cache_file):
    measured = Probe(6.0)
    busy = lambda: {**measured(), "load": cp.BUSY_LOAD + 0.5}  # noqa: E731  (load a core, as the probe records it)
    idle = lambda: {**measured(), "load": cp.BUSY_LOAD - 0.5}  # noqa: E731
    first = cp.choose_cpu_precision("auto", cpuinfo=INTEL_AMX, machine="x86_64", probe=busy)
    assert first.dtype == "bfloat16" and first.probe["cached"] is False and "busy" in first.probe["not_cached"]
    assert not cache_file.exists()  # measured again the next time
    cp.choose_cpu_precision("auto", cpuinfo=INTEL_AMX, machine="x86_64", probe=idle)
    again = cp.choose_cpu_precision("auto", cpuinfo=INTEL_AMX, machine="x86_64", probe=busy)
    assert again.probe["cached"] is True and measured.calls == 2  # an idle measurement is remembered


@pytest.mark.parametrize("speedup,bf16", [(8.0, True), (1.0, False)])
def test_the_train_command_follows_the_choice(monkeypatch, speedup, bf16):
    """`--cpu_precision auto` on a CPU: bf16 autocast on (weights in bf16) only when the choice is bf16."""
    from srgrpo.train import settings as train_settings

    monkeypatch.setattr(cp, "_cpuinfo", lambda: INTEL_AMX)
    monkeypatch.setattr(cp, "probe_bf16_speedup", lambda: Probe(speedup)())
    _, training_args = train_settings.parse_args(["--preset", "smollm2_cpu", "--output_dir", "/tmp/x"])
    assert training_args.bf16 is bf16 and not training_args.fp16
    _, forced = train_settings.parse_args(["--preset", "smollm2_cpu", "--cpu_precision", "float32",
                                           "--output_dir", "/tmp/x"])
    assert forced.bf16 is False
    _, tiny = train_settings.parse_args(["--preset", "tiny_cpu", "--output_dir", "/tmp/x"])
    assert tiny.bf16 is False  # the smoke preset pins float32: the same numbers on every CPU


@pytest.mark.trains_with_trl
def test_a_bf16_run_has_bf16_weights_float32_adapters_and_says_so(tmp_path):
    """The bf16 path end to end (forced, so it runs on any CPU; emulated bf16 is slow, the tiny model is small):
    base weights in bfloat16, LoRA adapters in float32, the loss under bf16 autocast, the choice in the notice and in
    srgrpo_config.yaml."""
    import yaml
    from safetensors.torch import load_file

    from conftest import run_module, subprocess_env

    out = tmp_path / "run"
    proc = run_module(["srgrpo.train", "--preset", "tiny_cpu", "--dataset_name", "arithmetic", "--max_steps", "1",
                       "--train_limit", "4",
                       "--use_peft", "true", "--lora_r", "4", "--cpu_precision", "bfloat16", "--beta", "0",
                       "--save_strategy", "no", "--output_dir", str(out)],
                      subprocess_env(OMP_NUM_THREADS="1"), cwd=tmp_path)
    assert "LoRA r=4 in bfloat16 (CPU precision bfloat16: forced" in proc.stdout
    resolved = yaml.safe_load((out / "srgrpo_config.yaml").read_text())
    assert resolved["model"]["dtype"] == "bfloat16" and resolved["training_args"]["bf16"] is True
    assert resolved["model"]["precision"].startswith("CPU precision bfloat16")
    adapter = load_file(out / "adapter_model.safetensors")
    assert adapter and {str(t.dtype) for t in adapter.values()} == {"torch.float32"}
