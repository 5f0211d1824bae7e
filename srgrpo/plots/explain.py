r"""The soft advantage explained in numbers and text: one group worked through, the limits in tau, k of K correct.

Every number here is :mod:`srgrpo.advantages` evaluated on a small group (nothing defines new math), returned as
plain floats and lists, or formatted as the lines a notebook prints. Notebook 1 (``01_soft_advantage``) prints them;
the figures of :mod:`srgrpo.plots.advantage_figures` draw them. Imports only the math (and torch).
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

import torch

from srgrpo.advantages import grpo_advantages, group_zscores, soft_advantages, soft_weights, validate_tau

__all__ = [
    "as_rewards",
    "fmt",
    "advantage_table",
    "advantage_limits",
    "format_steps",
    "tau_limits",
    "format_tau_limits",
    "binary_advantages",
    "BINARY_TAUS",
    "format_binary",
    "format_credit",
]


def as_rewards(rewards: Sequence[float] | torch.Tensor) -> torch.Tensor:
    """One group's rewards as a float64 tensor (float64 keeps printed digits identical across machines)."""
    return torch.as_tensor(rewards, dtype=torch.float64).reshape(-1).clone()


def fmt(values: Iterable[float] | torch.Tensor, digits: int = 3) -> str:
    """``[0.5, -1.25]`` with a fixed number of decimals, signs aligned: what the notebooks print."""
    if isinstance(values, torch.Tensor):
        values = values.tolist()
    out = []
    for v in values:
        s = f"{v:+.{digits}f}"
        if float(s) == 0:  # never print "-0.000"
            s = f"{0:+.{digits}f}"
        out.append(s.replace("+", " "))
    return "[" + ", ".join(out) + "]"


def advantage_table(rewards: Sequence[float] | torch.Tensor, tau: float) -> dict[str, Any]:
    """Every quantity of one group at one ``tau``, straight from :mod:`srgrpo.advantages`.

    Returns a dict of plain floats and lists: ``tau``, ``rewards``, ``mean``, ``std`` (Bessel),
    ``z``, ``weights`` (``soft_weights``), ``a_soft`` (the shared value), and the per-completion
    advantages ``shared``, ``per_sample`` (``soft_advantages`` in each mode) and ``grpo``
    (``grpo_advantages``).
    """
    tau = validate_tau(tau)
    r = as_rewards(rewards)
    k = r.numel()
    shared = soft_advantages(r, k, tau=tau, mode="shared")
    return {
        "tau": tau,
        "rewards": r.tolist(),
        "mean": r.mean().item(),
        "std": r.std().item(),
        "z": group_zscores(r, k).tolist(),
        "weights": soft_weights(r, k, tau=tau).tolist(),
        "a_soft": shared[0].item(),
        "shared": shared.tolist(),
        "per_sample": soft_advantages(r, k, tau=tau, mode="per_sample").tolist(),
        "grpo": grpo_advantages(r, k).tolist(),
    }


def format_steps(rewards: Sequence[float] | torch.Tensor, tau: float, digits: int = 3) -> str:
    """The formula worked through on one group, one line per step, rounded to ``digits`` decimals."""
    t = advantage_table(rewards, tau)
    w = t["weights"]
    lines = [
        f"rewards r            = {fmt(t['rewards'], digits)}",
        f"mean, std            = {t['mean']:.{digits}f}, {t['std']:.{digits}f}",
        f"z = (r - mean)/std   = {fmt(t['z'], digits)}",
        f"z / tau  (tau={tau:g})   = {fmt([z / t['tau'] for z in t['z']], digits)}",
        f"w = softmax(z / tau) = {fmt(w, digits)}   (sum {sum(w):.{digits}f})",
        f"w * r                = {fmt([wi * ri for wi, ri in zip(w, t['rewards'])], digits)}",
        f"A_soft = sum(w * r)  = {t['a_soft']:.{digits}f}",
    ]
    return "\n".join(lines)


def advantage_limits(rewards: torch.Tensor, taus: Sequence[float]) -> tuple[float, float]:
    """A y-range that holds every advantage of the group for the given taus (so a slider never rescales)."""
    k = rewards.numel()
    values = [rewards, grpo_advantages(rewards, k)]
    for tau in taus:
        values.append(soft_advantages(rewards, k, tau=tau, mode="per_sample"))
    allv = torch.cat(values)
    low, high = min(allv.min().item(), 0.0), max(allv.max().item(), 0.0)
    pad = 0.08 * (high - low or 1.0)
    return low - pad, high + pad


def tau_limits(rewards: Sequence[float] | torch.Tensor, taus: Sequence[float]) -> list[dict[str, float]]:
    """For each tau: the shared ``A_soft``, the largest weight, and how far ``per_sample`` is from GRPO's z.

    Returns rows ``{"tau", "a_soft", "max_weight", "per_sample_minus_z"}`` where the last is
    :math:`\\max_i |A^{per\\_sample}_i - z_i|`.
    """
    r = as_rewards(rewards)
    k = r.numel()
    z = grpo_advantages(r, k)
    rows = []
    for tau in taus:
        per = soft_advantages(r, k, tau=tau, mode="per_sample")
        rows.append(
            {
                "tau": float(tau),
                "a_soft": soft_advantages(r, k, tau=tau, mode="shared")[0].item(),
                "max_weight": soft_weights(r, k, tau=tau).max().item(),
                "per_sample_minus_z": (per - z).abs().max().item(),
            }
        )
    return rows


def format_tau_limits(rewards: Sequence[float] | torch.Tensor, taus: Sequence[float], digits: int = 3) -> str:
    """:func:`tau_limits` as a table, with the group's max and mean (the two limits of ``A_soft``) on top."""
    r = as_rewards(rewards)
    lines = [
        f"max r = {r.max().item():.{digits}f}   mean r = {r.mean().item():.{digits}f}   K = {r.numel()}",
        "",
        f"{'tau':>8}  {'A_soft (shared)':>15}  {'largest w_i':>11}  {'max |per_sample - z|':>20}",
    ]
    for row in tau_limits(r, taus):
        lines.append(
            f"{row['tau']:>8g}  {row['a_soft']:>15.{digits}f}  {row['max_weight']:>11.{digits}f}"
            f"  {row['per_sample_minus_z']:>20.{digits}f}"
        )
    return "\n".join(lines)


def binary_advantages(num_generations: int, taus: Sequence[float]) -> dict[str, Any]:
    """Advantages of a 0/1-reward group with ``k`` correct completions, for every ``k`` and ``tau``.

    Returns ``{"K", "taus", "k": [0..K], "shared": [[A(k, tau) for tau] for k],
    "per_sample_correct", "per_sample_wrong": same shape (``None`` where no completion is of that
    kind), "grpo_correct", "grpo_wrong": [value for k]}``, all from :mod:`srgrpo.advantages`.
    """
    K = int(num_generations)
    out: dict[str, Any] = {"K": K, "taus": [float(t) for t in taus], "k": list(range(K + 1))}
    keys = ("shared", "per_sample_correct", "per_sample_wrong")
    for key in keys:
        out[key] = []
    out["grpo_correct"], out["grpo_wrong"] = [], []
    for k in range(K + 1):
        r = torch.tensor([1.0] * k + [0.0] * (K - k), dtype=torch.float64)
        g = grpo_advantages(r, K)
        out["grpo_correct"].append(g[0].item() if k > 0 else None)
        out["grpo_wrong"].append(g[-1].item() if k < K else None)
        rows = {key: [] for key in keys}
        for tau in taus:
            p = soft_advantages(r, K, tau=tau, mode="per_sample")
            rows["shared"].append(soft_advantages(r, K, tau=tau, mode="shared")[0].item())
            rows["per_sample_correct"].append(p[0].item() if k > 0 else None)
            rows["per_sample_wrong"].append(p[-1].item() if k < K else None)
        for key in keys:
            out[key].append(rows[key])
    return out


#: The temperatures of notebook 1's right-or-wrong table and heatmap (one list, so the two always agree).
BINARY_TAUS = (0.1, 0.5, 1.0, 2.0)


def format_binary(num_generations: int, taus: Sequence[float] = BINARY_TAUS, digits: int = 3) -> str:
    """The shared ``A_soft`` of a 0/1 group as a table: one row per number of correct completions ``k``."""
    b = binary_advantages(num_generations, taus)
    K = b["K"]
    head = f"{'k of ' + str(K):>7}  {'k/K':>6}  " + "  ".join(f"{'tau=' + format(t, 'g'):>9}" for t in b["taus"])
    lines = ["shared A_soft (every completion of the group gets this value)", head, "-" * len(head)]
    for k, row in zip(b["k"], b["shared"]):
        cells = "  ".join(f"{v:>9.{digits}f}" for v in row)
        lines.append(f"{k:>7}  {k / K:>6.3f}  {cells}")
    return "\n".join(lines)


def format_credit(groups: Mapping[str, Sequence[float]], tau: float = 0.5, digits: int = 3) -> str:
    """What a correct (reward 1) and a wrong (reward 0) completion of each 0/1 group receive, per rule.

    ``groups`` maps a name to a group's rewards. The last column says whether the rule pushes the
    wrong completions *down* (a negative advantage): the point of credit assignment.
    """
    head = f"{'group':<22} {'rule':<11} {'A(correct)':>10} {'A(wrong)':>9}  wrong pushed down?"
    lines = [head, "-" * len(head)]
    for name, rewards in groups.items():
        t = advantage_table(rewards, tau)
        r = t["rewards"]
        ic = r.index(max(r))
        iw = r.index(min(r))
        for j, key in enumerate(("grpo", "per_sample", "shared")):
            label = name if j == 0 else ""
            rule = key if key != "grpo" else "GRPO"
            lines.append(
                f"{label:<22} {rule:<11} {t[key][ic]:>10.{digits}f} {t[key][iw]:>9.{digits}f}  {t[key][iw] < 0}"
            )
    return "\n".join(lines)
