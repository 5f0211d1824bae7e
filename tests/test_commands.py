"""Every documented command still runs under its name: ``python -m srgrpo.X --help`` in a fresh interpreter.

The commands are packages or modules anywhere in the tree (``srgrpo/train/__main__.py``, ``srgrpo/gsm8k.py``, ...);
what users, the README, the docs and the notebooks type must not change when the tree does. The public imports of
the README's "The library" are checked beside them.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import REPO, subprocess_env

COMMANDS = {
    "srgrpo.train": "--list_presets",
    "srgrpo.eval_gsm8k": "--adapter",
    "srgrpo.plots": "--labels",
    "srgrpo.lab": "bandit",
    "srgrpo.gsm8k": "download",
}


@pytest.mark.parametrize("module", sorted(COMMANDS))
def test_every_command_answers_help(module):
    proc = subprocess.run([sys.executable, "-m", module, "--help"], env=subprocess_env(), cwd=REPO,
                          capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert COMMANDS[module] in proc.stdout, proc.stdout[-2000:]


def test_the_public_names_import_from_the_top():
    code = ("from srgrpo import MODES, SRGRPOConfig, SRGRPOTrainer, grpo_advantages, group_zscores, soft_advantages, "
            "soft_weights, __version__; from srgrpo.lab import compare_bandit, plot_bandit; "
            "from srgrpo.plots import plot_accuracy, plot_training; from srgrpo.train.command import main, parse_args; "
            "from srgrpo.eval_gsm8k import evaluate; print(SRGRPOTrainer.__name__)")
    proc = subprocess.run([sys.executable, "-c", code], env=subprocess_env(), cwd=REPO, capture_output=True,
                          text=True, timeout=240)
    assert proc.returncode == 0 and proc.stdout.split() == ["SRGRPOTrainer"], proc.stderr[-3000:]
