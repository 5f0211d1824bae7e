"""Speed of the advantage functions: SR-GRPO's soft advantages next to GRPO's z-score, same tensor.

    python benchmarks/bench_advantages.py [--groups 4096] [--num_generations 16] [--repeats 300] [--threads N]

Prints the median time of each (and its ratio to GRPO's) for rewards without and with NaNs.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from dataclasses import dataclass, field

import torch

from srgrpo.advantages import grpo_advantages, soft_advantages


@dataclass
class Settings:
    """``python benchmarks/bench_advantages.py --help`` lists these."""

    groups: int = field(default=4096, metadata={"help": "groups (prompts) in the reward tensor"})
    num_generations: int = field(default=16, metadata={"help": "completions a group"})
    repeats: int = field(default=300, metadata={"help": "timed calls of each function (in 5 interleaved blocks)"})
    threads: int | None = field(default=None, metadata={"help": "torch threads (None: torch's own choice)"})


def parse_settings(argv: list[str] | None = None) -> Settings:
    """The command line (HfArgumentParser; a renamed flag, such as the old ``--k``, fails naming its new name)."""
    from transformers import HfArgumentParser

    from srgrpo.plumbing.flags import parse_flags

    parser = HfArgumentParser(Settings, prog="python benchmarks/bench_advantages.py", allow_abbrev=False,
                              description=__doc__.splitlines()[0])
    return parse_flags(parser, sys.argv[1:] if argv is None else argv)[0]


def median_ms(fn, repeats: int) -> float:
    for _ in range(20):  # warm-up: allocator and thread pool
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def main() -> None:
    a = parse_settings()
    if a.threads:
        torch.set_num_threads(a.threads)
    g = torch.Generator().manual_seed(0)
    clean = torch.rand(a.groups * a.num_generations, generator=g)
    with_nan = clean.clone()
    with_nan[torch.rand(clean.shape, generator=g) < 0.05] = float("nan")
    rows = {}
    for name, r in (("no NaN", clean), ("5% NaN", with_nan)):
        # Interleave the three so that load from elsewhere hits them alike.
        fns = {
            "grpo_advantages": lambda r=r: grpo_advantages(r, a.num_generations),
            "soft_advantages shared": lambda r=r: soft_advantages(r, a.num_generations, tau=0.5, mode="shared"),
            "soft_advantages per_sample": lambda r=r: soft_advantages(r, a.num_generations, tau=0.5, mode="per_sample"),
        }
        samples = {k: [] for k in fns}
        for _ in range(5):
            for k, fn in fns.items():
                samples[k].append(median_ms(fn, a.repeats // 5))
        med = {k: statistics.median(v) for k, v in samples.items()}
        rows[name] = med
        print(f"{a.groups} groups x {a.num_generations} completions, {name}, torch threads {torch.get_num_threads()}:")
        for k, v in med.items():
            print(f"  {k:28s} {v:7.3f} ms   x{v / med['grpo_advantages']:.2f} of GRPO")
    print(json.dumps({"groups": a.groups, "num_generations": a.num_generations, "threads": torch.get_num_threads(),
                      "median_ms": rows}))


if __name__ == "__main__":
    main()
