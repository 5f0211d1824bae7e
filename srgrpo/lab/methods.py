r"""The advantage methods the learning lab compares, as one function of a flat reward vector.

Every experiment of the lab (the bandit here, the tiny language model elsewhere) runs the same
policy-gradient update and changes only how a group's rewards become advantages. Keeping those
rules in one place guarantees that a curve labelled ``per_sample(tau=0.5)`` means the same thing
in every figure.

Rewards follow :mod:`srgrpo.advantages`: a flat tensor of length :math:`G K`, the :math:`K`
completions of each group side by side.

The methods
-----------
``grpo``
    :math:`A_i = z_i = (r_i - \mu)/(\sigma + \varepsilon)`: GRPO's group z-score.
``shared``
    :math:`A_i = \sum_j w_j r_j` with :math:`w = \mathrm{softmax}(z/\tau)`, the same value for
    every completion of a group (SR-GRPO as specified). Needs ``tau``.
``per_sample``
    :math:`A_i = \tau (K w_i - 1)`: the same weights compared with the uniform weight; zero-sum
    per group and equal to GRPO as :math:`\tau \to \infty`. Needs ``tau``.
``constant`` (control)
    :math:`A_i = 1` for every completion: the update only raises the likelihood of whatever was
    sampled (pure self-reinforcement). If a method does no better than this, its gains come from
    sharpening the policy, not from the reward.
``random_reward`` (control)
    GRPO advantages of *fake* rewards that ignore the completions (the "spurious rewards" control
    of Shao et al., arXiv 2506.10947). Each fake reward is drawn independently of everything about
    its completion: it takes the batch's lowest value :math:`r_\min` with probability :math:`1-q`
    and its highest :math:`r_\max` with probability :math:`q`, where
    :math:`q = (\bar r - r_\min)/(r_\max - r_\min)` makes the fake batch mean equal the real one
    in expectation. For 0/1 rewards this is simply :math:`\mathrm{Bernoulli}(\bar r)`. The only
    thing the fake rewards share with the real ones is the batch's mean and range, so the update
    has GRPO's scale but no information about which completion was right.

The soft methods take ``tau``; the others refuse it, so a typo in an experiment grid fails loudly
instead of silently running GRPO four times.
"""

from __future__ import annotations

import torch

from srgrpo.advantages import grpo_advantages, soft_advantages, validate_tau

__all__ = [
    "METHODS",
    "SOFT_METHODS",
    "CONTROL_METHODS",
    "DEFAULT_TAUS",
    "DEFAULT_TAU",
    "method_advantages",
    "method_label",
    "method_grid",
    "validate_method",
]

#: Every method the lab knows, in the order figures and tables list them.
METHODS: tuple[str, ...] = ("grpo", "shared", "per_sample", "constant", "random_reward")
#: The methods that take a temperature ``tau``.
SOFT_METHODS: tuple[str, ...] = ("shared", "per_sample")
#: The controls: advantages that carry no information about correctness.
CONTROL_METHODS: tuple[str, ...] = ("constant", "random_reward")
#: The temperatures an experiment sweeps unless told otherwise.
DEFAULT_TAUS: tuple[float, ...] = (0.1, 0.5, 1.0, 2.0)
#: The temperature a soft method uses when none is given (the same as ``soft_advantages``).
DEFAULT_TAU: float = 0.5


def validate_method(method: str) -> str:
    """Return ``method`` if it is one of :data:`METHODS`, else raise ``ValueError``."""
    if method not in METHODS:
        raise ValueError(f"unknown advantage method {method!r}; choose one of {', '.join(METHODS)}.")
    return method


def _check_tau(method: str, tau: float | None) -> float | None:
    """The tau a method runs with: a validated float for soft methods, ``None`` for the others."""
    validate_method(method)
    if method in SOFT_METHODS:
        return DEFAULT_TAU if tau is None else validate_tau(tau)
    if tau is not None:
        raise ValueError(
            f"method {method!r} takes no tau (got tau={tau!r}); only {', '.join(SOFT_METHODS)} use a temperature."
        )
    return None


def method_label(method: str, tau: float | None = None) -> str:
    """The label figures, tables and result files use: ``"grpo"``, ``"per_sample(tau=0.5)"``.

    Soft methods always carry their tau (the default one if ``tau`` is ``None``), so two labels
    are equal exactly when the runs are.
    """
    tau = _check_tau(method, tau)
    return method if tau is None else f"{method}(tau={tau:g})"


def method_grid(methods=METHODS, taus=DEFAULT_TAUS) -> list[tuple[str, float | None, str]]:
    """Expand methods x temperatures into the runs of an experiment.

    Each soft method is paired with every tau; every other method appears once with tau ``None``.
    Duplicates are dropped, the order of ``methods`` and ``taus`` kept.

    >>> [label for _, _, label in method_grid(["grpo", "per_sample"], [0.5, 1.0])]
    ['grpo', 'per_sample(tau=0.5)', 'per_sample(tau=1)']

    Returns:
        A list of ``(method, tau or None, label)``.

    Raises:
        ValueError: an unknown method, a bad tau, no methods, or soft methods with no taus.
    """
    if isinstance(methods, str):
        methods = [methods]
    methods = [validate_method(m) for m in methods]
    if not methods:
        raise ValueError(f"method_grid needs at least one method out of {METHODS}.")
    if isinstance(taus, (int, float)):
        taus = [taus]
    taus = [validate_tau(t) for t in (taus or ())]
    if not taus and any(m in SOFT_METHODS for m in methods):
        raise ValueError(f"soft methods {SOFT_METHODS} need at least one tau, got none.")
    grid, seen = [], set()
    for method in methods:
        for tau in taus if method in SOFT_METHODS else [None]:
            label = method_label(method, tau)
            if label not in seen:
                seen.add(label)
                grid.append((method, tau, label))
    return grid


def _random_rewards(rewards: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Fake rewards with the batch's mean (in expectation) and range, drawn blind to the completions."""
    valid = ~torch.isnan(rewards)
    if not valid.any():
        return rewards.clone()
    real = rewards[valid]
    low, high, mean = real.min(), real.max(), real.mean()
    span = high - low
    q = ((mean - low) / span).clamp(0, 1) if span > 0 else torch.zeros((), dtype=rewards.dtype)
    # Draw for every position, valid or not, so the random stream consumed never depends on rewards.
    draws = torch.rand(rewards.shape, generator=generator, dtype=rewards.dtype, device=rewards.device)
    fake = torch.where(draws < q, high, low)
    # An unscorable completion stays unscorable: GRPO then gives it 0, as it would with real rewards.
    return torch.where(valid, fake, rewards)


def method_advantages(
    method: str,
    rewards: torch.Tensor,
    num_generations: int,
    tau: float | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Advantages of one lab method for a flat vector of grouped rewards.

    Args:
        method: one of :data:`METHODS`.
        rewards: 1-D float tensor of length ``G * num_generations``, each group's completions
            adjacent (NaN marks an unscorable completion, as in :mod:`srgrpo.advantages`).
        num_generations: completions per group, ``K >= 2``.
        tau: temperature of a soft method (default :data:`DEFAULT_TAU`); must be ``None`` for the
            other methods.
        generator: random source of ``random_reward`` (``None``: torch's global generator); the
            other methods are deterministic and ignore it.

    Returns:
        A float tensor shaped like ``rewards``.

    Raises:
        ValueError: unknown method, tau given to a method without one, bad tau or reward shape.
    """
    tau = _check_tau(method, tau)
    if not isinstance(rewards, torch.Tensor):
        raise ValueError(f"rewards must be a torch.Tensor, got {type(rewards).__name__}.")
    if not rewards.dtype.is_floating_point:
        rewards = rewards.to(torch.float32)
    if method == "grpo":
        return grpo_advantages(rewards, num_generations)
    if method in SOFT_METHODS:
        return soft_advantages(rewards, num_generations, tau=tau, mode=method)
    if method == "constant":
        # Reuse the shape checks of the real methods so a malformed batch fails the same way.
        zeros = grpo_advantages(rewards, num_generations)
        return torch.where(torch.isnan(rewards), zeros, torch.ones_like(zeros))
    if generator is not None and not isinstance(generator, torch.Generator):
        raise ValueError(f"generator must be a torch.Generator or None, got {type(generator).__name__}.")
    grpo_advantages(rewards, num_generations)  # validates the shape before any random draw
    return grpo_advantages(_random_rewards(rewards, generator), num_generations)

