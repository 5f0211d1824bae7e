r"""The stability experiment's plan, declared before its first run: is SR-GRPO "smoother and more stable" than GRPO?

The specification presents softmax-weighted advantages as giving "smoother and more stable training". The lab's
5-seed comparison (``data/results/real.json``) tested means; there ``per_sample(tau=1)`` and ``grpo`` could not be
told apart, but their held-out accuracies spread very differently over seeds 1-5 (grpo 22/16/4/27/25, per_sample
20/20/21.5/17.5/21). That was seen after the fact, on the seeds that suggested it. This experiment settles it on
fresh seeds (6 to 15, none of those 0-5 that chose or suggested anything) at the comparison's exact settings (the same
:func:`srgrpo.lab.real.settings.settings_id`), with the hypotheses, tests and alpha below fixed before any run.

The claim is made for softmax weighting; the specification's own ``shared`` mode hardly learns (the comparison), so
the test is on ``per_sample``, the softmax-weighted mode that learns.

H1, primary (*more stable*)
    The seed-to-seed spread of held-out accuracy after training is smaller for ``per_sample(tau=1)`` than for
    ``grpo``. Spread of a method: the mean absolute deviation of its runs' accuracies from that method's median,

    .. math:: \mathrm{MAD}_m = \frac{1}{n} \sum_{i} |a_{m,i} - \operatorname{median}_j a_{m,j}|.

    Statistic: :math:`\mathrm{MAD}_\text{grpo} - \mathrm{MAD}_\text{per\_sample}`. Test: an exact one-sided
    permutation test in which what is permuted is each run's absolute deviation from *its own method's* median
    (the Brown-Forsythe idea: centring each method first keeps a difference in means from posing as a difference in
    spread); all :math:`\binom{20}{10} = 184{,}756` ways to split the 20 deviations into two groups of 10 are
    enumerated (``scipy.stats.permutation_test``), p is the share of splits whose statistic is at least the observed.
H2, secondary (*smoother*)
    A run's *roughness* is the mean absolute step-to-step change of its training reward (the mean reward of the
    step's 16 sampled completions, correctness + format, 0 to 2) over its 16 steps. It is smaller for
    ``per_sample(tau=1)`` than for ``grpo``. Statistic: mean roughness of ``grpo`` minus that of ``per_sample``;
    test: the same exact one-sided permutation test, permuting the runs' roughness between the methods.
Alpha and order
    0.05, fixed sequence: H1 is tested at 0.05; H2 is tested at 0.05 only if H1 is supported, otherwise it is not
    supported (its p is still reported). The chance of any false "supported" stays at most 0.05.
Reported, not tested
    Collapsed runs (held-out accuracy after training below the pretrained model's): with 10 runs a method, a count
    has almost no power (it would take 4 against 0). The replication: the mean accuracy difference ``per_sample -
    grpo``, paired by seed, with its 95% t interval. Each method's SD. All 15 seeds a method (1-5 from the
    comparison, 6-15 fresh) in a figure, the fresh seeds marked; nothing is tested on the pooled 15.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

from srgrpo.lab.real.settings import RealLabSettings

__all__ = ["DECLARED", "StabilitySettings", "FRESH_SEEDS", "METHODS", "ALPHA", "COMPARISON_SETTINGS_ID", "missing_runs"]

#: The fresh seeds: ten a method, none of 0 (the pilot) or 1-5 (the comparison that suggested the question).
FRESH_SEEDS = tuple(range(6, 16))
#: The two methods, as the lab labels them: the hypotheses say per_sample's value is the smaller one.
METHODS = ("per_sample(tau=1)", "grpo")
ALPHA = 0.05
#: The comparison's settings id (``data/results/real.json``): the fresh runs must compute exactly what its runs did.
COMPARISON_SETTINGS_ID = "01555436320c"

#: What was declared before the first run, written verbatim into ``data/results/stability.json``'s ``declared``.
DECLARED: dict[str, Any] = {
    "question": "Is SR-GRPO's softmax weighting (per_sample, tau 1) 'smoother and more stable' than GRPO on a real "
                "model (SmolLM2-135M-Instruct, the lab's word problems)?",
    "methods": list(METHODS),
    "seeds": list(FRESH_SEEDS),
    "settings_id": COMPARISON_SETTINGS_ID,
    "alpha": ALPHA,
    "order": "fixed sequence: H1 at alpha; H2 at alpha only if H1 is supported, else H2 is not supported",
    "hypotheses": [
        {
            "id": "H1",
            "role": "primary",
            "claim": "the seed-to-seed spread of held-out accuracy after training is smaller for per_sample(tau=1) "
                     "than for grpo",
            "measure": "held-out accuracy (%) after training, one value a run",
            "statistic": "MAD(grpo) - MAD(per_sample), MAD = mean over a method's runs of |accuracy - that "
                         "method's median accuracy|",
            "test": "exact one-sided permutation test: each run's absolute deviation from its own method's median "
                    "is permuted between the two methods (all C(20,10) = 184,756 splits into 10 and 10); p = share "
                    "of splits with a statistic >= the observed",
            "direction": "greater",
        },
        {
            "id": "H2",
            "role": "secondary",
            "claim": "training is smoother for per_sample(tau=1) than for grpo",
            "measure": "roughness of a run: mean |r(t+1) - r(t)| over its 16 steps, r(t) = step t's mean training "
                       "reward (correctness + format, 0 to 2)",
            "statistic": "mean roughness(grpo) - mean roughness(per_sample)",
            "test": "exact one-sided permutation test: the runs' roughness is permuted between the two methods "
                    "(all 184,756 splits); p = share of splits with a statistic >= the observed",
            "direction": "greater",
        },
    ],
    "reported_not_tested": [
        "collapsed runs: held-out accuracy after training below the pretrained model's (too few to test at 10 "
        "against 10)",
        "replication: mean held-out accuracy difference per_sample(tau=1) - grpo over the fresh seeds, paired by "
        "seed, with its 95% t interval",
        "each method's SD and MAD of held-out accuracy",
        "all 15 seeds a method (1-5 from data/results/real.json, 6-15 fresh) in a figure, the fresh seeds marked",
    ],
    "verdict": "'supported' when the test's p < alpha in its turn of the fixed sequence, else 'not supported'",
}


@dataclass
class StabilitySettings(RealLabSettings):
    """What ``python -m srgrpo.lab stability`` runs: the comparison's settings, two methods, the fresh seeds.

    Every field that changes what a run computes keeps the comparison's default, so the settings id is the
    comparison's (a test checks it); only the grid (methods, seeds) and where things go differ.
    """

    output: str = field(default="data/results/stability.json",
                        metadata={"help": "results JSON; the 15-seed figure is written beside it"})
    methods: list[str] = field(default_factory=lambda: ["grpo", "per_sample"],
                               metadata={"help": "the two methods the hypotheses compare"})
    seeds: list[int] = field(default_factory=lambda: list(FRESH_SEEDS),
                             metadata={"help": "the declared fresh seeds (6 to 15)"})
    declare_only: bool = field(default=False, metadata={
        "help": "write the declared block (and nothing run) to --output and stop: the commit before the first run"})


def missing_runs(runs: Sequence[dict[str, Any]]) -> int:
    """How many of the declared runs (each method at each of the fresh seeds) are not among ``runs``."""
    done = {(run["label"], run["seed"]) for run in runs}
    return sum(1 for label in METHODS for seed in FRESH_SEEDS if (label, seed) not in done)
