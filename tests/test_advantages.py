"""The advantage math against a slow, obviously correct reference, plus its invariants."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from srgrpo import grpo_advantages, group_zscores, soft_advantages, soft_weights

NAN = float("nan")


# --------------------------------------------------------------------------------------------
# The reference: plain Python floats, one group at a time, straight from the formulas.
# --------------------------------------------------------------------------------------------
def reference(rewards: list[float], k: int, tau: float | None, mode: str, eps: float = 1e-4) -> list[float]:
    out = []
    for g in range(len(rewards) // k):
        group = rewards[g * k : (g + 1) * k]
        valid = [r for r in group if not math.isnan(r)]
        n = len(valid)
        if n == 0:
            out += [0.0] * k
            continue
        mean = sum(valid) / n
        std = math.sqrt(sum((r - mean) ** 2 for r in valid) / (n - 1)) if n >= 2 else 0.0
        z = [(r - mean) / (std + eps) for r in valid]
        if mode == "grpo":
            adv = z
        else:
            top = max(zi / tau for zi in z)
            e = [math.exp(zi / tau - top) for zi in z]
            w = [ei / sum(e) for ei in e]
            if mode == "shared":
                a = sum(wi * ri for wi, ri in zip(w, valid))
                adv = [a] * n
            else:
                adv = [tau * (n * wi - 1) for wi in w]
        it = iter(adv)
        out += [0.0 if math.isnan(r) else next(it) for r in group]
    return out


def run(rewards, k, tau, mode):
    t = torch.tensor(rewards, dtype=torch.float64)
    if mode == "grpo":
        return grpo_advantages(t, k).tolist()
    return soft_advantages(t, k, tau=tau, mode=mode).tolist()


reward_value = st.one_of(
    st.floats(min_value=-1e3, max_value=1e3, allow_nan=False),
    st.sampled_from([0.0, 1.0, 0.5, NAN]),
)


@st.composite
def grouped_rewards(draw, allow_nan=True):
    k = draw(st.integers(min_value=2, max_value=9))
    g = draw(st.integers(min_value=1, max_value=6))
    values = reward_value if allow_nan else st.floats(min_value=-1e3, max_value=1e3, allow_nan=False)
    rewards = draw(st.lists(values, min_size=g * k, max_size=g * k))
    return rewards, k


# --------------------------------------------------------------------------------------------
# Oracle comparisons
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["grpo", "shared", "per_sample"])
@settings(max_examples=150, deadline=None)
@given(data=grouped_rewards(), tau=st.sampled_from([1e-3, 0.1, 0.5, 1.0, 2.0, 37.0]))
def test_matches_reference(mode, data, tau):
    rewards, k = data
    expected = reference(rewards, k, tau, mode)
    got = run(rewards, k, tau, mode)
    scale = max([1.0] + [abs(r) for r in rewards if not math.isnan(r)])
    for e, g in zip(expected, got):
        assert math.isfinite(g)
        assert g == pytest.approx(e, rel=1e-6, abs=1e-7 * scale)


def test_worked_example():
    # One group of four, two right and two wrong: z = +-0.866, tau = 0.5.
    r = torch.tensor([1.0, 0.0, 0.0, 1.0])
    z = group_zscores(r, 4)
    assert z.tolist() == pytest.approx([0.8659, -0.8659, -0.8659, 0.8659], abs=1e-4)
    w = soft_weights(r, 4, tau=0.5)
    hi = math.exp(2 * 0.86598) / (2 * math.exp(2 * 0.86598) + 2 * math.exp(-2 * 0.86598))
    assert w.tolist() == pytest.approx([hi, 0.5 - hi, 0.5 - hi, hi], abs=1e-4)
    assert soft_advantages(r, 4).tolist() == pytest.approx([2 * hi] * 4, abs=1e-4)
    assert soft_advantages(r, 4, mode="per_sample").tolist() == pytest.approx(
        [0.5 * (4 * hi - 1), 0.5 * (4 * (0.5 - hi) - 1)] * 1 + [0.5 * (4 * (0.5 - hi) - 1), 0.5 * (4 * hi - 1)],
        abs=1e-4,
    )


def test_grpo_matches_trl():
    """grpo_advantages is TRL's scale_rewards='group' advantage, NaN rows included."""
    from trl.trainer.utils import nanstd

    g = torch.Generator().manual_seed(0)
    r = torch.rand(64 * 8, generator=g) * 3
    r[torch.rand(r.shape, generator=g) < 0.15] = NAN
    r[8:16] = NAN  # a whole group unscorable
    r[16:24] = torch.tensor([NAN] * 7 + [2.0])  # a single valid reward
    k = 8
    mean = torch.nanmean(r.view(-1, k), dim=1).repeat_interleave(k)
    std = nanstd(r.view(-1, k), dim=1).repeat_interleave(k)
    trl_adv = torch.nan_to_num((r - mean) / (std + 1e-4), nan=0.0)
    assert torch.allclose(grpo_advantages(r, k), trl_adv, atol=1e-5)


# --------------------------------------------------------------------------------------------
# Invariants
# --------------------------------------------------------------------------------------------
@settings(max_examples=100, deadline=None)
@given(data=grouped_rewards(), tau=st.floats(min_value=1e-3, max_value=50))
def test_shape_dtype_and_nan_rows(data, tau):
    rewards, k = data
    t = torch.tensor(rewards, dtype=torch.float32)
    for mode in ("shared", "per_sample"):
        a = soft_advantages(t, k, tau=tau, mode=mode)
        assert a.shape == t.shape and a.dtype == t.dtype
        assert torch.isfinite(a).all()
        assert (a[torch.isnan(t)] == 0).all()


@settings(max_examples=100, deadline=None)
@given(data=grouped_rewards(), tau=st.floats(min_value=1e-3, max_value=50))
def test_per_sample_sums_to_zero_per_group(data, tau):
    rewards, k = data
    a = soft_advantages(torch.tensor(rewards, dtype=torch.float64), k, tau=tau, mode="per_sample")
    assert a.view(-1, k).sum(dim=1).abs().max().item() < 1e-9 * max(1.0, tau * k)


@settings(max_examples=100, deadline=None)
@given(data=grouped_rewards())
def test_per_sample_tends_to_grpo_as_tau_grows(data):
    rewards, k = data
    t = torch.tensor(rewards, dtype=torch.float64)
    grpo = grpo_advantages(t, k)
    errs = [(soft_advantages(t, k, tau=tau, mode="per_sample") - grpo).abs().max().item() for tau in (10, 100, 1000)]
    # The error of tau*(K w - 1) against z shrinks like 1/tau (second-order term of exp).
    assert errs[2] < 0.05
    assert errs[2] <= errs[1] + 1e-12 <= errs[0] + 2e-12


@settings(max_examples=100, deadline=None)
@given(data=grouped_rewards(allow_nan=False))
def test_shared_limits_max_and_mean(data):
    rewards, k = data
    t = torch.tensor(rewards, dtype=torch.float64).view(-1, k)
    low = soft_advantages(t.reshape(-1), k, tau=1e-3).view(-1, k)[:, 0]
    high = soft_advantages(t.reshape(-1), k, tau=1e6).view(-1, k)[:, 0]
    spread = (t.max(1).values - t.min(1).values).clamp(min=1.0)
    # tau -> 0 gives the best reward. At a finite tau every lower reward keeps a weight of at most
    # exp(-gap / tau), gap being the z-distance from the best to the next distinct reward (ties with
    # the best share its weight and change nothing), which bounds the distance to the max.
    z = group_zscores(t.reshape(-1), k).view(-1, k)
    top = z.max(1, keepdim=True).values
    gap = torch.where(z < top - 1e-12, top - z, torch.full_like(z, math.inf)).min(1).values
    bound = spread * (k - 1) * torch.exp(-gap / 1e-3) + 1e-9 * spread
    assert torch.all((low - t.max(1).values).abs() <= bound)
    # ... and tau -> infinity gives the plain mean.
    assert torch.all((high - t.mean(1)).abs() <= 1e-4 * spread)


@settings(max_examples=100, deadline=None)
@given(data=grouped_rewards(allow_nan=False), tau=st.floats(min_value=1e-3, max_value=50))
def test_shared_is_between_mean_and_max(data, tau):
    rewards, k = data
    t = torch.tensor(rewards, dtype=torch.float64).view(-1, k)
    a = soft_advantages(t.reshape(-1), k, tau=tau).view(-1, k)
    assert torch.all(a == a[:, :1])  # one advantage per group: no credit within it
    slack = 1e-9 * t.abs().max().clamp(min=1)
    assert torch.all(a[:, 0] >= t.mean(1) - slack) and torch.all(a[:, 0] <= t.max(1).values + slack)


def test_constant_groups():
    r = torch.tensor([3.0] * 4 + [0.0] * 4)
    assert soft_advantages(r, 4).tolist() == [3.0] * 4 + [0.0] * 4  # shared: A_soft = r
    assert soft_advantages(r, 4, mode="per_sample").tolist() == [0.0] * 8
    assert grpo_advantages(r, 4).tolist() == [0.0] * 8


def test_single_valid_and_all_nan_groups():
    r = torch.tensor([NAN, 5.0, NAN, NAN, NAN, NAN, NAN, NAN])
    assert soft_advantages(r, 4).tolist() == [0.0, 5.0, 0.0, 0.0] + [0.0] * 4
    assert soft_advantages(r, 4, mode="per_sample").tolist() == [0.0] * 8
    assert grpo_advantages(r, 4).tolist() == [0.0] * 8


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
@pytest.mark.parametrize("mode", ["shared", "per_sample"])
def test_extremes_stay_finite(dtype, mode):
    r = torch.tensor([1e6, -1e6, 3.0, 1e6, 0.0, 0.0, 0.0, 1.0], dtype=torch.float64)
    # float16 cannot hold 1e6 at all; test it at its own extreme.
    x = r.clamp(-6e4, 6e4) if dtype == torch.float16 else r
    for tau in (1e-3, 0.5, 1e3):
        a = soft_advantages(x.to(dtype), 4, tau=tau, mode=mode)
        assert a.dtype == dtype and torch.isfinite(a).all()
    a = soft_advantages(r.to(torch.float32), 4, tau=1e-3, mode="shared")
    assert a[0].item() == pytest.approx(1e6)


def test_device_and_dtype_preserved():
    r = torch.rand(32, dtype=torch.float64)
    a = soft_advantages(r, 8, mode="per_sample")
    assert a.device == r.device and a.dtype == torch.float64


# --------------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(tau=0.0), "tau must be"),
        (dict(tau=-1.0), "tau must be"),
        (dict(tau=float("inf")), "tau must be"),
        (dict(tau=NAN), "tau must be"),
        (dict(tau="abc"), "tau must be"),
        (dict(mode="hard"), "mode must be one of"),
        (dict(num_generations=1), "num_generations must be an integer >= 2"),
        (dict(num_generations=3), "not a multiple of num_generations"),
        (dict(num_generations=2.0), "num_generations must be an integer"),
        (dict(rewards=torch.zeros(2, 4)), "1-D tensor"),
        (dict(rewards=[1.0, 0.0]), "must be a torch.Tensor"),
    ],
)
def test_bad_input_raises(kwargs, message):
    args = dict(rewards=torch.zeros(8), num_generations=4)
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        soft_advantages(**args)


def test_grpo_bad_input_raises():
    with pytest.raises(ValueError, match="not a multiple"):
        grpo_advantages(torch.zeros(7), 2)
    with pytest.raises(ValueError, match="1-D"):
        grpo_advantages(torch.zeros(2, 2), 2)
