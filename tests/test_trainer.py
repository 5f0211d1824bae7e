"""SRGRPOTrainer inside TRL's real training loop, on the offline tiny model."""

from __future__ import annotations

import json
import logging
import math
import subprocess
import sys

import pytest
import torch
from datasets import Dataset

from srgrpo import SRGRPOConfig, SRGRPOTrainer, soft_advantages
from srgrpo.models.tiny import load_tiny

from conftest import REPO, subprocess_env

K = 4


def small_config(tmp_path, **overrides) -> SRGRPOConfig:
    params = dict(
        output_dir=str(tmp_path / "out"),
        per_device_train_batch_size=8,
        num_generations=K,
        max_completion_length=12,
        max_steps=2,
        logging_steps=1,
        learning_rate=1e-4,
        beta=0.1,
        report_to="none",
        use_cpu=True,
        gradient_checkpointing=False,
        save_strategy="no",
        disable_tqdm=True,
        seed=0,
    )
    params.update(overrides)
    return SRGRPOConfig(**params)


def prompts_dataset(n: int = 16) -> Dataset:
    return Dataset.from_list(
        [{"prompt": [{"role": "user", "content": f"Ava has {i} apples and buys {i + 3} more. How many?"}]}
         for i in range(n)]
    )


class Recorder:
    """Reward functions that remember what they returned, keyed by (prompt ids, completion ids)."""

    def __init__(self):
        self.calls: list[list[tuple[tuple, tuple, float | None, float | None]]] = []

    def text_len(self, completions, completion_ids, **kwargs):
        return [float(len(c[0]["content"]) % 7) for c in completions]

    def sometimes_none(self, completions, completion_ids, **kwargs):
        # Unscorable for some completions: exercises TRL's NaN handling and the weighted sum.
        return [None if sum(ids) % 3 == 0 else float(sum(ids) % 5) / 4 for ids in completion_ids]


class ProbeTrainer(SRGRPOTrainer):
    """Records every batch's rewards (as the reward functions saw them) and the advantages the loss gets."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.batches = []
        self.loss_rows = []

    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
        rpf = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
        self.batches.append({"completion_ids": [tuple(c) for c in completion_ids_list], "rewards_per_func": rpf.clone()})
        return rpf

    def _generate_and_score_completions(self, inputs):
        out = super()._generate_and_score_completions(inputs)
        self.batches[-1]["prompt_rows"] = [
            tuple(p[m.bool()].tolist()) for p, m in zip(out["prompt_ids"], out["prompt_mask"])
        ]
        return out

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        for p, pm, c, cm, a in zip(inputs["prompt_ids"], inputs["prompt_mask"], inputs["completion_ids"],
                                   inputs["completion_mask"], inputs["advantages"]):
            ids = c[: int(cm.sum())].tolist()
            self.loss_rows.append((tuple(p[pm.bool()].tolist()), tuple(ids), float(a)))
        return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)


@pytest.mark.trains_with_trl
@pytest.mark.parametrize("mode", ["shared", "per_sample"])
def test_loss_sees_the_formula_applied_to_the_rewards(tmp_path, tiny_dir, mode):
    model, tok = load_tiny(tiny_dir)
    assert_loss_sees_the_formula(model, tok, tmp_path, mode)


def assert_loss_sees_the_formula(model, tok, tmp_path, mode: str) -> "ProbeTrainer":
    """Two steps of ``model``: the advantages reaching the loss are ``soft_advantages`` of the rewards the reward
    functions returned, and the logged metrics are those of the oracle (tests/models/test_qlora.py runs it in 4-bit)."""
    rec = Recorder()
    args = small_config(tmp_path, soft_advantage=mode, tau=0.3, reward_weights=[1.0, 0.5])
    trainer = ProbeTrainer(model=model, reward_funcs=[rec.text_len, rec.sometimes_none], args=args,
                           train_dataset=prompts_dataset(), processing_class=tok)
    trainer.train()

    assert len(trainer.batches) == 2
    expected: dict[tuple, float] = {}
    step_means = []
    for batch in trainer.batches:
        rpf = batch["rewards_per_func"]
        # The oracle: weighted sum as TRL does it, rows where every function said None are unscorable.
        rewards = []
        for a, b in rpf.tolist():
            if math.isnan(a) and math.isnan(b):
                rewards.append(float("nan"))
            else:
                rewards.append((0.0 if math.isnan(a) else a) + 0.5 * (0.0 if math.isnan(b) else b))
        adv = soft_advantages(torch.tensor(rewards), K, tau=0.3, mode=mode)
        step_means.append(adv.mean().item())
        for p, c, a in zip(batch["prompt_rows"], batch["completion_ids"], adv.tolist()):
            # Identical (prompt, completion) pairs share a group and a reward, hence an advantage.
            expected.setdefault((p, c), a)
    assert any(math.isnan(x) for b in trainer.batches for x in b["rewards_per_func"][:, 1].tolist())

    assert len(trainer.loss_rows) == 16
    for p, c, a in trainer.loss_rows:
        # The loss sees ids up to and including EOS; the reward functions saw them without padding.
        key = (p, c) if (p, c) in expected else (p, tuple(c[:-1]))
        assert a == pytest.approx(expected[key], abs=1e-5)

    logged = [h for h in trainer.state.log_history if "reward" in h]
    assert len(logged) == 2
    for h, m in zip(logged, step_means):
        for name in ("reward", "reward_std", "kl", "completion_length", "soft_advantage_mean", "soft_advantage_std"):
            assert name in h, name
        assert h["soft_advantage_mean"] == pytest.approx(m, abs=1e-5)
    if mode == "per_sample":
        assert all(abs(h["soft_advantage_mean"]) < 1e-5 for h in logged)
    return trainer


@pytest.mark.trains_with_trl
def test_completions_table_shows_sr_advantages(tmp_path, tiny_dir):
    model, tok = load_tiny(tiny_dir)
    rec = Recorder()
    args = small_config(tmp_path, max_steps=1, log_completions=True, soft_advantage="shared")
    trainer = ProbeTrainer(model=model, reward_funcs=[rec.text_len], args=args,
                           train_dataset=prompts_dataset(), processing_class=tok)
    # Keep the table in memory: log() prints it and clears nothing we read.
    trainer.train()
    rewards = trainer.batches[0]["rewards_per_func"][:, 0]
    expected = soft_advantages(rewards, K, tau=0.5, mode="shared").tolist()
    assert list(trainer._logs["advantages"]) == pytest.approx(expected, abs=1e-6)


@pytest.mark.trains_with_trl
def test_prompts_are_left_truncated_with_a_counting_warning(tmp_path, tiny_dir, caplog):
    model, tok = load_tiny(tiny_dir)
    rec = Recorder()
    args = small_config(tmp_path, max_steps=1, max_prompt_length=10)
    trainer = ProbeTrainer(model=model, reward_funcs=[rec.text_len], args=args,
                           train_dataset=prompts_dataset(), processing_class=tok)
    with caplog.at_level(logging.WARNING, logger="srgrpo.trainer"):
        trainer.train()
    assert all(len(p) == 10 for p in trainer.batches[0]["prompt_rows"])
    # Left truncation keeps the end of the chat prompt: the assistant tag the completion follows.
    full = tok.apply_chat_template(prompts_dataset()[0]["prompt"], add_generation_prompt=True, tokenize=True,
                                   return_dict=True)["input_ids"]
    assert len(full) > 10
    assert trainer.batches[0]["prompt_rows"][0] == tuple(full[-10:]) or any(
        row == tuple(full[-10:]) for row in trainer.batches[0]["prompt_rows"]
    )
    assert any("were longer than max_prompt_length=10" in r.getMessage() and "8 of 8" in r.getMessage()
               for r in caplog.records)


def test_trainer_refuses_a_plain_grpo_config(tmp_path, tiny_dir):
    from trl import GRPOConfig

    model, tok = load_tiny(tiny_dir)
    cfg = GRPOConfig(output_dir=str(tmp_path), use_cpu=True, bf16=False, report_to="none", num_generations=K,
                     per_device_train_batch_size=8)
    with pytest.raises(TypeError, match="SRGRPOConfig"):
        SRGRPOTrainer(model=model, reward_funcs=[Recorder().text_len], args=cfg,
                      train_dataset=prompts_dataset(), processing_class=tok)


@pytest.mark.trains_with_trl
def test_two_processes_get_their_exact_slice(tmp_path, tiny_dir):
    """torchrun, 2 CPU processes (gloo): each keeps its rows of the advantages of the global batch."""
    out = tmp_path / "dist"
    out.mkdir()
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           str(REPO / "tests" / "scripts" / "distributed_slices.py"), str(out), str(tiny_dir)]
    env = subprocess_env(TMPDIR=str(tmp_path), OMP_NUM_THREADS="1")
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    ranks = [json.loads((out / f"rank{r}.json").read_text()) for r in (0, 1)]
    for step in range(2):
        local_rewards = [ranks[r]["steps"][step]["local_rewards"] for r in (0, 1)]
        global_rewards = local_rewards[0] + local_rewards[1]
        # 12 completions, groups of 4: the second group straddles the two processes.
        assert len(local_rewards[0]) == 6 and len(global_rewards) == 12
        expected = soft_advantages(torch.tensor(global_rewards), 4, tau=0.5, mode="per_sample").tolist()
        for r in (0, 1):
            assert ranks[r]["steps"][step]["advantages"] == pytest.approx(expected[r * 6 : (r + 1) * 6], abs=1e-5)
        assert ranks[0]["steps"][step]["rank_saw_global"] == pytest.approx(global_rewards)


@pytest.mark.trains_with_trl
def test_reward_functions_see_which_completions_ran_to_the_token_limit(tmp_path):
    """Inside a real training step, reward functions learn which completions ran to the token limit: SRGRPOTrainer's
    `cut_off` column and srgrpo.tasks.rewards.cut_off_flags (TRL's own kwargs) agree, and a completion is cut off exactly
    when it has max_completion_length tokens and does not end in EOS."""
    from srgrpo.tasks.rewards import cut_off_flags

    model, tok = load_tiny()
    seen = []

    def probe(completions, completion_ids, **kwargs):
        # SRGRPOTrainer passes the flags as a `cut_off` column; without it, cut_off_flags reads TRL's own kwargs.
        without_column = {k: v for k, v in kwargs.items() if k != "cut_off"}
        assert cut_off_flags(len(completions), {**without_column, "completion_ids": completion_ids}) == kwargs["cut_off"]
        seen.extend(zip(kwargs["cut_off"], [list(ids) for ids in completion_ids]))
        return [0.0] * len(completions)

    config = small_config(tmp_path, max_steps=2, beta=0.0, max_completion_length=16)
    trainer = SRGRPOTrainer(model=model, processing_class=tok, reward_funcs=[probe], args=config,
                            train_dataset=prompts_dataset())
    trainer.train()
    assert {flag for flag, _ in seen} == {True, False}  # both kinds occur (seeded), and None (unknown) never
    eos = set(trainer.eos_token_ids) | {tok.pad_token_id}
    for flag, ids in seen:
        assert flag == (len(ids) == 16 and ids[-1] not in eos)
