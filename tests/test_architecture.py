"""The kit's parts and layers (docs/architecture.md) hold: the import-linter contracts of pyproject.toml are kept.

The contracts: nothing imports upward between the parts of ``srgrpo/`` (notebook glue > commands and lab > evaluation
and figures > trainer > config and CPU path > math, models and tasks > plumbing), and parts of one layer do not import
each other; the same inside ``tasks/``, ``models/`` and ``lab/``; the math imports no TRL; the trainer knows no
dataset; figures read logs and JSON, never live trainers or models. The other tests check that the contracts can
fail: an upward import, and an import between siblings.
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
    import tomllib

    contracts = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    assert f"{len(contracts)} kept, 0 broken" in result.stdout


@pytest.mark.parametrize("module, line, chain", [
    ("advantages.py", "from srgrpo.trainer import SRGRPOTrainer", "srgrpo.advantages -> srgrpo.trainer"),  # upward
    # the loophole of the old one-line layer: a task importing the lab
    ("tasks/word_problems.py", "from srgrpo.lab.methods import METHODS", "srgrpo.tasks.word_problems -> srgrpo.lab.methods"),
    ("train/settings.py", "from srgrpo.lab import METHODS", "srgrpo.train.settings -> srgrpo.lab"),  # siblings
    ("plots/palette.py", "from srgrpo.eval_gsm8k.records import summarize", "srgrpo.plots.palette -> srgrpo.eval_gsm8k.records"),
    ("tasks/numbers.py", "from srgrpo.tasks.rewards import ANSWER_FORMAT", "srgrpo.tasks.numbers -> srgrpo.tasks.rewards"),
])
def test_a_wrong_import_breaks_a_contract(tmp_path, module, line, chain):
    copy = tmp_path / "kit"
    shutil.copytree(REPO / "srgrpo", copy / "srgrpo", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", copy / "pyproject.toml")
    with open(copy / "srgrpo" / module, "a", encoding="utf-8") as f:
        f.write(f"\n{line}  # noqa: E402\n")
    result = _lint_imports(copy)
    assert result.returncode != 0
    assert "BROKEN" in result.stdout and chain in result.stdout, result.stdout[-3000:]
