"""The recipe study's ranking, by the rule declared in :mod:`srgrpo.lab.recipe.plan`.

A configuration's key, over its tuning seeds (lexicographic, larger is better):

1. the share of seeds that reach both targets on the validation problems;
2. the median of ``min(correct / 16, in_format / 58)``: 1 when both targets are met, else how near the missed one came;
3. the median correct;
4. minus the median minutes of a run;

ties after that go to the configuration declared first. Round 2 takes the best :data:`ROUND2_SIZE` of round 1 (ranked
on round 1's seeds only); the winner is the best of those over all its seeds, once every planned run is in.
"""

from __future__ import annotations

from statistics import median
from typing import Any, Sequence

from srgrpo.lab.recipe.plan import CONFIGS, ROUND2_SIZE, ROUNDS, TARGETS

__all__ = ["reaches_targets", "nearness", "config_key", "rank", "planned_runs", "summarise"]


def reaches_targets(counts: dict[str, int]) -> bool:
    """Both targets, on one run's validation counts (scaled if a run answered other than 64 problems)."""
    scale = counts["n"] / TARGETS["n"]
    return counts["in_format"] >= TARGETS["in_format"] * scale and counts["correct"] >= TARGETS["correct"] * scale


def nearness(counts: dict[str, int]) -> float:
    """``min(correct / 16, in_format / 58)``, capped at 1: how near the weaker of the two targets a run came."""
    scale = counts["n"] / TARGETS["n"]
    return min(1.0, counts["correct"] / (TARGETS["correct"] * scale), counts["in_format"] / (TARGETS["in_format"] * scale))


def config_key(runs: Sequence[dict[str, Any]]) -> tuple[float, float, float, float]:
    """The rule's key for one configuration's runs (larger is better)."""
    counts = [r["validation"] for r in runs]
    return (sum(reaches_targets(c) for c in counts) / len(counts), median(nearness(c) for c in counts),
            median(c["correct"] for c in counts), -median(r["minutes"] for r in runs))


def rank(runs: Sequence[dict[str, Any]], configs: Sequence[str], seeds: Sequence[int] | None = None) -> list[str]:
    """``configs`` best first by :func:`config_key` over their runs at ``seeds`` (all seeds when None); a configuration
    without runs there ranks last; ties keep the declared order."""
    order = {name: i for i, name in enumerate(CONFIGS)}

    def key(name: str):
        mine = [r for r in runs if r["config"] == name and (seeds is None or r["seed"] in seeds)]
        return (1, (), order[name]) if not mine else (0, tuple(-v for v in config_key(mine)), order[name])

    return sorted(configs, key=key)


def planned_runs(runs: Sequence[dict[str, Any]]) -> list[tuple[str, int]]:
    """Every (configuration, seed) the plan asks for, given the runs so far: round 1 in full, then, once it is complete,
    round 2's configurations at its seeds."""
    first = [(c, s) for s in ROUNDS[0]["seeds"] for c in CONFIGS]
    done = {(r["config"], r["seed"]) for r in runs}
    if any(p not in done for p in first):
        return first
    best = rank(runs, list(CONFIGS), ROUNDS[0]["seeds"])[:ROUND2_SIZE]
    return first + [(c, s) for s in ROUNDS[1]["seeds"] for c in best]


def summarise(runs: Sequence[dict[str, Any]], pretrained: dict[str, Any]) -> dict[str, Any]:
    """Every configuration's runs and key, the rounds as planned so far, and the winner once every planned run is in."""
    planned = planned_runs(runs)
    done = {(r["config"], r["seed"]) for r in runs}
    table = {}
    for name in CONFIGS:
        mine = sorted((r for r in runs if r["config"] == name), key=lambda r: r["seed"])
        table[name] = {
            "changes": CONFIGS[name],
            "seeds": [r["seed"] for r in mine],
            "validation": [r["validation"] for r in mine],
            "reach_both_targets": [reaches_targets(r["validation"]) for r in mine],
            "minutes": [r["minutes"] for r in mine],
            "key": list(config_key(mine)) if mine else None,
        }
    complete = all(p in done for p in planned) and len(planned) > len(ROUNDS[0]["seeds"]) * len(CONFIGS)
    round2 = sorted({c for c, s in planned if s in ROUNDS[1]["seeds"]}, key=list(CONFIGS).index)
    return {
        "pretrained": pretrained,
        "configs": table,
        "round1_ranking": rank(runs, list(CONFIGS), ROUNDS[0]["seeds"]) if all(
            p in done for p in planned[: len(ROUNDS[0]["seeds"]) * len(CONFIGS)]) else None,
        "round2_configs": round2 or None,
        "runs_done": len([p for p in planned if p in done]),
        "runs_planned": len(planned) if round2 else len(ROUNDS[0]["seeds"]) * len(CONFIGS) + ROUND2_SIZE * len(
            ROUNDS[1]["seeds"]),
        "winner": rank(runs, round2)[0] if complete else None,
    }
