r"""The arithmetic lab's RL runs: one method, one seed, from the warm start, with TRL, then held-out accuracy.

Every method gets the same trainer settings (:func:`rl_args`): ``grpo`` runs TRL's own ``GRPOTrainer``
(``scale_rewards="group"``); ``shared`` and ``per_sample`` run :class:`srgrpo.SRGRPOTrainer`; the controls
(``constant``, ``random_reward``) run ``ControlGRPOTrainer`` (:func:`control_trainer_class`), an ``SRGRPOTrainer``
whose one advantage hook returns :func:`srgrpo.lab.methods.method_advantages`. The reward is
:func:`srgrpo.rewards.correctness_reward`.
"""

from __future__ import annotations

import os
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any, Sequence

from srgrpo.lab.arithmetic_settings import DEFAULTS
from srgrpo.lab.methods import SOFT_METHODS, method_advantages
from srgrpo.lab.warm_start import greedy_accuracy, load_warm_start

__all__ = ["RL_RECIPE", "control_trainer_class", "rl_args", "run_rl"]

#: Bumped when an RL run's recipe changes in a way its settings do not show, to retire old results.
RL_RECIPE = 1

_CONTROL_CLASS = None


def control_trainer_class():
    """``ControlGRPOTrainer``: :class:`srgrpo.SRGRPOTrainer` with a lab method's advantages (the controls).

    Built on first use (importing TRL is slow). It overrides the trainer's one advantage hook,
    ``compute_advantages(rewards, num_generations)``, with
    :func:`srgrpo.lab.methods.method_advantages`, so gathering, slicing and logging stay
    ``SRGRPOTrainer``'s (its ``soft_advantage_mean``/``_std`` metrics then describe the control's
    advantages). Pass ``lab_method`` (``"constant"`` or ``"random_reward"``, or ``"grpo"``) and
    ``lab_seed`` (seeds the fake rewards of ``random_reward``) as keyword arguments, and an
    :class:`srgrpo.SRGRPOConfig` as ``args`` (its ``tau`` and ``soft_advantage`` are unused).
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


def rl_args(method: str, tau: float | None, seed: int, settings: dict[str, Any], output_dir: str):
    """The trainer config of one run: the same fields for every method, plus tau and mode for SR-GRPO."""
    common = dict(
        output_dir=output_dir,
        use_cpu=True,
        bf16=False,
        gradient_checkpointing=False,
        report_to="none",
        save_strategy="no",
        logging_steps=1,
        disable_tqdm=True,
        log_level="error",
        seed=seed,
        max_steps=settings["rl_steps"],
        per_device_train_batch_size=settings["prompts_per_step"] * settings["num_generations"],
        gradient_accumulation_steps=1,
        num_generations=settings["num_generations"],
        max_completion_length=settings["max_completion_length"],
        temperature=settings["temperature"],
        learning_rate=settings["learning_rate"],
        lr_scheduler_type="constant_with_warmup",
        warmup_steps=settings["warmup_steps"],
        beta=settings["beta"],
        loss_type=settings["loss_type"],
        num_iterations=settings["num_iterations"],
        mask_truncated_completions=settings["mask_truncated_completions"],
        scale_rewards="group",
        optim="adamw_torch",
        dataloader_num_workers=0,
    )
    if method == "grpo":
        from trl import GRPOConfig

        return GRPOConfig(**common)
    from srgrpo.config import SRGRPOConfig

    if method in SOFT_METHODS:
        return SRGRPOConfig(**common, tau=tau, soft_advantage=method)
    return SRGRPOConfig(**common)  # a control: ControlGRPOTrainer ignores tau and soft_advantage


def run_rl(method: str, tau: float | None, seed: int, warm_dir: str | os.PathLike, train_dataset,
           heldout: Sequence[dict[str, Any]], settings: dict[str, Any], work_dir: str | os.PathLike | None = None
           ) -> dict[str, Any]:
    """One RL run from the warm start: train, then measure greedy held-out accuracy.

    Returns ``{"after", "rl_s", "eval_s", "wall_s", "steps", "curve": {"step", "reward"}}``
    (``after`` in percent; ``curve`` the mean training reward of each logged step).
    """
    import transformers

    from srgrpo.rewards import correctness_reward

    settings = {**DEFAULTS, **settings}
    transformers.logging.set_verbosity_error()
    start = time.perf_counter()
    model, tokenizer = load_warm_start(Path(warm_dir))
    with tempfile.TemporaryDirectory(prefix="rl-", dir=work_dir) as out, warnings.catch_warnings():
        # transformers 5 renamed gradient_checkpointing; TRL's config still sets it. Not ours to fix.
        warnings.filterwarnings("ignore", message=".*gradient_checkpointing.*", category=FutureWarning)
        args = rl_args(method, tau, seed, settings, out)
        kwargs = dict(model=model, reward_funcs=[correctness_reward], args=args, train_dataset=train_dataset,
                      processing_class=tokenizer)
        if method == "grpo":
            from trl import GRPOTrainer

            trainer = GRPOTrainer(**kwargs)
        elif method in SOFT_METHODS:
            from srgrpo.trainer import SRGRPOTrainer

            trainer = SRGRPOTrainer(**kwargs)
        else:
            trainer = control_trainer_class()(**kwargs, lab_method=method, lab_seed=seed)
        # With disable_tqdm, transformers prints every log dict to stdout; the curve is read from
        # log_history instead, and stdout is kept for the table.
        trainer.remove_callback(transformers.trainer_callback.PrinterCallback)
        trainer.train()
        rl_s = time.perf_counter() - start
        history = trainer.state.log_history
        steps = trainer.state.global_step
    curve = [(h["step"], h["reward"]) for h in history if "reward" in h and h.get("reward") is not None]
    eval_start = time.perf_counter()
    after = greedy_accuracy(trainer.model, tokenizer, heldout, settings["max_completion_length"],
                            settings["eval_batch_size"])
    eval_s = time.perf_counter() - eval_start
    return {
        "after": round(after, 4),
        "rl_s": round(rl_s, 2),
        "eval_s": round(eval_s, 2),
        "wall_s": round(time.perf_counter() - start, 2),
        "steps": steps,
        "curve": {"step": [s for s, _ in curve], "reward": [round(r, 5) for _, r in curve]},
    }


# ---------------------------------------------------------------------------------------------------------------
