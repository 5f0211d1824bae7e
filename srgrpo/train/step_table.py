"""A compact per-step table of a GRPO run, for notebooks (notebooks 3 and 4 print their live runs with it).

TRL logs about 26 metrics a step; printed as raw dicts they bury what a reader wants to follow. :class:`StepTable` is
a ``transformers.TrainerCallback`` that prints one aligned row per logged step with the columns that tell the story
of a group-relative run:

=============  =======================================================================================================
``reward``     mean total reward of the step's completions
``<func>``     mean of each reward function (``rewards/<func>/mean``), e.g. correctness and format
``zero std``   ``frac_reward_zero_std``: share of groups whose completions all scored the same; they carry no signal
``adv std``    ``soft_advantage_std``: the spread of SR-GRPO's advantages over the step's completions (0 when no
               group carried signal; per_sample's *mean* is 0 by construction, so the spread is what tells)
``kl``         KL to the reference model (only logged when ``beta > 0``)
``length``     mean completion length in tokens
``cut off``    ``completions/clipped_ratio``: share of completions that ran to the token limit without stopping
``sec``        seconds the step took
=============  =======================================================================================================

Use :func:`attach_step_table` to swap it in for the trainer's default printers (raw dicts, progress bars);
``progress=True`` keeps a tqdm bar under the rows (the train command's output). :func:`summary_lines` compares the
first and the last steps of a finished run.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

from transformers import TrainerCallback

__all__ = ["StepTable", "attach_step_table", "step_rows", "summary_lines"]

_FIXED = [("reward", "reward"), ("frac_reward_zero_std", "zero std"), ("soft_advantage_std", "adv std"),
          ("kl", "kl"), ("completions/mean_length", "length"), ("completions/clipped_ratio", "cut off"),
          ("step_time", "sec")]


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

    def __init__(self, stream: TextIO | None = None, width: int = 9, progress: bool = False):
        self.stream = stream
        self.width = width
        self.progress = progress
        self.bar = None
        self.columns: list[tuple[str, str]] | None = None

    def _w(self, name: str) -> int:
        return max(self.width, len(name))

    def _print(self, text: str) -> None:
        if self.bar is not None:
            self.bar.write(text, file=self.stream or sys.stdout)
        else:
            print(text, file=self.stream or sys.stdout, flush=True)

    def on_train_begin(self, args, state, control, **kwargs):
        if self.progress and state.is_world_process_zero and self.bar is None:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=state.max_steps, initial=state.global_step, desc="training", unit="step",
                            file=self.stream or sys.stderr, dynamic_ncols=True)

    def on_step_end(self, args, state, control, **kwargs):
        if self.bar is not None:
            self.bar.update(state.global_step - self.bar.n)

    def on_train_end(self, args, state, control, **kwargs):
        if self.bar is not None:
            self.bar.close()
            self.bar = None

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


def summary_lines(log_history: list[dict[str, Any]], quarter: int | None = None) -> list[str]:
    """How a run moved: each column's mean over the first and the last ``quarter`` steps (default a quarter of them,
    at least one), as aligned lines ``"reward      0.188 -> 0.516"``; ``[]`` without logged steps."""
    rows = step_rows(log_history)
    if not rows:
        return []
    q = quarter or max(1, len(rows) // 4)
    first, last = rows[:q], rows[-q:]
    span = (f"steps {first[0]['step']}-{first[-1]['step']}" if q > 1 else f"step {first[0]['step']}",
            f"steps {last[0]['step']}-{last[-1]['step']}" if q > 1 else f"step {last[0]['step']}")
    lines = [f"{'':12s} {span[0]:>13s} -> {span[1]}"]
    for key, name in _columns(rows[0]):
        if key == "step_time":
            continue
        a = [r[key] for r in first if isinstance(r.get(key), (int, float))]
        b = [r[key] for r in last if isinstance(r.get(key), (int, float))]
        if a and b:
            lines.append(f"{name:12s} {sum(a) / len(a):>13.3f} -> {sum(b) / len(b):.3f}")
    return lines


def attach_step_table(trainer, stream: TextIO | None = None, progress: bool = False) -> StepTable:
    """Replace ``trainer``'s printing callbacks (raw log dicts, progress bars) with a :class:`StepTable` (with a
    progress bar under its rows when ``progress``)."""
    from transformers.trainer_callback import PrinterCallback, ProgressCallback
    from transformers.utils.notebook import NotebookProgressCallback

    for cls in (PrinterCallback, ProgressCallback, NotebookProgressCallback):
        trainer.remove_callback(cls)
    table = StepTable(stream, progress=progress)
    trainer.add_callback(table)
    return table
