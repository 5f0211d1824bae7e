"""Shared test setup: offline, CPU-only, deterministic, caches kept out of the system temp folder."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# Nothing may be downloaded, no GPU path may be taken, and the tests' own subprocesses inherit this.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"
os.environ["SRGRPO_DISABLE_UNSLOTH"] = "1"
os.environ.setdefault("SRGRPO_CACHE", str(REPO / ".cache"))


def subprocess_env(**extra: str) -> dict[str, str]:
    """Environment for smoke-running the kit's commands as subprocesses (like a user would)."""
    env = dict(os.environ)
    env.update({"PYTHONPATH": str(REPO), "CUDA_VISIBLE_DEVICES": "", "PYTHONUNBUFFERED": "1"})
    env.update(extra)
    return env


@pytest.fixture(scope="session")
def tiny_dir() -> Path:
    """The offline tiny Qwen2 model and tokenizer, built once into the repo's git-ignored cache."""
    from srgrpo.tiny import tiny_model_dir

    return tiny_model_dir()


@pytest.fixture(scope="session")
def python() -> str:
    return sys.executable
