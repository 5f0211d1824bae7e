r"""The real-model lab's runs: one advantage method, one seed, from the pretrained model, then the held-out answers.

Every method gets the same start (the pretrained model, LoRA adapters initialised from the run's seed, whose zero
``B`` matrices leave the start model unchanged), the same problems in the same order for a seed, the same trainer
settings (:func:`trainer_args`) and the same budget. Only the advantage differs:

* ``grpo`` runs TRL's own ``GRPOTrainer`` (group z-scores, ``scale_rewards="group"``), with the kit's CPU fast
  path mixed in (:mod:`srgrpo.cpu.fast_path`) so that it samples and scores exactly as the SR-GRPO runs do;
* ``shared`` and ``per_sample`` run :class:`srgrpo.SRGRPOTrainer` with their ``tau``;
* the controls ``constant`` and ``random_reward`` run :func:`control_trainer_class`, an ``SRGRPOTrainer`` whose one
  advantage hook returns :func:`srgrpo.lab.methods.method_advantages`.

:func:`evaluate_start` measures the pretrained model once (greedy decoding: every seed would give the same answers);
:func:`train_and_evaluate` is one run. Both return plain dicts that :mod:`srgrpo.lab.real.command` stores as run files.
"""

from __future__ import annotations

import time
import warnings
from typing import Any, Sequence

from srgrpo.lab.methods import SOFT_METHODS, method_advantages
from srgrpo.lab.real.settings import RealLabSettings, RunSpec
from srgrpo.lab.real.task import REWARD_FUNCS, heldout_records, heldout_summary, train_problems

__all__ = ["CURVE_KEYS", "control_trainer_class", "trainer_args", "build_trainer", "evaluate_start",
           "train_and_evaluate", "examples"]

#: The per-step training logs a run keeps: name in the run file -> TRL's log key.
CURVE_KEYS = {
    "reward": "reward",
    "correctness": "rewards/correctness_reward/mean",
    "format": "rewards/format_reward/mean",
    "cut_off": "completions/clipped_ratio",
    "length": "completions/mean_length",
    "seconds": "step_time",
}

_CONTROL_CLASS = None


def control_trainer_class():
    """``ControlGRPOTrainer``: :class:`srgrpo.SRGRPOTrainer` with a lab method's advantages (the controls).

    Built on first use (importing TRL is slow). It overrides the trainer's one advantage hook,
    ``compute_advantages(rewards, num_generations)``, with :func:`srgrpo.lab.methods.method_advantages`, so gathering,
    slicing and logging stay ``SRGRPOTrainer``'s. Pass ``lab_method`` (``"constant"``, ``"random_reward"`` or
    ``"grpo"``) and ``lab_seed`` (seeds the fake rewards of ``random_reward``) as keyword arguments.
    """
    global _CONTROL_CLASS
    if _CONTROL_CLASS is not None:
        return _CONTROL_CLASS
    import torch

    from srgrpo.trainer import SRGRPOTrainer

    class ControlGRPOTrainer(SRGRPOTrainer):
        _tag_names = ["trl", "grpo", "srgrpo-lab-control"]

        def __init__(self, *args, lab_method: str, lab_seed: int = 0, **kwargs):
            if lab_method in SOFT_METHODS:
                raise ValueError(f"{lab_method!r} needs a tau: run it with srgrpo.SRGRPOTrainer, not the control trainer.")
            method_advantages(lab_method, torch.zeros(2), 2)  # validates the method name
            self.lab_method = lab_method
            self._lab_generator = torch.Generator().manual_seed(lab_seed)
            super().__init__(*args, **kwargs)

        def compute_advantages(self, rewards: torch.Tensor, num_generations: int) -> torch.Tensor:
            return method_advantages(self.lab_method, rewards.float().cpu(), num_generations,
                                     generator=self._lab_generator)

    _CONTROL_CLASS = ControlGRPOTrainer
    return ControlGRPOTrainer


def trainer_args(settings: RealLabSettings, spec: RunSpec, output_dir: str):
    """The trainer config of one run: the same fields for every method, plus tau and mode for SR-GRPO.

    A step is ``prompts_per_step`` problems x ``num_generations`` completions, generated together and scored
    together, and optimised in ``prompts_per_step`` micro-batches of one group each (the float32 logits of a
    49,152-token vocabulary are large: one group at a time keeps the peak near 6 GB).
    """
    common = dict(
        output_dir=output_dir, use_cpu=True, bf16=False, fp16=False, gradient_checkpointing=False, report_to="none",
        save_strategy="no", logging_steps=1, disable_tqdm=True, log_level="error", seed=spec.seed,
        max_steps=settings.max_steps, per_device_train_batch_size=settings.num_generations,
        gradient_accumulation_steps=settings.prompts_per_step, num_generations=settings.num_generations,
        max_completion_length=settings.max_completion_length, temperature=settings.temperature,
        learning_rate=settings.learning_rate, lr_scheduler_type="constant", warmup_steps=0, beta=settings.beta,
        num_iterations=settings.num_iterations, reward_weights=list(settings.reward_weights),
        scale_rewards="group", optim="adamw_torch", dataloader_num_workers=0,
    )
    if spec.method == "grpo":
        from trl import GRPOConfig

        return GRPOConfig(**common)
    from srgrpo.config import SRGRPOConfig

    if spec.method in SOFT_METHODS:
        return SRGRPOConfig(**common, tau=spec.tau, soft_advantage=spec.method)
    return SRGRPOConfig(**common)  # a control: ControlGRPOTrainer ignores tau and soft_advantage


def _load(settings: RealLabSettings, seed: int):
    from srgrpo.models.loading import load_policy

    lora = settings.lora_r > 0
    model, tokenizer, _ = load_policy(settings.model_name_or_path, use_lora=lora, lora_r=settings.lora_r,
                                      lora_alpha=settings.lora_alpha, load_in_4bit=False,
                                      gradient_checkpointing=False, seed=seed, use_unsloth=False,
                                      dtype="float32")  # the lab's recipe (its trainer runs bf16=False) on any CPU
    return model, tokenizer


def build_trainer(settings: RealLabSettings, spec: RunSpec, output_dir: str, train_dataset=None):
    """The trainer of one run, on a freshly loaded model (``train_dataset`` defaults to the training problems)."""
    import transformers

    model, tokenizer = _load(settings, spec.seed)
    kwargs = dict(model=model, reward_funcs=list(REWARD_FUNCS), args=trainer_args(settings, spec, output_dir),
                  train_dataset=train_problems() if train_dataset is None else train_dataset,
                  processing_class=tokenizer)
    if spec.method == "grpo":
        from trl import GRPOTrainer

        from srgrpo.cpu.fast_path import CPUFastPathMixin

        class FastPathGRPOTrainer(CPUFastPathMixin, GRPOTrainer):
            """TRL's GRPO, sampled and scored on a CPU as the SR-GRPO runs are (the same cost, the same sampler)."""

        trainer = FastPathGRPOTrainer(**kwargs)
    elif spec.method in SOFT_METHODS:
        from srgrpo.trainer import SRGRPOTrainer

        trainer = SRGRPOTrainer(**kwargs)
    else:
        trainer = control_trainer_class()(**kwargs, lab_method=spec.method, lab_seed=spec.seed)
    # With disable_tqdm, transformers prints every log dict; the curves are read from log_history instead.
    trainer.remove_callback(transformers.trainer_callback.PrinterCallback)
    return trainer


def examples(records: Sequence[dict[str, Any]], k: int = 3) -> list[dict[str, Any]]:
    """The first ``k`` held-out answers, for a reader to see what the numbers count, and the first answer that is
    correct and in format when none of those is (a success to set beside the failures; none if there is none)."""
    keep = ("index", "question", "gold", "completion", "correct", "strict_format", "stopped")
    chosen = list(records[:k])
    if not any(r["correct"] and r["strict_format"] for r in chosen):
        chosen += [r for r in records[k:] if r["correct"] and r["strict_format"]][:1]
    return [{name: r[name] for name in keep} for r in chosen]


def evaluate_start(settings: RealLabSettings, problems: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The pretrained model's held-out answers (no adapter): the common "before" of every run."""
    from srgrpo.models.loading import load_for_inference

    start = time.perf_counter()
    model, tokenizer = load_for_inference(settings.model_name_or_path, device="cpu")
    records = heldout_records(model, tokenizer, problems, settings.max_new_tokens, settings.eval_batch_size)
    return {"heldout": heldout_summary(records), "examples": examples(records),
            "eval_s": round(time.perf_counter() - start, 2)}


def _curves(history: list[dict[str, Any]]) -> dict[str, list]:
    rows = [h for h in history if h.get("reward") is not None and "step" in h]
    curves: dict[str, list] = {"step": [h["step"] for h in rows]}
    for name, key in CURVE_KEYS.items():
        curves[name] = [None if h.get(key) is None else round(float(h[key]), 5) for h in rows]
    return curves


def train_and_evaluate(settings: RealLabSettings, spec: RunSpec, problems: Sequence[dict[str, Any]],
                       output_dir: str, callbacks: Sequence[Any] = ()) -> dict[str, Any]:
    """One run: train from the pretrained model, then answer the held-out ``problems`` greedily.

    ``output_dir`` is the trainer's scratch folder (nothing is saved there: ``save_strategy="no"``);
    ``callbacks`` are added to the trainer (the notebook's step table). Returns the run's curves, held-out summary,
    examples and seconds (training, evaluation, wall).
    """
    import transformers

    transformers.logging.set_verbosity_error()
    start = time.perf_counter()
    with warnings.catch_warnings():
        # transformers 5 renamed gradient_checkpointing; TRL's config still sets it. Not ours to fix.
        warnings.filterwarnings("ignore", message=".*gradient_checkpointing.*", category=FutureWarning)
        trainer = build_trainer(settings, spec, output_dir)
        for callback in callbacks:
            trainer.add_callback(callback)
        trainer.train()
    train_s = time.perf_counter() - start
    model = trainer.model
    if settings.lora_r > 0:
        model = model.merge_and_unload()  # the same function, without the adapters' extra matmuls while generating
    eval_start = time.perf_counter()
    records = heldout_records(model, trainer.processing_class, problems, settings.max_new_tokens,
                              settings.eval_batch_size)
    eval_s = time.perf_counter() - eval_start
    return {
        "label": spec.label, "method": spec.method, "tau": spec.tau, "seed": spec.seed, "control": spec.control,
        "steps": trainer.state.global_step,
        "curves": _curves(trainer.state.log_history),
        "heldout": heldout_summary(records),
        "examples": examples(records),
        "train_s": round(train_s, 2), "eval_s": round(eval_s, 2),
        "wall_s": round(time.perf_counter() - start, 2),
    }
