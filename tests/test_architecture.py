"""The kit's layers (docs/architecture.md) hold: the import-linter contracts of pyproject.toml are kept.

The contracts: nothing imports upward (notebook glue > commands > experiments > figures > trainer and models > data
and rewards > math > plumbing); the math imports no TRL; the trainer knows no dataset; figures read logs and JSON,
never live trainers or models. A second test checks that the contracts can fail.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

pytest.importorskip("importlinter", reason="import-linter is in the dev extra: pip install -e '.[dev]'")


def _lint_imports(root: Path) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("lint-imports")
    cmd = [str(exe)] if exe.is_file() else [shutil.which("lint-imports") or "lint-imports"]
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(root), "HOME": str(root)}
    return subprocess.run(cmd + ["--no-cache"], cwd=root, env=env, capture_output=True, text=True, timeout=120)


def test_the_import_contracts_are_kept():
    result = _lint_imports(REPO)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "4 kept, 0 broken" in result.stdout


def test_an_upward_import_breaks_a_contract(tmp_path):
    copy = tmp_path / "kit"
    shutil.copytree(REPO / "srgrpo", copy / "srgrpo", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", copy / "pyproject.toml")
    with open(copy / "srgrpo" / "advantages.py", "a", encoding="utf-8") as f:
        f.write("\nfrom srgrpo.trainer import SRGRPOTrainer  # noqa: E402  (upward, and TRL into the math)\n")
    result = _lint_imports(copy)
    assert result.returncode != 0
    assert "BROKEN" in result.stdout and "srgrpo.advantages -> srgrpo.trainer" in result.stdout
