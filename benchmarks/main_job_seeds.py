"""What a user of ``python -m srgrpo`` should expect: the main job itself, run as a user runs it, over several seeds.

    python benchmarks/main_job_seeds.py [--seeds 1000 ... 1009] [--cpu_precision auto]
                                        [--output data/benchmarks/main_job_seeds.json]

Each seed runs ``python -m srgrpo --use_cpu true --seed K`` as a subprocess, into ``--work_dir/seed-K-<recipe id>``,
and the results file keeps, per seed, the held-out counts before and after (correct, in format, cut off), the minutes
the job took, its precision and the machine (CPU model and features); its summary gives each count's range over the
seeds, the spread a user should expect from one run. The default seeds, 1000-1009, are the recipe's confirmation
seeds (:data:`srgrpo.lab.recipe.plan.CONFIRMATION`: never used to choose it), the committed results; the preset's own
seed is 0. Each seed's held-out records before
and after (the job's ``eval_before.jsonl`` / ``eval_after.jsonl``: question, gold, completion, predicted, correct, in
format, cut off...) go to a companion file beside the results, ``data/benchmarks/main_job_seeds/seed-K.json``.

Precision
    ``--cpu_precision`` (auto, float32 or bfloat16) is resolved once, here (``auto``: this CPU's choice,
    :func:`srgrpo.models.cpu_precision.choose_cpu_precision`), and pinned for every job, training and both evaluations,
    through ``SRGRPO_CPU_PRECISION``: the seeds of one invocation never differ in precision (a busy machine's probe can
    choose float32 where an idle one chooses bf16), and ``--cpu_precision float32`` runs float32 seeds on a bf16 CPU.
    A job that reports another precision than the one pinned is an error.

Which finished seeds are read back
    A finished seed is read back, not rerun, only when it is of this recipe: its record's ``recipe_id`` is the short
    hash of :func:`recipe`, what the job computes, resolved before anything runs:

    * the training settings as ``python -m srgrpo.train`` resolves them from the job's plan (``--preset smollm2_cpu``):
      every value, TRL's and transformers' defaults included, so a changed preset value or a changed library default
      changes the id; what only says where a run logs or saves, and the seed, are left out (:data:`BOOKKEEPING`);
    * the text of the system message it trains and evaluates with (a name would hide an edit of the text);
    * the job's evaluation: problem set, split, how many, new tokens, batch size;
    * the problems themselves, as loaded (a hash of the training split and of the held-out problems: a change in the
      synthetic generator changes the id);
    * the precision.

    Not in it: the code of the kit and its libraries (a change that computes differently under the same settings);
    each seed records their versions, and such a change calls for a new ``--work_dir``. A finished run of another
    recipe is never read back nor deleted: this recipe's run goes to a folder of its own, and the script says which
    settings differ.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from srgrpo.lab.recipe.plan import CONFIRMATION  # noqa: E402
from srgrpo.lab.results import machine_record, run_metadata, to_jsonable, write_json  # noqa: E402
from srgrpo.models.cpu_precision import ENV_VAR  # noqa: E402
from srgrpo.plumbing.runtime import library_versions, new_run_dir, short_hash  # noqa: E402

#: The evaluation summary's keys the results file keeps (their words: srgrpo.glossary).
KEYS = ("correct", "format_rate", "truncated_rate")
#: A finished seed's record, in its run folder.
RECORD = "main_job_seed.json"
#: Training settings that say where and how a run logs or saves, or its seed: not what a run of the recipe computes.
BOOKKEEPING = {"exact": ("output_dir", "overwrite_output_dir", "report_to", "disable_tqdm", "run_name", "project",
                         "resume_from_checkpoint", "push_to_hub", "seed", "num_completions_to_print",
                         "preset", "dry_run", "cpu_precision"),  # the last three: the script's (precision: resolved)
               "prefixes": ("logging_", "log_", "save_", "hub_", "trackio_")}


@dataclass
class Settings:
    """``python benchmarks/main_job_seeds.py --help`` lists these."""

    seeds: list[int] = field(default_factory=lambda: list(CONFIRMATION["seeds"]), metadata={
        "help": "training seeds (default: the recipe's confirmation seeds, 1000-1009; 0 is the preset's)"})
    cpu_precision: str = field(default="auto", metadata={
        "help": "auto (this CPU's choice, resolved once), float32 or bfloat16: pinned for every job through "
                f"{ENV_VAR}", "choices": ["auto", "float32", "bfloat16"]})
    work_dir: str = field(default="runs/main_job_seeds", metadata={
        "help": "one folder a seed and recipe; finished seeds of this recipe are read back, not rerun"})
    output: str = field(default="data/benchmarks/main_job_seeds.json", metadata={
        "help": "results file; each seed's held-out records go to the folder of its name without .json"})


def parse_settings(argv: list[str] | None = None) -> Settings:
    """The command line (HfArgumentParser; a renamed flag, such as the old ``--json``, fails naming its new name)."""
    from transformers import HfArgumentParser

    from srgrpo.plumbing.flags import parse_flags

    parser = HfArgumentParser(Settings, prog="python benchmarks/main_job_seeds.py", allow_abbrev=False,
                              description=__doc__.splitlines()[0])
    return parse_flags(parser, sys.argv[1:] if argv is None else argv)[0]


# --------------------------------------------------------------------------------------------------------------------
# The recipe
# --------------------------------------------------------------------------------------------------------------------


def _bookkeeping(key: str) -> bool:
    return key in BOOKKEEPING["exact"] or key.startswith(BOOKKEEPING["prefixes"])


def _problems_hash(problems) -> str:
    """A short hash of what a problem set asks and expects: each prompt (system message and question) and answer."""
    return short_hash([[row["prompt"], row["answer"]] for row in problems])


def resolve_precision(requested: str) -> str:
    """``float32`` or ``bfloat16``: ``requested`` as this machine resolves it (see the module docstring)."""
    from srgrpo.models.cpu_precision import choose_cpu_precision

    choice = choose_cpu_precision(requested)
    print(f"precision: {choice.describe()}; every job runs in it ({ENV_VAR}={choice.dtype})", flush=True)
    return choice.dtype


def recipe(precision: str) -> dict[str, Any]:
    """What ``python -m srgrpo --use_cpu true`` computes in ``precision`` (its seed aside): the module docstring."""
    from srgrpo.tasks.word_problems import load_problems, system_message
    from srgrpo.train.main_job import plan_main_job
    from srgrpo.train.settings import parse_args

    plan = plan_main_job("cpu", gsm8k_check=0)  # the job's own plan (srgrpo/__main__.py)
    before = os.environ.get(ENV_VAR)
    os.environ[ENV_VAR] = precision  # as the job will see it: no probe here, and the precision's own settings (bf16)
    try:
        script_args, training_args = parse_args(plan.train_flags())
    finally:
        if before is None:
            del os.environ[ENV_VAR]
        else:
            os.environ[ENV_VAR] = before
    script, training = (json.loads(json.dumps(d, default=str)) for d in (dataclasses.asdict(script_args),
                                                                          training_args.to_dict()))
    train = load_problems(script_args.dataset_name, script_args.dataset_train_split, data_dir=script_args.data_dir,
                          limit=script_args.train_limit, system_prompt=script_args.system_prompt)
    held_out = load_problems(plan.eval_dataset, "test", limit=plan.eval_limit, system_prompt=plan.system_prompt)
    return to_jsonable({
        "preset": plan.preset,
        "script": {k: v for k, v in sorted(script.items()) if not _bookkeeping(k)},
        "training": {k: v for k, v in sorted(training.items()) if not _bookkeeping(k)},
        "system_message": system_message(script_args.system_prompt),
        "evaluation": {"dataset": plan.eval_dataset, "split": "test", "limit": plan.eval_limit, "decoding": "greedy",
                       "max_new_tokens": plan.eval_max_new_tokens, "batch_size": plan.eval_batch_size,
                       "system_message": system_message(plan.system_prompt)},
        "problems": {"train": _problems_hash(train), "held_out": _problems_hash(held_out)},
        "precision": precision,
    })


def recipe_id(recipe_: dict[str, Any]) -> str:
    """The short hash a finished seed must carry to be read back as one of ``recipe_``."""
    return short_hash(recipe_)


def differences(old: dict[str, Any] | None, new: dict[str, Any]) -> list[str]:
    """What changed between two recipes, one item a setting (``training.learning_rate: 0.0005 -> 0.00025``)."""
    if not isinstance(old, dict):
        return ["it records no recipe (made before recipe ids)"]

    def flat(d: dict, prefix: str = "") -> dict[str, Any]:
        out = {}
        for k, v in d.items():
            out.update(flat(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}": v})
        return out

    def show(value: Any) -> str:
        return repr(value) if len(repr(value)) <= 40 else "(long)"

    a, b = flat(old), flat(new)
    return [f"{k}: {show(a.get(k, '(none)'))} -> {show(b.get(k, '(none)'))}" for k in sorted(a.keys() | b.keys())
            if a.get(k, "(none)") != b.get(k, "(none)")]


# --------------------------------------------------------------------------------------------------------------------
# One seed
# --------------------------------------------------------------------------------------------------------------------


def read_finished(folder: Path) -> dict[str, Any] | None:
    """The record of a finished seed in ``folder``, or None (no record, or a damaged one: not finished)."""
    try:
        record = json.loads((folder / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def find_finished(work_dir: Path, seed: int, rid: str) -> tuple[tuple[Path, dict] | None, list[tuple[Path, dict]]]:
    """Seed ``seed``'s finished run of recipe ``rid`` in ``work_dir`` (None if there is none), and its finished runs
    of other recipes (folders ``seed-K`` of the earlier layout, and ``seed-K-<id>...``)."""
    match, others = None, []
    folders = [p for p in sorted(work_dir.glob(f"seed-{seed}*")) if p.name == f"seed-{seed}"
               or p.name.startswith(f"seed-{seed}-")]  # seed-1 is not seed-10
    for folder in folders:
        record = read_finished(folder)
        if record is None or record.get("seed") != seed:
            continue
        if match is None and record.get("recipe_id") == rid:
            match = (folder, record)
        else:
            others.append((folder, record))
    return match, others


def job_command(seed: int, folder: Path) -> list[str]:
    """The main job as a user runs it on a CPU, for one seed, into ``folder``."""
    return [sys.executable, "-m", "srgrpo", "--use_cpu", "true", "--seed", str(seed), "--output_dir", str(folder),
            "--overwrite", "true"]


def job_env(precision: str) -> dict[str, str]:
    """The job's environment: this one, offline, with its precision pinned."""
    return dict(os.environ, PYTHONUNBUFFERED="1", HF_HUB_OFFLINE=os.environ.get("HF_HUB_OFFLINE", "1"),
                **{ENV_VAR: precision})


def run_job(seed: int, folder: Path, precision: str) -> str:
    """Run the job; its standard output (it ends with the verdict)."""
    proc = subprocess.run(job_command(seed, folder), env=job_env(precision), cwd=REPO, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"seed {seed} failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
    return proc.stdout


def _counts(summary: dict) -> dict:
    n = summary["n"]
    return {"n": n, "correct": summary["correct"], "in_format": round(summary["format_rate"] * n),
            "cut_off": round(summary["truncated_rate"] * n)}


def precision_used(folder: Path) -> dict[str, str]:
    """The dtype each part of a finished job ran in: training (``srgrpo_config.yaml``), both evaluations."""
    config = yaml.safe_load((folder / "srgrpo_config.yaml").read_text(encoding="utf-8"))
    used = {"training": config["model"]["dtype"]}
    for when in ("before", "after"):
        used[when] = json.loads((folder / f"eval_{when}.json").read_text(encoding="utf-8"))["settings"]["dtype"]
    return used


def run_seed(seed: int, work_dir: Path, recipe_: dict[str, Any]) -> tuple[Path, dict]:
    """Seed ``seed`` of the main job in ``recipe_``: its finished run read back, or a new one run (module docstring);
    the run's folder and its record."""
    rid = recipe_id(recipe_)
    found, others = find_finished(work_dir, seed, rid)
    for folder, record in others:
        print(f"seed {seed}: {folder} holds a run of another recipe (id {record.get('recipe_id')}, this one's {rid}): "
              f"{'; '.join(differences(record.get('recipe'), recipe_))}. Not read back.", flush=True)
    if found is not None:
        print(f"seed {seed}: read back from {found[0]} (recipe {rid}, {found[1]['precision']})", flush=True)
        return found
    folder = work_dir / f"seed-{seed}-{rid}"
    if read_finished(folder) is not None:  # a finished run of something else under this name: keep it
        folder = Path(new_run_dir(folder))
    print(f"seed {seed}: running python -m srgrpo into {folder}"
          + (" (a new folder: the finished runs above are of another recipe)" if others else "") + " ...", flush=True)
    precision = recipe_["precision"]
    start = time.time()
    stdout = run_job(seed, folder, precision)
    minutes = round((time.time() - start) / 60, 2)
    used = precision_used(folder)
    if set(used.values()) != {precision}:
        raise SystemExit(f"seed {seed}: {ENV_VAR}={precision} was pinned, but the job ran in {used}; see {folder}")
    record = {
        "seed": seed,
        "recipe_id": rid,
        "precision": precision,
        "minutes": minutes,
        "before": _counts(json.loads((folder / "eval_before.json").read_text())),
        "after": _counts(json.loads((folder / "eval_after.json").read_text())),
        "verdict": stdout.strip().splitlines()[-4:],
        "train_seconds": yaml.safe_load((folder / "srgrpo_config.yaml").read_text()).get("train_seconds"),
        "machine": machine_record(),
        "versions": library_versions(("srgrpo", "torch", "trl", "transformers", "peft"), keep_missing=True),
        "recipe": recipe_,  # for the message above, when a later recipe differs
    }
    write_json(folder / RECORD, record)
    return folder, record


def held_out_records(folder: Path) -> dict[str, list[dict]]:
    """The job's held-out records before and after training, in problem order (its ``eval_<when>.jsonl``)."""
    out = {}
    for when in ("before", "after"):
        path = folder / f"eval_{when}.jsonl"
        records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        out[when] = sorted(records, key=lambda r: r["index"])
    return out


# --------------------------------------------------------------------------------------------------------------------
# All seeds
# --------------------------------------------------------------------------------------------------------------------


def summarise(runs: list[dict]) -> dict:
    """Each count's range over the seeds, after training (the 'before' is one greedy evaluation: the same every seed)."""
    ids = {r.get("recipe_id") for r in runs}
    if len(ids) != 1:
        raise ValueError(f"the runs are of {len(ids)} recipes ({sorted(map(str, ids))}); a summary is of one")
    out = {"seeds": [r["seed"] for r in runs], "minutes": [r["minutes"] for r in runs], "recipe_id": ids.pop(),
           "precision": runs[0].get("precision")}
    for key in ("correct", "in_format", "cut_off"):
        values = [r["after"][key] for r in runs]
        out[key] = {"before": runs[0]["before"][key], "after": values, "min": min(values), "max": max(values),
                    "n": runs[0]["after"]["n"]}
    return out


def records_path(output: Path, seed: int) -> Path:
    """Where seed ``seed``'s held-out records go: ``<output without .json>/seed-<seed>.json``."""
    return output.with_suffix("") / f"seed-{seed}.json"


def write_results(output: Path, recipe_: dict[str, Any], runs: list[dict], folders: list[Path],
                  argv: list[str]) -> dict:
    """The results file (runs, summary, the recipe, metadata) and each seed's held-out records beside it."""
    rows = []
    for run, folder in zip(runs, folders):
        companion = records_path(output, run["seed"])
        write_json(companion, {"seed": run["seed"], "recipe_id": run["recipe_id"], "precision": run["precision"],
                               **held_out_records(folder)})
        row = {k: v for k, v in run.items() if k != "recipe"}
        row["records"] = str(companion.relative_to(REPO) if companion.is_relative_to(REPO) else companion)
        rows.append(row)
    result = {"benchmark": "main_job_seeds", "runs": rows, "summary": summarise(runs),
              "recipe": {"id": recipe_id(recipe_), **recipe_},
              "metadata": run_metadata(argv, prog="python benchmarks/main_job_seeds.py")}
    write_json(output, result)
    return result


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    settings = parse_settings(argv)
    recipe_ = recipe(resolve_precision(settings.cpu_precision))
    print(f"recipe {recipe_id(recipe_)}: the {recipe_['preset']} main job in {recipe_['precision']}", flush=True)
    work_dir, runs, folders = REPO / settings.work_dir, [], []
    for seed in settings.seeds:
        folder, run = run_seed(seed, work_dir, recipe_)
        runs.append(run)
        folders.append(folder)
        print("\n".join(runs[-1]["verdict"]), flush=True)
    write_results(REPO / settings.output, recipe_, runs, folders, argv)
    print(f"wrote {settings.output} and the held-out records in {Path(settings.output).with_suffix('')}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
