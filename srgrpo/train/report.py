"""What ``python -m srgrpo.train`` tells its user: a progress bar and a row a step, a summary, the next commands.

TRL's trainer prints every step as a raw dict of ~28 quoted strings, and the libraries underneath add warnings a user
cannot act on (transformers' renamed-argument ``FutureWarning``\\ s, weight-loading progress bars). The train command
instead shows

* a tqdm bar with one compact row a step under it (:class:`srgrpo.train.step_table.StepTable`: reward, each reward function,
  the share of groups without signal, the advantages' spread, KL, length, cut-off share, seconds);
* at the end, how the run moved (the first steps against the last, :func:`srgrpo.train.step_table.summary_lines`), why the
  training reward is not the measure of what was learnt (it scores *sampled* completions; the held-out evaluation is
  greedy), and the exact commands that evaluate the model before and after on the same settings and plot the run.

Nothing is lost: ``trainer_state.json``'s ``log_history`` keeps every metric TRL logged. ``SRGRPO_VERBOSE=1`` brings
back the libraries' own output.
"""

from __future__ import annotations

import logging
import shlex
import warnings
from pathlib import Path
from typing import Any

from srgrpo.plumbing.runtime import env_flag
from srgrpo.train.step_table import summary_lines

__all__ = ["quiet_libraries", "next_commands", "final_report", "write_model_card", "EVAL_LIMITS"]

#: Held-out problems the suggested evaluation uses: enough for a first look on a CPU, GSM8K's usual 200 on a GPU.
EVAL_LIMITS = {"cpu": 64, "gpu": 200}


def quiet_libraries() -> None:
    """Silence library chatter a user cannot act on (unless ``SRGRPO_VERBOSE`` is set)."""
    if env_flag("SRGRPO_VERBOSE"):
        return
    warnings.filterwarnings("ignore", category=FutureWarning)
    for module in ("transformers", "trl", "peft", "accelerate", "torch"):
        warnings.filterwarnings("ignore", category=UserWarning, module=module)
        logging.getLogger(module).setLevel(logging.ERROR)
    try:
        import transformers

        transformers.logging.set_verbosity_error()
        transformers.utils.logging.disable_progress_bar()  # weight loading, GGUF conversion
    except ImportError:  # pragma: no cover - a dependency
        pass
    try:
        import datasets

        datasets.disable_progress_bars()
        datasets.logging.set_verbosity_error()
    except ImportError:  # pragma: no cover - a dependency
        pass


def _eval_tokens(training_args) -> int:
    """Room for a full answer (:func:`srgrpo.train.main_job.eval_tokens`, which the main job uses too)."""
    from srgrpo.train.main_job import eval_tokens

    return eval_tokens({"max_completion_length": training_args.max_completion_length})


def next_commands(script_args, training_args, on_gpu: bool) -> list[str]:
    """The evaluate-before, evaluate-after and plot commands for this run, on the same settings."""
    out = Path(training_args.output_dir)
    name = out.name or "run"
    limit = EVAL_LIMITS["gpu" if on_gpu else "cpu"]
    common = ["--eval_limit", str(limit), "--max_new_tokens", str(_eval_tokens(training_args))]
    if not on_gpu:
        # one batch of 64: decoding on a CPU is bound by reading the weights each token, which a batch shares
        # (64 held-out problems: 48 s in one batch, 69 s in batches of 16, on our 2-core machine)
        common += ["--eval_batch_size", str(limit)]
    if script_args.dataset_name != "gsm8k":
        common = ["--dataset_name", script_args.dataset_name, *common]
    if script_args.system_prompt != "instructions":
        common += ["--system_prompt", script_args.system_prompt]
    if script_args.data_dir:
        common += ["--data_dir", script_args.data_dir]
    before, after = f"outputs/{name}_before.json", f"outputs/{name}_after.json"
    model = ["--model_name_or_path", script_args.model_name_or_path]
    return [
        shlex.join(["python", "-m", "srgrpo.eval_gsm8k", *model, *common, "--output", before]),
        shlex.join(["python", "-m", "srgrpo.eval_gsm8k", *model, "--adapter", str(out), *common, "--output", after]),
        shlex.join(["python", "-m", "srgrpo.plots", str(out), before, after, "--output", f"outputs/{name}.png"]),
    ]


def _duration(seconds: float) -> str:
    minutes, sec = divmod(int(round(seconds)), 60)
    return f"{minutes} min {sec:02d} s" if minutes else f"{sec} s"


def final_report(log_history: list[dict[str, Any]], script_args, training_args, *, steps: int, seconds: float,
                 on_gpu: bool, next_steps: bool = True) -> str:
    """The text printed when training ends (see the module docstring); ``next_steps=False`` leaves out the commands
    that evaluate and plot (the main job, ``python -m srgrpo``, runs them itself)."""
    out = training_args.output_dir
    lines = [f"srgrpo: done — {steps} steps in {_duration(seconds)}; the adapter (or model), trainer_state.json "
             f"and srgrpo_config.yaml are in {out}"]
    moved = summary_lines(log_history)
    if moved:
        lines += ["", "How the training batches moved (means of the first and the last steps):",
                  *("  " + line for line in moved),
                  "", f"These rewards score completions *sampled* at temperature {training_args.temperature}; what "
                  "the model learnt shows in its greedy answers to held-out problems." + (" Next:" if next_steps else "")]
    elif next_steps:
        lines += ["", "Next:"]
    if not next_steps:
        return "\n".join(lines)
    labels = ["evaluate the model before training", "evaluate it after, with the trained adapter",
              "plot the training curves and both evaluations"]
    for label, command in zip(labels, next_commands(script_args, training_args, on_gpu)):
        lines += [f"  # {label}", f"  {command}"]
    return "\n".join(lines)


def _base_model_id(model_name: str) -> str | None:
    """The hub id a model card should name: SmolLM2's for ``smollm2``, ``None`` for the random tiny model."""
    from srgrpo.models.smollm2 import SMOLLM2_HUB_ID, SMOLLM2_MODEL_NAME
    from srgrpo.models.tiny import TINY_MODEL_NAME

    if model_name == SMOLLM2_MODEL_NAME:
        return SMOLLM2_HUB_ID
    if model_name == TINY_MODEL_NAME or Path(model_name).expanduser().exists():
        return None
    return model_name


def write_model_card(trainer, script_args) -> None:
    """TRL's model card (``README.md`` in the output folder), naming the real base model and the kit.

    TRL names the base model from the config's ``_name_or_path``, which is a local folder for a model loaded offline
    (SmolLM2 from its wheel), so its card would say "a fine-tuned version of [None]".
    """
    config = getattr(trainer.model, "config", None)
    base = _base_model_id(script_args.model_name_or_path)
    if config is None:
        return
    previous = getattr(config, "_name_or_path", None)
    if base:
        config._name_or_path = base
    try:
        trainer.create_model_card(model_name=Path(trainer.args.output_dir).name,
                                  dataset_name="openai/gsm8k" if script_args.dataset_name == "gsm8k" else None,
                                  tags=["srgrpo", "sr-grpo"])
    finally:
        config._name_or_path = previous
    card = Path(trainer.args.output_dir) / "README.md"
    if card.is_file():
        # Without a hub id TRL's template writes "None" where the base model and the pipeline's model go.
        text = card.read_text().replace("[None](https://huggingface.co/None)", f"`{script_args.model_name_or_path}`")
        card.write_text(text.replace('model="None"', f'model="{trainer.args.output_dir}"'))
        data = {"gsm8k": "GSM8K", "arithmetic": "the kit's synthetic one- and two-step word problems"}
        args = trainer.args
        card.write_text(card.read_text().rstrip() + "\n\n## SR-GRPO\n\n"
                        f"Trained with the SR-GRPO kit (`python -m srgrpo.train`): base model "
                        f"`{base or script_args.model_name_or_path}`, on {data.get(script_args.dataset_name, script_args.dataset_name)}, "
                        f"soft advantage `{getattr(args, 'soft_advantage', '-')}` with tau "
                        f"{getattr(args, 'tau', '-')}, "
                        f"{args.num_generations} completions a prompt. Every setting is in `srgrpo_config.yaml`.\n")
