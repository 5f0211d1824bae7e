"""Markdown tables of the lab's committed results, for the lab's page, ``docs/lab.md``.

The lab's page shows the lab's numbers, and none of them is typed by hand: they are generated from the
JSON files the lab commands wrote (``data/results/bandit.json``, ``data/results/real.json``)
and written between two markers in the page::

    <!-- lab-results:start -->
    ... generated ...
    <!-- lab-results:end -->

``python -m srgrpo.lab report`` rewrites that block; ``python -m srgrpo.lab report --check`` exits
with status 1 if it is stale, and a test runs the same check, so the page can never drift from the
results it cites. The figures are linked relative to the page (``../data/results/...`` from ``docs/``).

The figures themselves are drawn by each experiment's command when it runs. When only the figure code changed,
``python -m srgrpo.lab report --figures true`` redraws every committed figure from its JSON (:func:`redraw_figures`),
with the same functions the commands call and without running anything.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from srgrpo.lab.real.figures import (CLIPPED_NOTE, bounded_change, change_text, cost_text, format_findings, seed_values,
                                     seeds_cell)
from srgrpo.lab.results import parse_command
from srgrpo.plumbing.runtime import REPO_ROOT, RESULTS_DIR
from srgrpo.plumbing.stats import interval_text, p_text

__all__ = ["START", "END", "LAB_PAGE", "bandit_markdown", "real_markdown", "power_markdown", "recipe_markdown",
           "wrong_work_markdown", "results_markdown", "update_lab_page",
           "redraw_figures", "ReportCommand", "main"]

START = "<!-- lab-results:start -->"
END = "<!-- lab-results:end -->"

#: The page that holds the generated block.
LAB_PAGE = REPO_ROOT / "docs" / "lab.md"

#: Where the committed figures are, seen from :data:`LAB_PAGE`'s folder.
FIGURES_FROM_DOCS = "../data/results/"
#: The confirmation seeds' figure, in the results folder (drawn by ``report --figures``).
CONFIRMATION_FIGURE = "recipe-confirmation.png"


def _label(run: dict[str, Any]) -> str:
    return f"`{run['label']}`" + (" (control)" if run.get("control") else "")


def bandit_markdown(summary: dict[str, Any]) -> str:
    """Fraction of the optimum at each checkpoint and steps to 80%, per method, mean [95% interval]."""
    cfg = summary["config"]
    runs = list(summary["runs"].values())
    steps = [c["step"] for c in runs[0]["checkpoints"] if c["step"] > 0]
    head = "| method | " + " | ".join(f"step {s}" for s in steps) + " | steps to 80% (seeds that got there) |"
    rows = [head, "|" + "---|" * (len(steps) + 2)]
    for run in runs:
        cells = [interval_text(c) for c in run["checkpoints"] if c["step"] > 0]
        s80 = run["steps_to_80"]
        n = s80["reached"] + s80["never"]
        reach = "never" if s80["reached"] == 0 else interval_text(s80, "{:.0f}")
        rows.append(f"| {_label(run)} | " + " | ".join(cells) + f" | {reach} ({s80['reached']}/{n}) |")
    caption = (f"Expected reward as a fraction of the optimum, mean [95% interval] over {cfg['seeds']} seeds "
               f"({cfg['prompts']} prompts x {cfg['answers']} answers, K={cfg['k']}, lr={cfg['lr']}).")
    return caption + "\n\n" + "\n".join(rows)


def _problems(n: int) -> str:
    return f"{n} problem" + ("" if n == 1 else "s")


def _bounded(method: dict[str, Any], start: dict[str, Any]) -> str:
    """The accuracy change with its interval clipped to what the rate allows, marked ``*``
    (:func:`srgrpo.lab.real.figures.bounded_change`)."""
    change, clipped = bounded_change(method["change"]["accuracy"], start["accuracy"]["percent"])
    return change_text(change, "") + ("\\*" if clipped else "")


def real_markdown(summary: dict[str, Any]) -> str:
    """Held-out rates of the pretrained model and after each method's runs (mean and per-seed values), the accuracy
    change with its 95% interval over seeds, then the declared comparisons."""
    cfg = summary["settings"]
    start = summary["start"]["heldout"]
    methods = list(summary["methods"].values())
    seeds = len(methods[0]["seeds"]) if methods else 0
    rows = ["| method | accuracy (%), mean (seeds) | change (points) [95%] | in format (%) | "
            "answer line (%) | stopped (%) | seconds per run (median) |", "|---|---|---|---|---|---|---|"]
    rows.append(f"| pretrained model | {start['accuracy']['percent']:.1f} | | {start['strict_format']['percent']:.1f} | "
                f"{start['answer_line']['percent']:.1f} | {start['stopped']['percent']:.1f} | |")
    for m in methods:
        after, seeds_of = m["after"], m["per_seed"]
        rows.append(f"| {_label(m)} | {seeds_cell(after['accuracy'], seeds_of['accuracy'])} | "
                    f"{_bounded(m, start)} | "
                    f"{seeds_cell(after['strict_format'], seeds_of['strict_format'])} | "
                    f"{seeds_cell(after['answer_line'], seeds_of['answer_line'])} | "
                    f"{seeds_cell(after['stopped'], seeds_of['stopped'])} | {m['wall_s']['median']:.0f} |")
    caption = (f"Greedy answers to {start['n']} held-out problems ({cfg['max_new_tokens']} new tokens) after "
               f"{cfg['max_steps']} steps of {_problems(cfg['prompts_per_step'])} x {cfg['num_generations']} completions "
               f"({cfg['max_completion_length']} tokens, temperature {cfg['temperature']:g}, LoRA r{cfg['lora_r']}, "
               f"lr {cfg['learning_rate']:g}, {cfg.get('num_iterations', 1)} update(s) a batch, rewards correctness + "
               f"format); {seeds} seeds a method, each rate as its mean with the seeds' values in order. The "
               f"pretrained model's row is one greedy evaluation (no seeds). "
               + CLIPPED_NOTE.replace("* ", "\\* ", 1))
    parts = [caption, "\n".join(rows)]
    block = summary.get("comparisons")
    if block:
        n = len(block["primary"])
        table = [f"| declared comparison ({block['rate']}, points) | mean [95%] | per seed | seeds above 0 | p | "
                 f"p, Holm over {n} | |", "|---|---|---|---|---|---|---|"]
        for r in block["primary"]:
            table.append(f"| `{r['label']}` - `{r['other']}` | {change_text(r, '')} | "
                         f"{seed_values(r['per_seed'], '{:+g}')} | {r['positive']}/{r['n']} | "
                         f"{p_text(r['p'])} | {p_text(r['p_holm'])} | "
                         f"{'significant' if r['significant'] else 'not significant'} |")
        parts += ["\n".join(table),
                  f"Paired by seed; p from a paired t-test, Holm-adjusted over the {n} declared comparisons. "
                  f"{len(block['exploratory'])} further comparisons (every pair of methods on every rate) are "
                  f"exploratory and stay in the JSON."]
    parts.append("**What it shows** (sentences computed from the JSON):\n\n"
                 + "\n".join(f"- {line}" for line in format_findings(summary)))
    return "\n\n".join(parts)


#: The settings a pilot row shows (the ones a pilot varies).
_PILOT_FIELDS = ("max_steps", "learning_rate", "prompts_per_step", "num_generations", "max_completion_length",
                 "temperature", "num_iterations")


def pilot_markdown(folder: Path) -> str:
    """The real-model lab's pilot runs (``data/results/pilot/*.json``, each written by ``python -m srgrpo.lab real``
    with one method and seed): their settings and held-out rates, one row a run."""
    rows = ["| pilot run | " + " | ".join(_PILOT_FIELDS) + " | accuracy (%) | in format (%) | stopped (%) | "
            "tokens | seconds (training + evaluation) |", "|---" * (len(_PILOT_FIELDS) + 6) + "|"]
    pilots = {path.name: json.loads(path.read_text()) for path in sorted(folder.glob("*.json"))}
    for name, summary in pilots.items():
        cfg = summary["settings"]
        for run in summary["runs"]:
            held = run["heldout"]
            rows.append(f"| `{run['label']}` seed {run['seed']} (`{name}`) | "
                        + " | ".join(f"{cfg[k]:g}" for k in _PILOT_FIELDS)
                        + f" | {held['accuracy']['percent']:.1f} | {held['strict_format']['percent']:.1f} | "
                          f"{held['stopped']['percent']:.1f} | {held['mean_tokens']:.1f} | "
                          f"{run['train_s']:.0f} + {run['eval_s']:.0f} |")
    start = next(iter(pilots.values()))["start"]["heldout"]
    return (f"Pilot (`python -m srgrpo.lab real --methods per_sample --per_sample_taus 1 --seeds 0 ...`, one run "
            f"each; the pretrained model: accuracy {start['accuracy']['percent']:.1f}%, in format "
            f"{start['strict_format']['percent']:.1f}%, stopped {start['stopped']['percent']:.1f}%, same "
            f"{start['n']} held-out problems):\n\n" + "\n".join(rows))


def power_markdown(power: dict[str, Any]) -> str:
    """What the stability experiment's declared test could see: its power by simulation, a sentence a ratio."""
    rows = [f"{row['ratio']:g} of `grpo`'s: {100 * row['rate']:.1f}% [{100 * row['low']:.1f}, "
            f"{100 * row['high']:.1f}]" for row in power["power"]]
    settings = power["settings"]
    runs = sum(len(values) for values in power["observed"]["accuracy"].values())
    return (f"**What the stability test could see** (`python -m srgrpo.lab power`, {settings['simulations']} simulated "
            f"experiments a ratio, resampled from the {runs} runs; [docs/stability.md](stability.md)): how often the "
            f"declared test says \"supported\" when `per_sample(tau=1)`'s spread is " + "; ".join(rows)
            + " (95% intervals: the simulation's error).")


def _changes(changes: dict[str, Any]) -> str:
    return ", ".join(f"`{k}` {v}" for k, v in changes.items()) or "today's recipe (`smollm2_cpu`)"


def recipe_markdown(data: dict[str, Any]) -> str:
    """The recipe study (``data/results/recipe.json``): the pretrained model on the validation problems, then every
    configuration's runs so far (validation counts a seed, whether each reached both targets, minutes), the rounds and
    the winner once every planned run is in. Read from the JSON, with the study's own rule keys
    (:func:`srgrpo.lab.recipe.analysis.config_key`) where round 2's last place is explained."""
    declared = data["declared"]
    targets = declared["targets"]
    head = (f"**Which recipe makes the main job learn every time?** (`python -m srgrpo.lab recipe`, declared before its "
            f"first run in `srgrpo/lab/recipe/plan.py`; tuning seeds and the {declared['validation']['n']} validation "
            f"problems, never the held-out ones; targets a run: in format >= {targets['in_format']}/{targets['n']} and "
            f"correct >= {targets['correct']}/{targets['n']})")
    if "configs" not in data:
        return head + "\n\nDeclared; no run yet."
    pre = "; ".join(f"`{name}`: correct {p['validation']['correct']}/{p['validation']['n']}, in format "
                    f"{p['validation']['in_format']}/{p['validation']['n']}, cut off {p['validation']['cut_off']}/"
                    f"{p['validation']['n']}" for name, p in data["pretrained"].items())
    rows = ["| configuration | changes to today's recipe | seeds | correct | in format | both targets | minutes |",
            "|---|---|---|---|---|---|---|"]
    for name, row in data["configs"].items():
        if not row["seeds"]:
            rows.append(f"| `{name}` | {_changes(row['changes'])} | - | - | - | - | - |")
            continue
        minutes = statistics.median(row["minutes"])  # the rule's own median (of two runs, their mean)
        rows.append(f"| `{name}` | {_changes(row['changes'])} | {', '.join(map(str, row['seeds']))} | "
                    f"{' / '.join(str(v['correct']) for v in row['validation'])} | "
                    f"{' / '.join(str(v['in_format']) for v in row['validation'])} | "
                    f"{sum(row['reach_both_targets'])} of {len(row['seeds'])} | {minutes:.1f} |")
    status = (_recipe_verdict(data) if data.get("winner") else
              f"In progress: {data['runs_done']} of {data['runs_planned']} planned runs; no configuration is chosen "
              "until every planned run is in.")
    table = "\n".join(rows)
    return (f"{head}\n\nThe pretrained model on the validation problems (greedy, 96 new tokens), by system "
            f"message: {pre}.\n\n{table}\n\nCounts out of 64, one a tuning seed in the order of the seeds column; "
            "minutes: the median run (training and the validation answers, one thread, on a machine shared with "
            f"other work). {status}")


def _recipe_verdict(data: dict[str, Any]) -> str:
    """The study's end: which configurations went on to round 2, the winner, and how often anything reached both
    targets (a configuration that reached them in every tuning seed would have answered the question outright)."""
    configs, winner = data["configs"], data["winner"]
    every = [name for name, row in configs.items() if row["seeds"] and all(row["reach_both_targets"])]
    # Round 2's last place against the first left out: tied on every key but minutes, load decided it.
    ranking, taken = data["round1_ranking"], len(data["round2_configs"])
    last, first_out = ranking[taken - 1], ranking[taken] if len(ranking) > taken else None
    tie = ""
    if first_out and _round1_key(configs[last])[:3] == _round1_key(configs[first_out])[:3]:
        tie = (f" `{last}` took round 2's last place from `{first_out}` on minutes alone, the rule's last key, which "
               "depends on what else the machine was running.")
    best = configs[winner]
    reached = f"{sum(best['reach_both_targets'])} of {len(best['seeds'])}"
    return (f"Round 2 took {', '.join(f'`{c}`' for c in data['round2_configs'])} (the best three of round 1 by the "
            f"declared rule). The winner: `{winner}`, both targets in {reached} tuning seeds; "
            + (f"{', '.join(f'`{c}`' for c in every)} reached them in every seed." if every else
               "no configuration reached them in every seed.")
            + tie + " The confirmation on the held-out problems (seeds 1000-1009) decides what a user can expect.")


def _round1_key(row: dict[str, Any]) -> tuple:
    """A configuration's rule keys over its round-1 runs (its first two seeds), as the study ranked round 1."""
    from srgrpo.lab.recipe.analysis import config_key

    return config_key([{"validation": v, "minutes": m} for v, m in zip(row["validation"][:2], row["minutes"][:2])])


def wrong_work_markdown(data: dict[str, Any]) -> str:
    """The wrong-work analysis (``data/results/wrong_work.json``): declared, and once computed its answer, the before
    share, the pooled counts, the bootstrap and the stored examples. Read from the JSON only."""
    head = ("**Does RL make right answer, wrong work more common?** (`python -m srgrpo.lab wrong_work`, declared in "
            "`srgrpo/lab/wrong_work/plan.py` before any after-training share was computed; the unit: a confirmation "
            f"seed of the main job, {len(data['declared']['seeds']['primary'])} of them; "
            "[docs/answer-checking.md](answer-checking.md#does-rl-make-it-more-common))")
    if data.get("status") != "computed":
        return head + "\n\nDeclared; not computed yet: it waits for the confirmation seeds (after the recipe study)."
    pooled, boot, other = data["pooled"], data["bootstrap"], data["other_precision"]["interval"]

    def share(c: dict[str, int]) -> str:
        return f"{c['wrong_work']} of {c['correct']} correct"

    lines = [f"{data['answer']}.",
             f"Pooled over the seeds (not independent: the same problems): after {share(pooled['after'])}, before "
             f"{share(pooled['before'])}. Bootstrap over problems and seeds: [{boot['low']}, {boot['high']}] "
             f"({boot['undefined']} of {boot['draws']} draws undefined). Float32 seeds, not tested: "
             + (f"mean {other['mean']:+.3f} [{other['low']:+.3f}, {other['high']:+.3f}]." if other["mean"] is not None
                else f"{other['answer']}.")]
    examples = data["stored_examples"]["methods"]
    lines.append("Stored examples, correct with a false equation (descriptive only): " + "; ".join(
        f"`{label}` {m['wrong_work']} of {m['correct']}" for label, m in examples.items()) + ".")
    return head + "\n\n" + " ".join(lines)


def results_markdown(results_dir: Path | str | None = None, figures: str = FIGURES_FROM_DOCS) -> str:
    """The lab page's block: each committed lab result as a table with its command and figure (``figures``: the
    folder of the committed figures as the page links it)."""
    folder = Path(results_dir) if results_dir is not None else RESULTS_DIR
    parts = []
    bandit = folder / "bandit.json"
    if bandit.is_file():
        summary = json.loads(bandit.read_text())
        parts.append("**Bandit** (`python -m srgrpo.lab bandit --output data/results/bandit.json`, "
                     f"{summary['wall_s']:.0f} s on the machine recorded in the JSON)\n\n"
                     + bandit_markdown(summary) + f"\n\n![bandit learning curves]({figures}bandit.png)")
    real = folder / "real.json"
    if real.is_file():
        summary = json.loads(real.read_text())
        links = " ".join(f"![{Path(p).stem}]({figures}{Path(p).name})" for p in summary.get("figures", []))
        parts.append(f"**SmolLM2-135M-Instruct on synthetic word problems** (`{summary['metadata']['command']}`, "
                     f"{cost_text(summary)}; on {summary['settings']['workers']} worker(s))\n\n" + real_markdown(summary)
                     + ("\n\n" + links if links else ""))
    if (folder / "pilot").is_dir() and any((folder / "pilot").glob("*.json")):
        parts.append(pilot_markdown(folder / "pilot"))
    stability = folder / "stability.json"
    if stability.is_file():
        from srgrpo.lab.stability.figures import checkpointed_runs, stability_markdown

        data = json.loads(stability.read_text())
        finished = None if data.get("complete") else checkpointed_runs(folder, data["settings_id"])
        parts.append(stability_markdown(data, figures, finished))
    power = folder / "stability_power.json"
    if power.is_file():
        parts.append(power_markdown(json.loads(power.read_text())))
    recipe = folder / "recipe.json"
    if recipe.is_file():
        study = json.loads(recipe.read_text())
        parts.append(recipe_markdown(study))
        seeds = _confirmation_files(folder)
        if study.get("winner") and seeds:
            from srgrpo.lab.recipe.confirmation import confirmation_markdown
            from srgrpo.lab.recipe.figures import confirmation_inputs
            from srgrpo.lab.recipe.runs import system_prompt_of

            pretrained = study["pretrained"][system_prompt_of(study["winner"])]["validation"]
            parts.append(confirmation_markdown(confirmation_inputs(seeds), pretrained, folder.parent.parent,
                                               f"{figures}{CONFIRMATION_FIGURE}"))
    wrong_work = folder / "wrong_work.json"
    if wrong_work.is_file():
        parts.append(wrong_work_markdown(json.loads(wrong_work.read_text())))
    if not parts:
        return "No lab results are committed yet: run `python -m srgrpo.lab bandit --output data/results/bandit.json`."
    return "\n\n".join(parts)


def _confirmation_files(results_dir: Path) -> list[Path]:
    """The main job's confirmation seeds (``benchmarks/main_job_seeds.py``'s results files) beside ``results_dir``."""
    folder = results_dir.parent / "benchmarks"
    return [p for p in (folder / "main_job_seeds.json", folder / "main_job_seeds_float32.json") if p.is_file()]


def update_lab_page(page: Path | str | None = None, results_dir: Path | str | None = None,
                    check: bool = False) -> bool:
    """Rewrite the generated block of the lab's page (default :data:`LAB_PAGE`); return True if it was already up to
    date.

    With ``check=True`` nothing is written. Raises ``ValueError`` when the markers are missing.
    """
    path = Path(page) if page is not None else LAB_PAGE
    text = path.read_text()
    if START not in text or END not in text:
        raise ValueError(f"{path} has no {START} ... {END} block to fill; add the two markers where the tables go.")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    new = f"{head}{START}\n{results_markdown(results_dir)}\n{END}{tail}"
    if new == text:
        return True
    if not check:
        path.write_text(new)
    return False


def redraw_figures(results_dir: Path | str | None = None) -> list[Path]:
    """Redraw the committed figures from the results JSON in ``results_dir`` (default ``data/results/``), each
    with its experiment's own drawing function: ``bandit.png``, ``real-*.png``, ``stability-seeds.png``, and the
    main job's confirmation seeds (beside ``results_dir``, in ``benchmarks/``): ``recipe-confirmation.png``."""
    folder = Path(results_dir) if results_dir is not None else RESULTS_DIR
    drawn: list[Path] = []
    bandit = folder / "bandit.json"
    if bandit.is_file():
        from srgrpo.lab.bandit.figures import plot_bandit

        path = folder / "bandit.png"
        plot_bandit(json.loads(bandit.read_text()), path=path)
        drawn.append(path)
    real = folder / "real.json"
    if real.is_file():
        from srgrpo.lab.real.figures import save_figures

        drawn += save_figures(json.loads(real.read_text()), real)
    stability = folder / "stability.json"
    if stability.is_file():
        from srgrpo.lab.stability.figures import save_figure

        data = json.loads(stability.read_text())
        if data.get("runs"):
            drawn.append(save_figure(data, stability))
    seeds = _confirmation_files(folder)
    if (folder / "recipe.json").is_file() and seeds:
        from srgrpo.lab.recipe.figures import confirmation_inputs, plot_confirmation

        path = folder / CONFIRMATION_FIGURE
        plot_confirmation(confirmation_inputs(seeds), output=path)
        drawn.append(path)
    return drawn


@dataclass
class ReportCommand:
    """The options of ``python -m srgrpo.lab report``."""

    page: str = field(default=str(LAB_PAGE), metadata={"help": "the page to update (docs/lab.md)"})
    results: str = field(default=str(RESULTS_DIR), metadata={"help": "folder of results JSON"})
    check: bool = field(default=False, metadata={"help": "only check; exit 1 if the page is stale"})
    figures: bool = field(default=False, metadata={
        "help": "also redraw the committed figures from their JSON (after a change to the figure code; runs nothing)"})


def main(argv: Sequence[str] = ()) -> int:
    args = parse_command(ReportCommand, argv, "report", "Write the committed lab results into docs/lab.md's tables.")
    try:
        fresh = update_lab_page(args.page, args.results, check=args.check)
    except ValueError as err:
        print(f"error: {err}")
        return 2
    if args.figures and not args.check:
        for path in redraw_figures(args.results):
            print(f"redrew {path}")
    if args.check:
        print(f"{args.page}: lab results are up to date." if fresh else
              f"{args.page}: lab results are stale: run `python -m srgrpo.lab report`.")
        return 0 if fresh else 1
    print(f"{args.page}: lab results were already up to date." if fresh else f"updated {args.page}")
    return 0
