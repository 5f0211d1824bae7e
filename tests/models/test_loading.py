"""srgrpo.models.loading: the policy loader (transformers + peft path on a CPU) and the evaluation loader."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import assert_close_in_norm

from srgrpo.models.loading import (
    DEFAULT_MODEL,
    LORA_TARGET_MODULES,
    ModelLoadError,
    load_for_inference,
    load_policy,
    resolve_model_path,
)


def test_default_model_is_documented():
    import srgrpo.models.loading as m

    assert DEFAULT_MODEL == "Qwen/Qwen2.5-1.5B-Instruct"
    assert "T4" in m.__doc__ and DEFAULT_MODEL in m.__doc__


def test_tiny_policy_is_a_lora_model_with_one_notice(tiny_dir, capsys):
    from peft import PeftModel

    model, tok, info = load_policy("tiny", lora_r=8)
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("srgrpo:")]
    assert len(lines) == 1 and lines[0].startswith("srgrpo: Unsloth not used (")
    assert "transformers + peft LoRA r=8" in lines[0]
    assert isinstance(model, PeftModel)
    assert info.backend == "transformers" and info.use_lora and info.dtype == "float32"
    assert info.lora["r"] == 8 and info.lora["lora_alpha"] == 16
    assert info.lora["target_modules"] == list(LORA_TARGET_MODULES)
    assert 0 < info.trainable_params < info.total_params
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n for n in trainable)
    assert tok.padding_side == "left" and tok.pad_token is not None
    assert all(p.device.type == "cpu" for p in model.parameters())


def test_tiny_policy_full_finetuning(tiny_dir, capsys):
    from peft import PeftModel

    for kwargs in ({"use_lora": False}, {"lora_r": 0}):
        model, _, info = load_policy("tiny", **kwargs)
        assert not isinstance(model, PeftModel) and not info.use_lora
        assert info.trainable_params == info.total_params
    assert "full fine-tuning" in capsys.readouterr().out


def test_unsloth_refused_where_unavailable(tiny_dir):
    with pytest.raises(ModelLoadError, match="Unsloth cannot be used here"):
        load_policy("tiny", use_unsloth=True)


def test_bad_model_paths_give_clear_errors(tmp_path):
    with pytest.raises(ModelLoadError, match="model folder not found"):
        load_policy(str(tmp_path / "nope"))
    with pytest.raises(ModelLoadError, match="no config.json"):
        resolve_model_path(str(tmp_path))
    (tmp_path / "adapter_config.json").write_text("{}")
    with pytest.raises(ModelLoadError, match="LoRA adapter"):
        resolve_model_path(str(tmp_path))
    with pytest.raises(ModelLoadError, match="non-empty"):
        resolve_model_path("")


def test_hub_name_offline_error_mentions_tiny(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelLoadError, match="'tiny'"):
        load_for_inference("srgrpo-test/definitely-not-cached")


def test_inference_merges_an_adapter(tiny_dir, tmp_path):
    model, tok, _ = load_policy("tiny", lora_r=4)
    torch.manual_seed(1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.05)  # a non-zero adapter, so merging changes the output
    model.save_pretrained(tmp_path / "adapter")
    tok.save_pretrained(tmp_path / "adapter")
    ids = tok(["Ava has 3 apples"], return_tensors="pt")
    model.eval()
    with torch.no_grad():
        expected = model(**ids).logits

    merged, tok2 = load_for_inference("tiny", adapter=str(tmp_path / "adapter"), device="cpu")
    assert not merged.training and type(merged).__name__ == "Qwen2ForCausalLM"
    assert tok2("Ava has 3 apples")["input_ids"] == tok("Ava has 3 apples")["input_ids"]
    with torch.no_grad():
        got = merged(**ids).logits
    assert_close_in_norm(got, expected, 1e-5, "merged logits")

    base, _ = load_for_inference("tiny", device="cpu")
    with torch.no_grad():
        assert not torch.allclose(base(**ids).logits, expected, atol=1e-4)

    # The adapter folder alone: the base model is read from adapter_config.json.
    cfg = json.loads((tmp_path / "adapter" / "adapter_config.json").read_text())
    assert cfg["base_model_name_or_path"]
    alone, _ = load_for_inference(str(tmp_path / "adapter"), device="cpu")
    with torch.no_grad():
        assert_close_in_norm(alone(**ids).logits, expected, 1e-5, "merged logits")

    with pytest.raises(ModelLoadError, match="no adapter_config.json"):
        load_for_inference("tiny", adapter=str(tmp_path / "missing"))
