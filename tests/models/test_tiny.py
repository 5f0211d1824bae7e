"""The offline tiny model: a real Qwen2, a locally trained tokenizer, nothing from the hub."""

from __future__ import annotations

import torch

from srgrpo.models.tiny import CHAT_TEMPLATE, build_tiny_model, build_tiny_tokenizer, load_tiny, tiny_model_dir


def test_architecture_and_size(tiny_dir):
    model, tok = load_tiny(tiny_dir)
    assert type(model).__name__ == "Qwen2ForCausalLM"
    assert model.config.num_key_value_heads < model.config.num_attention_heads  # grouped-query attention
    assert 1e6 < sum(p.numel() for p in model.parameters()) < 1e7
    assert model.config.vocab_size == len(tok)
    assert tok.eos_token == "<|im_end|>" and tok.pad_token == "<|endoftext|>" and tok.padding_side == "left"


def test_digits_are_single_tokens_and_text_round_trips(tiny_dir):
    _, tok = load_tiny(tiny_dir)
    assert [t for t in tok.tokenize("#### 90417") if t.strip("Ġ")][1:] == list("90417")
    text = "Ava has 1,234 apples (and €5). Σ ünïcode too!\n#### -7"
    assert tok.decode(tok(text)["input_ids"]) == text


def test_chat_template_matches_chatml(tiny_dir):
    _, tok = load_tiny(tiny_dir)
    msgs = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "2+2?"}]
    text = tok.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False)
    assert text == "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n"
    assert tok.chat_template == CHAT_TEMPLATE


def test_build_is_deterministic(tiny_dir):
    tok = build_tiny_tokenizer()
    _, saved = load_tiny(tiny_dir)
    sample = "Nora sells 48 stickers; how many are left?\n#### 12"
    # Reloaded from disk, the ids are those of a fresh build (the AutoTokenizer trap is avoided).
    assert tok(sample)["input_ids"] == saved(sample)["input_ids"]
    a, b = build_tiny_model(tok), build_tiny_model(tok)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_cache_is_reused(tiny_dir):
    stamp = tiny_dir / "srgrpo_recipe.json"
    before = stamp.stat().st_mtime_ns
    assert tiny_model_dir() == tiny_dir
    assert stamp.stat().st_mtime_ns == before


def test_generates_offline(tiny_dir):
    model, tok = load_tiny(tiny_dir)
    batch = tok(["Q: 1 + 1 =", "Q: what is 12 plus 30?"], return_tensors="pt", padding=True)
    out = model.generate(**batch, max_new_tokens=5, do_sample=False)
    prompt_len = batch["input_ids"].shape[1]
    assert out.shape[0] == 2 and prompt_len < out.shape[1] <= prompt_len + 5
