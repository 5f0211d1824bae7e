"""Notebook setup and the committed results: what every notebook of the kit calls first.

:func:`setup_notebook` quiets known library warnings and makes figures' PNG bytes independent of the matplotlib
version (so re-executing an unchanged notebook gives an unchanged file, and strict nbval passes);
:func:`results_file` and :func:`load_results` find ``data/results/<name>`` wherever a notebook runs from.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import warnings
from pathlib import Path
from typing import Any

from srgrpo.plumbing.runtime import RESULTS_DIR

__all__ = ["PRINT_FIGURE_KWARGS", "in_colab", "quiet_loggers", "setup_notebook", "configure_png", "results_file", "load_results"]

#: PNG options that keep a figure's bytes identical from run to run (no "Software" version chunk).
PRINT_FIGURE_KWARGS: dict[str, Any] = {"bbox_inches": "tight", "metadata": {"Software": None}}

# Libraries whose warnings and progress bars say nothing to a notebook reader.
_QUIET_MODULES = r"(torch|transformers|trl|peft|accelerate|datasets|huggingface_hub|tokenizers|bitsandbytes|unsloth|unsloth_zoo|tqdm|matplotlib|jupyter_client|ipywidgets|google)(\..*)?"
_QUIET_LOGGERS = ("transformers", "trl", "peft", "accelerate", "datasets", "huggingface_hub", "torch", "unsloth",
                  "bitsandbytes", "kernels")


def quiet_loggers() -> None:
    """Set the quiet libraries' loggers to errors only. Called when :mod:`srgrpo.notebook` is first imported, before
    any glue module imports those libraries: some log while being imported (bitsandbytes, on a CPU with AVX512-BF16,
    warns on stderr that it cannot fetch its CPU 4-bit kernel offline), and stderr in a notebook's first cell breaks
    strict nbval."""
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)


def in_colab() -> bool:
    """True inside Google Colab."""
    return "google.colab" in sys.modules


def setup_notebook(quiet_libraries: bool = True) -> None:
    """Prepare a notebook kernel for the kit; prints nothing.

    - inline matplotlib with PNG output whose bytes do not depend on the matplotlib version
      (``metadata={'Software': None}``), so re-executing an unchanged notebook gives an unchanged file;
    - known library warnings silenced (deprecations and notices of torch, transformers, TRL, ...),
      and those libraries' loggers set to errors only;
    - Hugging Face download and ``datasets.map`` progress bars switched off (a training run's own
      progress bar follows ``TQDM_DISABLE``, which the kit's test and execution commands set).

    Outside IPython only the warnings and loggers are configured.
    """
    if quiet_libraries:
        for category in (DeprecationWarning, FutureWarning, PendingDeprecationWarning, UserWarning, RuntimeWarning):
            warnings.filterwarnings("ignore", category=category, module=_QUIET_MODULES)
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=FutureWarning)
        quiet_loggers()
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        if "datasets" in sys.modules:
            sys.modules["datasets"].disable_progress_bars()
        if "transformers" in sys.modules:
            from transformers.utils import logging as hf_logging

            hf_logging.set_verbosity_error()
            hf_logging.disable_progress_bar()
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython ships with Jupyter
        return
    shell = get_ipython()
    if shell is None or not hasattr(shell, "run_line_magic"):
        return
    try:
        shell.run_line_magic("matplotlib", "inline")
    except Exception:  # pragma: no cover - a shell without GUI support (plain InteractiveShell)
        pass
    configure_png(shell)


def configure_png(shell) -> None:
    """Show figures as PNG without the version-dependent ``Software`` chunk (see :func:`setup_notebook`)."""
    try:
        from IPython.core.pylabtools import select_figure_formats
        from matplotlib_inline.backend_inline import InlineBackend
    except ImportError:  # pragma: no cover - matplotlib-inline ships with ipykernel
        return
    cfg = InlineBackend.instance(parent=shell)
    cfg.print_figure_kwargs = dict(PRINT_FIGURE_KWARGS)
    # The inline backend registers its formatters only once: register them again with these options.
    select_figure_formats(shell, {"png"}, **PRINT_FIGURE_KWARGS)


def results_file(name: str) -> Path:
    """The path of a committed result, ``data/results/<name>``, wherever the notebook runs from.

    Looks in ``data/results`` under the current folder, under its parent (a notebook runs in
    ``notebooks/``), and next to this package's repository (an editable install).
    """
    candidates = [
        Path.cwd() / "data" / "results" / name,
        Path.cwd().parent / "data" / "results" / name,
        RESULTS_DIR / name,
    ]
    for path in candidates:
        if path.is_file():
            return path
    raise FileNotFoundError(
        f"data/results/{name} not found (looked in {', '.join(str(p.parent) for p in candidates)}). "
        "Run the notebook from the kit's repository (a clone has the committed results), "
        "or regenerate the file with the command its notebook names."
    )


def load_results(name: str) -> dict[str, Any]:
    """Read a committed result JSON of ``data/results`` (see :func:`results_file`)."""
    with open(results_file(name), encoding="utf-8") as fh:
        return json.load(fh)


# ----------------------------------------------------------------------------------------------------------------
