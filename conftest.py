"""Root pytest setup: notebook kernels under ``pytest --nbval`` get the environment their outputs were stored in,
and tests that train with TRL's own GRPOTrainer skip where TRL cannot train on this CPU.

The notebooks' outputs are stored by ``python notebooks/execute.py``, which runs every kernel with
``NOTEBOOK_ENV`` (CPU only, offline, no progress bars, no warnings; defined in that script). Strict nbval compares
those outputs with a fresh run, so its kernels must see the same variables, on a laptop, a CI runner or a GPU
machine alike. nbval starts a notebook's kernel while setting up the notebook's first cell and the kernel inherits
this process's environment, so the variables are added around that setup only and restored afterwards: the rest
of the test session is left as it was.
"""

from __future__ import annotations

import importlib.util
import os
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest

# Several pytest-xdist workers (`-n auto`) share the machine's cores: each gets its share of threads, and so do the
# commands, notebook kernels and child interpreters it starts (they inherit OMP_NUM_THREADS), instead of every
# process running as many threads as there are cores. A single process keeps torch's own default.
_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
if _WORKERS > 1 and "OMP_NUM_THREADS" not in os.environ:
    os.environ["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // _WORKERS))

_EXECUTE = Path(__file__).resolve().parent / "notebooks" / "execute.py"


def _notebook_env() -> dict[str, str]:
    spec = importlib.util.spec_from_file_location("_srgrpo_notebooks_execute", _EXECUTE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return dict(module.NOTEBOOK_ENV)


NOTEBOOK_ENV = _notebook_env()


def _is_notebook_item(item: pytest.Item) -> bool:
    return type(item).__module__.startswith("nbval")


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_setup(item: pytest.Item):
    if not _is_notebook_item(item):
        yield
        return
    saved = {key: os.environ.get(key) for key in NOTEBOOK_ENV}
    os.environ.update(NOTEBOOK_ENV)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


# -- tests that train with TRL's own (pristine) GRPOTrainer on the CPU ----------------------------------------------
#
# Mark such a test ``@pytest.mark.trains_with_trl`` (registered in pyproject.toml). trl 1.15, the version Unsloth
# 2026.10.9 caps TRL at (the Unsloth / Colab environment, requirements/colab-unsloth.txt), cannot train on a CPU
# without Triton: its fused LM-head kernel is None there and training dies with
# "'NoneType' object has no attribute 'apply'" (fixed in trl 1.16). Those tests skip there, with this reason; the
# main environment (trl 1.16) runs them. Training on top of Unsloth's rewrite works on trl 1.15 (tests/test_unsloth.py).

#: Notebooks whose cells train with TRL's GRPOTrainer (notebook 4's CPU smoke run trains the tiny model).
TRAINING_NOTEBOOKS = {"03_trainer_on_cpu.ipynb", "04_gsm8k_unsloth.ipynb"}


def trl_cpu_training_blocker() -> str | None:
    """Why TRL's own GRPOTrainer cannot train on this CPU-only machine, or None when it can."""
    from packaging.version import Version

    try:
        trl_version = Version(version("trl"))
    except PackageNotFoundError:
        return "trl is not installed"
    if trl_version < Version("1.16") and importlib.util.find_spec("triton") is None:
        return (
            f"trains with TRL's own GRPOTrainer on the CPU, which needs trl >= 1.16 here: trl {trl_version}'s fused "
            "LM-head kernel needs Triton (not installed), fixed in trl 1.16. Runs in the main environment."
        )
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = trl_cpu_training_blocker()
    for item in items:
        if _is_notebook_item(item) and Path(str(item.fspath)).name in TRAINING_NOTEBOOKS:
            item.add_marker(pytest.mark.trains_with_trl)
        if reason and item.get_closest_marker("trains_with_trl"):
            item.add_marker(pytest.mark.skip(reason=reason))
