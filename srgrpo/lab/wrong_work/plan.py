r"""The wrong-work analysis's plan, declared before any after-training rate is computed: does RL make "right answer,
wrong work" more common, less common, or neither?

The question (issue #39, part 2)
    The reward reads only the final number. A completion can earn it through false sums ("8 * 10 = 8 coins ... 8 + 6 =
    14. #### 14"), and RL pays that in full. Among the *correct* held-out answers, what share has at least one false
    equation in its work (:mod:`srgrpo.tasks.work`), before and after the main job's training?

The data
    The main job's confirmation seeds, as the recipe study declares them (:mod:`srgrpo.lab.recipe.plan`'s
    ``CONFIRMATION``): ``python -m srgrpo`` run by ``benchmarks/main_job_seeds.py`` at seeds 1000-1009 in this CPU's
    precision (bf16) and 2000-2002 in float32, each storing its 64 held-out records before and after training
    (``data/benchmarks/main_job_seeds/seed-K.json``). None of them exists when this is declared; no after-training
    share of any confirmation seed has been computed. A false equation is counted by the evaluation's checker (the
    record's stored ``false_equations``; a record without it is checked now from its completion).

The recipe
    The records must be of the recipe the recipe study chose: ``data/results/recipe.json``'s ``winner``, with each
    of its changes to the preset found in the recipe ``main_job_seeds.py`` stores beside the seeds (its resolved
    training settings), every primary seed of one recipe id in bf16, every other seed of one recipe id in float32, the
    two recipes alike except for the precision. Records that say another recipe are refused; records that cannot say
    (no recipe id, no stored recipe) are refused too, saying that they cannot tell: a declared test on records of an
    unknown recipe would test nothing declared.

The unit: a seed, not a problem
    Each seed is one run of RL, and the 64 problems are the same in every seed: pooling the seeds' answers as if they
    were 640 independent problems would count one hard problem ten times. So a seed gives one number,

    .. math:: d_s = \frac{W^\text{after}_s}{C^\text{after}_s} - \frac{W^\text{before}_s}{C^\text{before}_s},

    with :math:`C` the correct answers among the seed's 64 and :math:`W` those of them with a false equation.

"Before" is one measurement
    The pretrained model answers greedily, so every seed's before-records are the same 64 answers (the results file
    says whether they are identical): :math:`W^\text{before}/C^\text{before}` is one value, measured on a handful of
    correct answers (2 of 64 with the pre-study recipe). It is reported with its Wilson interval. The seed interval
    below treats it as a fixed point: it answers "do trained models' shares differ from *this* measured share", and
    it does not carry the before value's own uncertainty. That uncertainty is shown beside it, not tested: a
    bootstrap over problems and seeds (below), and a caveat in the answer when it covers 0 and the seed interval
    does not.

The declared test
    Primary seeds 1000-1009. Statistic: the mean of :math:`d_s`, with its 95% Student-t interval over seeds
    (``scipy.stats.ttest_1samp(d).confidence_interval()``, the kit's :func:`srgrpo.plumbing.stats.paired_t_test`),
    two-sided, alpha 0.05. Answer: *more common* if the interval lies above 0, *less common* if below, otherwise
    *neither shown*. A seed with no correct answer after training has no share: it is left out of the mean and named;
    with fewer than 2 seeds left, or no correct answer before training, there is no test (*not testable*, said why).

Reported, not tested
    * Seeds 2000-2002 (float32): the same per-seed rows and interval, beside the primary set.
    * Pooled counts: :math:`\sum_s W_s / \sum_s C_s` after, against the before count, over the primary seeds; their
      answers are not independent (the same 64 problems), so no test is made on them.
    * A bootstrap over problems and seeds (10,000 draws, numpy generator seed 0): problems drawn with replacement, the
      same draw for the before and after records (paired by problem), seeds drawn with replacement; the mean of
      :math:`d_s` in each draw, seeds without a share left out, draws where none is left counted and set aside; the
      2.5 and 97.5 percentiles. It carries the before value's uncertainty, which the declared interval does not.
      Not a Fisher test on pooled counts: the pooled answers are not independent.
    * The lab's stored examples (``data/results/real.json`` and ``stability.json``: each run keeps its first three
      held-out answers, and the first correct one in format when none of those is): per method, how many stored
      answers are correct and how many of those have a false equation. Descriptive only: little can be said, with a
      handful of correct examples a method (the results file gives each n), chosen partly *because* they are correct
      and in format, and read while the checker's rule was written (they are its development set,
      ``docs/answer-checking.md``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["PRIMARY_SEEDS", "OTHER_SEEDS", "PRIMARY_PRECISION", "OTHER_PRECISION", "ALPHA", "BOOTSTRAP", "N_PROBLEMS",
           "EXAMPLE_FILES", "PRECISION_KEYS", "DECLARED", "WrongWorkSettings", "seeds_command"]

#: The recipe study's confirmation seeds (:data:`srgrpo.lab.recipe.plan.CONFIRMATION`; a test checks they agree: the
#: experiments are siblings and do not import each other).
PRIMARY_SEEDS = tuple(range(1000, 1010))
OTHER_SEEDS = (2000, 2001, 2002)
PRIMARY_PRECISION, OTHER_PRECISION = "bfloat16", "float32"
#: Held-out problems a seed answers, before and after.
N_PROBLEMS = 64
ALPHA = 0.05
BOOTSTRAP = {"draws": 10_000, "rng_seed": 0}
#: The lab's results files whose runs store example answers.
EXAMPLE_FILES = ("real.json", "stability.json")
#: The only settings in which the primary and the other-precision recipes may differ (flattened keys).
PRECISION_KEYS = ("precision", "training.bf16", "training.fp16")

DECLARED: dict[str, Any] = {
    "question": "Does RL (the main job, python -m srgrpo) make 'right answer, wrong work' (a correct answer whose work "
                "has at least one false equation) more common, less common, or neither, among held-out answers?",
    "measure": "share of the correct held-out answers with at least one false equation (srgrpo.tasks.work; the "
               "record's stored false_equations, else checked from its completion): W / C over a seed's 64 answers",
    "unit": "a confirmation seed (one run of RL), not a problem: the 64 problems are the same in every seed",
    "seeds": {"primary": list(PRIMARY_SEEDS), "primary_precision": PRIMARY_PRECISION,
              "other_precision": list(OTHER_SEEDS), "other_precision_precision": OTHER_PRECISION,
              "source": "srgrpo.lab.recipe.plan CONFIRMATION, run by benchmarks/main_job_seeds.py"},
    "records": {"n": N_PROBLEMS, "when": ["before", "after"],
                "before": "the pretrained model, greedy: the same answers at every seed, one measurement"},
    "recipe": "the recipe study's winner (data/results/recipe.json 'winner'): each of its changes holds in the recipe "
              "main_job_seeds.py stores with the seeds; primary seeds one recipe id in bf16, other seeds one in "
              "float32, the two alike but for the precision; another recipe, or records that cannot tell, refused",
    "statistic": "mean over the primary seeds of d_s = W_after/C_after - W_before/C_before (seed s's own records)",
    "test": "95% Student-t interval of the mean of d_s over seeds (scipy.stats.ttest_1samp(d).confidence_interval()), "
            "two-sided",
    "alpha": ALPHA,
    "direction": "two-sided",
    "answer": "'more common' if the interval lies above 0, 'less common' if below 0, else 'neither shown'",
    "undefined": "a seed with no correct answer after training has no share: left out of the mean and named; fewer "
                 "than 2 seeds left, or no correct answer before training: 'not testable'",
    "before": "one measurement: reported with its 95% Wilson interval over its correct answers; the seed interval "
              "treats it as fixed and does not include its uncertainty",
    "reported_not_tested": [
        "seeds 2000-2002 (float32): per-seed rows, mean d_s and its 95% t interval",
        "pooled counts over the primary seeds: sum W_after / sum C_after against W_before / C_before (not "
        "independent: the same 64 problems; no test)",
        "bootstrap over problems and seeds: 10,000 draws, numpy default_rng(0); problems with replacement, the same "
        "draw before and after; seeds with replacement; mean d_s a draw, seeds without a share left out, draws with "
        "none left counted and set aside; 2.5 and 97.5 percentiles. Caveat in the answer when it covers 0 and the "
        "declared interval does not",
        "the lab's stored examples (data/results/real.json, stability.json): per method, correct examples and how "
        "many have a false equation; descriptive only, little can be said (a handful of correct examples a method, n "
        "given with each count; chosen partly for being correct; the checker's development set)",
    ],
}


def seeds_command(seeds: tuple[int, ...], precision: str, output: str) -> str:
    """The command that makes the seeds' records (shown when they are missing)."""
    return (f"python benchmarks/main_job_seeds.py --seeds {' '.join(map(str, seeds))} --cpu_precision {precision} "
            f"--output {output}")


@dataclass
class WrongWorkSettings:
    """What ``python -m srgrpo.lab wrong_work`` reads and where it writes."""

    output: str = field(default="data/results/wrong_work.json", metadata={"help": "results JSON"})
    input: list[str] = field(default_factory=lambda: ["data/benchmarks/main_job_seeds.json",
                                                      "data/benchmarks/main_job_seeds_float32.json"], metadata={
        "help": "the main job's seed results (benchmarks/main_job_seeds.py --output): the bf16 seeds' file and the "
                "float32 seeds' file; each seed's records are in the folder of its name without .json"})
    results: str = field(default="data/results", metadata={
        "help": "the lab's results folder: recipe.json (the recipe's winner), real.json and stability.json (the "
                "stored examples)"})
    declare_only: bool = field(default=False, metadata={
        "help": "write the declared block (and nothing computed) to --output and stop: the commit before the "
                "after-training shares are computed"})
