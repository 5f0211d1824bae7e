"""The evaluate command's decoding on a CPU: the kit's greedy sampler against transformers' ``generate``.

    python benchmarks/bench_eval.py [--eval_limit 32] [--eval_batch_size 32] [--max_new_tokens 96] [--threads 2]
                                    [--rounds 2] [--model_name_or_path smollm2]

Both decode the same held-out synthetic problems with SmolLM2-135M-Instruct (``--model_name_or_path``; ``tiny``, the
offline random model, checks the script in seconds) greedily (the evaluate command's ``generate_greedy``), alternating
over ``--rounds``; it prints the seconds of each (best round), the ratio, and whether
the answers are identical token for token. The CPU is named first: ratios differ between CPUs.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field


@dataclass
class Settings:
    """``python benchmarks/bench_eval.py --help`` lists these."""

    eval_limit: int = field(default=32, metadata={"help": "the first N held-out synthetic problems"})
    eval_batch_size: int = field(default=32, metadata={"help": "problems generated together"})
    max_new_tokens: int = field(default=96, metadata={"help": "token limit of an answer"})
    threads: int = field(default=2, metadata={"help": "torch threads"})
    rounds: int = field(default=2, metadata={"help": "rounds of both decoders, alternating (the best round counts)"})
    model_name_or_path: str = field(default="smollm2", metadata={
        "help": "the model decoding: smollm2 (SmolLM2-135M-Instruct, offline from its wheel), tiny, or any the "
                "evaluate command loads"})


def parse_settings(argv: list[str] | None = None) -> Settings:
    """The command line (HfArgumentParser; a renamed flag, such as the old ``--limit``, fails naming its new name)."""
    from transformers import HfArgumentParser

    from srgrpo.plumbing.flags import parse_flags

    parser = HfArgumentParser(Settings, prog="python benchmarks/bench_eval.py", allow_abbrev=False,
                              description=__doc__.splitlines()[0])
    return parse_flags(parser, sys.argv[1:] if argv is None else argv)[0]


def main() -> None:
    a = parse_settings()
    import torch

    import srgrpo.cpu.greedy as generation
    from srgrpo.models.cpu_precision import choose_cpu_precision
    from srgrpo.models.loading import load_for_inference
    from srgrpo.tasks.word_problems import load_problems

    torch.set_num_threads(a.threads)
    precision = choose_cpu_precision("auto")
    print(f"CPU: {precision.cpu}; {a.threads} threads; evaluated in {precision.describe()}", flush=True)
    model, tok = load_for_inference(a.model_name_or_path, dtype=precision.dtype, device="cpu")
    problems = load_problems("arithmetic", "test", limit=a.eval_limit)
    messages = [row["prompt"] for row in problems]
    fast_path = generation._fast_path
    best: dict[str, float] = {}
    answers: dict[str, list] = {}
    for _ in range(a.rounds):
        for name, fast in (("generate", False), ("kit", True)):
            generation._fast_path = (lambda model: fast_path(model)) if fast else (lambda model: False)
            start = time.perf_counter()
            out = []
            for i in range(0, len(messages), a.eval_batch_size):
                out += generation.generate_greedy(model, tok, messages[i:i + a.eval_batch_size], a.max_new_tokens)
            best[name] = min(best.get(name, float("inf")), time.perf_counter() - start)
            answers[name] = out
    generation._fast_path = fast_path
    same = sum(x == y for x, y in zip(answers["generate"], answers["kit"]))
    tokens = sum(n for _, n, _ in answers["kit"])
    print(f"{len(messages)} problems, {a.max_new_tokens} new tokens at most, batches of {a.eval_batch_size}: "
          f"generate {best['generate']:.1f} s, kit {best['kit']:.1f} s: x{best['generate'] / best['kit']:.2f} faster; "
          f"{tokens} answer tokens ({tokens / best['kit']:.0f} tok/s); identical answers {same}/{len(messages)}")


if __name__ == "__main__":
    main()
