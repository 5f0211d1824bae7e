"""Shared test setup: offline, CPU-only, deterministic, caches kept out of the system temp folder."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parent.parent

# Nothing may be downloaded, no GPU path may be taken, and the tests' own subprocesses inherit this.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
# The suite switches offline mode by HF_HUB_OFFLINE alone (a test that needs the hub "reachable" unsets it); the
# user's own TRANSFORMERS_OFFLINE must not leak in and change what such a test sees.
os.environ.pop("TRANSFORMERS_OFFLINE", None)
# Quiet output: the libraries' progress bars (transformers follows huggingface_hub's switch). Not TQDM_DISABLE: tqdm
# reads it when it is first imported, so whether it took effect would depend on the test order (and the step table's
# own bar is tested).
os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"
os.environ["SRGRPO_DISABLE_UNSLOTH"] = "1"
os.environ.setdefault("SRGRPO_CACHE", str(REPO / ".cache"))
# The same numbers on every CPU: a bf16-capable one would otherwise train and evaluate SmolLM2 in bf16 (the choice
# itself is tested with the capability mocked, tests/models/test_cpu_precision.py; a forced bf16 run there too).
os.environ["SRGRPO_CPU_PRECISION"] = "float32"


def subprocess_env(**extra: str) -> dict[str, str]:
    """Environment for smoke-running the kit's commands as subprocesses (like a user would)."""
    env = dict(os.environ)
    env.update({"PYTHONPATH": str(REPO), "CUDA_VISIBLE_DEVICES": "", "PYTHONUNBUFFERED": "1"})
    env.update(extra)
    return env


def assert_close_in_norm(got: torch.Tensor, expected: torch.Tensor, rel: float, what: str = "") -> None:
    """``||got - expected|| <= rel * ||expected||`` (plus a floor for all-zero tensors), in float64.

    Float32 results computed in another order (another CPU's kernels: AVX2, AVX-512, AMX; another thread count) differ
    elementwise by amounts that scale with the tensor, not by a fixed atol; a norm-relative bound holds on every CPU
    while a real difference (a wrong position, a missing row) is of the tensor's own size and still fails.
    """
    got, expected = got.detach().double(), expected.detach().double()
    assert got.shape == expected.shape, f"{what} shapes differ: {tuple(got.shape)} vs {tuple(expected.shape)}"
    error, scale = (got - expected).norm().item(), expected.norm().item()
    assert error <= rel * scale + 1e-12, f"{what} relative error {error / max(scale, 1e-300):.2e} > {rel:.0e}"


def hide_bitsandbytes(monkeypatch) -> None:
    """Make this process answer as if bitsandbytes were not installed: ``find_spec`` says None, importing it fails.

    TRL and peft import it at their own import when transformers says it is installed (transformers decides that once,
    at its import), so they are imported first, as they would be on a machine without it, where they skip it.
    """
    import peft  # noqa: F401

    from srgrpo.models.unsloth_compat import grpo_base_classes

    grpo_base_classes()  # TRL's GRPOTrainer and what it imports
    for name in [m for m in sys.modules if m == "bitsandbytes" or m.startswith("bitsandbytes.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "bitsandbytes", None)


def run_module(args: list[str], env: dict, cwd: Path, timeout: int = 240) -> subprocess.CompletedProcess:
    """``python -m <args>`` as a subprocess (as a user runs the kit's commands); fails the test with its output."""
    proc = subprocess.run([sys.executable, "-m", *args], env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
    return proc


@pytest.fixture(scope="session")
def tiny_dir() -> Path:
    """The offline tiny Qwen2 model and tokenizer, built once into the repo's git-ignored cache."""
    from srgrpo.models.tiny import tiny_model_dir

    return tiny_model_dir()


@pytest.fixture(scope="session")
def python() -> str:
    return sys.executable


# --- an oracle for the advantage numbers the notebooks' helpers print and draw --------------------------------------


def expected(rewards, tau):
    """Every per-completion quantity of one group, straight from srgrpo.advantages."""
    from srgrpo.advantages import grpo_advantages, group_zscores, soft_advantages, soft_weights

    r = torch.tensor(rewards, dtype=torch.float64)
    k = r.numel()
    return {
        "z": group_zscores(r, k).tolist(),
        "weights": soft_weights(r, k, tau=tau).tolist(),
        "shared": soft_advantages(r, k, tau=tau, mode="shared").tolist(),
        "per_sample": soft_advantages(r, k, tau=tau, mode="per_sample").tolist(),
        "grpo": grpo_advantages(r, k).tolist(),
    }


def close(a, b, tol=1e-12):
    return len(a) == len(b) and all(math.isclose(x, y, rel_tol=tol, abs_tol=tol) for x, y in zip(a, b))


def bar_heights(ax):
    return [p.get_height() for p in ax.patches]


NAMES = ["Ava", "Ben", "Chen", "Dina", "Eli", "Hana", "Omar", "Rosa"]


def write_synthetic_gsm8k(folder: Path, n_train: int = 16, n_test: int = 8) -> dict[str, str]:
    """GSM8K-format train.jsonl / test.jsonl with short problems; returns {question: gold}."""
    folder.mkdir(parents=True, exist_ok=True)
    golds = {}
    for split, n, offset in (("train", n_train, 0), ("test", n_test, 100)):
        lines = []
        for i in range(n):
            a, b = offset + i + 2, i + 3
            name = NAMES[i % len(NAMES)]
            q = f"{name} has {a} apples and buys {b} more. How many apples does {name} have now?"
            sol = f"{name} has {a} + {b} = <<{a}+{b}={a + b}>>{a + b} apples.\n#### {a + b}"
            lines.append(json.dumps({"question": q, "answer": sol}))
            golds[q] = str(a + b)
        (folder / f"{split}.jsonl").write_text("\n".join(lines) + "\n")
    return golds
