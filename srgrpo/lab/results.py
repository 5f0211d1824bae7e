r"""Helpers every lab command uses to write a results file that can be trusted later.

A number in a results file is only useful with the conditions it was measured under, so every
file carries :func:`run_metadata` (command line, package versions, machine, time), summaries use
the same interval (:func:`mean_ci95`), and files are written atomically (:func:`write_json`).

Confidence intervals over seeds
-------------------------------
For :math:`n` per-seed results :math:`x_1..x_n` with mean :math:`\bar x` and Bessel-corrected
standard deviation :math:`s`, the 95% Student-t interval is

.. math::

    \bar x \pm t_{0.975,\,n-1}\, \frac{s}{\sqrt n}.

It assumes the per-seed results are independent and roughly normal; with the 4 to 8 seeds a CPU
budget allows, the :math:`t` quantile (4.30 for 3 seeds, 2.36 for 8) matters: the normal 1.96
would make intervals look 20-120% tighter than they are. The quantile comes from a table for
:math:`1 \le \nu \le 30` degrees of freedom (exact to 7 digits) and from the Cornish-Fisher
expansion around the normal quantile beyond (Abramowitz & Stegun 26.7.5, error below
:math:`10^{-6}` for :math:`\nu > 30`), so no scipy is needed.
"""

from __future__ import annotations

import datetime as _dt
import importlib.metadata
import json
import math
import os
import platform
import shlex
import sys
import tempfile
from pathlib import Path
from statistics import NormalDist
from typing import Any, Iterable, Sequence

__all__ = ["run_metadata", "mean_ci95", "t_quantile_975", "write_json", "to_jsonable"]

# t_{0.975, df} for df = 1..30 (computed with mpmath from the regularised incomplete beta function).
_T975 = (
    12.7062047, 4.3026527, 3.1824463, 2.7764451, 2.5705818, 2.4469119, 2.3646243, 2.3060041,
    2.2621572, 2.2281389, 2.2009852, 2.1788128, 2.1603687, 2.1447867, 2.1314495, 2.1199053,
    2.1098156, 2.1009220, 2.0930241, 2.0859634, 2.0796138, 2.0738731, 2.0686576, 2.0638986,
    2.0595386, 2.0555294, 2.0518305, 2.0484071, 2.0452296, 2.0422725,
)


def t_quantile_975(df: int) -> float:
    """The 97.5% quantile of Student's t with ``df`` degrees of freedom (two-sided 95% interval)."""
    if isinstance(df, bool) or not isinstance(df, int) or df < 1:
        raise ValueError(f"degrees of freedom must be an integer >= 1, got {df!r}.")
    if df <= len(_T975):
        return _T975[df - 1]
    z = NormalDist().inv_cdf(0.975)
    g1 = (z**3 + z) / 4
    g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96
    g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384
    g4 = (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / 92160
    return z + g1 / df + g2 / df**2 + g3 / df**3 + g4 / df**4


def mean_ci95(values: Iterable[float]) -> tuple[float, float, float]:
    """Mean and 95% Student-t interval of independent per-seed values: ``(mean, low, high)``.

    With a single value the interval is undefined and ``low`` and ``high`` are NaN
    (:func:`write_json` stores them as ``null``).

    For example ``mean_ci95([1, 2, 3])`` is ``2 -+ 4.303 * 1 / sqrt(3)``, about
    ``(2.0, -0.484, 4.484)``.

    Raises:
        ValueError: no values, or a value that is not a finite number.
    """
    if hasattr(values, "tolist"):  # a tensor or an array
        values = values.tolist()
    xs = [float(v) for v in values]
    if not xs:
        raise ValueError("mean_ci95 needs at least one value.")
    if not all(math.isfinite(x) for x in xs):
        raise ValueError(f"mean_ci95 needs finite values, got {xs}.")
    n = len(xs)
    mean = math.fsum(xs) / n
    if n == 1:
        return mean, math.nan, math.nan
    sd = math.sqrt(math.fsum((x - mean) ** 2 for x in xs) / (n - 1))
    half = t_quantile_975(n - 1) * sd / math.sqrt(n)
    return mean, mean - half, mean + half


def _version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _cpu_model() -> str | None:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def run_metadata(argv: Sequence[str] | None = None, prog: str = "python -m srgrpo.lab") -> dict[str, Any]:
    """Where and how a result was produced, to store beside it.

    Args:
        argv: the command's arguments without the program (default ``sys.argv[1:]``).
        prog: how the program is invoked, prefixed to ``argv`` in ``"command"``.

    Returns:
        ``{"command", "argv", "versions": {python, torch, trl, transformers, srgrpo},
        "machine": {cpu_count, cpu_model, platform, torch_threads}, "timestamp_utc"}``.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in ("torch", "trl", "transformers", "srgrpo"):
        versions[name] = _version(name)
    torch_threads = None
    if "torch" in sys.modules:  # report it without paying torch's import for commands that skip it
        torch = sys.modules["torch"]
        versions["torch"] = torch.__version__
        torch_threads = torch.get_num_threads()
    return {
        "command": " ".join([prog, shlex.join(argv)]).strip(),
        "argv": argv,
        "versions": versions,
        "machine": {
            "cpu_count": os.cpu_count(),
            "cpu_model": _cpu_model(),
            "platform": platform.platform(),
            "torch_threads": torch_threads,
        },
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

    The text goes to a temporary file in the same folder, is flushed to disk, and then replaces
    ``path`` in one rename: an interrupted run leaves either the old file or the new one, never a
    truncated one. Missing parent folders are created. Returns the path.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(to_jsonable(obj), indent=2, allow_nan=False) + "\n"
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would make the result unreadable to collaborators
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path
