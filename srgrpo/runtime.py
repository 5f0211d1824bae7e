"""Plumbing every command shares: environment flags, the kit's cache folder, and whether the hub can be reached.

Written once here so that every module reads ``HF_HUB_OFFLINE`` the same way, and the kit's built artefacts (the tiny
model, the offline SmolLM2 folder) land in one cache.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from urllib.parse import urlparse

__all__ = ["env_flag", "hub_offline", "hub_reachable", "cache_root", "REPO_ROOT"]

#: The repository (or source tree) the package sits in: ``srgrpo/..``.
REPO_ROOT = Path(__file__).resolve().parent.parent

_TRUE = {"1", "true", "yes", "on"}
# Seconds to wait for the hub's TCP port. Without a bound, an offline machine spends ~25 s in retries before failing.
_HUB_PROBE_TIMEOUT = 3.0


def env_flag(name: str) -> bool:
    """True when the environment variable ``name`` is set to 1/true/yes/on (any case)."""
    return os.environ.get(name, "").strip().lower() in _TRUE


def hub_offline() -> bool:
    """True when Hugging Face's offline switches are on (``HF_HUB_OFFLINE``, ``TRANSFORMERS_OFFLINE``)."""
    return env_flag("HF_HUB_OFFLINE") or env_flag("TRANSFORMERS_OFFLINE")


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


def cache_root() -> Path:
    """Where the kit keeps what it builds: ``$SRGRPO_CACHE``, else ``<repo>/.cache`` (git-ignored)."""
    env = os.environ.get("SRGRPO_CACHE")
    return Path(env).expanduser() if env else REPO_ROOT / ".cache"
