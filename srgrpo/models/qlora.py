"""4-bit base weights without Unsloth, the QLoRA way: bitsandbytes NF4, ``prepare_model_for_kbit_training``, LoRA.

Where ``load_in_4bit`` is asked and Unsloth is not used (a GPU without Unsloth, a CPU, the tiny model),
:func:`srgrpo.models.loading.load_policy` loads the base weights through transformers' ``BitsAndBytesConfig``
(:func:`quantization_config`: NF4 with double quantization, as in the QLoRA paper and Unsloth's 4-bit models; the
compute dtype the device trains in: bfloat16 or float16 on a GPU, float32 or bfloat16 on a CPU), prepares them with
peft's ``prepare_model_for_kbit_training`` (base weights frozen, norms and embeddings in float32) and adds the LoRA
adapters with ``peft.get_peft_model``; TRL's ``GRPOTrainer`` then keeps the adapters in bfloat16, its own QLoRA rule.

``load_in_4bit`` is ``auto``, ``true`` or ``false`` (:func:`parse_setting`); :func:`decide` turns it into a choice:

* ``auto``: 4-bit on a CUDA GPU, for LoRA, where bitsandbytes is installed; full precision everywhere else, with a
  notice when a GPU run skips 4-bit (bitsandbytes missing, full fine-tuning).
* ``true``: 4-bit wherever it can run, a CPU included, where it is a check of the GPU path: no faster than full
  precision in the same compute dtype, hardly lighter in a training step (``benchmarks/bench_4bit_cpu.py``), and
  without the CPU fast path; :class:`ModelLoadError` where it cannot (bitsandbytes missing, full fine-tuning).
* ``false``: full precision.

bitsandbytes is imported only when 4-bit weights are loaded (by transformers, here); :func:`bitsandbytes_available`
asks the import system without importing it. (peft itself imports it whenever it is installed.)
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

from srgrpo.models.sources import ModelLoadError, load_weights

__all__ = [
    "FourBitChoice",
    "INSTALL_HINT",
    "bitsandbytes_available",
    "decide",
    "is_4bit",
    "load_4bit",
    "parse_setting",
    "quantization_config",
    "setting_name",
]

#: How to get bitsandbytes (requirements/cpu.txt pins the version the kit's tests ran with).
INSTALL_HINT = "pip install bitsandbytes (the kit's CPU set pins it: pip install -c requirements/cpu.txt bitsandbytes)"

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def parse_setting(value) -> bool | None:
    """``load_in_4bit`` as True, False or None (``auto``); ``ValueError`` for anything else."""
    if value is None or isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text == "auto":
        return None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(
        f"load_in_4bit must be auto, true or false, got {value!r}. auto: 4-bit on a CUDA GPU only; true: 4-bit "
        "everywhere (on a CPU a check of the GPU path, no speed-up); false: full precision."
    )


def setting_name(value) -> str:
    """``"auto"``, ``"true"`` or ``"false"``: how a setting is written back (the resolved config, the presets)."""
    parsed = parse_setting(value)
    return "auto" if parsed is None else str(parsed).lower()


def bitsandbytes_available() -> bool:
    """True when bitsandbytes can be imported (asked without importing it)."""
    try:
        return importlib.util.find_spec("bitsandbytes") is not None
    except (ImportError, ValueError):  # a broken or hidden module
        return False


@dataclass(frozen=True)
class FourBitChoice:
    """What :func:`decide` chose: ``load`` 4-bit weights or not, and ``note``, a notice for the loading line ("" when
    there is nothing to say)."""

    load: bool
    note: str = ""


def decide(setting, *, on_cuda: bool, lora: bool, available: bool | None = None) -> FourBitChoice:
    """Whether the transformers + peft path loads 4-bit weights (the module docstring's rules).

    ``on_cuda``: the weights go to a CUDA GPU; ``lora``: adapters are trained (a 4-bit model cannot be fully
    fine-tuned); ``available``: bitsandbytes is installed (default: asked). :class:`ModelLoadError` when ``true``
    cannot be honoured.
    """
    wanted = parse_setting(setting)
    if wanted is False or (wanted is None and not on_cuda):
        return FourBitChoice(False)
    available = bitsandbytes_available() if available is None else available
    if not lora:
        if wanted:
            raise ModelLoadError("load_in_4bit=true needs LoRA: a 4-bit model cannot be fully fine-tuned. Use "
                                 "lora_r > 0, or load_in_4bit false (or auto).")
        return FourBitChoice(False, "4-bit skipped: full fine-tuning trains every weight in full precision")
    if not available:
        if wanted:
            raise ModelLoadError(
                f"load_in_4bit=true without Unsloth loads the base weights with bitsandbytes, which is not installed: "
                f"{INSTALL_HINT}. Or pass --load_in_4bit false (full precision) or auto (4-bit on a CUDA GPU only)."
            )
        return FourBitChoice(False, f"4-bit skipped: bitsandbytes is not installed; {INSTALL_HINT}")
    if on_cuda:
        return FourBitChoice(True)
    return FourBitChoice(True, "on a CPU 4-bit checks the GPU path: it is no faster than full precision, and the CPU "
                               "fast path steps aside")


def quantization_config(compute_dtype):
    """transformers' ``BitsAndBytesConfig`` for QLoRA: NF4, double quantization, ``compute_dtype`` for the products."""
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                              bnb_4bit_compute_dtype=compute_dtype)


def _device_for_weights(device: str | None) -> str:
    """Where bitsandbytes quantizes and keeps the weights: ``device``, else this process's GPU (one per process under
    ``accelerate launch``), else the CPU. 4-bit weights are placed at load time, not moved later by the trainer."""
    if device is not None:
        return str(device)
    import torch

    if torch.cuda.is_available():
        from accelerate import PartialState

        return f"cuda:{PartialState().local_process_index}"
    return "cpu"


def load_4bit(path: str, compute_dtype, device: str | None = None):
    """The base model at ``path`` with NF4 weights in its linear layers, prepared for k-bit training (every base
    weight frozen; peft's ``prepare_model_for_kbit_training``, its gradient checkpointing left to the trainer)."""
    from peft import prepare_model_for_kbit_training

    try:
        model = load_weights(path, compute_dtype, quantization_config=quantization_config(compute_dtype),
                             device_map={"": _device_for_weights(device)})
    except (ImportError, RuntimeError) as exc:  # transformers' bitsandbytes checks (no usable back end, too old)
        raise ModelLoadError(f"4-bit loading with bitsandbytes failed: {exc}. {INSTALL_HINT}, or pass "
                             "--load_in_4bit false.") from exc
    _keep_cpu_weights_trainable(model)
    return prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)


def _keep_cpu_weights_trainable(model) -> None:
    """Switch off bitsandbytes' CPU inference repacking on ``model``'s 4-bit layers.

    On a CPU with AVX512-BF16, a ``Linear4bit`` run in eval mode without gradients repacks its weight in place for a
    bfloat16 kernel, and keeps it so: every later product takes that kernel (bfloat16 on those CPUs only), and a
    training pass afterwards fails ("a view of a leaf Variable that requires grad is being used in an in-place
    operation", bitsandbytes 0.50.2; tests/models/test_qlora.py). Off, the weights stay as stored and every product
    dequantizes them to the compute dtype, on every CPU alike. (bitsandbytes' flag ``support_avx512bf16_for_cpu``;
    absent, nothing to switch off.)
    """
    for module in model.modules():
        if getattr(module, "support_avx512bf16_for_cpu", False):
            module.support_avx512bf16_for_cpu = False


def is_4bit(model) -> bool:
    """True when ``model`` (a transformers or peft model) holds bitsandbytes 4-bit weights. Imports nothing."""
    if getattr(model, "is_loaded_in_4bit", False) is True:
        return True
    parameters = getattr(model, "parameters", None)
    return callable(parameters) and any(type(p).__name__ == "Params4bit" for p in parameters())
