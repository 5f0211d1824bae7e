"""The confirmation seeds' held-out records, found and checked before anything is computed from them.

``benchmarks/main_job_seeds.py --output FILE.json`` writes a results file whose ``runs`` list the seeds (each row:
``seed``, ``recipe_id``, ``precision``, ``before`` / ``after`` counts, ``records``), the ``recipe`` they ran (with
its ``id``), and each seed's records in ``FILE/seed-K.json`` (``{"seed", "recipe_id", "precision", "before": [...],
"after": [...]}``). :func:`load_seeds` reads every input file, and refuses, with a message that says what to do:

* a declared seed that is in no input (:class:`MissingSeeds`: which, and the command that makes them);
* records of another recipe than the declared one, or records that cannot say which recipe made them
  (:class:`RecipeRefused`): :mod:`srgrpo.lab.wrong_work.plan` says what "the declared recipe" is;
* records that do not match their row (counts), or do not answer the same 64 problems before and after.

No import of the benchmark script (it is not part of the package): its file layout is read as the data it is.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

from srgrpo.lab.wrong_work.plan import (N_PROBLEMS, OTHER_PRECISION, OTHER_SEEDS, PRECISION_KEYS, PRIMARY_PRECISION,
                                        PRIMARY_SEEDS, seeds_command)

__all__ = ["MissingSeeds", "RecipeRefused", "load_seeds", "declared_winner", "check_recipe", "flat"]

#: Where the float32 seeds go when the command says how to make them (the bf16 seeds: the benchmark's default file).
DEFAULT_OUTPUTS = {PRIMARY_PRECISION: "data/benchmarks/main_job_seeds.json",
                   OTHER_PRECISION: "data/benchmarks/main_job_seeds_float32.json"}


class MissingSeeds(ValueError):
    """Declared seeds whose records are in none of the inputs."""


class RecipeRefused(ValueError):
    """Records of another recipe than the declared one, or records that cannot tell which."""


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ValueError(f"cannot read {what} {path}: {error.strerror or error}") from None
    except ValueError as error:
        raise ValueError(f"{path} is not valid JSON ({error}); {what} is damaged") from None


def _companion(results_file: Path, row: dict[str, Any]) -> Path:
    """A seed's records file: ``<results file without .json>/seed-K.json``, where the benchmark writes it, so that the
    results file's own folder decides (not the folder the command runs in); else the row's ``records`` path (relative
    to the working folder, as the benchmark states it from the repository root)."""
    beside = results_file.with_suffix("") / f"seed-{row['seed']}.json"
    stated = row.get("records")
    if beside.is_file() or not stated:
        return beside
    return Path(stated)


def _check_records(seed: int, data: Any, row: dict[str, Any], path: Path) -> None:
    """The records answer the same problems before and after, and agree with the results file's counts."""
    if not isinstance(data, dict) or not all(isinstance(data.get(w), list) for w in ("before", "after")):
        raise ValueError(f"{path}: not a seed's records (needs lists 'before' and 'after')")
    for when in ("before", "after"):
        records = data[when]
        if len(records) != N_PROBLEMS or any(not isinstance(r, dict) or "correct" not in r for r in records):
            raise ValueError(f"{path}: '{when}' holds {len(records)} records; the declared analysis reads "
                             f"{N_PROBLEMS} evaluation records (each with 'correct')")
        counts = row.get(when) or {}
        if "correct" in counts and counts["correct"] != sum(bool(r["correct"]) for r in records):
            raise ValueError(f"seed {seed}: {path}'s '{when}' records count {sum(bool(r['correct']) for r in records)} "
                             f"correct, its results file {counts['correct']}: they are of different runs")
    indices = [[r.get("index") for r in data[w]] for w in ("before", "after")]
    if indices[0] != indices[1] or None in indices[0]:
        raise ValueError(f"{path}: the 'before' and 'after' records are not the same problems in the same order")


def load_seeds(inputs: Sequence[str | Path]) -> dict[str, Any]:
    """Every declared seed's records and recipe, from the benchmark's results files ``inputs``.

    Returns ``{"seeds": {seed: {"before", "after", "recipe_id", "precision", "file"}}, "recipes": {recipe id: the
    stored recipe (None where no input stores it)}, "inputs": [...], "undeclared": seeds the inputs hold that the
    plan does not name}``. Raises :class:`MissingSeeds` (after reading every input), :class:`RecipeRefused` for a row
    or records file without a recipe id, and ``ValueError`` for damaged input.
    """
    seeds: dict[int, dict[str, Any]] = {}
    recipes: dict[str, Any] = {}
    undeclared: list[int] = []
    read: list[str] = []
    for name in inputs:
        path = Path(name)
        if not path.is_file():
            continue  # a missing file is missing seeds: said below, with the command that makes them
        data = _read_json(path, "the main job's seed results")
        if not isinstance(data, dict) or not isinstance(data.get("runs"), list):
            raise ValueError(f"{path} is not a results file of benchmarks/main_job_seeds.py (no 'runs' list)")
        read.append(str(path))
        stored = data.get("recipe")
        if isinstance(stored, dict) and stored.get("id"):
            recipes[stored["id"]] = {k: v for k, v in stored.items() if k != "id"}
        for row in data["runs"]:
            seed = row.get("seed")
            if seed not in PRIMARY_SEEDS + OTHER_SEEDS:
                undeclared.append(seed)
                continue
            if seed in seeds:
                raise ValueError(f"seed {seed} is in both {seeds[seed]['file']} and {path}: keep one")
            companion = _companion(path, row)
            if not companion.is_file():
                raise MissingSeeds(f"seed {seed} is listed in {path}, but its records file {companion} is not there")
            records = _read_json(companion, f"seed {seed}'s records")
            _check_records(seed, records, row, companion)
            for where, rid in ((path, row.get("recipe_id")), (companion, records.get("recipe_id"))):
                if not rid:
                    raise RecipeRefused(
                        f"seed {seed}: {where} does not say which recipe made it (no recipe_id: written before "
                        "benchmarks/main_job_seeds.py recorded recipes), so it cannot tell whether it is the declared "
                        "recipe; rerun the seed with the benchmark as it is now")
            if records["recipe_id"] != row["recipe_id"] or records.get("precision") != row.get("precision"):
                raise RecipeRefused(f"seed {seed}: {companion} says recipe {records['recipe_id']} "
                                    f"({records.get('precision')}), {path} says {row['recipe_id']} "
                                    f"({row.get('precision')}): they are of different runs")
            seeds[seed] = {"before": records["before"], "after": records["after"], "recipe_id": row["recipe_id"],
                           "precision": row.get("precision"), "file": str(companion)}
            recipes.setdefault(row["recipe_id"], None)
    missing = {p: [s for s in group if s not in seeds]
               for p, group in ((PRIMARY_PRECISION, PRIMARY_SEEDS), (OTHER_PRECISION, OTHER_SEEDS))}
    if any(missing.values()):
        lines = [f"the declared analysis needs every confirmation seed's records; missing: "
                 + "; ".join(f"{', '.join(map(str, group))} ({p})" for p, group in missing.items() if group)
                 + f" (read: {', '.join(read) or 'no input file exists: ' + ', '.join(map(str, inputs))})."
                 " Make them, once the recipe study has its winner, with:"]
        lines += [f"    {seeds_command(tuple(group), p, DEFAULT_OUTPUTS[p])}" for p, group in missing.items() if group]
        lines.append("then run this command again (--input names both results files; its default is these two).")
        raise MissingSeeds("\n".join(lines))
    return {"seeds": seeds, "recipes": recipes, "inputs": read, "undeclared": sorted(undeclared, key=str)}


def declared_winner(results_dir: str | Path) -> tuple[str, dict[str, Any]]:
    """The recipe study's winner and its changes to the preset (``recipe.json``'s ``winner`` and its
    ``configs[winner]["changes"]``); :class:`RecipeRefused` when the study has none yet."""
    path = Path(results_dir) / "recipe.json"
    study = _read_json(path, "the recipe study's results")
    winner = study.get("winner") if isinstance(study, dict) else None
    if not winner:
        raise RecipeRefused(f"{path} has no winner yet: the recipe study has not chosen the recipe the confirmation "
                            "seeds must run, so no seed can be of the declared recipe. Finish the study first "
                            "(python -m srgrpo.lab recipe).")
    changes = ((study.get("configs") or {}).get(winner) or {}).get("changes")
    if not isinstance(changes, dict):
        raise ValueError(f"{path}: the winner {winner!r} has no 'changes' in 'configs'")
    return winner, changes


def flat(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """A nested dict's leaves by dotted key (``training.learning_rate``)."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        out.update(flat(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}": v})
    return out


def check_recipe(loaded: dict[str, Any], winner: str, changes: dict[str, Any]) -> dict[str, Any]:
    """The declared recipe rule (:mod:`srgrpo.lab.wrong_work.plan`) on :func:`load_seeds`' output: one recipe id per
    precision, the declared precisions, the winner's changes in the stored recipe, the two recipes alike but for
    the precision. Returns what was checked; raises :class:`RecipeRefused`."""
    ids = {}
    for precision, group in ((PRIMARY_PRECISION, PRIMARY_SEEDS), (OTHER_PRECISION, OTHER_SEEDS)):
        found = {loaded["seeds"][s]["recipe_id"] for s in group}
        wrong = [s for s in group if loaded["seeds"][s]["precision"] != precision]
        if wrong:
            raise RecipeRefused(f"seeds {wrong} ran in {loaded['seeds'][wrong[0]]['precision']}; the plan declares "
                                f"{precision} for seeds {group[0]}-{group[-1]}")
        if len(found) != 1:
            raise RecipeRefused(f"seeds {group[0]}-{group[-1]} are of {len(found)} recipes "
                                f"({', '.join(sorted(found))}); the declared analysis reads one recipe")
        ids[precision] = found.pop()
    stored = {p: loaded["recipes"].get(rid) for p, rid in ids.items()}
    for precision, recipe in stored.items():
        if not isinstance(recipe, dict):
            raise RecipeRefused(f"recipe {ids[precision]} ({precision}) is not stored in any input file (no 'recipe' "
                                "block with that id), so the records cannot tell whether it is the declared recipe")
        settings = {**(recipe.get("script") or {}), **(recipe.get("training") or {})}
        for key, value in changes.items():
            if key not in settings or settings[key] != value:
                raise RecipeRefused(
                    f"recipe {ids[precision]} ({precision}) is not the recipe study's winner {winner!r}: it has "
                    f"{key} = {settings.get(key, '(none)')!r}, the winner {value!r}. Records of another recipe are "
                    "refused; rerun the seeds with the winner adopted")
    a, b = (flat(stored[p]) for p in (PRIMARY_PRECISION, OTHER_PRECISION))
    differ = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k) and k not in PRECISION_KEYS)
    if differ:
        raise RecipeRefused("the bf16 and float32 seeds' recipes differ in more than the precision: "
                            + ", ".join(differ))
    return {"winner": winner, "changes": changes, "recipe_ids": ids}
