r"""Group-relative advantages: GRPO's z-score and SR-GRPO's softmax ("soft-reward") forms.

GRPO samples a *group* of :math:`K` completions for every prompt, scores each with a reward
:math:`r_1, \dots, r_K`, and judges every completion against its own group rather than
against a learned value function. This module holds that judgement, and nothing else.

The tensors follow TRL's layout: a flat vector of length :math:`G K` where the :math:`K`
completions of one prompt sit next to each other (``rewards.view(G, K)`` gives one row per
group). A ``NaN`` reward marks a completion that no reward function could score: it is left
out of its group's statistics and gets advantage 0, exactly as in TRL.

Group statistics
----------------
Over the :math:`n` valid rewards of a group,

.. math::

    \mu = \frac{1}{n}\sum_i r_i, \qquad
    \sigma = \sqrt{\frac{1}{n-1}\sum_i (r_i - \mu)^2}\ \ (\sigma = 0 \text{ if } n < 2), \qquad
    z_i = \frac{r_i - \mu}{\sigma + \varepsilon}

with Bessel's correction and :math:`\varepsilon = 10^{-4}`, as TRL computes them.

GRPO (``grpo_advantages``)
--------------------------
:math:`A_i = z_i`. TRL's ``scale_rewards="group"`` advantage: above-average completions are
pushed up, below-average ones down, and the push sums to zero in every group.

SR-GRPO weights (``soft_weights``)
----------------------------------
A softmax over the group's z-scores with temperature :math:`\tau > 0`:

.. math::

    w_i = \frac{\exp(z_i / \tau)}{\sum_j \exp(z_j / \tau)}

Small :math:`\tau` puts nearly all the weight on the best completion; large :math:`\tau`
spreads it evenly (:math:`w_i \to 1/n`). Because the z-score already divides by the group's
spread, :math:`\tau` means the same thing whatever the scale of the reward.

``mode="shared"``: the specification's advantage
-------------------------------------------------
.. math::

    A_\text{soft} = \sum_i w_i r_i, \qquad A_i = A_\text{soft} \ \text{for every valid } i

a soft maximum of the group's rewards: :math:`\tau \to 0` gives :math:`\max_i r_i`,
:math:`\tau \to \infty` gives the mean :math:`\mu`, and a group of equal rewards gets
:math:`A_\text{soft} = r` (GRPO gives it 0).

*Why it gives no credit within a group.* The policy-gradient loss multiplies each completion's
log-likelihood gradient by its advantage. When all :math:`K` completions carry the same
:math:`A_\text{soft}`, a right and a wrong completion of the same prompt are pushed up (or
down) by exactly the same amount: the update cannot tell them apart. What remains is a signal
*between* prompts (groups that scored higher are reinforced more, whatever they sampled), an
unbiased gradient of a "soft best-of-:math:`K`" objective but with no baseline, so it is noisy,
and with non-negative rewards it is never negative, so it mostly reinforces what the model
already does. The kit's learning lab measures what this does.

``mode="per_sample"``: the variant that learns
-----------------------------------------------
.. math::

    A_i = \tau\,(n\,w_i - 1)

keeps the same softmax weights but compares each completion with the uniform weight
:math:`1/n`. It sums to zero in every group (:math:`\sum_i w_i = 1`), so it keeps GRPO's
baseline. Its limits:

- :math:`\tau \to \infty`: :math:`n w_i \approx 1 + (z_i - \bar z)/\tau` and :math:`\bar z = 0`,
  so :math:`A_i \to z_i`, exactly GRPO;
- :math:`\tau \to 0`: the best completion gets :math:`\tau(n-1)`, every other one
  :math:`-\tau`, a winner-take-all update whose size shrinks with :math:`\tau`.

It is the risk-sensitive advantage of RS-GRPO (Jiang et al., arXiv 2509.24261), written on
z-scores instead of raw rewards.

Numerics
--------
Everything is computed in at least float32 (float64 stays float64), vectorised over groups
(no Python loop), with the softmax's maximum subtracted first, so results stay finite for
:math:`\tau` down to :math:`10^{-3}` and rewards up to :math:`10^6` in magnitude. The result
has the input's dtype and device.
"""

from __future__ import annotations

import math
from typing import Literal

import torch

__all__ = [
    "MODES",
    "group_zscores",
    "soft_weights",
    "soft_advantages",
    "grpo_advantages",
    "validate_tau",
    "validate_mode",
]

#: The two ways SR-GRPO turns softmax weights into advantages.
MODES: tuple[str, ...] = ("shared", "per_sample")

SoftMode = Literal["shared", "per_sample"]


def validate_tau(tau: float) -> float:
    """Return ``tau`` as a float, or raise ``ValueError`` if it is not a finite positive number."""
    try:
        value = float(tau)
    except (TypeError, ValueError):
        raise ValueError(f"tau must be a positive number, got {tau!r}.") from None
    if not math.isfinite(value) or value <= 0:
        raise ValueError(
            f"tau must be a finite number > 0, got {tau!r}. Typical values are 0.1 to 2.0 "
            "(0.5 is the default); small tau focuses on the best completions."
        )
    return value


def validate_mode(mode: str) -> str:
    """Return ``mode`` if it is one of :data:`MODES`, else raise ``ValueError``."""
    if mode not in MODES:
        raise ValueError(f"soft advantage mode must be one of {MODES}, got {mode!r}.")
    return mode


def _grouped(rewards: torch.Tensor, num_generations: int) -> torch.Tensor:
    """Check the input and view it as a ``(G, K)`` tensor in a float dtype of at least 32 bits."""
    if not isinstance(rewards, torch.Tensor):
        raise ValueError(
            f"rewards must be a torch.Tensor, got {type(rewards).__name__}; "
            "wrap it with torch.tensor(rewards, dtype=torch.float32)."
        )
    if rewards.dim() != 1:
        raise ValueError(
            f"rewards must be a 1-D tensor of length G*K (groups of K completions side by side), "
            f"got shape {tuple(rewards.shape)}; flatten it with rewards.reshape(-1)."
        )
    if isinstance(num_generations, bool) or not isinstance(num_generations, int) or num_generations < 2:
        raise ValueError(
            f"num_generations must be an integer >= 2 (a group needs at least two completions to compare), "
            f"got {num_generations!r}."
        )
    if rewards.numel() % num_generations != 0:
        raise ValueError(
            f"rewards has {rewards.numel()} entries, which is not a multiple of num_generations={num_generations}: "
            "every prompt must contribute exactly num_generations completions."
        )
    if not rewards.dtype.is_floating_point:
        rewards = rewards.to(torch.float32)
    elif rewards.dtype not in (torch.float32, torch.float64):
        # Half precision loses the z-scores of large rewards; the softmax wants 32 bits at least.
        rewards = rewards.to(torch.float32)
    return rewards.view(-1, num_generations)


def _stats(r: torch.Tensor, eps: float) -> tuple[torch.Tensor | None, torch.Tensor | int, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Group statistics of a ``(G, K)`` reward tensor (NaN = invalid).

    Returns ``(valid, n, r0, centred, inv_scale)``: the validity mask (``None`` when every reward
    is valid), the number of valid rewards per group, the rewards with NaN replaced by 0, the
    centred rewards :math:`r_i - \mu` (0 where invalid) and :math:`1 / (\sigma + \varepsilon)`,
    so that :math:`z = \text{centred} \cdot \text{inv\_scale}`.
    """
    k = r.shape[1]
    total = r.sum(dim=1, keepdim=True)
    # Any NaN reward makes its row sum NaN: one cheap check on G numbers picks the path.
    if not torch.isnan(total).any():
        centred = r - total / k
        # Written out rather than torch.std: on CPU, var/std along a short last dim is ~10x slower.
        std = (centred.square().sum(dim=1, keepdim=True) / (k - 1)).sqrt()
        return None, k, r, centred, 1.0 / (std + eps)
    zero = torch.zeros((), dtype=r.dtype, device=r.device)
    valid = ~torch.isnan(r)
    r0 = torch.where(valid, r, zero)
    n = valid.sum(dim=1, keepdim=True, dtype=r.dtype)
    mean = r0.sum(dim=1, keepdim=True) / n.clamp(min=1)
    centred = torch.where(valid, r0 - mean, zero)
    var = centred.square().sum(dim=1, keepdim=True) / (n - 1).clamp(min=1)
    # TRL's nanstd is NaN below two valid rewards and its advantage then becomes 0; taking std = 0
    # gives z = 0 there, which is the same advantage without a NaN to clean up.
    std = torch.where(n >= 2, var.sqrt(), zero)
    return valid, n, r0, centred, 1.0 / (std + eps)


def group_zscores(rewards: torch.Tensor, num_generations: int, eps: float = 1e-4) -> torch.Tensor:
    r"""z-scores within each group: :math:`z_i = (r_i - \mu) / (\sigma + \varepsilon)`.

    ``sigma`` is Bessel-corrected over the group's valid (non-NaN) rewards and 0 when fewer than
    two are valid; NaN rewards get :math:`z_i = 0`. Returns a tensor shaped like ``rewards``.
    """
    r = _grouped(rewards, num_generations)
    _, _, _, centred, inv_scale = _stats(r, eps)
    return (centred * inv_scale).reshape(rewards.shape).to(rewards.dtype if rewards.dtype.is_floating_point else torch.float32)


def _weights(logits: torch.Tensor, valid: torch.Tensor | None) -> torch.Tensor:
    """Softmax of ``logits`` (= z / tau) over each row's valid entries; all-invalid rows get zeros."""
    if valid is None:
        return torch.softmax(logits, dim=1)  # subtracts the row maximum, so z/tau ~ 1e4 stays finite
    # Invalid entries get exp(-inf) = 0; a row with no valid entry comes out of softmax as NaN: make it 0.
    return torch.softmax(logits.masked_fill(~valid, -math.inf), dim=1).nan_to_num_(0.0)


def soft_weights(rewards: torch.Tensor, num_generations: int, tau: float = 0.5, eps: float = 1e-4) -> torch.Tensor:
    r"""Softmax weights within each group: :math:`w_i = \exp(z_i/\tau) / \sum_j \exp(z_j/\tau)`.

    The sum runs over the group's valid completions; a NaN reward gets weight 0, so the weights of
    each group with at least one valid reward sum to 1. Returns a tensor shaped like ``rewards``.
    """
    tau = validate_tau(tau)
    r = _grouped(rewards, num_generations)
    valid, _, _, centred, inv_scale = _stats(r, eps)
    w = _weights(centred * (inv_scale / tau), valid)
    return w.reshape(rewards.shape).to(rewards.dtype if rewards.dtype.is_floating_point else torch.float32)


def soft_advantages(
    rewards: torch.Tensor,
    num_generations: int,
    tau: float = 0.5,
    mode: SoftMode = "shared",
    eps: float = 1e-4,
) -> torch.Tensor:
    r"""SR-GRPO advantages for a flat vector of grouped rewards.

    With :math:`w = \mathrm{softmax}(z/\tau)` over each group's valid completions (see the module
    docstring):

    - ``mode="shared"`` (the specification): :math:`A_i = \sum_j w_j r_j` for every valid
      completion of the group;
    - ``mode="per_sample"``: :math:`A_i = \tau (n w_i - 1)`, with :math:`n` the group's number of
      valid completions; zero-sum per group, GRPO's :math:`z_i` as :math:`\tau \to \infty`.

    A NaN reward (unscorable completion) is left out of its group and gets advantage 0.

    Args:
        rewards: 1-D float tensor of length ``G * num_generations``, each group's completions adjacent.
        num_generations: completions per prompt, :math:`K \ge 2`.
        tau: softmax temperature, finite and > 0. Lower values focus on the best completions.
        mode: ``"shared"`` or ``"per_sample"``.
        eps: added to the group's standard deviation (TRL uses ``1e-4``).

    Returns:
        A tensor shaped like ``rewards``, with its dtype and device.

    Raises:
        ValueError: for a bad ``tau``, ``mode``, ``num_generations`` or shape.
    """
    tau = validate_tau(tau)
    validate_mode(mode)
    r = _grouped(rewards, num_generations)
    valid, n, r0, centred, inv_scale = _stats(r, eps)
    # z / tau in one multiplication: the scale is per group, so dividing it is G operations, not G*K.
    w = _weights(centred * (inv_scale / tau), valid)
    if mode == "shared":
        adv = (w * r0).sum(dim=1, keepdim=True).expand_as(r0)
    else:
        adv = tau * (n * w - 1)
    if valid is not None:
        adv = torch.where(valid, adv, torch.zeros((), dtype=r0.dtype, device=r0.device))
    return adv.reshape(rewards.shape).to(rewards.dtype if rewards.dtype.is_floating_point else torch.float32)


def grpo_advantages(rewards: torch.Tensor, num_generations: int, eps: float = 1e-4) -> torch.Tensor:
    r"""GRPO's advantage, :math:`A_i = (r_i - \mu) / (\sigma + \varepsilon)`, per group.

    Identical to TRL's ``scale_rewards="group"`` advantage: Bessel-corrected standard deviation
    over the group's valid rewards, NaN rewards left out and given advantage 0, a group with fewer
    than two valid rewards all 0. Returns a tensor shaped like ``rewards``.
    """
    return group_zscores(rewards, num_generations, eps)
