"""Train a model on GSM8K with SR-GRPO: ``python -m srgrpo.train [--preset NAME_OR_YAML] [--flag value ...]``.

This is the specification's ``train_sr_grpo.py``. Every setting is a command-line flag: the script's own
(:class:`ScriptArguments`: model, data, rewards, LoRA) and every field of :class:`srgrpo.SRGRPOConfig` (TRL's
``GRPOConfig`` and ``transformers.TrainingArguments``, plus ``tau`` and ``soft_advantage``).

Presets
-------
A preset is a YAML mapping of those flags. ``--preset tiny_cpu`` loads the file shipped as
``srgrpo/train/presets/tiny_cpu.yaml``; ``--preset path/to/file.yaml`` loads that file (TRL's ``--config FILE`` is
accepted too and applied on top of the preset). Flags given on the command line override the preset; TRL's own
``TrlParser`` does the parsing (:mod:`srgrpo.train.settings`)::

    python -m srgrpo.train --preset gsm8k_t4                       # the real run, on a GPU (Colab T4)
    python -m srgrpo.train --preset smollm2_cpu                    # a real model on a CPU, offline (~10 minutes)
    python -m srgrpo.train --preset tiny_cpu                       # offline CPU smoke run (< 1 minute)
    python -m srgrpo.train --preset gsm8k_t4 --tau 0.2 --max_steps 100 --output_dir runs/tau0.2
    python -m srgrpo.train --preset gsm8k_t4 --resume_from_checkpoint   # continue from the last checkpoint
    python -m srgrpo.train --list_presets
    python -m srgrpo.train                                         # no preset: gsm8k_t4 on a GPU, smollm2_cpu elsewhere
    accelerate launch -m srgrpo.train --preset gsm8k_t4            # several GPUs
    torchrun --standalone --nproc_per_node 2 -m srgrpo.train --preset tiny_cpu   # two CPU processes (gloo)

Precision: when neither ``--bf16`` nor ``--fp16`` is given (in the preset or on the command line), bf16 is used on
GPUs that support it, fp16 on other GPUs (T4) and float32 on a CPU. An 8-bit optimizer (``adamw_8bit``) falls back to
``adamw_torch`` with a notice when bitsandbytes is not installed.

What the output folder holds
----------------------------
``srgrpo_config.yaml`` (every setting actually used, how the model was loaded, library versions; written before
training starts), ``checkpoint-N/`` folders (every ``save_steps``; ``--resume_from_checkpoint`` continues from them),
and at the end the trained weights (the LoRA adapter ``adapter_model.safetensors`` + ``adapter_config.json``, or the
full model without LoRA), the tokenizer, and ``trainer_state.json`` whose ``log_history`` holds the metrics of every
logged step (read by :mod:`srgrpo.plots`). Ctrl-C saves a checkpoint of the last completed step before exiting.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Any, Callable

from srgrpo.plumbing.process_group import end_process_group
from srgrpo.plumbing.runtime import atomic_write_text, is_main_process, library_versions
from srgrpo.train.step_table import attach_step_table
from srgrpo.train.report import final_report, quiet_libraries, write_model_card
from srgrpo.train.settings import (
    PRESETS_DIR,
    ScriptArguments,
    available_presets,
    default_preset,
    describe_presets,
    parse_args,
    preset_settings,
    resolve_preset,
)

__all__ = [
    "ScriptArguments",
    "PRESETS_DIR",
    "available_presets",
    "default_preset",
    "resolve_preset",
    "preset_settings",
    "resolve_reward_funcs",
    "parse_args",
    "main",
]

CONFIG_FILENAME = "srgrpo_config.yaml"
_TRUE = {"true", "1", "yes", "on", "last"}
_FALSE = {"false", "0", "no", "off", "none", ""}


def resolve_reward_funcs(names: list[str] | str) -> list[Callable]:
    """Map reward names (``correctness``, ``format``; ``correctness_reward`` works too) to functions of
    :mod:`srgrpo.tasks.rewards`; ``ValueError`` lists the valid names."""
    from srgrpo.tasks.rewards import correctness_reward, format_reward

    table = {"correctness": correctness_reward, "format": format_reward}
    if isinstance(names, str):
        names = names.replace(",", " ").split()
    if not names:
        raise ValueError(f"at least one reward function is needed; valid names: {', '.join(table)}")
    funcs = []
    for name in names:
        key = name.strip()
        key = key[: -len("_reward")] if key.endswith("_reward") else key
        if key not in table:
            raise ValueError(f"unknown reward function {name!r}; valid names: {', '.join(table)}")
        funcs.append(table[key])
    return funcs


def _resolve_resume(value: str | None, output_dir: str):
    """``true``/``last`` -> the last checkpoint in ``output_dir`` (error if none), ``auto`` -> the last one if any,
    ``false``/empty -> start fresh, anything else -> that checkpoint folder."""
    from transformers.trainer_utils import get_last_checkpoint

    if value is None:
        return None
    text = str(value).strip()
    low = text.lower()
    if low in _FALSE:
        return None
    if low in _TRUE or low == "auto":
        last = get_last_checkpoint(output_dir) if Path(output_dir).is_dir() else None
        if last is None and low != "auto":
            raise ValueError(
                f"--resume_from_checkpoint {text}: no checkpoint-N folder in {output_dir}. Pass the same --output_dir "
                "as the interrupted run, a checkpoint folder, or 'auto' to start fresh when there is none."
            )
        return last
    path = Path(text).expanduser()
    if not path.is_dir():
        raise ValueError(f"--resume_from_checkpoint: checkpoint folder not found: {path}")
    return str(path)


def _write_resolved_config(path: Path, payload: dict[str, Any]) -> None:
    import yaml

    atomic_write_text(
        path,
        "# Settings actually used by `python -m srgrpo.train` (written by srgrpo; for the record, not a preset).\n"
        + yaml.safe_dump(json.loads(json.dumps(payload, default=str)), sort_keys=False, allow_unicode=True),
    )


# --------------------------------------------------------------------------------------------------------------------
# The run, step by step
# --------------------------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None, *, suggest_next: bool = True) -> int:
    """Train; ``suggest_next=False`` (the main job, which runs them itself) leaves out the next commands."""
    raw_argv = list(sys.argv[1:] if argv is None else argv)
    if "--list_presets" in raw_argv:
        print(describe_presets())
        return 0
    quiet_libraries()
    try:
        script_args, training_args = parse_args(raw_argv)
        reward_funcs = resolve_reward_funcs(script_args.reward_funcs)
        resume = _resolve_resume(training_args.resume_from_checkpoint, training_args.output_dir)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    output_dir = Path(training_args.output_dir)
    payload: dict[str, Any] = {
        "command": "python -m srgrpo.train " + " ".join(raw_argv),
        "script_args": dataclasses.asdict(script_args),
        "training_args": training_args.to_dict(),
        "resume_from": resume,
        "versions": library_versions(),
    }
    if script_args.dry_run:
        if is_main_process():
            _write_resolved_config(output_dir / CONFIG_FILENAME, payload)
            print(f"srgrpo: dry run — settings written to {output_dir / CONFIG_FILENAME}")
        return 0
    trainer = _build_trainer(script_args, training_args, reward_funcs, payload)
    if trainer is None:
        return 2
    attach_step_table(trainer, progress=_wants_progress(raw_argv, script_args, training_args))
    trainer._sr_script_args = script_args
    if trainer.is_world_process_zero():
        _write_resolved_config(output_dir / CONFIG_FILENAME, payload)
        if resume:
            print(f"srgrpo: resuming from {resume}", flush=True)
    status = _train(trainer, output_dir, resume, payload, suggest_next)
    del trainer  # end_process_group can stop gloo's threads only once nothing holds the trainer (its DDP wrapper)
    if status == 0 and end_process_group() is False:
        print("srgrpo: gloo's worker threads outlived the process group (something still holds the trainer); "
              "this process may abort at exit (see srgrpo.plumbing.process_group)", file=sys.stderr, flush=True)
    return status


def _wants_progress(raw_argv: list[str], script_args: ScriptArguments, training_args) -> bool:
    """A progress bar unless ``--disable_tqdm`` (command line or preset) or ``TQDM_DISABLE`` says no. transformers'
    own default follows its log level, which the kit lowers to keep library chatter out (srgrpo.train.report)."""
    from srgrpo.plumbing.runtime import env_flag

    if env_flag("TQDM_DISABLE"):
        return False
    named = any(a.lstrip("-").split("=")[0] == "disable_tqdm" for a in raw_argv if a.startswith("--"))
    in_preset = bool(script_args.preset) and "disable_tqdm" in preset_settings(script_args.preset)
    return not training_args.disable_tqdm if (named or in_preset) else True


def _build_trainer(script_args: ScriptArguments, training_args, reward_funcs: list[Callable], payload: dict):
    """The data, the policy and the :class:`srgrpo.SRGRPOTrainer`, with how they were made added to ``payload``;
    ``None`` (after saying why) when the data or the model cannot be loaded."""
    from srgrpo.tasks.gsm8k import GSM8KUnavailableError
    from srgrpo.models.loading import ModelLoadError
    from srgrpo.trainer import SRGRPOTrainer
    from srgrpo.models.unsloth_compat import unsloth_active

    try:
        dataset = _load_data(script_args)
        model, tokenizer, info = _load_model(script_args, training_args)
    except (GSM8KUnavailableError, ModelLoadError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None
    trainer = SRGRPOTrainer(model=model, reward_funcs=reward_funcs, args=training_args, train_dataset=dataset,
                            processing_class=tokenizer)
    payload.update({
        "training_args": training_args.to_dict(),  # after the optimizer fallback
        "model": info.to_dict(),
        "dataset": {"name": script_args.dataset_name, "split": script_args.dataset_train_split, "num_examples": len(dataset),
                    "system_prompt": script_args.system_prompt},
        "reward_funcs": [f.__name__ for f in reward_funcs],
        "unsloth_active": unsloth_active(),
        "base_trainer_class": _trl_base(trainer).__name__,  # UnslothGRPOTrainer under Unsloth
        # trl.trainer.grpo_trainer, or the module of Unsloth's generated trainer (unsloth_compiled_cache)
        "base_trainer_module": _trl_base(trainer).__module__,
        "world_size": trainer.accelerator.num_processes,
    })
    return trainer


def _trl_base(trainer) -> type:
    """The trainer class SR-GRPO builds on: the first class of the MRO that is not the kit's (its mixins skipped)."""
    return next(c for c in type(trainer).__mro__[1:] if not c.__module__.startswith("srgrpo"))


def _load_data(script_args: ScriptArguments):
    from srgrpo.tasks.word_problems import load_problems

    return load_problems(script_args.dataset_name, script_args.dataset_train_split, data_dir=script_args.data_dir,
                         limit=script_args.train_limit, system_prompt=script_args.system_prompt)


def _load_model(script_args: ScriptArguments, training_args):
    """:func:`srgrpo.models.loading.load_policy` with the script's model and LoRA settings."""
    from srgrpo.models.loading import load_policy

    dtype = device = None
    if training_args.use_cpu or not _cuda_available():
        dtype, device = ("bfloat16" if training_args.bf16 else "float32"), "cpu"
    max_seq = script_args.max_seq_length or (
        (training_args.max_prompt_length or 512) + (training_args.max_completion_length or 512)
    )
    return load_policy(
        script_args.model_name_or_path,
        max_seq_length=max_seq,
        use_lora=script_args.use_peft,
        lora_r=script_args.lora_r,
        lora_alpha=script_args.lora_alpha,
        lora_dropout=script_args.lora_dropout,
        target_modules=script_args.lora_target_modules,
        load_in_4bit=script_args.load_in_4bit,
        gradient_checkpointing=training_args.gradient_checkpointing,
        seed=training_args.seed,
        use_unsloth={"auto": "auto", "never": False, "always": True}[script_args.use_unsloth],
        dtype=dtype,
        precision_note=_precision_note(script_args, training_args) if dtype else None,
        device=device,
    )


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def _precision_note(script_args: ScriptArguments, training_args) -> str:
    """Why the CPU path runs in the precision it does (the loading notice and srgrpo_config.yaml say it), from the
    choice :func:`srgrpo.train.settings.parse_args` made (the command decides the CPU precision once)."""
    choice = script_args.cpu_choice
    if choice is None:  # ScriptArguments built by hand, not by parse_args
        from srgrpo.models.cpu_precision import choose_cpu_precision

        choice = choose_cpu_precision(script_args.cpu_precision)
    if choice.bf16 != bool(training_args.bf16):
        return f"--bf16 {str(bool(training_args.bf16)).lower()} given, over {choice.note()}"
    return choice.note()


def _train(trainer, output_dir: Path, resume: str | None, payload: dict[str, Any], suggest_next: bool = True) -> int:
    """Train; save the model, ``trainer_state.json`` and the resolved config. Ctrl-C saves a checkpoint first."""
    start = time.time()
    try:
        trainer.train(resume_from_checkpoint=resume)
    except KeyboardInterrupt:
        _save_interrupted(trainer, output_dir)
        return 130
    trainer.save_model(str(output_dir))
    if trainer.is_world_process_zero():
        script_args = trainer._sr_script_args
        write_model_card(trainer, script_args)
        trainer.state.save_to_json(str(output_dir / "trainer_state.json"))
        payload["train_seconds"] = round(time.time() - start, 2)
        payload["global_step"] = trainer.state.global_step
        _write_resolved_config(output_dir / CONFIG_FILENAME, payload)
        print("\n" + final_report(trainer.state.log_history, script_args, trainer.args,
                                  steps=trainer.state.global_step, seconds=time.time() - start,
                                  on_gpu=trainer.accelerator.device.type == "cuda", next_steps=suggest_next),
              flush=True)
    return 0


def _save_interrupted(trainer, output_dir: Path) -> None:
    """After Ctrl-C: a checkpoint of the last completed step (model, optimizer, scheduler, RNG, state), if any."""
    step = trainer.state.global_step
    main_process = trainer.is_world_process_zero()
    if step == 0:
        if main_process:
            print("\nsrgrpo: interrupted before the first step; nothing saved.", file=sys.stderr, flush=True)
        return
    trainer._save_checkpoint(trainer.model, trial=None)
    if main_process:
        trainer.state.save_to_json(str(output_dir / "trainer_state.json"))
        print(f"\nsrgrpo: interrupted at step {step}; checkpoint saved in {output_dir}/checkpoint-{step}. "
              "Continue with the same command plus --resume_from_checkpoint.", file=sys.stderr, flush=True)
