"""``python -m srgrpo.gsm8k {download,info} [--data_dir DIR]``: get GSM8K's files, and see where each split is found.

The command only; the data and how it is read and fetched are :mod:`srgrpo.tasks.gsm8k` (the kit's real task)::

    python -m srgrpo.gsm8k download [--data_dir DIR]   # fetch both splits from the hub into DIR (default data/gsm8k)
    python -m srgrpo.gsm8k info [--data_dir DIR]       # where each split is found, and how many problems it has
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from srgrpo.tasks.gsm8k import (HOW_TO_PROVIDE, SPLITS, GSM8KUnavailableError, default_data_dir, download_gsm8k,
                                find_data_file)

__all__ = ["main"]


def _count_lines(path: Path) -> int:
    with path.open(encoding="utf-8") as f:
        return sum(1 for line in f if line.strip())


def main(argv: list[str] | None = None) -> int:
    """``python -m srgrpo.gsm8k {download,info} [--data_dir DIR]``; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m srgrpo.gsm8k", description="Get and inspect the GSM8K data.")
    sub = parser.add_subparsers(dest="command", required=True)
    p_download = sub.add_parser("download", help="download train and test from the Hugging Face hub as JSONL")
    p_download.add_argument(
        "--data_dir", default=None, help=f"target folder (default: {default_data_dir()})"
    )
    p_info = sub.add_parser("info", help="show where each split is found and how many problems it has")
    p_info.add_argument("--data_dir", default=None, help="look only in this folder")
    args = parser.parse_args(argv)

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
