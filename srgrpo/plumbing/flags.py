"""The kit's command-line language: one name for one thing, and a clear error for a name that was renamed.

Every command parses its settings dataclass(es) with ``transformers.HfArgumentParser`` (``python -m srgrpo.train``
with TRL's ``TrlParser``, its subclass), so booleans (``--flag true|false``), lists (``--seeds 1 2 3``) and ``--help``
behave alike everywhere. Where TRL or transformers already name a thing (``--output_dir``, ``--max_steps``,
``--learning_rate``, ``--num_generations``, ``--seed``, ``--model_name_or_path``, ``--use_peft``,
``--dataset_name``, ``--resume_from_checkpoint``, ``--use_cpu``), the kit uses that name; docs/training.md's table lists
every flag and the commands that take it (a test reads every command's parser against it).

Before 0.1.0 the commands spoke several dialects. :data:`RENAMED` maps each old name to its new one; a command calls
:func:`refuse_renamed` on its arguments first, so an old name fails with a message that names the new one instead of
argparse's "unrecognized arguments" (or, worse, an abbreviation silently matching another flag).
"""

from __future__ import annotations

from typing import Iterable, Mapping, Sequence

__all__ = ["RENAMED", "RenamedFlagError", "renamed_flags", "refuse_renamed", "parse_flags"]

#: Old flag -> new flag, in every command (CHANGELOG.md lists them with the commands that had them).
RENAMED: dict[str, str] = {
    "--model": "--model_name_or_path",
    "--model_name": "--model_name_or_path",
    "--use_lora": "--use_peft",
    "--dataset": "--dataset_name",
    "--dataset_split": "--dataset_train_split",
    "--split": "--dataset_test_split",
    "--dataset_limit": "--train_limit",
    "--limit": "--eval_limit",
    "--eval_problems": "--eval_limit",
    "--eval_max_new_tokens": "--max_new_tokens",
    "--batch_size": "--eval_batch_size",
    "--steps": "--max_steps",
    "--lr": "--learning_rate",
    "--k": "--num_generations",
    "--resume": "--resume_from_checkpoint",
    "--device": "--use_cpu",
    "--dtype": "--cpu_precision",
    "--workdir": "--work_dir",
    "--json": "--output",
}


class RenamedFlagError(ValueError):
    """A command line used a flag's old name."""


def renamed_flags(argv: Iterable[str], fields: Iterable[str] = (),
                  extra: Mapping[str, str] | None = None) -> list[tuple[str, str]]:
    """``(old, new)`` for every renamed flag in ``argv`` (``--name value`` or ``--name=value``; dashes or
    underscores), except names that are still one of the command's ``fields``; ``extra`` adds a command's own renames."""
    table = {**RENAMED, **(extra or {})}
    current = {f"--{name}" for name in fields}
    found = []
    for arg in argv:
        if not arg.startswith("--"):
            continue
        name = "--" + arg[2:].split("=", 1)[0].replace("-", "_")
        if name in table and name not in current and (name, table[name]) not in found:
            found.append((name, table[name]))
    return found


def refuse_renamed(argv: Iterable[str], fields: Iterable[str] = (), extra: Mapping[str, str] | None = None,
                   prog: str = "srgrpo") -> None:
    """Raise :class:`RenamedFlagError` naming the new flag for each old one in ``argv`` (see :func:`renamed_flags`)."""
    found = renamed_flags(argv, fields, extra)
    if found:
        pairs = "; ".join(f"{old} is now {new}" for old, new in found)
        raise RenamedFlagError(f"{prog}: {pairs} (the kit's flags were renamed to one name each: the table in "
                               "docs/training.md, the list in CHANGELOG.md). `--help` lists the flags.")


def parse_flags(parser, argv: Sequence[str], extra: Mapping[str, str] | None = None) -> tuple:
    """``parser.parse_args_into_dataclasses(argv)`` for an ``HfArgumentParser``, after :func:`refuse_renamed` (an old
    name exits with status 2 and the parser's usage, as argparse does for an unknown flag)."""
    argv = list(argv)
    try:
        refuse_renamed(argv, {action.dest for action in parser._actions}, extra, parser.prog)
    except RenamedFlagError as exc:
        parser.error(str(exc).removeprefix(f"{parser.prog}: "))
    *parsed, remaining = parser.parse_args_into_dataclasses(args=argv, return_remaining_strings=True)
    if remaining:  # argparse's own wording and exit status for a flag no setting has
        parser.error(f"unrecognized arguments: {' '.join(remaining)}")
    return tuple(parsed)
