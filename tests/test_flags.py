"""One name for one thing: docs/training.md's table of flags against every command's parser, the old names refused
with their new ones, and every command line written in the README, the docs and the notebooks parsed by its command.

The parsers are built, not run (no model is loaded); two commands also run as subprocesses with an old name.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest

from srgrpo.plumbing.flags import RENAMED, RenamedFlagError, parse_flags, refuse_renamed, renamed_flags

from conftest import REPO, subprocess_env

TABLE_PAGE = REPO / "docs" / "training.md"


def _hf(*classes):
    from transformers import HfArgumentParser

    return HfArgumentParser(classes, allow_abbrev=False)


def _parsers() -> dict[str, object]:
    """Every command's parser (for ``plots`` and ``gsm8k`` their dataclass part; their positional is added as they do)."""
    from srgrpo.__main__ import MainJobSettings
    from srgrpo.eval_gsm8k.command import EvalSettings
    from srgrpo.gsm8k import GSM8KSettings
    from srgrpo.lab.bandit.command import BanditCommand
    from srgrpo.lab.real.settings import RealLabSettings
    from srgrpo.lab.recipe.plan import RecipeSettings
    from srgrpo.lab.report import ReportCommand
    from srgrpo.lab.stability.plan import StabilitySettings
    from srgrpo.lab.stability.power import PowerSettings
    from srgrpo.lab.wrong_work.plan import WrongWorkSettings
    from srgrpo.plots.command import PlotSettings
    from srgrpo.train.settings import build_parser

    return {"srgrpo": _hf(MainJobSettings), "train": build_parser(), "evaluate": _hf(EvalSettings),
            "plots": _hf(PlotSettings), "gsm8k": _hf(GSM8KSettings), "lab bandit": _hf(BanditCommand),
            "lab real": _hf(RealLabSettings), "lab stability": _hf(StabilitySettings), "lab recipe": _hf(RecipeSettings),
            "lab power": _hf(PowerSettings), "lab report": _hf(ReportCommand),
            "lab wrong_work": _hf(WrongWorkSettings)}


@pytest.fixture(scope="module")
def parsers():
    return _parsers()


def _flags_of(parser) -> set[str]:
    """A parser's flags by their canonical names (``--no_X`` complements and dashed aliases are the parser's own)."""
    out = set()
    for action in parser._actions:
        names = [o for o in action.option_strings if o.startswith("--") and "-" not in o[2:]]
        out |= {n for n in names if not (n.startswith("--no_") and n[5:] in {a.dest for a in parser._actions})}
    return out - {"--help"}


def _kit_flags(name: str, parser) -> set[str]:
    """The flags a command defines itself: for the train command its script's and SRGRPOConfig's own, not the
    hundreds TRL and transformers give it under their names."""
    if name != "train":
        return _flags_of(parser)
    from trl import GRPOConfig

    from srgrpo.config import SRGRPOConfig
    from srgrpo.train.settings import ScriptArguments

    inherited = {f.name for f in fields(GRPOConfig)}
    own = {f.name for f in fields(ScriptArguments)} | {f.name for f in fields(SRGRPOConfig) if f.name not in inherited}
    return {f"--{n}" for n in own}


def table() -> dict[str, set[str]]:
    """docs/training.md's table: flag -> the commands it names (annotations such as "(TRL)" dropped)."""
    text = TABLE_PAGE.read_text()
    section = text[text.index("## One name for one thing"):]
    rows = [line for line in section.splitlines() if line.startswith("| ") and "`--" in line]
    out: dict[str, set[str]] = {}
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        commands = {re.sub(r"\s*\(.*?\)", "", c).strip() for c in cells[2].split(",")}
        for flag in re.findall(r"`(--[a-z0-9_]+)`", cells[1]):
            assert flag not in out, f"{flag} has two rows in the table"
            out[flag] = commands
    return out


def test_every_flag_of_every_command_is_in_the_table(parsers):
    documented = table()
    missing = [(name, flag) for name, parser in parsers.items() for flag in sorted(_kit_flags(name, parser))
               if name not in documented.get(flag, set())]
    assert not missing, f"flags missing from docs/training.md's table: {missing}"


def test_every_row_of_the_table_is_a_flag_of_its_commands(parsers):
    wrong = [(flag, name) for flag, names in table().items() for name in sorted(names)
             if name not in parsers or flag not in _flags_of(parsers[name])]
    assert not wrong, f"the table names flags the commands do not have: {wrong}"


def test_no_command_keeps_an_old_name(parsers):
    kept = [(name, old) for name, parser in parsers.items() for old in RENAMED if old in _flags_of(parser)]
    assert not kept, kept
    assert not set(RENAMED) & set(table())


def test_an_old_name_fails_with_its_new_name(parsers):
    for old, new in RENAMED.items():
        with pytest.raises(RenamedFlagError, match=re.escape(f"{old} is now {new}")):
            refuse_renamed([old, "1"])
        with pytest.raises(RenamedFlagError, match=re.escape(new)):
            refuse_renamed([f"{old.replace('_', '-')}=1"])
    assert renamed_flags(["--seeds", "1"], extra={"--seeds": "--num_seeds"}) == [("--seeds", "--num_seeds")]
    assert renamed_flags(["--seeds", "1", "2"]) == []  # a current name of the lab's
    with pytest.raises(SystemExit) as exit_:
        parse_flags(parsers["evaluate"], ["--model", "tiny"])
    assert exit_.value.code == 2


@pytest.mark.parametrize("cmd, old, new", [
    (["srgrpo.train", "--preset", "tiny_cpu", "--dry_run", "true", "--lr", "1e-4"], "--lr", "--learning_rate"),
    (["srgrpo.lab", "bandit", "--output", "x.json", "--seeds", "3"], "--seeds", "--num_seeds"),
])
def test_the_real_commands_name_the_new_flag(tmp_path, cmd, old, new):
    proc = subprocess.run([sys.executable, "-m", *cmd], capture_output=True, text=True, cwd=tmp_path,
                          env=subprocess_env(), timeout=300)
    assert proc.returncode == 2 and f"{old} is now {new}" in proc.stderr, proc.stderr[-2000:]


_COMMAND = re.compile(r"(?:python -m|accelerate launch -m|torchrun(?: --\S+)* -m) (srgrpo(?:\.[a-z_0-9]+)?)"
                      r"(?: (bandit|real|stability|recipe|power|report|wrong_work))?([^`\n#]*)")
_NAMES = {"srgrpo": "srgrpo", "srgrpo.train": "train", "srgrpo.eval_gsm8k": "evaluate", "srgrpo.plots": "plots",
          "srgrpo.gsm8k": "gsm8k"}


def _written_commands():
    """``(where, command name, flags)`` of every kit command line in the README, docs/, the notebooks' cells and the
    package's docstrings."""
    texts = [(p.relative_to(REPO), p.read_text()) for p in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md")),
                                                            *sorted((REPO / "srgrpo").rglob("*.py"))]]
    for nb in sorted((REPO / "notebooks").glob("*.ipynb")):
        cells = json.loads(nb.read_text())["cells"]
        texts.append((nb.relative_to(REPO), "\n".join("".join(c["source"]) for c in cells)))
    for where, text in texts:
        for module, experiment, rest in _COMMAND.findall(text):
            name = f"lab {experiment}" if module == "srgrpo.lab" and experiment else _NAMES.get(module)
            if name is None:
                continue
            yield where, name, re.findall(r"(?<![\w-])(--[a-z][a-z0-9_]*)", rest)


def test_every_written_command_line_uses_flags_its_command_has(parsers):
    seen, wrong = 0, []
    for where, name, flags in _written_commands():
        known = _flags_of(parsers[name]) | {f"--no_{f[2:]}" for f in _flags_of(parsers[name])} | {"--help", "--flag",
                                                                                                   "--list_presets"}
        seen += 1
        wrong += [(str(where), name, flag) for flag in flags if flag not in known]
    assert seen > 30, seen  # the pattern finds the commands
    assert not wrong, f"command lines with flags their command lacks: {wrong}"
