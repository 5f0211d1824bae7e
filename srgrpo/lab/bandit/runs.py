r"""A contextual bandit where every advantage method can be watched learning, in seconds, on a CPU.

An LLM fine-tuned with GRPO is, stripped of everything else, a policy that answers prompts and is
pushed towards the answers that scored above their group. This module keeps exactly that and
nothing else, so the effect of the advantage rule is not hidden behind tokenisation, clipping or
a model's prior.

The bandit
----------
There are :math:`P` prompts, each with :math:`A` possible answers. Answer :math:`a` of prompt
:math:`p` is correct with probability :math:`\mu_p(a) = u^3`, :math:`u \sim U(0, 1)` drawn once
per run: most answers are poor, a few are good, and the best differs between prompts. The policy
of each prompt is a softmax over its own logits :math:`\theta_p \in \mathbb{R}^A`, which start
at 0 (uniform):

.. math::

    \pi_p(a) = \frac{e^{\theta_{p,a}}}{\sum_b e^{\theta_{p,b}}}, \qquad
    J_p(\theta) = \sum_a \pi_p(a)\,\mu_p(a), \qquad
    J^*_p = \max_a \mu_p(a).

One step
--------
For every prompt, sample :math:`K` answers :math:`a_1..a_K \sim \pi_p` (one *group*), score them
with :math:`r_i \sim \mathrm{Bernoulli}(\mu_p(a_i))` (or :math:`r_i = \mu_p(a_i)` with
``reward="expected"``), turn the group's rewards into advantages :math:`A_i` with the method
under test (:mod:`srgrpo.lab.methods`), and take the policy-gradient step

.. math::

    \theta_p \leftarrow \theta_p + \frac{\eta}{K} \sum_{i=1}^K A_i \nabla_{\theta_p} \log \pi_p(a_i),
    \qquad \nabla_{\theta_p} \log \pi_p(a) = e_a - \pi_p,

where :math:`e_a` is the one-hot vector of answer :math:`a`. This is the exact gradient of the
GRPO loss for a softmax policy (one update per batch, no clipping, no KL): nothing is
approximated, so any difference between curves is the advantage rule's doing.

Why the shared advantage gives no credit within a group
-------------------------------------------------------
With :math:`A_i = A` for all :math:`i`, the step is
:math:`\frac{\eta}{K} A \sum_i (e_{a_i} - \pi_p) = \eta A (\hat n_p - \pi_p)`, where
:math:`\hat n_p` is the group's empirical answer frequency. A correct and a wrong answer of the
same group move by exactly the same amount: the step reinforces *whatever was sampled*, scaled by
how well the group did. Its expectation is still uphill,
:math:`\mathbb{E}[\tfrac1K A \sum_i \nabla \log\pi(a_i)] = \tfrac1K \nabla\, \mathbb{E}[A]`, but
the signal lives only in the small correlation between :math:`A` and :math:`\hat n_p`, while the
noise :math:`\hat n_p - \pi_p` is multiplied by the whole of :math:`A \ge 0` (no baseline). GRPO's
:math:`A_i = z_i` sums to zero per group, so :math:`\sum_i A_i \pi_p` cancels and each answer
moves by its own :math:`A_i`: right answers up, wrong ones down.

What is measured
----------------
After every step, the fraction of the optimum :math:`F = \sum_p J_p / \sum_p J^*_p` (the mean
expected reward over prompts divided by the mean best possible one; a ratio of means, so a prompt
whose best answer is poor does not dominate). :math:`F` starts near 0.33 (the uniform policy) and
reaches 1 only when every prompt always gives its best answer. The expected reward is computed
exactly from :math:`\pi` and :math:`\mu`, not estimated from samples.

Seeds
-----
``seed`` seeds one ``torch.Generator``; the ``seeds`` replicates are a batch axis of every tensor,
so they run together with no Python loop over seeds or prompts. Replicate :math:`s` has its own
success probabilities and its own samples, all from that generator: replicates are independent
draws, and the environments are drawn first, so every method run with the same ``seed``,
``seeds``, ``prompts`` and ``answers`` faces the same bandits (common random numbers make method
differences less noisy). Changing ``seeds`` changes the samples of every replicate.
"""

from __future__ import annotations

import inspect
import math
import time
from typing import Any, Iterable, Sequence

import torch

from srgrpo.lab.methods import (
    CONTROL_METHODS,
    DEFAULT_TAUS,
    METHODS,
    method_advantages,
    method_grid,
    method_label,
)
from srgrpo.lab.bandit.figures import THRESHOLD, bandit_taus, format_table, plot_bandit
from srgrpo.plumbing.runtime import torch_threads
from srgrpo.plumbing.stats import mean_ci95, rounded, t_quantile_975

__all__ = [
    "DEFAULTS",
    "THRESHOLD",
    "DEFAULT_CHECKPOINTS",
    "REWARDS",
    "run_bandit",
    "compare_bandit",
    "plot_bandit",
    "bandit_taus",
    "format_table",
]

#: The bandit's default size and learning rate (see the module docstring and ``run_bandit``).
DEFAULTS: dict[str, Any] = {"seeds": 8, "steps": 300, "prompts": 16, "answers": 10, "k": 8, "lr": 0.1, "seed": 0}
#: Steps at which ``compare_bandit`` reports the fraction of the optimum (those within the budget,
#: plus the last step).
DEFAULT_CHECKPOINTS: tuple[int, ...] = (0, 50, 100, 150, 300)
#: How a sampled answer is scored: a 0/1 draw, or its success probability.
REWARDS: tuple[str, ...] = ("bernoulli", "expected")


def _positive_int(name: str, value: Any, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}.")
    return value


def _check_config(seeds, steps, prompts, answers, k, lr, seed, reward) -> float:
    _positive_int("seeds", seeds)
    _positive_int("steps", steps, 0)
    _positive_int("prompts", prompts)
    _positive_int("answers", answers, 2)
    _positive_int("k", k, 2)
    _positive_int("seed", seed, 0)
    try:
        lr = float(lr)
    except (TypeError, ValueError):
        raise ValueError(f"lr must be a positive number, got {lr!r}.") from None
    if not math.isfinite(lr) or lr <= 0:
        raise ValueError(f"lr must be a finite number > 0, got {lr!r}.")
    if reward not in REWARDS:
        raise ValueError(f"reward must be one of {REWARDS}, got {reward!r}.")
    return lr


def run_bandit(
    method: str,
    tau: float | None = None,
    *,
    seeds: int = DEFAULTS["seeds"],
    steps: int = DEFAULTS["steps"],
    prompts: int = DEFAULTS["prompts"],
    answers: int = DEFAULTS["answers"],
    k: int = DEFAULTS["k"],
    lr: float = DEFAULTS["lr"],
    seed: int = DEFAULTS["seed"],
    reward: str = "bernoulli",
) -> torch.Tensor:
    r"""Train the bandit's softmax policies with one advantage method; return the learning curves.

    Args:
        method: an advantage method of :data:`srgrpo.lab.methods.METHODS`.
        tau: its temperature (soft methods only; ``None`` elsewhere).
        seeds: independent replicates, run together as a batch axis.
        steps: policy-gradient steps.
        prompts: prompts :math:`P` per replicate, each its own bandit and its own group.
        answers: answers :math:`A` per prompt.
        k: samples per prompt and step, the group size :math:`K`.
        lr: step size :math:`\eta`.
        seed: seeds the single generator behind environments, samples and random rewards.
        reward: ``"bernoulli"`` (0/1 rewards, as a verifier gives) or ``"expected"``
            (:math:`r_i = \mu(a_i)`, no scoring noise).

    Returns:
        A float64 tensor ``(seeds, steps + 1)``: the fraction of the optimum of each replicate
        before the first step (column 0) and after every step.
    """
    lr = _check_config(seeds, steps, prompts, answers, k, lr, seed, reward)
    method_label(method, tau)  # validates method and tau before any work
    # About a thousand numbers per tensor: one thread beats several (see srgrpo.plumbing.runtime.torch_threads).
    with torch_threads(1):
        return _run(method, tau, seeds, steps, prompts, answers, k, lr, seed, reward)


def _run(method, tau, seeds, steps, prompts, answers, k, lr, seed, reward) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    # Environments first, so that every method with this seed faces the same bandits.
    success = torch.rand(seeds, prompts, answers, generator=gen, dtype=torch.float64) ** 3
    best = success.amax(dim=-1).sum(dim=-1)  # (seeds,): sum over prompts of the optimum
    logits = torch.zeros(seeds, prompts, answers, dtype=torch.float64)
    flat_success = success.view(-1, answers)
    curve = torch.empty(seeds, steps + 1, dtype=torch.float64)

    policy = torch.softmax(logits, dim=-1)
    curve[:, 0] = (policy * success).sum(dim=(-1, -2)) / best
    for step in range(1, steps + 1):
        flat_policy = policy.view(-1, answers)
        picks = torch.multinomial(flat_policy, k, replacement=True, generator=gen)  # (S*P, K)
        mu = flat_success.gather(1, picks)
        if reward == "bernoulli":
            rewards = (torch.rand(mu.shape, generator=gen, dtype=mu.dtype) < mu).to(mu.dtype)
        else:
            rewards = mu
        # One group per (replicate, prompt): the flat layout of srgrpo.advantages, K adjacent.
        adv = method_advantages(method, rewards.reshape(-1), k, tau=tau, generator=gen).view_as(mu)
        # (1/K) sum_i A_i (e_{a_i} - pi): scatter the advantages onto the answers they belong to.
        grad = torch.zeros_like(flat_policy).scatter_add_(1, picks, adv)
        grad -= adv.sum(dim=1, keepdim=True) * flat_policy
        logits += (lr / k) * grad.view_as(logits)
        policy = torch.softmax(logits, dim=-1)
        curve[:, step] = (policy * success).sum(dim=(-1, -2)) / best
    return curve


def _interval(mean: float, low: float, high: float, digits: int = 4) -> dict[str, float | None]:
    return {"mean": rounded(mean, digits), "low": rounded(low, digits), "high": rounded(high, digits)}


def _checkpoints(steps: int, checkpoints: Iterable[int] | None) -> list[int]:
    wanted = DEFAULT_CHECKPOINTS if checkpoints is None else tuple(checkpoints)
    chosen = sorted({int(c) for c in wanted if 0 <= int(c) <= steps} | {steps})
    return chosen


def summarise_curves(curves: torch.Tensor, checkpoints: Sequence[int], threshold: float = THRESHOLD) -> dict[str, Any]:
    """Checkpoints, steps to ``threshold`` and the mean curve with its band, from ``(seeds, steps+1)`` curves.

    Every interval is the 95% Student-t interval over seeds (:func:`srgrpo.plumbing.stats.mean_ci95`).
    ``steps_to_80`` averages, over the seeds that reached the threshold, the first step whose
    fraction is ``>= threshold``; ``reached`` and ``never`` count the seeds, and its mean is
    ``None`` when no seed got there (such seeds are not in the mean: read it with ``reached``).
    """
    n_seeds = curves.shape[0]
    points = [{"step": c, **_interval(*mean_ci95(curves[:, c]))} for c in checkpoints]
    hit = curves >= threshold
    first = torch.where(hit.any(dim=1), hit.to(torch.int8).argmax(dim=1), torch.full((n_seeds,), -1))
    per_seed = [int(f) if f >= 0 else None for f in first.tolist()]
    reached = [f for f in per_seed if f is not None]
    to_threshold = _interval(*mean_ci95(reached), digits=2) if reached else _interval(math.nan, math.nan, math.nan)
    to_threshold.update(reached=len(reached), never=n_seeds - len(reached), per_seed=per_seed)
    # The band per step, vectorised: the same t interval as mean_ci95, NaN (null) with one seed.
    mean = curves.mean(dim=0)
    if n_seeds > 1:
        half = t_quantile_975(n_seeds - 1) * curves.std(dim=0) / math.sqrt(n_seeds)
    else:
        half = torch.full_like(mean, math.nan)
    band = {
        name: [rounded(x, 5) for x in values.tolist()]
        for name, values in (("mean", mean), ("low", mean - half), ("high", mean + half))
    }
    return {
        "checkpoints": points,
        "final": _interval(*mean_ci95(curves[:, -1])),
        "steps_to_80": to_threshold,
        "curve": band,
    }


def compare_bandit(
    methods: Sequence[str] = METHODS,
    taus: Sequence[float] = DEFAULT_TAUS,
    *,
    checkpoints: Iterable[int] | None = None,
    progress=None,
    **settings: Any,
) -> dict[str, Any]:
    """Run every method (soft ones at every tau) on the same bandits and summarise the curves.

    Args:
        methods, taus: expanded by :func:`srgrpo.lab.methods.method_grid`.
        settings: :func:`run_bandit`'s keyword arguments (``seeds, steps, prompts, answers, k, lr, seed,
            reward``, its defaults where not given), shared by every run (the same ``seed`` gives every method the
            same environments).
        checkpoints: steps at which to report the fraction of the optimum (default
            :data:`DEFAULT_CHECKPOINTS`); those beyond ``steps`` are dropped and the last step is
            always added.
        progress: optional ``callable(label, run_summary)`` called after each run.

    Returns:
        A JSON-ready dict::

            {"config": {methods, taus, seeds, steps, prompts, answers, k, lr, seed, reward,
                        threshold, checkpoints},
             "runs": {label: {"label", "method", "tau", "control", "wall_s",
                              "checkpoints": [{"step", "mean", "low", "high"}, ...],
                              "final": {"mean", "low", "high"},
                              "steps_to_80": {"mean", "low", "high", "reached", "never", "per_seed"},
                              "curve": {"mean": [...], "low": [...], "high": [...]}}}}

        Fractions of the optimum are rounded to 4 digits (curves to 5); ``low``/``high`` are the
        95% Student-t interval over seeds, ``null`` with a single seed.
    """
    grid = method_grid(methods, taus)
    bound = inspect.signature(run_bandit).bind(grid[0][0] if grid else "grpo", **settings)  # TypeError if unknown
    bound.apply_defaults()
    settings = {name: value for name, value in bound.arguments.items() if name not in ("method", "tau")}
    settings["lr"] = _check_config(**settings)
    points = _checkpoints(settings["steps"], checkpoints)
    config = {
        "methods": list(dict.fromkeys(m for m, _, _ in grid)),
        "taus": sorted({t for _, t, _ in grid if t is not None}),
        **settings,
        "threshold": THRESHOLD,
        "checkpoints": points,
    }
    runs: dict[str, Any] = {}
    for method, tau, label in grid:
        start = time.perf_counter()
        curves = run_bandit(method, tau, **settings)
        wall = time.perf_counter() - start
        runs[label] = {
            "label": label,
            "method": method,
            "tau": tau,
            "control": method in CONTROL_METHODS,
            "wall_s": round(wall, 3),
            **summarise_curves(curves, points),
        }
        if progress is not None:
            progress(label, runs[label])
    return {"config": config, "runs": runs}
