"""What 4-bit costs on a CPU: SmolLM2-135M-Instruct's weights and one training step in float32, bfloat16 and NF4.

    python benchmarks/bench_4bit_cpu.py [--repeats 3] [--rounds 2] [--threads 1] [--output data/benchmarks/cpu_4bit.json]

Each variant runs in a fresh process (so one variant's peak memory does not hide another's) and loads the policy as the
kit does, with ``srgrpo.models.loading.load_policy`` and LoRA r16 on every linear layer (the presets' recipe):

* ``float32`` and ``bfloat16``: full-precision weights (the CPU paths the kit trains on);
* ``nf4-float32`` and ``nf4-bfloat16``: bitsandbytes NF4 base weights (``--load_in_4bit true``) computing in float32
  or bfloat16, with the adapters in bfloat16 as TRL keeps them for a quantized model.

Measured, per variant: the weights' size (transformers' ``get_memory_footprint``: parameters and buffers), the
process's resident memory after loading, and for one training step's two halves, the median of ``--repeats`` after a
warm-up: the loss's forward and backward pass over one micro-batch of the ``smollm2_cpu`` preset's shape (8 rows of a
110-token prompt and a 64-token completion) and sampling 64 tokens for those 8 rows with ``generate`` (TRL's own
sampler, in train mode as TRL samples: the kit's CPU fast path steps aside on 4-bit weights), each as wall time and as
the process's CPU time (one thread: what the work itself costs, which other jobs on a shared machine hardly change);
the peak resident memory over all of it; for NF4, the relative error quantizing left in the linear weights. The
variants run interleaved ``--rounds`` times and each time is the best round's, since other jobs only ever slow a run
down. Ratios are against ``float32``. The JSON records the CPU (``lscpu``'s model name and flags), the thread count, the
library versions and the load average at the start and the end: on a shared machine the times are rough.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VARIANTS = {  # name -> (weights' dtype, load_in_4bit)
    "float32": ("float32", False),
    "bfloat16": ("bfloat16", False),
    "nf4-float32": ("float32", True),
    "nf4-bfloat16": ("bfloat16", True),
}
ROWS, PROMPT, COMPLETION = 8, 110, 64


def _clock() -> tuple[float, float]:
    """(wall, CPU) seconds now: the CPU time of this one-threaded process hardly depends on other jobs sharing the
    machine, its wall time does."""
    return time.perf_counter(), time.process_time()


def _since(start: tuple[float, float], end: tuple[float, float]) -> tuple[float, float]:
    return end[0] - start[0], end[1] - start[1]


def _rss_gb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024**2
    return float("nan")


def run_variant(name: str, repeats: int, threads: int) -> dict:
    import torch

    torch.set_num_threads(threads)
    from srgrpo.models.loading import load_policy

    dtype, four_bit = VARIANTS[name]
    start = time.perf_counter()
    model, tok, info = load_policy("smollm2", lora_r=16, lora_alpha=32, dtype=dtype, load_in_4bit=four_bit,
                                   device="cpu")
    load_s = time.perf_counter() - start
    if four_bit:  # TRL's rule for a quantized model's adapters (GRPOTrainer.__init__)
        for p in model.parameters():
            if p.requires_grad:
                p.data = p.data.to(torch.bfloat16)
    weights_mb = model.get_memory_footprint() / 1024**2
    rss_loaded = _rss_gb()
    # Before anything runs (bitsandbytes may repack 4-bit weights in place, below), against float32 weights loaded and
    # freed again, far below the step's peak memory.
    nf4_error = _nf4_error(model) if four_bit else None

    g = torch.Generator().manual_seed(0)
    vocab = model.config.vocab_size
    ids = torch.randint(10, vocab - 10, (ROWS, PROMPT + COMPLETION), generator=g)
    labels = ids.clone()
    labels[:, :PROMPT] = -100  # the loss scores the completion
    autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype == "bfloat16")
    # Train mode throughout, as inside GRPOTrainer, which samples without switching the policy to eval mode (these
    # models have no dropout). It matters for NF4: in eval mode without gradients, on a CPU with AVX512-BF16,
    # bitsandbytes repacks a 4-bit weight in place for its bfloat16 inference kernel.
    model.train()
    steps = []  # (forward, backward) as (wall, CPU) seconds
    for _ in range(repeats + 1):
        model.zero_grad(set_to_none=True)
        t0 = _clock()
        with autocast:
            loss = model(input_ids=ids, labels=labels).loss
        t1 = _clock()
        loss.backward()
        steps.append((_since(t0, t1), _since(t1, _clock())))
    steps = steps[1:]
    prompts = ids[:, :PROMPT]
    generation = []
    for _ in range(min(repeats, 2) + 1):
        t0 = _clock()
        with torch.no_grad(), autocast:
            out = model.generate(input_ids=prompts, attention_mask=torch.ones_like(prompts), max_new_tokens=COMPLETION,
                                 min_new_tokens=COMPLETION, do_sample=True, pad_token_id=tok.pad_token_id)
        generation.append(_since(t0, _clock()))
        assert out.shape[1] == PROMPT + COMPLETION
    generation = generation[1:]
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    forward, backward = (statistics.median(s[half][0] for s in steps) for half in (0, 1))
    forward_cpu, backward_cpu = (statistics.median(s[half][1] for s in steps) for half in (0, 1))
    return {
        "variant": name, "weights_dtype": dtype, "load_in_4bit": info.load_in_4bit,
        "weights_mb": round(weights_mb, 1), "rss_after_load_gb": round(rss_loaded, 2),
        "peak_rss_gb": round(peak_gb, 2),
        "load_s": round(load_s, 2), "loss_forward_s": round(forward, 3), "loss_backward_s": round(backward, 3),
        "forward_backward_s": round(forward + backward, 3),
        "generate_s": round(statistics.median(g[0] for g in generation), 3),
        "loss_forward_cpu_s": round(forward_cpu, 3), "loss_backward_cpu_s": round(backward_cpu, 3),
        "forward_backward_cpu_s": round(forward_cpu + backward_cpu, 3),
        "generate_cpu_s": round(statistics.median(g[1] for g in generation), 3),
        "repeats": repeats, "final_loss": round(float(loss), 4),
        "nf4_relative_error": None if nf4_error is None else round(nf4_error, 4),
    }


def _nf4_error(model) -> float:
    """``||W - dequantized(NF4(W))|| / ||W||`` over every 4-bit linear weight: what quantizing did to the base weights,
    against the float32 weights they came from."""
    import bitsandbytes.functional as bf
    import torch

    from srgrpo.models.sources import load_weights, resolve_model_path

    original = load_weights(resolve_model_path("smollm2"), torch.float32)
    error = norm = 0.0
    for name, module in model.get_base_model().named_modules():
        if type(module).__name__ == "Linear4bit" and name.endswith(".base_layer"):  # bitsandbytes' layer under peft's
            w = original.get_submodule(name.removesuffix(".base_layer")).weight.float()
            d = bf.dequantize_4bit(module.weight.data, module.weight.quant_state).float()
            error += (w - d).pow(2).sum().item()
            norm += w.pow(2).sum().item()
    del original
    return (error / norm) ** 0.5


def _best(runs: list[dict]) -> dict:
    """One variant's rounds as one result: each time the fastest round's, memory the largest round's."""
    best = dict(runs[0])
    for key in ("load_s", "loss_forward_s", "loss_backward_s", "forward_backward_s", "generate_s",
                "loss_forward_cpu_s", "loss_backward_cpu_s", "forward_backward_cpu_s", "generate_cpu_s"):
        best[key] = min(r[key] for r in runs)
    for key in ("rss_after_load_gb", "peak_rss_gb"):
        best[key] = max(r[key] for r in runs)
    best["rounds"] = len(runs)
    return best


def lscpu() -> dict:
    """``lscpu``'s model name and flags (the CPU decides what bfloat16 and bitsandbytes cost)."""
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return {"model_name": "unknown", "flags": []}
    fields = {k.strip(): v.strip() for k, _, v in (ln.partition(":") for ln in text.splitlines())}
    return {"model_name": fields.get("Model name", "unknown"), "cpus": fields.get("CPU(s)"),
            "flags": fields.get("Flags", "").split()}


@dataclass
class Settings:
    """``python benchmarks/bench_4bit_cpu.py --help`` lists these."""

    repeats: int = field(default=3, metadata={"help": "timed repeats after one warm-up"})
    rounds: int = field(default=2, metadata={
        "help": "times through all variants; each time is the best round's (other jobs only slow a run down)"})
    threads: int = field(default=1, metadata={"help": "torch threads"})
    variants: list[str] = field(default_factory=lambda: list(VARIANTS), metadata={"choices": list(VARIANTS),
                                                                                  "help": "what is measured"})
    output: str | None = field(default=None, metadata={"help": "write the results to this JSON file"})
    variant: str | None = field(default=None, metadata={"help": argparse.SUPPRESS})  # one variant per process


def parse_settings(argv: list[str] | None = None) -> Settings:
    """The command line (HfArgumentParser through the kit's parse_flags: ``--json`` fails naming ``--output``)."""
    from transformers import HfArgumentParser

    from srgrpo.plumbing.flags import parse_flags

    parser = HfArgumentParser(Settings, prog="python benchmarks/bench_4bit_cpu.py", allow_abbrev=False,
                              description=__doc__.splitlines()[0])
    return parse_flags(parser, sys.argv[1:] if argv is None else argv)[0]


def main() -> None:
    a = parse_settings()
    if a.variant:
        print("RESULT " + json.dumps(run_variant(a.variant, a.repeats, a.threads)), flush=True)
        return
    from srgrpo.plumbing.runtime import library_versions

    cpu = lscpu()
    load = os.getloadavg()
    print(f"CPU: {cpu['model_name']} ({cpu['cpus']} CPUs; avx512_bf16: {'avx512_bf16' in cpu['flags']}, "
          f"amx_bf16: {'amx_bf16' in cpu['flags']}); {a.threads} threads; load average {load[0]:.1f}", flush=True)
    env = dict(os.environ, HF_HUB_OFFLINE="1", CUDA_VISIBLE_DEVICES="", PYTHONPATH=str(REPO),
               OMP_NUM_THREADS=str(a.threads), TRANSFORMERS_VERBOSITY="error", PYTHONWARNINGS="ignore")
    rounds: dict[str, list[dict]] = {v: [] for v in a.variants}
    for index in range(a.rounds):  # interleaved, so a busy spell of the machine falls on every variant alike
        for variant in a.variants:
            cmd = [sys.executable, __file__, "--variant", variant, "--repeats", str(a.repeats),
                   "--threads", str(a.threads)]
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
            lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
            if proc.returncode != 0 or not lines:
                sys.exit(f"variant {variant} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
            r = json.loads(lines[-1][len("RESULT "):])
            rounds[variant].append(r)
            print(f"round {index + 1} {variant:13s} weights {r['weights_mb']:6.1f} MB | after load "
                  f"{r['rss_after_load_gb']:.2f} GB | peak {r['peak_rss_gb']:.2f} GB | CPU s: forward "
                  f"{r['loss_forward_cpu_s']:.2f} + backward {r['loss_backward_cpu_s']:.2f}, generate "
                  f"{r['generate_cpu_s']:.2f} (wall {r['forward_backward_s']:.2f}, {r['generate_s']:.2f})", flush=True)
    results = [_best(rounds[v]) for v in a.variants]
    base = next((r for r in results if r["variant"] == "float32"), None)
    ratios = {}
    if base:
        for r in results:
            ratios[r["variant"]] = {key: round(r[key] / base[key], 2) for key in
                                    ("weights_mb", "peak_rss_gb", "forward_backward_cpu_s", "generate_cpu_s",
                                     "forward_backward_s", "generate_s")}
            q = ratios[r["variant"]]
            print(f"{r['variant']:13s} / float32: weights x{q['weights_mb']:.2f}, peak memory x{q['peak_rss_gb']:.2f}, "
                  f"CPU time of forward + backward x{q['forward_backward_cpu_s']:.2f}, of generate "
                  f"x{q['generate_cpu_s']:.2f}")
    if a.output:
        Path(a.output).write_text(json.dumps({
            "what": "SmolLM2-135M-Instruct + LoRA r16 on the CPU: weights and one training step's halves, float32 / "
                    "bfloat16 / NF4 (benchmarks/bench_4bit_cpu.py)",
            "cpu": cpu, "threads": a.threads, "load_average_at_start": [round(x, 2) for x in load],
            "load_average_at_end": [round(x, 2) for x in os.getloadavg()], "rounds": a.rounds,
            "shape": {"rows": ROWS, "prompt_tokens": PROMPT, "completion_tokens": COMPLETION},
            "versions": library_versions(), "results": results, "ratios_to_float32": ratios,
        }, indent=2) + "\n")


if __name__ == "__main__":
    main()
