"""Child interpreter of tests/test_unsloth.py: SRGRPOTrainer on Unsloth's real rewrite, several short runs.

    python tests/scripts/unsloth_train_cases.py RESULT.json CASE [CASE ...]     (CASE: mode:beta, e.g. shared:0.1)

Applies the rewrite (tests/unsloth_support.py), imports the kit, then trains the offline tiny model for 2 steps per
case and records, per case, what the parent test checks: the advantages that reached unsloth_zoo's
``grpo_accumulated_loss`` next to ``soft_advantages`` of what the reward functions returned (matched by prompt and
completion ids), the logged metric names, the completions table, prompt truncation. The cases share one process to
pay the import and the rewrite once; a failing case records its traceback and the others still run.
"""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path

import unsloth_support as us

K = 4
TAU = 0.3
WEIGHTS = [1.0, 0.5]
MAX_PROMPT = 10

result_path = Path(sys.argv[1])
work = result_path.parent
cases = sys.argv[2:]
res: dict = {"cases": {}}


def write() -> None:
    result_path.write_text(json.dumps(res, indent=1))


def combine(values: list[float | None]) -> float:
    """TRL's weighted nansum; NaN when every function returned None (unscorable)."""
    if all(v is None for v in values):
        return float("nan")
    return sum(w * v for w, v in zip(WEIGHTS, values) if v is not None)


def run_case(mode: str, beta: float) -> dict:
    import torch
    from datasets import Dataset

    from srgrpo import SRGRPOConfig, SRGRPOTrainer, soft_advantages
    from srgrpo.models.tiny import load_tiny, tiny_model_dir

    returned: list[list] = []  # one entry per reward-function call: (completion ids, values)

    stops: set = set()  # EOS and padding ids, filled once the tokenizer is loaded

    def text_len(completions, completion_ids, **kwargs):
        # SRGRPOTrainer's `cut_off` column reaches reward functions under Unsloth's rewrite too (trl 1.15 has no
        # other way to tell them): cut off = 12 tokens (max_completion_length) without EOS.
        expected = [len(ids) == 12 and ids[-1] not in stops for ids in completion_ids]
        if kwargs.get("cut_off") != expected:
            raise AssertionError(f"cut_off column {kwargs.get('cut_off')} != {expected}")
        out = [float(len(c[0]["content"]) % 7) for c in completions]
        returned.append(("text_len", [tuple(c) for c in completion_ids], out))
        return out

    def sometimes_none(completions, completion_ids, **kwargs):
        out = [None if sum(ids) % 3 == 0 else float(sum(ids) % 5) / 4 for ids in completion_ids]
        returned.append(("sometimes_none", [tuple(c) for c in completion_ids], out))
        return out

    class Probe(SRGRPOTrainer):
        def _generate_and_score_completions(self, inputs):
            out = super()._generate_and_score_completions(inputs)
            self.prompt_rows.append([tuple(p[m.bool()].tolist()) for p, m in zip(out["prompt_ids"], out["prompt_mask"])])
            return out

    truncate = beta > 0  # the beta>0 runs also check prompt truncation
    args = SRGRPOConfig(
        output_dir=str(work / f"out-{mode}-{beta}"), per_device_train_batch_size=8, num_generations=K,
        max_completion_length=12, max_steps=2, logging_steps=1, learning_rate=1e-4, beta=beta, report_to="none",
        use_cpu=True, bf16=False, gradient_checkpointing=False, save_strategy="no", disable_tqdm=True, seed=0,
        soft_advantage=mode, tau=TAU, reward_weights=WEIGHTS, log_completions=True,
        max_prompt_length=MAX_PROMPT if truncate else None,
    )
    model, tok = load_tiny(tiny_model_dir())
    stops.update({tok.eos_token_id, tok.pad_token_id, model.generation_config.eos_token_id})
    dataset = Dataset.from_list(
        [{"prompt": [{"role": "user", "content": f"Ava has {i} apples and buys {i + 3} more. How many?"}]}
         for i in range(16)]
    )
    trainer = Probe(model=model, reward_funcs=[text_len, sometimes_none], args=args, train_dataset=dataset,
                    processing_class=tok)
    trainer.prompt_rows = []
    loss_calls.clear()
    trainer.train()

    case: dict = {"trainer_mro": [c.__name__ for c in type(trainer).__mro__[:5]]}
    # The oracle: per generation batch, the two functions' returns -> weighted sum -> soft_advantages.
    batches = [returned[i:i + 2] for i in range(0, len(returned), 2)]
    case["generation_batches"] = len(batches)
    expected: dict[tuple, list[float]] = {}
    last_adv: list[float] = []
    for batch, prompts in zip(batches, trainer.prompt_rows):
        (_, ids_a, vals_a), (_, ids_b, vals_b) = batch
        assert ids_a == ids_b
        rewards = torch.tensor([combine([a, b]) for a, b in zip(vals_a, vals_b)])
        adv = soft_advantages(rewards, K, tau=TAU, mode=mode).tolist()
        last_adv = adv
        for p, c, a in zip(prompts, ids_a, adv):
            expected.setdefault((p, c), []).append(a)
    case["some_reward_none"] = any(v is None for b in batches for v in b[1][2])

    rows = [row for call in loss_calls for row in us.loss_rows(call)]
    case["loss_rows"] = len(rows)
    mismatches = []
    for p, c, a in rows:
        # The loss sees completion ids up to and including EOS; the reward functions may have seen them without.
        options = expected.get((p, c)) or expected.get((p, c[:-1]))
        if options is None:
            mismatches.append({"prompt": p[-4:], "completion": c, "advantage": a, "expected": "no such row"})
        elif not any(abs(a - e) <= 1e-5 for e in options):
            mismatches.append({"prompt": p[-4:], "completion": c, "advantage": a, "expected": options})
    case["mismatches"] = mismatches[:5]
    case["n_mismatches"] = len(mismatches)
    case["prompt_lengths_at_loss"] = sorted({len(p) for p, _, _ in rows})

    logged = [h for h in trainer.state.log_history if "reward" in h]
    case["logged_steps"] = len(logged)
    case["logged_keys"] = sorted(set().union(*[set(h) for h in logged])) if logged else []
    case["soft_advantage_mean"] = [h.get("soft_advantage_mean") for h in logged]

    table = getattr(trainer, "_logs", {}).get("advantages")
    case["table_advantages"] = None if table is None else [float(x) for x in list(table)[-len(last_adv):]]
    case["expected_table_advantages"] = last_adv
    case["prompts_seen"] = trainer._sr_prompts_seen
    case["prompts_truncated"] = trainer._sr_prompts_truncated
    case["truncate"] = truncate
    case["max_prompt_length"] = MAX_PROMPT
    case["has_for_training"] = hasattr(trainer.model, "for_training")
    return case


loss_calls: list[dict] = []
try:
    trainer_cls = us.apply_rewrite(work / "unsloth_compiled_cache")
    import torch

    torch.set_num_threads(1)
    import srgrpo
    from srgrpo.models.unsloth_compat import unsloth_active

    res["base"] = next(c for c in srgrpo.SRGRPOTrainer.__mro__[1:] if not c.__module__.startswith("srgrpo")).__name__
    res["base_is_trl_binding"] = next(c for c in srgrpo.SRGRPOTrainer.__mro__[1:] if not c.__module__.startswith("srgrpo")) is trainer_cls
    res["config_base"] = srgrpo.SRGRPOConfig.__mro__[1].__name__
    res["unsloth_active"] = unsloth_active()
    us.wrap_loss(srgrpo.SRGRPOTrainer, loss_calls.append)
except Exception as exc:  # noqa: BLE001 - reported to the parent
    res["setup_error"] = "".join(traceback.format_exception(exc))
    write()
    sys.exit(1)
write()

for spec in cases:
    mode, beta = spec.split(":")
    try:
        res["cases"][spec] = run_case(mode, float(beta))
    except Exception as exc:  # noqa: BLE001
        res["cases"][spec] = {"error": "".join(traceback.format_exception(exc))[-6000:]}
    write()
