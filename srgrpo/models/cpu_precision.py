"""The precision a CPU trains in: bfloat16 where the CPU computes it natively and it measures faster, else float32.

Why it depends on the CPU
-------------------------
A CPU with native bfloat16 arithmetic (x86: AMX-BF16 or AVX512_BF16; ARM: the BF16 extension) multiplies bf16
matrices several times faster than float32 ones: the project's notes measured a loss-shaped product 9x faster with
AMX, and a SmolLM2 loss forward + backward in 5.3 s instead of 10 s. A CPU without it *emulates* bf16: on an AMD EPYC
(AVX2 only) the same product ran about 100x slower than in float32. So the kit never guesses:

1. **Capability**: the CPU's feature flags (``/proc/cpuinfo`` on Linux) must name a native bf16 instruction set;
   without one the choice is float32 and nothing is measured.
2. **A measured probe**: with one, a loss-shaped matrix product is timed in both dtypes (well under a second); bf16
   is chosen only when it is at least :data:`MIN_SPEEDUP` times faster. The two dtypes are timed in turns and each
   keeps its best time, so load on the cores slows both alike. The result is cached per CPU model, flags and torch
   version in the kit's cache (``.cache/cpu_precision.json``), so the probe runs once per machine; a probe measured on
   a busy machine (load above :data:`BUSY_LOAD` a core) is used for that run only and measured again the next time.

What bf16 means on the CPU path: the base weights are loaded in bfloat16, peft keeps the LoRA adapters in float32
(its ``autocast_adapter_dtype``), and the loss runs under bf16 autocast (``bf16=True``: accelerate's
``torch.autocast("cpu")``). ``--cpu_precision float32|bfloat16`` (or :data:`ENV_VAR`) forces either (a forced bf16
on a CPU without native support is allowed, with a warning: it is slow). :class:`CPUPrecision` is what the one-line
loading notice and ``srgrpo_config.yaml`` report.
"""

from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from srgrpo.plumbing.runtime import atomic_write_text, cache_root

__all__ = ["CPUPrecision", "MIN_SPEEDUP", "BUSY_LOAD", "CHOICES", "ENV_VAR", "choose_cpu_precision", "cpu_model_name",
           "native_bf16_flags", "probe_bf16_speedup"]

CHOICES = ("auto", "float32", "bfloat16")
#: Sets what ``auto`` means on this machine (``float32`` or ``bfloat16``); the tests and the notebooks' stored outputs
#: pin ``float32`` with it, so they print the same numbers on every CPU.
ENV_VAR = "SRGRPO_CPU_PRECISION"
#: bf16 must beat float32 by this factor in the probe: below it, the rounding is not worth its speed.
MIN_SPEEDUP = 1.5
#: A probe measured above this load average per core (other work on the cores) is used once but not cached.
BUSY_LOAD = 0.75
_X86_BF16 = ("amx_bf16", "avx512_bf16")
_PROBE_SHAPE = (512, 576, 1536)  # rows x hidden x intermediate: a slice of SmolLM2's loss forward


@dataclass
class CPUPrecision:
    """The choice and its grounds (``dtype`` is ``"bfloat16"`` or ``"float32"``)."""

    dtype: str
    requested: str
    reason: str
    cpu: str
    native_bf16: list[str] = field(default_factory=list)
    probe: dict[str, Any] | None = None

    @property
    def bf16(self) -> bool:
        return self.dtype == "bfloat16"

    def torch_dtype(self):
        import torch

        return getattr(torch, self.dtype)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        """One line: ``"float32 (CPU precision auto: AMD EPYC has no native bf16)"``."""
        return f"{self.dtype} ({self.note()})"

    def note(self) -> str:
        """Why, without the dtype: ``"CPU precision auto: AMD EPYC has no native bf16"``."""
        return f"CPU precision {self.requested}: {self.reason}"


def _cpuinfo() -> str:
    try:
        return Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return ""


def cpu_model_name(cpuinfo: str | None = None) -> str:
    """The CPU's model name (``lscpu``'s "Model name"), or what ``platform`` knows."""
    for line in (cpuinfo if cpuinfo is not None else _cpuinfo()).splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("model name", "Model name", "Processor") and value.strip():
            return value.strip()
    return platform.processor() or platform.machine() or "unknown CPU"


def native_bf16_flags(cpuinfo: str | None = None, machine: str | None = None) -> list[str]:
    """The CPU's native bf16 features: ``amx_bf16`` / ``avx512_bf16`` on x86, ``bf16`` on ARM; ``[]`` if none."""
    text = cpuinfo if cpuinfo is not None else _cpuinfo()
    machine = (machine or platform.machine()).lower()
    flags: set[str] = set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            flags.update(value.split())
    if machine in ("aarch64", "arm64"):
        return ["bf16"] if "bf16" in flags else []
    return [f for f in _X86_BF16 if f in flags]


def probe_bf16_speedup(repeats: int = 15) -> dict[str, Any]:
    """Time a loss-shaped matrix product in float32 and bfloat16 on this CPU: best of ``repeats`` each, in ms.

    The two dtypes take turns (float32, bf16, float32, ...) and each keeps its fastest time: on a machine that other
    work shares, a burst of load then slows both alike and the minimum of each is a moment the cores were free. Timed
    in blocks instead (five float32 products, then five bf16), one busy second swung the ratio from x20 to x1.3 here.
    """
    import torch

    m, k, n = _PROBE_SHAPE
    result: dict[str, Any] = {"shape": [m, k, n], "threads": torch.get_num_threads(), "repeats": repeats}
    dtypes = (torch.float32, torch.bfloat16)
    pairs = [(torch.randn(m, k, dtype=d), torch.randn(k, n, dtype=d)) for d in dtypes]
    best = [float("inf")] * len(dtypes)
    for a, b in pairs:
        a @ b  # warm-up (oneDNN picks its kernel on the first call)
    for _ in range(repeats):
        for i, (a, b) in enumerate(pairs):
            start = time.perf_counter()
            a @ b
            best[i] = min(best[i], time.perf_counter() - start)
    for d, seconds in zip(dtypes, best):
        result[f"{str(d).replace('torch.', '')}_ms"] = round(seconds * 1e3, 3)
    result["speedup"] = round(result["float32_ms"] / max(result["bfloat16_ms"], 1e-9), 2)
    result["load"] = _load_per_core()
    return result


def _load_per_core() -> float | None:
    """The last minute's load average per CPU core (``None`` where the OS does not say)."""
    try:
        return round(os.getloadavg()[0] / (os.cpu_count() or 1), 2)
    except (AttributeError, OSError):
        return None


def _cache_file() -> Path:
    return cache_root() / "cpu_precision.json"


def _cached_probe(key: str, probe: Callable[[], dict[str, Any]], use_cache: bool) -> dict[str, Any]:
    path = _cache_file()
    cached: dict[str, Any] = {}
    if use_cache and path.is_file():
        try:
            cached = json.loads(path.read_text())
        except (OSError, ValueError):
            cached = {}
        if isinstance(cached.get(key), dict) and "speedup" in cached[key]:
            return {**cached[key], "cached": True}
    result = probe()
    load = result.get("load")
    if use_cache and load is not None and load > BUSY_LOAD:
        # Measured while other work held the cores: good enough for this run, not to be remembered for every run after.
        return {**result, "cached": False, "not_cached": f"the machine was busy (load {load} a core)"}
    if use_cache:
        cached[key] = result
        try:
            atomic_write_text(path, json.dumps(cached, indent=2, sort_keys=True))
        except OSError:
            pass  # a read-only cache only costs the probe again
    return {**result, "cached": False}


def choose_cpu_precision(
    requested: str = "auto",
    *,
    cpuinfo: str | None = None,
    machine: str | None = None,
    probe: Callable[[], dict[str, Any]] | None = None,
    use_cache: bool = True,
) -> CPUPrecision:
    """The CPU path's precision for ``requested`` (``auto``, ``float32`` or ``bfloat16``); see the module docstring.

    ``cpuinfo``, ``machine`` and ``probe`` default to this machine's; tests pass their own.
    """
    import torch

    requested = str(requested).strip().lower()
    pinned = os.environ.get(ENV_VAR, "").strip().lower()
    if requested == "auto" and pinned and pinned != "auto":
        choice = choose_cpu_precision(pinned, cpuinfo=cpuinfo, machine=machine, probe=probe, use_cache=use_cache)
        choice.requested, choice.reason = "auto", f"{ENV_VAR}={pinned}"
        return choice
    if requested in ("bf16",):
        requested = "bfloat16"
    if requested in ("fp32", "float"):
        requested = "float32"
    if requested not in CHOICES:
        raise ValueError(f"cpu_precision must be one of {', '.join(CHOICES)}, got {requested!r}")
    text = cpuinfo if cpuinfo is not None else _cpuinfo()
    cpu = cpu_model_name(text)
    native = native_bf16_flags(text, machine)
    if requested == "float32":
        return CPUPrecision("float32", requested, "forced", cpu, native)
    if requested == "bfloat16":
        why = "forced" if native else "forced; this CPU has no native bf16, so it is emulated and slow"
        return CPUPrecision("bfloat16", requested, why, cpu, native)
    if not native:
        return CPUPrecision("float32", requested, f"{cpu} has no native bf16",
                            cpu, native)
    key = f"{cpu}|{','.join(native)}|torch {torch.__version__}|threads {torch.get_num_threads()}"
    measured = _cached_probe(key, probe or probe_bf16_speedup, use_cache)
    if measured["speedup"] >= MIN_SPEEDUP:
        return CPUPrecision("bfloat16", requested,
                            f"{'+'.join(native)}; a bf16 matrix product measured x{measured['speedup']} float32's",
                            cpu, native, measured)
    return CPUPrecision("float32", requested,
                        f"{'+'.join(native)} present, but bf16 measured only x{measured['speedup']} float32's speed "
                        f"(needs x{MIN_SPEEDUP})", cpu, native, measured)
