"""The models: what trains, and how it is loaded.

- :mod:`srgrpo.models.loading`: :func:`~srgrpo.models.loading.load_policy` and
  :func:`~srgrpo.models.loading.load_for_inference` (a name, a folder or a hub id; dtype, 4-bit, LoRA);
- :mod:`srgrpo.models.qlora`: 4-bit base weights without Unsloth (bitsandbytes NF4 + peft, the QLoRA way);
- :mod:`srgrpo.models.sources`: which short names (``tiny``, ``smollm2``) mean which local files;
- :mod:`srgrpo.models.tiny`: a tiny Qwen2-shaped model built offline, for smoke runs and tests;
- :mod:`srgrpo.models.smollm2`: SmolLM2-135M-Instruct, a real pretrained model, offline from its wheel;
- :mod:`srgrpo.models.unsloth_compat`: Unsloth's import order (Unsloth before TRL, on a CUDA machine), and TRL's
  ``GRPOTrainer`` / ``GRPOConfig`` as they are after it;
- :mod:`srgrpo.models.cpu_precision`: float32 or bfloat16 on this CPU, measured once and cached.

This ``__init__`` imports nothing on purpose: importing a part of it must never import TRL or transformers before
:mod:`srgrpo.models.unsloth_compat` has decided whether Unsloth goes first.

A new model goes here: a short name in :mod:`srgrpo.models.sources` (and a module beside ``tiny`` and ``smollm2``
when it needs building or unpacking); hub ids and local folders need nothing.

May import: :mod:`srgrpo.plumbing`, torch, transformers, peft, TRL (through ``unsloth_compat``), Unsloth; bitsandbytes
only through transformers, when 4-bit weights are loaded.
Imported by: the core (:mod:`srgrpo.config`, :mod:`srgrpo.trainer`), :mod:`srgrpo.cpu`, the commands, the lab.
"""
