"""Google Colab setup for the notebooks: install the kit with the pinned Unsloth / Colab version set, keep Colab's torch.

Every notebook's setup cell (cell 1) clones :data:`REPOSITORY_URL` on Colab, puts the clone on ``sys.path`` and calls
:func:`install`. Off Colab the cell does nothing and prints nothing. This module imports nothing heavy at import
time (the cell imports it before anything is installed).

:func:`install`

1. asks pip, without installing anything (``pip install --dry-run --report``), what the kit with the version set of
   ``requirements/colab-unsloth.txt`` (the one CI tests, :data:`CONSTRAINTS`) would install; if that would replace
   Colab's preinstalled torch (or torchvision, torchaudio, triton, built for it), it installs the kit without
   Unsloth (transformers + peft, the kit's own version ranges) and says so; only when that too would replace torch
   does it stop with :class:`TorchWouldChange`: a swapped CUDA torch means gigabytes of downloads and a broken
   runtime;
2. installs, with Colab's torch pinned as an extra constraint;
3. prints the installed torch / transformers / trl / unsloth versions.

The repository URL
------------------
:data:`REPOSITORY_URL` is the kit's one repository URL. The notebooks' setup cells and "Open in Colab" badges must
hold it literally (they run before the kit is installed); ``tests/notebook/test_colab.py`` fails, naming the file and the
cell, wherever they differ from it. On a fork, change it here and in those places.
"""

from __future__ import annotations

import importlib.metadata as md
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

__all__ = ["REPOSITORY_URL", "CONSTRAINTS", "TORCH_FAMILY", "TorchWouldChange", "torch_changes", "install",
           "installed_versions", "colab_badge_url"]

#: The kit's repository: cloned by the notebooks' Colab setup cells, linked by their badges.
REPOSITORY_URL = "https://github.com/srgrpo-kit/srgrpo"

#: The Unsloth / Colab version set (a pip constraints file), relative to the repository root.
CONSTRAINTS = "requirements/colab-unsloth.txt"

#: Packages built against Colab's CUDA torch: none of them may be replaced.
TORCH_FAMILY = ("torch", "torchvision", "torchaudio", "triton")


class TorchWouldChange(RuntimeError):
    """Installing the pinned set would replace Colab's preinstalled torch (or a package built for it)."""


def colab_badge_url(notebook: str, branch: str = "main") -> str:
    """The "Open in Colab" link of ``notebooks/<notebook>`` in :data:`REPOSITORY_URL`."""
    path = REPOSITORY_URL.removeprefix("https://github.com/")
    return f"https://colab.research.google.com/github/{path}/blob/{branch}/notebooks/{notebook}"


def _canonical(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def torch_changes(report: dict, installed: dict[str, str]) -> list[str]:
    """What a ``pip install --dry-run --report`` report would do to :data:`TORCH_FAMILY`: lines such as
    ``"torch 2.9.0+cu126 -> 2.14.1"`` (``installed``: name -> version now installed)."""
    changes = []
    for item in report.get("install", []):
        meta = item.get("metadata", {})
        name = _canonical(meta.get("name", ""))
        if name in TORCH_FAMILY:
            changes.append(f"{name} {installed.get(name, 'not installed')} -> {meta.get('version', '?')}")
    return changes


def installed_versions(names=("torch", "transformers", "trl", "unsloth")) -> dict[str, str]:
    out = {}
    for name in names:
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            out[name] = "not installed"
    return out


def _has_gpu() -> bool:
    try:
        return subprocess.run(["nvidia-smi"], capture_output=True).returncode == 0
    except OSError:
        return False


def _planned_torch_changes(pip: list[str], packages: list[str], before: dict[str, str], tmp: str) -> list[str]:
    """What installing ``packages`` with ``pip`` would do to Colab's torch family (a ``--dry-run`` with a report)."""
    report_path = Path(tmp) / "report.json"
    plan = subprocess.run(pip + ["--dry-run", "--quiet", "--report", str(report_path)] + packages,
                          capture_output=True, text=True)
    if plan.returncode != 0:
        raise RuntimeError(f"pip could not resolve the kit's install ({' '.join(packages)}):\n{plan.stderr[-3000:]}")
    return torch_changes(json.loads(report_path.read_text()), before)


def install(repo: str | os.PathLike, unsloth: bool | str = "auto", quiet: bool = True) -> dict[str, str]:
    """Install the kit at ``repo`` (editable) with the pinned set, plus Unsloth when ``unsloth`` is True, or
    ``"auto"`` and a GPU is attached. Never replaces Colab's torch: when Unsloth's set would, the kit is installed
    without it (transformers + peft, the kit's own version ranges), and it says so; when even that would,
    :class:`TorchWouldChange` is raised before anything is installed. Returns and prints the installed versions."""
    repo = Path(repo)
    constraints = repo / CONSTRAINTS
    with_unsloth = _has_gpu() if unsloth == "auto" else bool(unsloth)
    pip = [sys.executable, "-m", "pip", "install"]
    before = {_canonical(n): v for n, v in installed_versions(TORCH_FAMILY).items() if v != "not installed"}
    note = "" if with_unsloth else " (Unsloth is installed only with a GPU runtime)"

    with tempfile.TemporaryDirectory() as tmp:
        pinned = pip + ["-c", str(constraints)]
        packages = ["-e", str(repo)] + (["unsloth", "unsloth_zoo"] if with_unsloth else [])
        changes = _planned_torch_changes(pinned, packages, before, tmp)
        if changes:
            # Fall back to the kit alone, with its own ranges (trl, transformers, peft), Colab's torch kept; on a GPU
            # with bitsandbytes, which loads the GPU preset's 4-bit weights without Unsloth (srgrpo.models.qlora).
            pinned, packages = pip, ["-e", str(repo)] + (["bitsandbytes"] if with_unsloth else [])
            fallback = _planned_torch_changes(pinned, packages, before, tmp)
            if fallback:
                raise TorchWouldChange(
                    "Stopped before installing anything: the pinned set in " + CONSTRAINTS + " would replace Colab's "
                    + ", ".join(changes) + ", and the kit without Unsloth would replace " + ", ".join(fallback)
                    + ". Colab's torch is built for its GPU; replacing it downloads gigabytes and can break the "
                    "runtime. Use a Colab runtime whose torch fits the set (Unsloth 2026.10.9 needs torch >= 2.4, "
                    "< 2.15), or move the set to an Unsloth release that supports this torch."
                )
            with_unsloth = False
            note = (" — Unsloth's version set (" + CONSTRAINTS + ") would replace Colab's " + ", ".join(changes)
                    + ", so the kit was installed without Unsloth: it trains with transformers + peft, 4-bit through "
                    "bitsandbytes (slower than Unsloth, more memory)")
        # Belt and braces: the real install may not move Colab's torch either.
        keep = Path(tmp) / "keep-colab-torch.txt"
        keep.write_text("".join(f"{name}=={v}\n" for name, v in before.items()))
        subprocess.run(pinned + ["-c", str(keep)] + (["-q"] if quiet else []) + packages, check=True)

    versions = installed_versions()
    print("srgrpo Colab setup: " + ", ".join(f"{k} {v}" for k, v in versions.items()) + note, flush=True)
    return versions
