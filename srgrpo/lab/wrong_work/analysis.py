"""The wrong-work analysis, by the rule declared in :mod:`srgrpo.lab.wrong_work.plan`.

* :func:`counts` and :func:`share`: a set of records' correct answers ``C`` and those with a false equation ``W``;
* :func:`seed_rows` and :func:`seed_test`: each seed's ``d_s`` and the declared interval over seeds, with its answer;
* :func:`pooled`, :func:`bootstrap`: reported beside it, not tested;
* :func:`stored_examples`: the lab's stored example answers, per method (descriptive only).

Pure functions of records (lists of evaluation records, :func:`srgrpo.eval_gsm8k.records.score_record`'s keys):
nothing here reads a file.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

from srgrpo.eval_gsm8k.records import false_equations
from srgrpo.lab.wrong_work.plan import ALPHA, BOOTSTRAP
from srgrpo.plumbing.stats import paired_t_test, rounded, wilson_interval

__all__ = ["counts", "share", "seed_rows", "seed_test", "pooled", "bootstrap", "caveat", "stored_examples",
           "before_identical", "analyse", "examples_text"]

Records = Sequence[dict[str, Any]]


def _wrong(record: dict[str, Any]) -> bool:
    """Right answer, wrong work: correct with at least one false equation."""
    return bool(record["correct"]) and false_equations(record) > 0


def counts(records: Records) -> dict[str, int]:
    """``{"n", "correct", "wrong_work"}`` of a list of records (``wrong_work``: correct with a false equation)."""
    return {"n": len(records), "correct": sum(bool(r["correct"]) for r in records),
            "wrong_work": sum(_wrong(r) for r in records)}


def share(c: dict[str, int]) -> float | None:
    """``wrong_work / correct``; None when nothing is correct (no share to speak of)."""
    return c["wrong_work"] / c["correct"] if c["correct"] else None


def seed_rows(seeds: dict[int, dict[str, Records]]) -> list[dict[str, Any]]:
    """One row a seed, in seed order: its before and after counts and shares, and ``d`` = after share - before share
    (None when either share is undefined)."""
    rows = []
    for seed in sorted(seeds):
        before, after = counts(seeds[seed]["before"]), counts(seeds[seed]["after"])
        b, a = share(before), share(after)
        rows.append({"seed": seed, "before": before, "after": after, "before_share": b, "after_share": a,
                     "d": None if a is None or b is None else a - b})
    return rows


def seed_test(rows: Sequence[dict[str, Any]], alpha: float = ALPHA) -> dict[str, Any]:
    """The declared test on :func:`seed_rows`: the mean of ``d`` over the seeds that have one, its two-sided
    ``1 - alpha`` Student-t interval, and the answer ('more common', 'less common', 'neither shown', or 'not
    testable: why')."""
    if alpha != 0.05:
        raise ValueError("the declared interval is 95% (alpha 0.05)")
    left_out = [r["seed"] for r in rows if r["after_share"] is None]
    no_before = [r["seed"] for r in rows if r["before_share"] is None]
    ds = [r["d"] for r in rows if r["d"] is not None]
    out: dict[str, Any] = {"seeds": [r["seed"] for r in rows if r["d"] is not None], "d": ds,
                           "left_out_no_correct_after": left_out, "no_correct_before": no_before,
                           "mean": None, "low": None, "high": None, "n": len(ds), "t": None, "p": None}
    if no_before:
        out["answer"] = "not testable: no correct answer before training, so there is no before share"
        return out
    if len(ds) < 2:
        out["answer"] = f"not testable: {len(ds)} seed(s) with a correct answer after training (2 needed)"
        return out
    test = paired_t_test(ds)
    out.update({k: test[k] for k in ("mean", "low", "high", "t", "p")})
    out["answer"] = ("more common" if test["low"] > 0 else "less common" if test["high"] < 0 else "neither shown")
    return out


def pooled(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Summed counts over the seeds after training, beside the before counts (the first seed's: one measurement
    when they are identical). Not independent answers (the same problems every seed): no test."""
    after = {k: sum(r["after"][k] for r in rows) for k in ("n", "correct", "wrong_work")}
    before = dict(rows[0]["before"]) if rows else {"n": 0, "correct": 0, "wrong_work": 0}
    return {"after": after, "after_share": share(after), "before": before, "before_share": share(before)}


def _matrix(seeds: dict[int, dict[str, Records]], when: str):
    import numpy as np

    order = sorted(seeds)
    correct = np.array([[bool(r["correct"]) for r in seeds[s][when]] for s in order])
    wrong = np.array([[_wrong(r) for r in seeds[s][when]] for s in order])
    return correct, wrong


def bootstrap(seeds: dict[int, dict[str, Records]], draws: int = BOOTSTRAP["draws"],
              rng_seed: int = BOOTSTRAP["rng_seed"]) -> dict[str, Any]:
    """Percentile interval of the mean ``d`` when problems and seeds are both drawn with replacement (the plan):
    the same problems before and after in a draw, seeds without a share left out of the draw's mean, draws with no
    seed left counted (``undefined``) and set aside."""
    import numpy as np

    cb, wb = _matrix(seeds, "before")
    ca, wa = _matrix(seeds, "after")
    n_seeds, n_problems = ca.shape
    rng = np.random.default_rng(rng_seed)
    problems = rng.integers(0, n_problems, size=(draws, n_problems))
    picked = rng.integers(0, n_seeds, size=(draws, n_seeds))
    means = np.full(draws, np.nan)
    for i in range(draws):  # 10,000 draws of a 10 x 64 table: well under a second
        p, s = problems[i], picked[i]
        c_b, w_b = cb[s][:, p].sum(1), wb[s][:, p].sum(1)
        c_a, w_a = ca[s][:, p].sum(1), wa[s][:, p].sum(1)
        ok = (c_b > 0) & (c_a > 0)
        if ok.any():
            means[i] = np.mean(w_a[ok] / c_a[ok] - w_b[ok] / c_b[ok])
    defined = means[~np.isnan(means)]
    low, high = (np.percentile(defined, [2.5, 97.5]).tolist() if defined.size else (math.nan, math.nan))
    return {"draws": draws, "rng_seed": rng_seed, "undefined": int(draws - defined.size),
            "low": rounded(float(low), 4), "high": rounded(float(high), 4)}


def caveat(test: dict[str, Any], boot: dict[str, Any] | None) -> str | None:
    """The declared caveat: the seed interval excludes 0 but the bootstrap over problems and seeds does not."""
    if test.get("low") is None or boot is None or boot.get("low") is None:
        return None
    if (test["low"] > 0 or test["high"] < 0) and boot["low"] <= 0 <= boot["high"]:
        return ("the bootstrap over problems and seeds, which carries the before value's own uncertainty, covers 0: "
                "the answer rests on one measurement of the pretrained model")
    return None


def before_identical(seeds: dict[int, dict[str, Records]]) -> bool:
    """Whether every seed's before-records are the same answers (the pretrained model, greedy: they should be)."""
    texts = {tuple((r.get("index"), r.get("completion"), bool(r["correct"])) for r in s["before"])
             for s in seeds.values()}
    return len(texts) <= 1


def _rounded_rows(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**r, **{k: None if r[k] is None else round(r[k], 4) for k in ("before_share", "after_share", "d")}}
            for r in rows]


def _round_test(test: dict[str, Any]) -> dict[str, Any]:
    out = dict(test)
    for key in ("mean", "low", "high", "t", "p"):
        if out[key] is not None:
            out[key] = rounded(float(out[key]), 4)
    out["d"] = [round(d, 4) for d in test["d"]]
    return out


def analyse(primary: dict[int, dict[str, Records]], other: dict[int, dict[str, Records]]) -> dict[str, Any]:
    """The declared test on the primary seeds, and what is reported beside it (the plan)."""
    rows = seed_rows(primary)
    test = seed_test(rows)
    before = rows[0]["before"]
    low, high = wilson_interval(before["wrong_work"], before["correct"])
    boot = bootstrap(primary)
    other_rows = seed_rows(other)
    return {
        "before": {**before, "share": share(before), "share_ci95": [round(low, 4), round(high, 4)],
                   "identical_in_every_seed": before_identical(primary),
                   "note": "one measurement (the pretrained model, greedy); the seed interval treats it as fixed"},
        "seeds": _rounded_rows(rows),
        "test": _round_test(test),
        "caveat": caveat(test, boot),
        "pooled": pooled(rows),
        "bootstrap": boot,
        "other_precision": {"seeds": _rounded_rows(other_rows), "interval": _round_test(seed_test(other_rows)),
                            "note": "reported beside the primary seeds, not tested"},
    }


# --------------------------------------------------------------------------------------------------------------------
# The lab's stored examples
# --------------------------------------------------------------------------------------------------------------------


def _example_record(example: dict[str, Any]) -> dict[str, Any]:
    """A stored example as an evaluation record (the lab stores ``stopped``; cut off is its opposite)."""
    return {"correct": example["correct"], "completion": example["completion"], "truncated": not example["stopped"]}


def stored_examples(results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Per method (the lab's label; ``pretrained`` for the files' ``start``), over the results files ``results``
    (name -> its JSON): stored examples, correct ones, and correct ones with a false equation. The pretrained
    examples of files with one settings id are counted once (the same model, the same answers)."""
    methods: dict[str, dict[str, int]] = {}
    starts: set[tuple] = set()

    def add(label: str, examples: Sequence[dict[str, Any]]) -> None:
        entry = methods.setdefault(label, {"examples": 0, "correct": 0, "wrong_work": 0, "runs": 0})
        entry["runs"] += 1
        for example in examples:
            record = _example_record(example)
            entry["examples"] += 1
            entry["correct"] += bool(record["correct"])
            entry["wrong_work"] += _wrong(record)

    for name, data in results.items():
        start = (data.get("start") or {}).get("examples")
        key = (data.get("settings_id"), tuple(e["completion"] for e in start or ()))
        if start is not None and key not in starts:
            starts.add(key)
            add("pretrained", start)
        for run in data.get("runs") or ():
            add(run["label"], run.get("examples") or ())
    correct = sum(m["correct"] for m in methods.values())
    return {"files": list(results), "methods": methods,
            "note": f"descriptive only: little can be said, n = {correct} correct stored examples in all, "
                    f"{min((m['correct'] for m in methods.values()), default=0)} to "
                    f"{max((m['correct'] for m in methods.values()), default=0)} a method; chosen partly for being "
                    "correct and in format; the work checker's development set"}


def examples_text(summary: dict[str, Any]) -> str:
    """:func:`stored_examples` as one line of Markdown, per method "W of C correct" (the docs quote it; a test
    regenerates it from the committed JSON)."""
    parts = [f"`{label}` {m['wrong_work']} of {m['correct']}" for label, m in summary["methods"].items()]
    examples = sum(m["examples"] for m in summary["methods"].values())
    return (f"Of the {examples} example answers the lab's results files store ({', '.join(summary['files'])}), the "
            f"correct ones with a false equation, per method: {'; '.join(parts)}.")
