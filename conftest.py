"""Root pytest setup: notebook kernels under ``pytest --nbval`` get the environment their outputs were stored in.

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
from pathlib import Path

import pytest

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
