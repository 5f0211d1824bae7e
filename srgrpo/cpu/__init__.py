"""The CPU fast path: sampling and greedy decoding fast enough to watch a real model learn on a laptop.

- :mod:`srgrpo.cpu.fast_path`: :class:`~srgrpo.cpu.fast_path.CPUFastPathMixin`, the trainer's hook that samples a
  batch's completions with the sampler below when the model is on a CPU (and leaves TRL's generation alone
  elsewhere);
- :mod:`srgrpo.cpu.sampling`: the sampler (LoRA merged into one policy, a KV cache, no padding work);
- :mod:`srgrpo.cpu.greedy`: greedy decoding for evaluation, with the sampler's speed where it applies.

May import: torch, :mod:`srgrpo.models` (Unsloth's state), :mod:`srgrpo.plumbing`.
Imported by: :mod:`srgrpo.trainer` (the mixin), the evaluation command and the lab (greedy decoding).
"""
