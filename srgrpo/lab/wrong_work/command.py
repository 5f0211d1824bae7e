"""``python -m srgrpo.lab wrong_work``: does RL make "right answer, wrong work" more common? The declared analysis.

    python -m srgrpo.lab wrong_work --declare_only true     # the declared block alone: committed before any share
    python -m srgrpo.lab wrong_work                         # the analysis, once every confirmation seed is in

It reads the main job's confirmation seeds (``--input``: the results files of ``benchmarks/main_job_seeds.py``, the
bf16 seeds' and the float32 seeds'; each seed's records beside its file) and the lab's results folder (``--results``:
``recipe.json``'s winner, the stored examples of ``real.json`` and ``stability.json``), and writes ``--output``::

    {"experiment": "wrong_work", "declared": {...}, "status",
     "recipe": {"winner", "changes", "recipe_ids"}, "inputs", "before", "seeds", "test", "caveat", "pooled",
     "bootstrap", "other_precision", "stored_examples", "answer", "metadata"}

When a declared seed is missing, or the records are of another recipe (or cannot say which), it says so and how to
make them, exits 1, and ``--output`` holds the declared block alone (with the reason in ``status``): a results file
never holds shares computed from records the plan does not name.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Sequence

from srgrpo.lab.results import parse_command, write_declared
from srgrpo.lab.wrong_work.analysis import analyse, stored_examples
from srgrpo.lab.wrong_work.plan import DECLARED, EXAMPLE_FILES, OTHER_SEEDS, PRIMARY_SEEDS, WrongWorkSettings
from srgrpo.lab.wrong_work.seeds import MissingSeeds, RecipeRefused, check_recipe, declared_winner, load_seeds

__all__ = ["main", "read_examples", "answer_text"]


def read_examples(results_dir: str | Path) -> dict[str, Any]:
    """:func:`stored_examples` of the lab's results files that store example answers."""
    files = {}
    for name in EXAMPLE_FILES:
        path = Path(results_dir) / name
        if not path.is_file():
            raise ValueError(f"{path} is not there: --results must be the lab's results folder (data/results)")
        files[name] = json.loads(path.read_text(encoding="utf-8"))
    return stored_examples(files)


def answer_text(result: dict[str, Any]) -> str:
    """The answer in one paragraph: the declared interval, the before value, the caveat."""
    test, before = result["test"], result["before"]
    text = f"right answer, wrong work after RL: {test['answer']}"
    if test["mean"] is not None:
        text += (f" (mean after - before share over {test['n']} seeds {test['mean']:+.3f}, 95% t interval "
                 f"[{test['low']:+.3f}, {test['high']:+.3f}])")
    text += (f"; before: {before['wrong_work']} of {before['correct']} correct answers, one measurement "
             f"(Wilson [{before['share_ci95'][0]:.2f}, {before['share_ci95'][1]:.2f}])")
    if result.get("caveat"):
        text += f"; caveat: {result['caveat']}"
    return text


def _write(settings: WrongWorkSettings, argv: Sequence[str], body: dict[str, Any]) -> None:
    write_declared(settings.output, "wrong_work", DECLARED, argv, **body)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    settings = parse_command(WrongWorkSettings, argv, "wrong_work", (__doc__ or "").splitlines()[0])
    if settings.declare_only:
        _write(settings, argv, {"status": "declared; nothing computed yet"})
        print(f"wrote the declared plan to {settings.output}")
        return 0
    try:
        loaded = load_seeds(settings.input)
        recipe = check_recipe(loaded, *declared_winner(settings.results))
    except (MissingSeeds, RecipeRefused) as refused:
        kind = "missing seeds" if isinstance(refused, MissingSeeds) else "records refused"
        _write(settings, argv, {"status": f"declared; not computed ({kind}): {refused}"})
        print(f"error: {refused}\n(nothing computed: {settings.output} holds the declared block alone)",
              file=sys.stderr)
        return 1
    except ValueError as error:  # damaged input: the message names the file
        print(f"error: {error}", file=sys.stderr)
        return 2
    seeds = loaded["seeds"]
    result = analyse({s: seeds[s] for s in PRIMARY_SEEDS}, {s: seeds[s] for s in OTHER_SEEDS})
    result = {"status": "computed", "recipe": recipe,
              "inputs": {"files": loaded["inputs"], "records": {s: seeds[s]["file"] for s in sorted(seeds)},
                         "seeds_not_declared": loaded["undeclared"]},
              **result, "stored_examples": read_examples(settings.results)}
    result["answer"] = answer_text(result)
    _write(settings, argv, result)
    print(result["answer"])
    print(f"wrote {settings.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
