"""The synthetic word problems (srgrpo.tasks.arithmetic) and the lab's control trainer (srgrpo.lab.real.runs)."""

from __future__ import annotations

import pytest

from srgrpo.tasks.arithmetic import TEMPLATES, generate_problems, make_splits
from srgrpo.tasks.rewards import correctness_reward, extract_gold_answer


def test_generator_is_deterministic():
    assert make_splits(300, 40, seed=3) == make_splits(300, 40, seed=3)
    assert generate_problems(50, seed=1) != generate_problems(50, seed=2)


def test_train_and_heldout_are_disjoint_and_distinct():
    train, heldout = make_splits(3000, 200, seed=0)
    train_q = [p["question"] for p in train]
    heldout_q = [p["question"] for p in heldout]
    assert len(set(train_q)) == 3000 and len(set(heldout_q)) == 200
    assert not set(train_q) & set(heldout_q)


def test_heldout_does_not_depend_on_train_size():
    assert make_splits(10, 30, seed=5)[1] == make_splits(500, 30, seed=5)[1]


def test_every_reference_solution_scores_one():
    train, heldout = make_splits(4000, 200, seed=0)
    problems = train + heldout
    completions = [f"{p['solution']}" for p in problems]
    assert correctness_reward(completions, [p["answer"] for p in problems]) == [1.0] * len(problems)
    # The gold answer is the solution's own "#### N" line, a non-negative integer.
    assert all(extract_gold_answer(p["solution"]) == p["answer"] and int(p["answer"]) >= 0 for p in problems)
    # Every template is used; half the problems take one step, half two.
    assert {p["template"] for p in problems} == set(range(len(TEMPLATES)))
    two_steps = sum(p["steps"] == 2 for p in problems) / len(problems)
    assert 0.45 < two_steps < 0.55


def test_solution_lines_are_right():
    for p in generate_problems(500, seed=7):
        *lines, last = p["solution"].split("\n")
        assert len(lines) == p["steps"] and last == f"#### {p['answer']}"
        for line in lines:
            expr, result = line.split(" = ")
            x, op, y = expr.split(" ")
            value = {"+": int(x) + int(y), "-": int(x) - int(y), "*": int(x) * int(y), "/": int(x) / int(y)}[op]
            assert value == int(result)


@pytest.mark.trains_with_trl
@pytest.mark.parametrize("method", ["constant", "random_reward"])
def test_control_trainer_replaces_the_advantages(tmp_path, tiny_dir, method):
    from datasets import Dataset

    from srgrpo.config import SRGRPOConfig
    from srgrpo.lab.real.runs import control_trainer_class
    from srgrpo.models.tiny import load_tiny

    model, tokenizer = load_tiny(tiny_dir)
    train, _ = make_splits(16, 0, seed=0)
    data = Dataset.from_dict({"prompt": [f"Q: {p['question']}\nA:" for p in train],
                              "answer": [p["answer"] for p in train]})
    args = SRGRPOConfig(output_dir=str(tmp_path), use_cpu=True, bf16=False, gradient_checkpointing=False,
                        report_to="none", save_strategy="no", logging_steps=1, disable_tqdm=True, max_steps=1,
                        per_device_train_batch_size=8, num_generations=4, max_completion_length=4, seed=0,
                        beta=0.0)
    # Rewards that vary within groups, so GRPO on real rewards would not be all zeros.
    reward = lambda completions, **kw: [float(i % 2) for i in range(len(completions))]  # noqa: E731
    trainer = control_trainer_class()(model=model, reward_funcs=[reward], args=args, train_dataset=data,
                                      processing_class=tokenizer, lab_method=method, lab_seed=0)
    trainer.train()
    logged = next(h for h in trainer.state.log_history if "soft_advantage_mean" in h)
    if method == "constant":
        assert logged["soft_advantage_mean"] == pytest.approx(1.0) and logged["soft_advantage_std"] == pytest.approx(0.0)
    else:  # GRPO's z-scores of fake rewards: zero-sum per group, not all zero
        assert logged["soft_advantage_mean"] == pytest.approx(0.0, abs=1e-5) and logged["soft_advantage_std"] > 0


def test_control_trainer_refuses_a_soft_method():
    from srgrpo.lab.real.runs import control_trainer_class

    with pytest.raises(ValueError):
        control_trainer_class()(lab_method="per_sample")
