"""4-bit LoRA without Unsloth (srgrpo.models.qlora): bitsandbytes NF4 on the CPU, against full precision.

The oracles: the setting's rules as a table; the layers bitsandbytes actually built; a 4-bit step's loss and LoRA
gradients against the same step on (a) the dequantized NF4 weights in float32, which must agree to bfloat16 rounding,
and (b) the original full-precision weights, which differ by NF4's quantization error; the reward / advantage /
logging oracle of tests/test_trainer.py run on the 4-bit model; a 4-bit adapter merged into full-precision weights
against peft's unmerged adapter.
"""

from __future__ import annotations

import copy
import importlib.util
import logging
import subprocess
import sys

import pytest
import torch
from conftest import REPO, assert_close_in_norm, hide_bitsandbytes, subprocess_env

from srgrpo.models.loading import LORA_TARGET_MODULES, ModelLoadError, load_for_inference, load_policy
from srgrpo.models.qlora import FourBitChoice, decide, is_4bit, parse_setting

needs_bitsandbytes = pytest.mark.skipif(
    importlib.util.find_spec("bitsandbytes") is None,
    reason="bitsandbytes is not installed (the test extra installs it: pip install -c requirements/cpu.txt -e .[test])",
)


# -- the setting ------------------------------------------------------------------------------------------------------


def test_the_setting_reads_auto_true_and_false():
    for value, parsed in ((None, None), ("auto", None), ("AUTO", None), (True, True), ("true", True), ("1", True),
                          ("yes", True), (False, False), ("false", False), ("0", False), ("no", False)):
        assert parse_setting(value) is parsed, value
    with pytest.raises(ValueError, match="auto, true or false.*'maybe'"):
        parse_setting("maybe")


@pytest.mark.parametrize("setting,on_cuda,lora,available,load,note", [
    ("auto", False, True, True, False, ""),        # a CPU: full precision, nothing to say
    ("auto", True, True, True, True, ""),          # a GPU: 4-bit
    ("auto", True, True, False, False, "bitsandbytes is not installed"),
    ("auto", True, False, True, False, "full fine-tuning"),
    ("false", True, True, True, False, ""),
    ("true", True, True, True, True, ""),
    ("true", False, True, True, True, "on a CPU 4-bit checks the GPU path"),
])
def test_auto_means_a_cuda_gpu_and_every_skip_is_said(setting, on_cuda, lora, available, load, note):
    choice = decide(setting, on_cuda=on_cuda, lora=lora, available=available)
    assert isinstance(choice, FourBitChoice) and choice.load is load
    assert (note in choice.note) if note else choice.note == ""


def test_an_explicit_true_that_cannot_be_honoured_is_an_error():
    with pytest.raises(ModelLoadError, match="bitsandbytes, which is not installed: pip install bitsandbytes"):
        decide("true", on_cuda=True, lora=True, available=False)
    with pytest.raises(ModelLoadError, match="cannot be fully fine-tuned"):
        decide(True, on_cuda=False, lora=False, available=True)


def test_load_policy_defaults_to_full_precision(tiny_dir, capsys):
    """Tests and callers that pass nothing keep full-precision weights (load_policy's default is False)."""
    model, _, info = load_policy("tiny", lora_r=4)
    assert not info.load_in_4bit and info.quantization == "" and not is_4bit(model)
    assert "4-bit" not in capsys.readouterr().out


def test_4bit_without_bitsandbytes(tiny_dir, monkeypatch, capsys):
    hide_bitsandbytes(monkeypatch)
    with pytest.raises(ModelLoadError, match="not installed: pip install bitsandbytes"):
        load_policy("tiny", lora_r=4, load_in_4bit=True)
    # auto on a CPU is full precision whether or not bitsandbytes is there
    model, _, info = load_policy("tiny", lora_r=4, load_in_4bit="auto")
    assert not info.load_in_4bit and not is_4bit(model)


def test_the_kit_imports_bitsandbytes_only_on_the_4bit_path():
    """Importing the kit's commands imports no bitsandbytes of its own (peft and transformers may, when they load)."""
    code = ("import sys; import srgrpo, srgrpo.models.loading, srgrpo.models.qlora, srgrpo.train.settings, "
            "srgrpo.cpu.sampling; print('bitsandbytes' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], env=subprocess_env(), cwd=REPO, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "False"


# -- 4-bit weights on the CPU -----------------------------------------------------------------------------------------


@needs_bitsandbytes
def test_tiny_policy_in_4bit(tiny_dir, capsys):
    import bitsandbytes as bnb

    model, _, info = load_policy("tiny", lora_r=8, load_in_4bit=True)
    out = capsys.readouterr().out
    assert "4-bit NF4 base weights (bitsandbytes), computing in float32" in out and "steps aside" in out
    assert info.load_in_4bit and info.backend == "transformers" and "NF4" in info.quantization
    assert is_4bit(model)
    decoder = model.get_base_model().model
    for layer in decoder.layers:
        for name in LORA_TARGET_MODULES:
            module = layer.get_submodule({"q_proj": "self_attn.q_proj", "k_proj": "self_attn.k_proj",
                                          "v_proj": "self_attn.v_proj", "o_proj": "self_attn.o_proj"}.get(
                                              name, f"mlp.{name}"))
            base = module.base_layer
            assert isinstance(base, bnb.nn.Linear4bit), (name, type(base))
            assert base.weight.quant_state.quant_type == "nf4" and base.weight.dtype == torch.uint8
            assert base.compute_dtype == torch.float32
    assert decoder.embed_tokens.weight.dtype == torch.float32  # not quantized (and the head is tied to it)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n for n in trainable)


def _perturb_adapters(model, seed: int) -> None:
    """LoRA's B matrices start at zero, so a fresh adapter changes nothing: give them small random values (``seed``)."""
    torch.manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.05)


@needs_bitsandbytes
def test_an_eval_mode_pass_leaves_the_4bit_model_trainable(tiny_dir):
    """bitsandbytes repacks a 4-bit weight for its inference kernel on a CPU with AVX512-BF16 after an eval-mode pass
    without gradients, and training then fails; the kit switches that off (srgrpo.models.qlora). On other CPUs the
    repacking never happens and this holds anyway."""
    model, tok, _ = load_policy("tiny", lora_r=8, load_in_4bit=True)
    _perturb_adapters(model, seed=0)
    ids = tok(["Ava has 3 apples and buys 4 more."] * 2, return_tensors="pt")

    def loss_and_grads():
        model.train()
        model.zero_grad()
        loss = model(**ids, labels=ids["input_ids"]).loss
        loss.backward()
        return loss.item(), torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])

    before = loss_and_grads()
    model.eval()
    with torch.no_grad():
        model(**ids)
    layers = [m for m in model.modules() if type(m).__name__ == "Linear4bit" and hasattr(m.weight, "quant_state")]
    assert layers and not any(getattr(m.weight.quant_state, "packing_format_for_cpu", False) for m in layers)
    after = loss_and_grads()
    assert after[0] == pytest.approx(before[0], rel=1e-6)
    assert_close_in_norm(after[1], before[1], 1e-5, "LoRA gradients after an eval-mode pass")


@needs_bitsandbytes
@pytest.mark.trains_with_trl
def test_the_fast_path_steps_aside_on_4bit_weights(tiny_dir, tmp_path, caplog):
    """Merging LoRA into NF4 weights would requantize them: the merged-copy sampler and the shared-prompt pass step
    aside, TRL generates, the log says why, and no 4-bit weight changes."""
    from test_trainer import prompts_dataset, small_config

    from srgrpo import SRGRPOTrainer
    from srgrpo.cpu.sampling import MergedPolicy, why_not_supported

    model, tok, _ = load_policy("tiny", lora_r=8, load_in_4bit=True)
    assert "4-bit" in why_not_supported(model)
    with pytest.raises(ValueError, match="4-bit"):
        MergedPolicy(model)
    packed = {n: p.detach().clone() for n, p in model.named_parameters() if p.dtype == torch.uint8}
    assert packed
    args = small_config(tmp_path, max_steps=1, max_completion_length=6)
    trainer = SRGRPOTrainer(model=model, reward_funcs=[lambda completions, **kw: [1.0] * len(completions)],
                            args=args, train_dataset=prompts_dataset(), processing_class=tok)
    assert "4-bit" in trainer._shared_prompt_blocker(trainer.model, {})
    with caplog.at_level(logging.INFO, logger="srgrpo.cpu.fast_path"):
        trainer.train()
    assert "completions sampled by TRL's generate (the base weights are 4-bit" in caplog.text
    assert trainer._sr_merged_policy is None
    for name, p in model.named_parameters():
        if name in packed:
            assert torch.equal(p, packed[name]), name


@needs_bitsandbytes
@pytest.mark.trains_with_trl
@pytest.mark.parametrize("mode", ["shared", "per_sample"])
def test_rewards_advantages_and_logs_in_4bit_are_the_oracles(tiny_dir, tmp_path, mode):
    """tests/test_trainer.py's oracle on the 4-bit model: the same reward, advantage and logging paths."""
    from test_trainer import assert_loss_sees_the_formula

    model, tok, _ = load_policy("tiny", lora_r=8, load_in_4bit=True)
    trainer = assert_loss_sees_the_formula(model, tok, tmp_path, mode)
    logged = [h for h in trainer.state.log_history if "reward" in h]
    assert all(torch.isfinite(torch.tensor([h["loss"], h["kl"], h["grad_norm"]])).all() for h in logged)
    # TRL's QLoRA rule: a quantized model's trained adapters in bfloat16 (its frozen "ref" copy, for beta > 0, is not)
    assert {p.dtype for n, p in trainer.model.named_parameters() if ".default." in n} == {torch.bfloat16}


# -- a 4-bit step against full precision ------------------------------------------------------------------------------


def _lora_state(model) -> dict[str, torch.Tensor]:
    return {n: p.detach().float().clone() for n, p in model.named_parameters() if "lora_" in n}


def _set_lora(model, state: dict[str, torch.Tensor]) -> None:
    with torch.no_grad():
        for n, p in model.named_parameters():
            if n in state:
                p.copy_(state[n].to(p.dtype))


def _dequantized_twin(q_model, tiny_dir):
    """A full-precision LoRA model whose base linear weights are ``q_model``'s NF4 weights, dequantized to float32."""
    import bitsandbytes.functional as bf

    twin, _, _ = load_policy("tiny", lora_r=8)
    with torch.no_grad():
        for name, module in q_model.named_modules():
            if type(module).__name__ == "Linear4bit" and hasattr(module.weight, "quant_state"):
                target = twin.get_submodule(name)
                target.weight.copy_(bf.dequantize_4bit(module.weight.data, module.weight.quant_state).float())
    return twin


def _step(trainer, model, inputs, accumulation_steps):
    """The loss (with its KL term against ``model``'s own base, adapters off), the completions' log-probabilities and
    the LoRA gradients of one training step of ``model`` on ``inputs``."""
    inputs = copy.deepcopy(inputs)
    ids = torch.cat([inputs["prompt_ids"], inputs["completion_ids"]], dim=1)
    mask = torch.cat([inputs["prompt_mask"], inputs["completion_mask"]], dim=1)
    keep = inputs["completion_ids"].size(1)
    # As inside a training step: train mode (these models have no dropout) and the step's accumulation count.
    model.train()
    trainer.current_gradient_accumulation_steps = accumulation_steps
    with torch.no_grad():
        with model.disable_adapter():
            inputs["ref_per_token_logps"] = trainer._get_per_token_logps_and_entropies(model, ids, mask, keep)[0]
        logps = trainer._get_per_token_logps_and_entropies(model, ids, mask, keep)[0].float()
    model.zero_grad()
    loss = trainer.compute_loss(model, inputs)
    loss.backward()
    grads = {n: p.grad.detach().float().clone() for n, p in model.named_parameters()
             if ".default." in n and p.grad is not None}
    return loss.item(), logps * inputs["completion_mask"], grads


@needs_bitsandbytes
@pytest.mark.trains_with_trl
def test_a_4bit_step_is_close_to_full_precision(tiny_dir, tmp_path):
    """One step's loss, log-probabilities and LoRA gradients: the 4-bit policy against two float32 twins with the same
    adapters, on the same batch.

    Against the dequantized twin (float32 weights equal to the numbers the NF4 weights stand for) they agree to
    bfloat16 rounding: TRL keeps a quantized model's adapters in bfloat16 (an 8-bit mantissa, relative rounding
    2^-8 = 0.4 %), so the adapters' products and gradients are rounded there; nothing else differs. Against the
    original float32 weights they also differ by NF4's quantization error: each base weight becomes one of 16 levels
    times its block's scale (blocks of 64), about 10 % of a random weight matrix's norm here, which moves the
    log-probabilities by a few percent and the gradients by tens of percent in norm, while keeping their direction.
    The loss's value is mostly -mean(advantage) (the policy ratio is 1 on the step's own samples), so its
    model-dependent part is the KL term, here against each model's own base (adapters off).
    """
    from test_trainer import prompts_dataset, small_config

    from srgrpo import SRGRPOTrainer

    captured = []

    class Capture(SRGRPOTrainer):
        def compute_loss(self, model, inputs, *args, **kwargs):
            if not captured:
                captured.append(copy.deepcopy(inputs))
            return super().compute_loss(model, inputs, *args, **kwargs)

    def reward(completions, **kwargs):
        return [float(len(c[0]["content"]) % 5) for c in completions]

    q_model, tok, _ = load_policy("tiny", lora_r=8, load_in_4bit=True)
    settings = dict(beta=0.1, max_steps=1, learning_rate=0.0, cpu_shared_prompt=False)
    q_trainer = Capture(model=q_model, reward_funcs=[reward], args=small_config(tmp_path / "q", **settings),
                        train_dataset=prompts_dataset(), processing_class=tok)
    torch.manual_seed(0)
    adapters = {n: (torch.randn_like(p) * 0.05 if "lora_B" in n else p).to(torch.bfloat16).float()
                for n, p in _lora_state(q_model).items() if ".default." in n}  # non-zero, exact in bfloat16
    _set_lora(q_model, adapters)
    q_trainer.train()  # learning rate 0: the step samples a batch and leaves the adapters as they are
    assert captured and captured[0]["advantages"].abs().sum() > 0
    steps = q_trainer.current_gradient_accumulation_steps

    results = {"4-bit": _step(q_trainer, q_model, captured[0], steps)}
    dequantized, full = _dequantized_twin(q_model, tiny_dir), load_policy("tiny", lora_r=8)[0]
    # NF4's error on the base weights: one of 16 levels times the block's scale (measured: 9.2 % of the norm)
    pairs = [(m.weight, full.get_submodule(n).weight) for n, m in dequantized.named_modules()
             if n.endswith("base_layer") and isinstance(m, torch.nn.Linear)]
    error = (sum((a - b).pow(2).sum() for a, b in pairs) / sum(b.pow(2).sum() for _, b in pairs)).sqrt().item()
    assert len(pairs) == 7 * 4 and 0.05 < error < 0.15, error
    for label, twin in (("dequantized", dequantized), ("float32", full)):
        trainer = SRGRPOTrainer(model=twin, reward_funcs=[reward], args=small_config(tmp_path / label, **settings),
                                train_dataset=prompts_dataset(), processing_class=tok)
        _set_lora(twin, adapters)
        results[label] = _step(trainer, twin, captured[0], steps)

    (q_loss, q_lp, q_g), (d_loss, d_lp, d_g), (f_loss, f_lp, f_g) = (results[k] for k in ("4-bit", "dequantized",
                                                                                          "float32"))
    assert set(q_g) == set(d_g) == set(f_g) and len(q_g) == 2 * 7 * 4
    q_flat, d_flat, f_flat = (torch.cat([g[n].flatten() for n in sorted(q_g)]) for g in (q_g, d_g, f_g))
    assert q_flat.norm() > 0
    # (a) the same function: the bfloat16 adapters are the only difference (measured: loss 1e-6 apart relative,
    #     log-probabilities 1.5e-4, gradients 0.4 % in norm)
    assert abs(q_loss - d_loss) <= 1e-3 * abs(d_loss), (q_loss, d_loss)
    assert_close_in_norm(q_lp, d_lp, 2e-3, "4-bit vs dequantized log-probabilities")
    assert_close_in_norm(q_flat, d_flat, 3e-2, "4-bit vs dequantized LoRA gradients")
    # (b) full precision: NF4's error on top (measured: loss 1.5e-4, log-probabilities 1.3 %, gradients 34 % in norm
    #     with cosine 0.95; on this random model, whose gradients are small and sensitive)
    assert abs(q_loss - f_loss) <= 1e-2 * abs(f_loss), (q_loss, f_loss)
    assert_close_in_norm(q_lp, f_lp, 5e-2, "4-bit vs float32 log-probabilities")
    assert_close_in_norm(q_flat, f_flat, 0.6, "4-bit vs float32 LoRA gradients")
    assert torch.nn.functional.cosine_similarity(q_flat, f_flat, dim=0).item() > 0.85
    # and the dequantized weights are not the float32 ones, else (b) would repeat (a)
    assert (d_flat - f_flat).norm() > 0.05 * f_flat.norm()


# -- evaluating a 4-bit adapter ---------------------------------------------------------------------------------------


@needs_bitsandbytes
def test_a_4bit_adapter_evaluates_merged_into_full_precision_weights(tiny_dir, tmp_path):
    """Evaluation reloads the base in full precision and merges the adapter: exactly peft's unmerged adapter on those
    weights; it differs from the 4-bit policy only by NF4's error on the base, and moves the outputs the way the
    adapter moved the 4-bit model's."""
    from peft import PeftModel

    q_model, tok, _ = load_policy("tiny", lora_r=8, load_in_4bit=True)
    _perturb_adapters(q_model, seed=1)
    q_model.save_pretrained(tmp_path / "adapter")
    tok.save_pretrained(tmp_path / "adapter")
    ids = tok(["Ava has 3 apples and buys 4 more."], return_tensors="pt")
    q_model.eval()
    with torch.no_grad():
        q_logits = q_model(**ids).logits.float()
        with q_model.disable_adapter():
            q_base = q_model(**ids).logits.float()

    merged, _ = load_for_inference("tiny", adapter=str(tmp_path / "adapter"), device="cpu")
    assert not is_4bit(merged) and merged.dtype == torch.float32
    base, _ = load_for_inference("tiny", device="cpu")
    unmerged = PeftModel.from_pretrained(load_for_inference("tiny", device="cpu")[0], str(tmp_path / "adapter"))
    with torch.no_grad():
        got, base_logits, oracle = merged(**ids).logits, base(**ids).logits, unmerged(**ids).logits
    assert_close_in_norm(got, oracle, 1e-5, "merged vs unmerged adapter")
    assert_close_in_norm(got, q_logits, 0.5, "full-precision merged vs 4-bit policy")
    moved_fp, moved_q = (got - base_logits).flatten(), (q_logits - q_base).flatten()
    assert torch.nn.functional.cosine_similarity(moved_fp, moved_q, dim=0).item() > 0.9
