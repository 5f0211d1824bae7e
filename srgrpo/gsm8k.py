"""``python -m srgrpo.gsm8k {download,info} [--data_dir DIR]``: get GSM8K's files, and see where each split is found.

The command only; the data and how it is read and fetched are :mod:`srgrpo.tasks.gsm8k` (the kit's real task)::

    python -m srgrpo.gsm8k download [--data_dir DIR]   # fetch both splits from the hub into DIR (default data/gsm8k)
    python -m srgrpo.gsm8k info [--data_dir DIR]       # where each split is found, and how many problems it has
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from srgrpo.tasks.gsm8k import (HOW_TO_PROVIDE, SPLITS, GSM8KUnavailableError, default_data_dir, download_gsm8k,
                                find_data_file)

__all__ = ["main"]


def _count_lines(path: Path) -> int:
    with path.open(encoding="utf-8") as f:
        return sum(1 for line in f if line.strip())


@dataclass
class GSM8KSettings:
    """``python -m srgrpo.gsm8k --help`` lists these, after the action (download or info)."""

    data_dir: str | None = field(default=None, metadata={
        "help": f"download: the target folder (default: {default_data_dir()}); info: look only in this folder"})


def main(argv: list[str] | None = None) -> int:
    """``python -m srgrpo.gsm8k {download,info} [--data_dir DIR]``; returns the exit status."""
    from transformers import HfArgumentParser

    from srgrpo.plumbing.flags import parse_flags

    parser = HfArgumentParser(GSM8KSettings, prog="python -m srgrpo.gsm8k", allow_abbrev=False,
                              description="Get and inspect the GSM8K data: download fetches train and test from the "
                                          "Hugging Face hub as JSONL; info shows where each split is found and how "
                                          "many problems it has.")
    parser.add_argument("command", choices=["download", "info"], help="download or info")
    args, positional = parse_flags(parser, sys.argv[1:] if argv is None else argv)
    args.command = positional.command

    if args.command == "download":
        target = Path(args.data_dir).expanduser() if args.data_dir else default_data_dir()
        try:
            counts = download_gsm8k(target)
        except GSM8KUnavailableError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        for split, n in counts.items():
            print(f"{split}: {n} problems -> {target / f'{split}.jsonl'}")
        return 0

    status = 0
    for split in SPLITS:
        try:
            path = find_data_file(split, args.data_dir)
        except FileNotFoundError:
            print(f"{split}: not found: {Path(args.data_dir).expanduser() / f'{split}.jsonl'}", file=sys.stderr)
            status = 1
            continue
        if path is None:
            print(f"{split}: not found locally (load_gsm8k would try the hub). {HOW_TO_PROVIDE}")
            status = 1
        else:
            print(f"{split}: {_count_lines(path)} problems in {path}")
    return status


if __name__ == "__main__":
    sys.exit(main())
