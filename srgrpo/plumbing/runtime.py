"""Plumbing every part of the kit shares, written once: environment flags, processes, versions, folders, files.

- **Environment**: :func:`env_flag` reads a truthy variable the same way everywhere; :func:`hub_offline` and
  :func:`hub_reachable` say whether the Hugging Face hub may and can be reached.
- **Processes**: :func:`is_main_process` (rank 0 of a ``torchrun``/``accelerate`` launch, or a single process) and
  :func:`torch_threads`, which runs a block on a given number of torch threads and restores the setting.
- **Versions**: :func:`library_versions`, what a results file records about the libraries that produced it.
- **Folders**: :data:`REPO_ROOT` (the source tree the package sits in), :func:`cache_root` (what the kit builds: the
  tiny model, SmolLM2's converted folder, the real-model lab's finished runs) and :data:`RESULTS_DIR` (the committed results).
- **Files**: :func:`atomic_write_text` and :func:`atomic_folder`: a reader sees the old file (or no folder) or the
  complete new one, never a half-written one, and the result has the permissions of a normally created file.

This module imports nothing of the kit and no third-party library at import time, so every layer may use it.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import json
import os
import platform
import shutil
import socket
import tempfile
import time
from pathlib import Path
from typing import Any, Iterable, Iterator
from urllib.parse import urlparse

__all__ = [
    "REPO_ROOT",
    "RESULTS_DIR",
    "KIT_LIBRARIES",
    "env_flag",
    "hub_offline",
    "hub_reachable",
    "cache_root",
    "is_main_process",
    "torch_threads",
    "library_versions",
    "short_hash",
    "atomic_write_text",
    "atomic_folder",
]

#: The repository (or source tree) the package sits in: ``srgrpo/..``.
REPO_ROOT = Path(__file__).resolve().parents[2]
#: Where the kit's commands write the results docs/ and the notebooks cite (committed to git).
RESULTS_DIR = REPO_ROOT / "data" / "results"
#: The libraries a training or evaluation record names (those not installed are left out).
KIT_LIBRARIES = ("srgrpo", "torch", "transformers", "trl", "peft", "accelerate", "datasets", "unsloth", "unsloth_zoo",
                 "bitsandbytes")

_TRUE = {"1", "true", "yes", "on"}
# Seconds to wait for the hub's TCP port. Without a bound, an offline machine spends ~25 s in retries before failing.
_HUB_PROBE_TIMEOUT = 3.0


# --------------------------------------------------------------------------------------------------------------------
# Environment
# --------------------------------------------------------------------------------------------------------------------


def env_flag(name: str) -> bool:
    """True when the environment variable ``name`` is set to 1/true/yes/on (any case)."""
    return os.environ.get(name, "").strip().lower() in _TRUE


#: Hugging Face's offline switches: either one keeps the libraries from the hub.
OFFLINE_SWITCHES = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")


def offline_switches() -> list[str]:
    """Which of :data:`OFFLINE_SWITCHES` are on, so a message names the one the user set."""
    return [name for name in OFFLINE_SWITCHES if env_flag(name)]


def hub_offline() -> bool:
    """True when Hugging Face's offline switches are on (``HF_HUB_OFFLINE``, ``TRANSFORMERS_OFFLINE``)."""
    return bool(offline_switches())


def hub_reachable(timeout: float = _HUB_PROBE_TIMEOUT) -> bool:
    """Cheap check that the hub's host accepts connections, so an offline machine decides in seconds.

    False in offline mode. True without probing when a proxy is configured: a direct connection says nothing about a
    proxy, and the library behind it will report its own error.
    """
    if hub_offline():
        return False
    if any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return True
    url = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    host = url.hostname or "huggingface.co"
    port = url.port or (80 if url.scheme == "http" else 443)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def new_run_dir(base: str | os.PathLike) -> str:
    """``<base>-<YYYYmmdd-HHMMSS>``, a folder that does not exist yet (``-2``, ``-3``... within one second), so a new
    run never writes into, or deletes, an earlier one."""
    stem = f"{os.fspath(base)}-{time.strftime('%Y%m%d-%H%M%S')}"
    folder, n = stem, 1
    while Path(folder).exists():
        n += 1
        folder = f"{stem}-{n}"
    return folder


def cache_root() -> Path:
    """Where the kit keeps what it builds: ``$SRGRPO_CACHE``, else ``<repo>/.cache`` (git-ignored)."""
    env = os.environ.get("SRGRPO_CACHE")
    return Path(env).expanduser() if env else REPO_ROOT / ".cache"


# --------------------------------------------------------------------------------------------------------------------
# Processes and versions
# --------------------------------------------------------------------------------------------------------------------


def is_main_process() -> bool:
    """True in a single process and on rank 0 of a distributed launch (``RANK`` and ``LOCAL_RANK`` unset or 0)."""
    return os.environ.get("RANK", "0") == "0" and os.environ.get("LOCAL_RANK", "0") == "0"


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run the block on ``n`` torch threads (``None`` or 0: leave the setting), then restore the previous one.

    Small tensors gain nothing from several threads, and on a shared machine the threads wait on each other: the lab
    runs on one thread by default (measured on 2 busy cores, the bandit comparison took 16 s on 2 threads, 2.4 s on 1).
    """
    import torch

    previous = torch.get_num_threads()
    if n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def library_versions(names: Iterable[str] = KIT_LIBRARIES, *, keep_missing: bool = False) -> dict[str, str | None]:
    """``{"python": ..., name: version}`` of the installed distributions ``names``.

    A library that is not installed is left out, or recorded as ``None`` with ``keep_missing=True``.
    """
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            if keep_missing:
                versions[name] = None
    return versions


def short_hash(obj: Any, length: int = 12) -> str:
    """A short, stable hash of a JSON-able object (keys sorted): the name of a cache entry or a settings id."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:length]


# --------------------------------------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------------------------------------


def _default_mode(folder: bool = False) -> int:
    """The mode a new file (0o666) or folder (0o777) gets from ``open``/``mkdir``: less the process's umask."""
    mask = os.umask(0)
    os.umask(mask)
    return (0o777 if folder else 0o666) & ~mask


def atomic_write_text(path: str | os.PathLike, text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically; missing parent folders are created. Returns the path.

    The text goes to a temporary file with a unique name in the same folder, is flushed and synced to disk, gets the
    permissions of a normally created file (``mkstemp`` would leave it readable by its owner only) and then replaces
    ``path`` in one rename: an interrupted write leaves the old file or the new one, never a truncated one, and two
    writers never share a temporary file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding=encoding) as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _default_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


@contextlib.contextmanager
def atomic_folder(target: str | os.PathLike, done: str) -> Iterator[Path]:
    """Build a folder atomically: yield a temporary sibling to fill, then rename it to ``target``.

    Callers check for a complete, current ``target`` before building, so an existing one is stale or damaged and is
    replaced. ``done`` names the file inside the folder that marks it complete: when another process renames its own
    build into place between the removal and the rename (the rename fails and ``target/done`` exists), that build is
    kept. The temporary folder gets normal permissions and is removed in every case.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        tmp.chmod(_default_mode(folder=True))  # mkdtemp makes it private; the cache is an ordinary folder
        yield tmp
        if target.exists():
            shutil.rmtree(target, ignore_errors=True)
        try:
            tmp.rename(target)
        except OSError:
            if not (target / done).is_file():  # not a concurrent builder that finished first
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
