"""A compact per-step table of a GRPO run, for notebooks (notebooks 3 and 4 print their live runs with it).

TRL logs about 26 metrics a step; printed as raw dicts they bury what a reader wants to follow. :class:`StepTable` is
a ``transformers.TrainerCallback`` that prints one aligned row per logged step with the columns that tell the story
of a group-relative run:

=============  =======================================================================================================
``reward``     mean total reward of the step's completions
``<func>``     mean of each reward function (``rewards/<func>/mean``), e.g. correctness and format
``zero std``   ``frac_reward_zero_std``: share of groups whose completions all scored the same; they carry no signal
``soft adv``   ``soft_advantage_mean`` (SR-GRPO only)
``kl``         KL to the reference model (only logged when ``beta > 0``)
``length``     mean completion length in tokens
``sec``        seconds the step took
=============  =======================================================================================================

Use :func:`attach_step_table` to swap it in for the trainer's default printers (raw dicts, progress bars).
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

from transformers import TrainerCallback

__all__ = ["StepTable", "attach_step_table", "step_rows"]

_FIXED = [("reward", "reward"), ("frac_reward_zero_std", "zero std"), ("soft_advantage_mean", "soft adv"),
          ("kl", "kl"), ("completions/mean_length", "length"), ("step_time", "sec")]


def _columns(logs: dict[str, Any]) -> list[tuple[str, str]]:
    """The columns present in ``logs``: the fixed ones, with one per reward function after ``reward``."""
    funcs = [(k, k.split("/")[1].removesuffix("_reward")) for k in logs
             if k.startswith("rewards/") and k.endswith("/mean")]
    cols = [c for c in _FIXED if c[0] in logs]
    at = 1 if cols and cols[0][0] == "reward" else 0
    return cols[:at] + funcs + cols[at:]


def step_rows(log_history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The training steps of a ``log_history`` (``trainer.state.log_history`` or ``trainer_state.json``): the
    entries that carry a ``reward``."""
    return [entry for entry in log_history if "reward" in entry and "step" in entry]


class StepTable(TrainerCallback):
    """Print one row per logged training step (see the module docstring for the columns)."""

    def __init__(self, stream: TextIO | None = None, width: int = 9):
        self.stream = stream
        self.width = width
        self.columns: list[tuple[str, str]] | None = None

    def _w(self, name: str) -> int:
        return max(self.width, len(name))

    def _print(self, text: str) -> None:
        print(text, file=self.stream or sys.stdout, flush=True)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not logs or "reward" not in logs or not state.is_world_process_zero:
            return
        if self.columns is None:
            self.columns = _columns(logs)
            self._print(f"{'step':>5} " + " ".join(f"{name:>{self._w(name)}}" for _, name in self.columns))
        cells = []
        for key, name in self.columns:
            value, w = logs.get(key), self._w(name)
            cells.append(f"{value:>{w}.3f}" if isinstance(value, (int, float)) else f"{'-':>{w}}")
        self._print(f"{state.global_step:>5} " + " ".join(cells))


def attach_step_table(trainer, stream: TextIO | None = None) -> StepTable:
    """Replace ``trainer``'s printing callbacks (raw log dicts, progress bars) with a :class:`StepTable`."""
    from transformers.trainer_callback import PrinterCallback, ProgressCallback
    from transformers.utils.notebook import NotebookProgressCallback

    for cls in (PrinterCallback, ProgressCallback, NotebookProgressCallback):
        trainer.remove_callback(cls)
    table = StepTable(stream)
    trainer.add_callback(table)
    return table
