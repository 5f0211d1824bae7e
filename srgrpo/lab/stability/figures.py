"""The stability experiment's figure, verdicts and markdown, drawn from its JSON and the comparison's, never typed.

* :func:`plot_seeds`: held-out accuracy a seed, every seed a method has (1-5 from the comparison, hollow; 6-15 fresh,
  filled), the pretrained model a dashed line, each method's median a bar;
* :func:`verdict_sentences`: one sentence a hypothesis, "supported" or "not supported", with its p (or how many runs
  are still missing);
* :func:`stability_markdown`: the block of the lab's generated report (``python -m srgrpo.lab report``).
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

from srgrpo.lab.stability.plan import ALPHA, DECLARED, FRESH_SEEDS, METHODS, missing_runs
from srgrpo.plots.palette import COLORS
from srgrpo.plumbing.stats import p_text

__all__ = ["accuracy_by_seed", "plot_seeds", "save_figure", "verdict_sentences", "format_verdicts",
           "stability_markdown", "meaning", "computed_on"]

FIGURE = "stability-seeds.png"


def accuracy_by_seed(runs: list[dict[str, Any]]) -> dict[str, dict[int, float]]:
    """method label -> seed -> held-out accuracy (%), for the two methods of the hypotheses."""
    out: dict[str, dict[int, float]] = {label: {} for label in METHODS}
    for run in runs:
        if run["label"] in out:
            out[run["label"]][run["seed"]] = run["heldout"]["accuracy"]["percent"]
    return out


def plot_seeds(stability: dict[str, Any], comparison: dict[str, Any] | None, path=None):
    """Held-out accuracy a seed and a method; the comparison's seeds hollow, the fresh ones filled."""
    import matplotlib.pyplot as plt

    fresh = accuracy_by_seed(stability.get("runs", []))
    earlier = accuracy_by_seed(comparison["runs"]) if comparison else {label: {} for label in METHODS}
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    for x, label in enumerate(METHODS):
        color = COLORS["per_sample" if label.startswith("per_sample") else "grpo"]
        seeds = sorted({*earlier[label], *fresh[label]})
        for i, seed in enumerate(seeds):
            is_fresh = seed in fresh[label]
            value = fresh[label][seed] if is_fresh else earlier[label][seed]
            offset = (i - (len(seeds) - 1) / 2) * 0.035
            ax.plot(x + offset, value, "o", ms=7, color=color, mfc=color if is_fresh else "white", mew=1.5)
        if fresh[label]:
            median = statistics.median(fresh[label].values())
            ax.plot([x - 0.3, x + 0.3], [median, median], color=color, lw=2.5, alpha=0.6)
    start = stability.get("start", {}).get("heldout", {}).get("accuracy", {}).get("percent")
    if start is not None:
        ax.axhline(start, ls="--", color="grey", lw=1)
        ax.text(len(METHODS) - 0.55, start, " pretrained", va="bottom", color="grey", fontsize=8)
    ax.set_xticks(range(len(METHODS)), [f"`{label}`".strip("`") for label in METHODS])
    ax.set_xlim(-0.6, len(METHODS) - 0.4)
    ax.set_ylabel("held-out accuracy after training (%)")
    ax.set_ylim(bottom=0)
    ax.set_title("One dot a seed: hollow = seeds 1-5 (the comparison), filled = fresh seeds 6-15;\n"
                 "bar = median of the fresh seeds", fontsize=9)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=110)
        plt.close(fig)
    return fig


def _comparison(output: Path) -> dict[str, Any] | None:
    real = output.parent / "real.json"
    return json.loads(real.read_text()) if real.is_file() else None


def save_figure(stability: dict[str, Any], output) -> Path:
    """Draw :func:`plot_seeds` beside ``output`` (the comparison read from ``real.json`` in the same folder)."""
    output = Path(output)
    path = output.parent / FIGURE
    plot_seeds(stability, _comparison(output), path)
    return path


def _missing(stability: dict[str, Any]) -> int:
    return missing_runs(stability.get("runs", []))


#: Where finished runs are checkpointed while the experiment runs (``--work_dir``), beside the results file.
CHECKPOINTS = "stability-runs"


def checkpointed_runs(results_dir: Path | str, settings_id: str) -> int:
    """How many of the declared runs are finished and checkpointed in ``results_dir/stability-runs/<id>/``."""
    folder = Path(results_dir) / CHECKPOINTS / settings_id
    return sum(1 for path in folder.glob("*__seed*.json")
               if int(path.stem.rsplit("seed", 1)[1]) in FRESH_SEEDS) if folder.is_dir() else 0


def verdict_sentences(stability: dict[str, Any], finished: int | None = None) -> list[str]:
    """One sentence a hypothesis: supported or not supported, with the p that decided it (``finished``: runs
    checkpointed so far, when the results file does not hold them yet)."""
    tests = stability.get("analysis", {}).get("tests", {})
    missing = _missing(stability)
    if missing or not tests:
        total = 2 * len(FRESH_SEEDS)
        left = missing if finished is None else total - finished
        return [f"{h['id']} ({h['claim']}): not yet tested: {left} of {total} declared runs are still to run."
                for h in DECLARED["hypotheses"]]
    out = []
    for h in DECLARED["hypotheses"]:
        test = tests[h["id"]]
        word = "supported" if test["supported"] else "not supported"
        why = f"one-sided exact permutation {_p(test['p'])} (alpha {ALPHA})"
        if h["id"] == "H2" and not test.get("tested", True):
            why = f"not tested, because H1 was not supported (declared order; its {_p(test['p'])})"
        out.append(f"{h['id']} ({h['claim']}): **{word}**; {why}.")
    return out


def _p(p: float) -> str:
    """``p = 0.032``, or ``p <0.001`` (an exact test's smallest p here is 1/184,756; three decimals say enough)."""
    text = p_text(p)
    return f"p {text}" if text.startswith("<") else f"p = {text}"


def format_verdicts(stability: dict[str, Any]) -> str:
    return "\n".join(s.replace("**", "") for s in verdict_sentences(stability))


def stability_markdown(stability: dict[str, Any], figure_prefix: str = "../data/results/",
                       finished: int | None = None) -> str:
    """The generated report's block: what was declared, the per-method spread, the verdicts, the figure."""
    analysis = stability.get("analysis", {})
    methods = analysis.get("methods", {})
    lines = [f"**Is SR-GRPO more stable and smoother than GRPO? Fresh seeds 6-15** (`python -m srgrpo.lab stability`; "
             f"declared before the first run: [docs/stability.md](stability.md))", ""]
    if methods and any(m["n"] for m in methods.values()):
        lines += ["| method | runs | held-out accuracy (%), seed 6 to 15 | median | SD | MAD | roughness (mean) | "
                  "below the pretrained model |", "|---|---|---|---|---|---|---|---|"]
        for label in METHODS:
            m = methods[label]
            if not m["n"]:
                continue
            values = "/".join(f"{v:g}" for v in m["accuracy"])
            sd = "" if m["sd"] is None else f"{m['sd']:.1f}"
            lines.append(f"| `{label}` | {m['n']} | {values} | {m['median']:g} | {sd} | {m['mad']:.1f} | "
                         f"{m['mean_roughness']:.3f} | {m['collapsed']} |")
        lines.append("")
    all_in = not _missing(stability)
    if methods and all_in:
        lines += [computed_on(stability), ""]
    lines += [f"- {s}" for s in verdict_sentences(stability, finished)]
    replication = analysis.get("replication")
    if replication and all_in:
        lines.append(f"- Replication (reported, not tested): `per_sample(tau=1)` - `grpo` = {replication['mean']:+.1f} "
                     f"points [{replication['low']:+.1f}, {replication['high']:+.1f}] over {replication['n']} fresh "
                     f"seeds, paired by seed.")
    tests = analysis.get("tests", {})
    if tests and all_in:
        lines += ["", meaning(stability)]
    if stability.get("figures"):
        lines += ["", f"![held-out accuracy a seed]({figure_prefix}{FIGURE})"]
    return "\n".join(lines)


def computed_on(stability: dict[str, Any]) -> str:
    """Where the runs were computed and what they took: the CPU kind(s), each run's wall time (pauses and time
    shared with other work included: a cost, not a benchmark)."""
    machines = stability.get("machines") or []
    kinds = "; ".join(f"{m['cpu_model']} ({', '.join(m['cpu_features']) or 'no listed features'})"
                      + (f", {m['runs']} run{'s' * (m['runs'] != 1)}" if len(machines) > 1 else "") for m in machines)
    where = (f"on {len(machines)} CPU kinds, pooled in the tests: {kinds}" if len(machines) > 1
             else f"on one CPU kind: {kinds or 'not recorded'}")
    walls = [run["wall_s"] / 60 for run in stability.get("runs", []) if run.get("wall_s") is not None]
    cost = (f"; wall time a run {statistics.median(walls):.1f} min (median; {min(walls):.1f} to {max(walls):.1f}), "
            f"{sum(walls) / 60:.1f} hours in all" if walls else "")
    return f"The {len(stability.get('runs', []))} runs were computed {where}, float32, one thread a run{cost}."


#: What no verdict of this experiment can say, whichever way it comes out.
SCOPE = ("It does not show how the two compare on another model, on GSM8K, with more steps or larger batches, or "
         "in bf16: one 135 M model, the kit's word problems, 16 steps of 2 problems x 8 completions, float32 on a CPU.")


def meaning(stability: dict[str, Any]) -> str:
    """What the verdict means for a user choosing between the two methods, and what it does not show."""
    methods = stability["analysis"]["methods"]
    soft, grpo = (methods[label] for label in METHODS)
    h1 = stability["analysis"]["tests"]["H1"]["supported"]
    spread = (f"(mean absolute deviation from the median: {soft['mad']:.1f} points for `{METHODS[0]}`, "
              f"{grpo['mad']:.1f} for `{METHODS[1]}`)")
    if h1:
        what = (f"**For a user:** on this task, one run of `{METHODS[0]}` is a safer bet than one run of `{METHODS[1]}`: "
                f"its held-out accuracy varied less from seed to seed {spread}, so a single training run is less "
                f"likely to land far from the typical one.")
    else:
        what = (f"**For a user:** these runs do not show `{METHODS[0]}` to be more predictable from seed to seed than "
                f"`{METHODS[1]}` {spread}; the specification's \"more stable\" is not supported here, and the choice "
                f"between them rests on other grounds (the comparison found their mean accuracy alike).")
    return f"{what} {SCOPE}"
