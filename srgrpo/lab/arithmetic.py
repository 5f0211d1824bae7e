r"""The lab's tiny language model: every advantage method trained with TRL on arithmetic word problems.

Where :mod:`srgrpo.lab.bandit` isolates the advantage rule, this experiment keeps everything a
real run has (tokenizer, sampling, TRL's ``GRPOTrainer`` and its loss, the kit's
``correctness_reward``) and makes it small enough for a CPU:

1. **Task** (:mod:`srgrpo.lab.tasks`): synthetic GSM8K-style problems with one or two chained
   operations, a worked solution ending in ``#### N``, disjoint training and held-out sets.
2. **Warm start**: the offline tiny Qwen2 of :mod:`srgrpo.tiny` (random weights, the kit's
   tokenizer; two layers instead of four by default, which learned faster per CPU second here)
   is trained with a plain supervised loop (AdamW, cosine schedule, shuffled batches) on
   training problems for a few minutes, then cached under
   ``<cache>/lab/warmstart-<hash of its settings>`` (written to a temporary folder and
   renamed), so reruns skip it.

   By default the warm start is *partly right*: a share ``warm_flaw`` of its demonstrations
   end with a systematic slip, the final line repeating the first number of the last equation
   instead of its result (:func:`srgrpo.lab.tasks.flawed_solution`, e.g. answering an
   intermediate quantity). The model then often does the work and reports the wrong number,
   which greedy decoding shows and sampling sometimes avoids: a habit a correctness reward can
   fix within a CPU budget. From a clean warm start (``--warm_flaw 0``) a few minutes of RL
   have to improve the arithmetic itself, which supervised training does far more cheaply
   (each demonstration carries every token, a reward one bit per completion); there the
   methods hardly move the held-out accuracy and the comparison says little beyond "shared
   is worse".
3. **RL**: from that same checkpoint, every method of :func:`srgrpo.lab.methods.method_grid`
   runs for the same number of steps, with the same prompts per step, completions per prompt,
   sampling temperature, learning rate and seeds:

   - ``grpo``: TRL's own ``GRPOTrainer`` (``scale_rewards="group"``);
   - ``shared`` and ``per_sample``: :class:`srgrpo.SRGRPOTrainer` with ``soft_advantage`` set;
   - ``constant`` and ``random_reward``: ``ControlGRPOTrainer`` (:func:`control_trainer_class`),
     an ``SRGRPOTrainer`` whose one advantage hook, ``compute_advantages``, returns
     :func:`srgrpo.lab.methods.method_advantages` instead of the soft advantages.

   The reward is :func:`srgrpo.rewards.correctness_reward` (1 for the right final number, else 0).
4. **Measure**: greedy accuracy on the held-out problems before (the warm start) and after each
   run, with 95% Student-t intervals over seeds (:func:`srgrpo.stats.mean_ci95`), the
   change in points, the wall time of each run, and the mean training reward per step.

The pieces live in their own modules: the settings in :mod:`srgrpo.lab.arithmetic_settings`, the warm start in
:mod:`srgrpo.lab.warm_start`, the RL runs in :mod:`srgrpo.lab.rl_runs`, the figures and table in
:mod:`srgrpo.lab.arithmetic_figures` (all re-exported here); this module runs the comparison and the command.

Command line::

    python -m srgrpo.lab arithmetic --output data/results/arithmetic.json

writes the JSON below and two figures beside it, ``<stem>-curves.png`` (training reward per step,
:func:`plot_arithmetic_curves`) and ``<stem>-accuracy.png`` (held-out accuracy before and after,
:func:`plot_arithmetic_accuracy`), and prints a table. The JSON is rewritten atomically after
every finished run; rerunning the same command skips the runs already in it (a changed setting
starts the file afresh), so an interrupted comparison resumes where it stopped::

    {"experiment": "arithmetic",
     "metadata": {"command", "argv", "versions", "machine", "timestamp_utc"},
     "config": {every setting below, "methods", "taus", "seeds", "seed_list", "run_key"},
     "seeds": [0, 1, 2],
     "warm_start": {"key", "path", "accuracy", "steps", "wall_s", "final_loss", "cached"},
     "runs": {label: {"label", "method", "tau", "control", "complete",
                      "per_seed": {"<seed>": {"seed", "before", "after", "change", "wall_s",
                                              "rl_s", "eval_s", "steps", "curve": {"step", "reward"}}},
                      "before", "after", "change": {"mean", "low", "high"},
                      "wall_s": {"mean", "low", "high"},
                      "curve": {"step", "mean", "low", "high"}}},
     "wall_s": seconds of this invocation, "runs_wall_s": seconds of all runs (resumed ones included),
     "png": {"curves": path, "accuracy": path}}

Accuracies are percentages of held-out problems solved, changes are in percentage points, and
``low``/``high`` are ``null`` with a single seed.

Budget
------
Generation and the policy's forward and backward pass over every completion dominate a step on
a CPU, so completions are capped tightly (``max_completion_length=30``: every reference
solution fits) and each run is short. Every method gets the same ``rl_steps`` optimizer steps
of ``prompts_per_step`` x ``num_generations`` completions at the same learning rate and
sampling temperature, from the same warm start, with the same seeds (so the first batch of
prompts and samples is the same for every method). Torch runs on ``threads`` threads (1 by
default: on a shared two-core machine a second thread slowed steps down).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from srgrpo.lab.arithmetic_figures import format_table, plot_arithmetic_accuracy, plot_arithmetic_curves
from srgrpo.lab.arithmetic_settings import DEFAULTS, RL_KEYS, WARM_KEYS, ArithmeticCommand, check_settings
from srgrpo.lab.methods import CONTROL_METHODS, DEFAULT_TAUS, METHODS, method_grid
from srgrpo.lab.results import parse_command, run_metadata, write_json
from srgrpo.lab.rl_runs import RL_RECIPE, control_trainer_class, run_rl
from srgrpo.lab.tasks import make_splits, prompt_dataset
from srgrpo.lab.warm_start import greedy_accuracy, warm_demonstrations, warm_start
from srgrpo.runtime import cache_root, short_hash, torch_threads
from srgrpo.stats import interval

__all__ = [
    "DEFAULTS",
    "WARM_KEYS",
    "RL_KEYS",
    "warm_demonstrations",
    "warm_start",
    "control_trainer_class",
    "greedy_accuracy",
    "run_rl",
    "compare_arithmetic",
    "summarise_runs",
    "runs_wall_s",
    "plot_arithmetic_curves",
    "plot_arithmetic_accuracy",
    "format_table",
    "main",
]


def _log(message: str) -> None:
    print(f"[arithmetic] {message}", file=sys.stderr, flush=True)


def _mean_curve(curves: Sequence[dict[str, list]]) -> dict[str, list]:
    """Mean reward per step over seeds, with the 95% interval where at least two seeds logged the step."""
    by_step: dict[int, list[float]] = {}
    for curve in curves:
        for step, reward in zip(curve["step"], curve["reward"]):
            by_step.setdefault(int(step), []).append(float(reward))
    steps = sorted(by_step)
    out: dict[str, list] = {"step": steps, "mean": [], "low": [], "high": []}
    for step in steps:
        point = interval(by_step[step], digits=5)
        for name in ("mean", "low", "high"):
            out[name].append(point[name])
    return out


def runs_wall_s(runs: dict[str, Any]) -> float:
    """Seconds spent in all finished RL runs (training and evaluation), resumed ones included."""
    return round(sum(d["wall_s"] for run in runs.values() for d in run["per_seed"].values()), 2)


def summarise_runs(runs: dict[str, Any], seeds: Sequence[int]) -> None:
    """Fill in each run's intervals over the seeds it has finished (in place)."""
    for run in runs.values():
        done = [run["per_seed"][str(s)] for s in seeds if str(s) in run["per_seed"]]
        run["complete"] = len(done) == len(seeds)
        if not done:
            continue
        for name in ("before", "after", "change", "wall_s"):
            run[name] = interval([d[name] for d in done])
        run["curve"] = _mean_curve([d["curve"] for d in done])


def _config(settings: dict[str, Any], grid, seeds: Sequence[int]) -> dict[str, Any]:
    from srgrpo.tiny import RECIPE_VERSION

    run_key = short_hash({
        "recipe": RL_RECIPE,
        "tiny": RECIPE_VERSION,
        "warm": {k: settings[k] for k in WARM_KEYS},
        "rl": {k: settings[k] for k in RL_KEYS},
        "n_train": settings["n_train"],
        "data_seed": settings["data_seed"],
    })
    return {
        **settings,
        "methods": list(dict.fromkeys(m for m, _, _ in grid)),
        "taus": sorted({t for _, t, _ in grid if t is not None}),
        "seeds": len(seeds),
        "seed_list": list(seeds),
        "run_key": run_key,
    }


def compare_arithmetic(
    methods: Sequence[str] = METHODS,
    taus: Sequence[float] = DEFAULT_TAUS,
    seeds: int | Sequence[int] = 3,
    settings: dict[str, Any] | None = None,
    *,
    output: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
    metadata: dict[str, Any] | None = None,
    progress: Callable[[str], None] | None = _log,
) -> dict[str, Any]:
    """Warm-start once, then run every method x tau x seed with the same budget; summarise.

    Args:
        methods, taus: expanded by :func:`srgrpo.lab.methods.method_grid`.
        seeds: how many seeds (``0..seeds-1``) or the seeds themselves; each seeds TRL's sampling
            and data order, and the random rewards of ``random_reward``.
        settings: overrides of :data:`DEFAULTS`.
        output: if given, the JSON file written atomically after every finished run; if it
            already holds runs of the same settings (``config["run_key"]``), those are kept and
            not run again.
        cache_dir: root of the cache (default ``$SRGRPO_CACHE`` or the repo's ``.cache``).
        metadata: stored under ``"metadata"`` (e.g. :func:`srgrpo.lab.results.run_metadata`).
        progress: called with one line per event (``None``: silent).

    Returns:
        The summary described in the module docstring (without ``"png"``).
    """
    unknown = set(settings or {}) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"unknown arithmetic settings: {sorted(unknown)}; known: {sorted(DEFAULTS)}.")
    settings = {**DEFAULTS, **(settings or {})}
    check_settings(settings)
    seed_list = list(range(seeds)) if isinstance(seeds, int) else [int(s) for s in seeds]
    if not seed_list:
        raise ValueError("seeds must be at least 1.")
    grid = method_grid(methods, taus)
    say = progress or (lambda message: None)
    config = _config(settings, grid, seed_list)
    root = Path(cache_dir) if cache_dir is not None else cache_root()
    previous = _previous_runs(output, config["run_key"], say)
    start = time.perf_counter()
    with torch_threads(settings["threads"]):
        train, heldout = make_splits(settings["n_train"], settings["n_heldout"], settings["data_seed"])
        warm_dir, warm_info = warm_start(settings, root, heldout=heldout, train=train)
        say(f"warm start: {warm_info['accuracy']:.1f}% held-out accuracy "
            f"({'cached' if warm_info['cached'] else 'trained in %.0f s' % warm_info['wall_s']})")
        summary = _new_summary(config, seed_list, metadata, warm_dir, warm_info)
        dataset = prompt_dataset(train)
        jobs = [(method, tau, label, seed) for method, tau, label in grid for seed in seed_list]
        for index, (method, tau, label, seed) in enumerate(jobs, start=1):
            run = summary["runs"].setdefault(label, {
                "label": label, "method": method, "tau": tau, "control": method in CONTROL_METHODS,
                "complete": False, "per_seed": {},
            })
            done = previous.get(label, {}).get("per_seed", {}).get(str(seed))
            if done is not None:
                run["per_seed"][str(seed)] = done
                say(f"[{index}/{len(jobs)}] {label} seed {seed}: skipped (already in {output})")
                continue
            run["per_seed"][str(seed)] = _one_run(method, tau, seed, warm_dir, dataset, heldout,
                                                  settings, root, warm_info["accuracy"])
            say(f"[{index}/{len(jobs)}] {label} seed {seed}: " + _describe(run["per_seed"][str(seed)]))
            _update(summary, seed_list, start, output)
        summarise_runs(summary["runs"], seed_list)
    summary["wall_s"] = round(time.perf_counter() - start, 2)
    summary["runs_wall_s"] = runs_wall_s(summary["runs"])
    return summary


def _previous_runs(output, run_key: str, say: Callable[[str], None]) -> dict[str, Any]:
    """The runs an earlier invocation with the same settings wrote to ``output`` (resumed, not run again)."""
    if output is None or not Path(output).is_file():
        return {}
    try:
        old = json.loads(Path(output).read_text())
    except (OSError, ValueError):
        return {}
    if old.get("config", {}).get("run_key") == run_key:
        return old.get("runs", {})
    if old:
        say(f"{output} holds results of other settings; they will be replaced")
    return {}


def _new_summary(config, seed_list, metadata, warm_dir, warm_info) -> dict[str, Any]:
    return {
        "experiment": "arithmetic",
        "metadata": metadata or {},
        "config": config,
        "seeds": seed_list,
        "warm_start": {
            "key": warm_info["key"], "path": str(warm_dir), "accuracy": warm_info["accuracy"],
            "steps": warm_info["steps"], "wall_s": warm_info["wall_s"], "final_loss": warm_info["final_loss"],
            "parameters": warm_info.get("parameters"), "cached": warm_info["cached"],
        },
        "runs": {},
    }


def _one_run(method, tau, seed, warm_dir, dataset, heldout, settings, root: Path, before: float) -> dict[str, Any]:
    """One RL run (:func:`srgrpo.lab.rl_runs.run_rl`) as its per-seed record, with the change from ``before``."""
    work = root / "lab" / "runs"
    work.mkdir(parents=True, exist_ok=True)
    result = run_rl(method, tau, seed, warm_dir, dataset, heldout, settings, work_dir=work)
    return {"seed": seed, "before": before, **result, "change": round(result["after"] - before, 4)}


def _describe(record: dict[str, Any]) -> str:
    rewards = record["curve"]["reward"]
    return (f"{record['before']:.1f}% -> {record['after']:.1f}% ({record['after'] - record['before']:+.1f} points), "
            f"final reward {rewards[-1] if rewards else float('nan'):.3f}, {record['wall_s']:.0f} s")


def _update(summary: dict[str, Any], seed_list: Sequence[int], start: float, output) -> None:
    """Summarise after a finished run and, with an ``output``, write the file (so an interruption loses one run)."""
    summarise_runs(summary["runs"], seed_list)
    summary["wall_s"] = round(time.perf_counter() - start, 2)
    summary["runs_wall_s"] = runs_wall_s(summary["runs"])
    if output is not None:
        write_json(output, summary)


# ---------------------------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------------------------


def _png_paths(output: Path) -> dict[str, Path]:
    stem = output.with_suffix("")
    return {"curves": Path(f"{stem}-curves.png"), "accuracy": Path(f"{stem}-accuracy.png")}


def main(argv: Sequence[str] = ()) -> int:
    """``python -m srgrpo.lab arithmetic``: run the comparison; write the JSON and the PNGs, print a table."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    args = parse_command(ArithmeticCommand, argv, "arithmetic", "Compare advantage methods with TRL on a tiny "
                         "language model and arithmetic word problems (srgrpo.lab.arithmetic).")
    output = Path(args.output)
    start = time.perf_counter()
    try:
        summary = compare_arithmetic(args.methods, args.taus, args.seeds, args.settings(), output=output,
                                     cache_dir=args.cache_dir, metadata=run_metadata(["arithmetic", *argv]))
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    pngs = _png_paths(output)
    # Per-step rewards of a few prompts are noisy; a short moving average makes trends readable.
    plot_arithmetic_curves(summary, pngs["curves"], smooth=3 if summary["config"]["rl_steps"] >= 10 else 1)
    plot_arithmetic_accuracy(summary, pngs["accuracy"])
    summary["png"] = {name: str(path) for name, path in pngs.items()}
    summary["wall_s"] = round(time.perf_counter() - start, 2)
    write_json(output, summary)
    print(format_table(summary))
    warm = summary["warm_start"]
    print(f"\nwarm start: {warm['accuracy']:.1f}% held-out accuracy, {warm['steps']} supervised steps in "
          f"{warm['wall_s']:.0f} s{' (cached)' if warm['cached'] else ''}; RL runs {summary['runs_wall_s']:.0f} s "
          f"in all; this invocation {summary['wall_s']:.0f} s")
    print(f"wrote {output}, {pngs['curves']} and {pngs['accuracy']}")
    return 0
