r"""Helpers every lab command uses to write a results file that can be trusted later.

A number in a results file is only useful with the conditions it was measured under, so every
file carries :func:`run_metadata` (command line, package versions, machine, time), summaries use
the same interval (:func:`mean_ci95`), and files are written atomically (:func:`write_json`).

The intervals themselves live in :mod:`srgrpo.plumbing.stats` (re-exported here), the atomic write and the version
record in :mod:`srgrpo.plumbing.runtime`.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import platform
import shlex
import sys
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from srgrpo.plumbing.runtime import atomic_write_text, library_versions
from srgrpo.plumbing.stats import mean_ci95, t_quantile_975

__all__ = ["run_metadata", "machine_record", "cpu_features", "mean_ci95", "t_quantile_975", "write_json", "to_jsonable", "parse_command",
           "run_and_write", "write_declared"]


def _cpu_model() -> str | None:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


#: The CPU features that change a float's path through torch's kernels (and so which sums a run adds in which order).
CPU_FEATURES = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile")


def cpu_features() -> list[str]:
    """Which of :data:`CPU_FEATURES` this CPU has (``/proc/cpuinfo``'s flags; empty where it cannot be read)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.lower().startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return [name for name in CPU_FEATURES if name in flags]
    except OSError:
        pass
    return []


def machine_record() -> dict[str, Any]:
    """The machine a result was computed on: cores, CPU model and features, platform."""
    return {"cpu_count": os.cpu_count(), "cpu_model": _cpu_model(), "cpu_features": cpu_features(),
            "platform": platform.platform()}


def run_metadata(argv: Sequence[str] | None = None, prog: str = "python -m srgrpo.lab") -> dict[str, Any]:
    """Where and how a result was produced, to store beside it.

    Args:
        argv: the command's arguments without the program (default ``sys.argv[1:]``).
        prog: how the program is invoked, prefixed to ``argv`` in ``"command"``.

    Returns:
        ``{"command", "argv", "versions": {python, torch, trl, transformers, srgrpo},
        "machine": {cpu_count, cpu_model, cpu_features, platform, torch_threads}, "timestamp_utc"}``.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    versions = library_versions(("torch", "trl", "transformers", "srgrpo"), keep_missing=True)
    torch_threads = None
    if "torch" in sys.modules:  # report it without paying torch's import for commands that skip it
        torch = sys.modules["torch"]
        versions["torch"] = torch.__version__
        torch_threads = torch.get_num_threads()
    return {
        "command": " ".join([prog, shlex.join(argv)]).strip(),
        "argv": argv,
        "versions": versions,
        "machine": {**machine_record(), "torch_threads": torch_threads},
        "timestamp_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }


def to_jsonable(obj: Any) -> Any:
    """A copy of ``obj`` that strict JSON accepts: NaN and infinities become ``None``, tuples
    lists, tensors and arrays nested lists, paths strings."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if hasattr(obj, "tolist"):  # torch tensors, numpy arrays and their scalars
        return to_jsonable(obj.tolist())
    raise TypeError(f"cannot store a {type(obj).__name__} in JSON: {obj!r}")


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write ``obj`` as indented JSON to ``path``, atomically.

    Written by :func:`srgrpo.plumbing.runtime.atomic_write_text`: an interrupted run leaves either the old file
    or the new one, never a truncated one. Missing parent folders are created. Returns the path.
    """
    return atomic_write_text(path, json.dumps(to_jsonable(obj), indent=2, allow_nan=False) + "\n")


def parse_command(settings_class: type, argv: Sequence[str], name: str, description: str,
                  extra_renamed: dict[str, str] | None = None):
    """Parse a lab command's ``argv`` (after its name) into its settings dataclass, with ``transformers``'
    ``HfArgumentParser``: every field is an option, with its type, default, choices and help; a renamed flag fails
    with its new name (:func:`srgrpo.plumbing.flags.parse_flags`; ``extra_renamed``: the command's own renames)."""
    from transformers import HfArgumentParser

    from srgrpo.plumbing.flags import parse_flags

    parser = HfArgumentParser(settings_class, prog=f"python -m srgrpo.lab {name}", description=description,
                              allow_abbrev=False)
    return parse_flags(parser, argv, extra_renamed)[0]


def write_declared(output: str | Path, experiment: str, declared: dict[str, Any], argv: Sequence[str],
                   **body: Any) -> None:
    """A declared experiment's results file: its name, the plan declared before its first run, ``body`` (its status,
    or what it computed) and the metadata of the command that wrote it, in that order."""
    write_json(output, {"experiment": experiment, "declared": declared, **body,
                        "metadata": run_metadata([experiment, *argv])})


def run_and_write(settings: Any, argv: Sequence[str], name: str, run: Callable[[Any], dict[str, Any]],
                  save_figures: Callable[[dict[str, Any], Path], Iterable[Path]]) -> dict[str, Any] | None:
    """Run (or resume) a resumable lab experiment and write its results file: metadata, figures, atomically.

    ``run(settings)`` returns the summary; ``save_figures(summary, output)`` draws beside ``settings.output`` (when
    ``settings.figures``). An interruption loses no finished run (each is kept in ``settings.runs_folder()``): it
    says so and how to resume, and returns None.
    """
    try:
        summary = run(settings)
    except KeyboardInterrupt:
        print(f"interrupted: finished runs are kept in {settings.runs_folder()}; run the same command to resume",
              file=sys.stderr)
        return None
    summary["metadata"] = run_metadata([name, *argv])
    output = Path(settings.output)
    output.parent.mkdir(parents=True, exist_ok=True)  # the figures go beside it, before the file is written
    if settings.figures:
        summary["figures"] = [str(p) for p in save_figures(summary, output)]
    write_json(output, summary)
    return summary
