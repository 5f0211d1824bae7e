"""The evaluate command's decoding on a CPU: the kit's greedy sampler against transformers' ``generate``.

    python benchmarks/bench_eval.py [--limit 32] [--batch_size 32] [--max_new_tokens 96] [--threads 2] [--rounds 2]

Both decode the same held-out synthetic problems with SmolLM2-135M-Instruct (greedy, the evaluate command's
``generate_greedy``), alternating over ``--rounds``; it prints the seconds of each (best round), the ratio, and whether
the answers are identical token for token. The CPU is named first: ratios differ between CPUs.
"""

from __future__ import annotations

import argparse
import time


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--limit", type=int, default=32)
    p.add_argument("--batch_size", type=int, default=32)
    p.add_argument("--max_new_tokens", type=int, default=96)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=2)
    a = p.parse_args()
    import torch

    import srgrpo.cpu.greedy as generation
    from srgrpo.models.cpu_precision import choose_cpu_precision
    from srgrpo.models.loading import load_for_inference
    from srgrpo.tasks.word_problems import load_problems

    torch.set_num_threads(a.threads)
    precision = choose_cpu_precision("auto")
    print(f"CPU: {precision.cpu}; {a.threads} threads; evaluated in {precision.describe()}", flush=True)
    model, tok = load_for_inference("smollm2", dtype=precision.dtype, device="cpu")
    problems = load_problems("arithmetic", "test", limit=a.limit)
    messages = [row["prompt"] for row in problems]
    fast_path = generation._fast_path
    best: dict[str, float] = {}
    answers: dict[str, list] = {}
    for _ in range(a.rounds):
        for name, fast in (("generate", False), ("kit", True)):
            generation._fast_path = (lambda model: fast_path(model)) if fast else (lambda model: False)
            start = time.perf_counter()
            out = []
            for i in range(0, len(messages), a.batch_size):
                out += generation.generate_greedy(model, tok, messages[i:i + a.batch_size], a.max_new_tokens)
            best[name] = min(best.get(name, float("inf")), time.perf_counter() - start)
            answers[name] = out
    generation._fast_path = fast_path
    same = sum(x == y for x, y in zip(answers["generate"], answers["kit"]))
    tokens = sum(n for _, n, _ in answers["kit"])
    print(f"{len(messages)} problems, {a.max_new_tokens} new tokens at most, batches of {a.batch_size}: "
          f"generate {best['generate']:.1f} s, kit {best['kit']:.1f} s: x{best['generate'] / best['kit']:.2f} faster; "
          f"{tokens} answer tokens ({tokens / best['kit']:.0f} tok/s); identical answers {same}/{len(messages)}")


if __name__ == "__main__":
    main()
