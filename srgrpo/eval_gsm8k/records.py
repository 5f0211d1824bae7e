"""The files of an evaluation: its records (one JSON line per problem), its settings id, its summary numbers.

:mod:`srgrpo.eval_gsm8k` appends a record per problem to ``FILE.jsonl`` after every batch (:func:`append_records`)
and reads them back on a rerun (:func:`read_records`), so an interrupted evaluation resumes; every record carries the
``settings_id`` of :func:`generation_settings`, so records made with other settings are refused
(:class:`SettingsMismatchError`); :func:`summarize` turns records into accuracies with 95% Wilson intervals.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

from srgrpo.plumbing.stats import wilson_interval

__all__ = ["SettingsMismatchError", "read_records", "append_records", "generation_settings", "score_record",
           "summarize", "false_equations"]


class SettingsMismatchError(ValueError):
    """The records file was written with other settings."""


# --------------------------------------------------------------------------------------------------------------------
# Records file
# --------------------------------------------------------------------------------------------------------------------


def read_records(path: Path, settings_id: str | None = None, repair: bool = True) -> dict[int, dict[str, Any]]:
    """Records of a JSONL file by index.

    A last line without its newline, or that is not valid JSON, is the remains of an interrupted write: it is dropped
    (and cut from the file when ``repair``). Invalid JSON anywhere else raises ``ValueError``. With ``settings_id``,
    a record made with other settings raises :class:`SettingsMismatchError`. Duplicated indices keep the first.
    """
    records: dict[int, dict[str, Any]] = {}
    if not path.is_file():
        return records
    data = path.read_bytes()
    lines = data.split(b"\n")
    tail = lines.pop()  # after the last newline: b"" for a complete file
    good_bytes = len(data) - len(tail)
    if tail.strip():
        print(f"srgrpo: dropping a truncated last line of {path} (an interrupted write).", file=sys.stderr)
    for lineno, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            rec = json.loads(raw)
        except ValueError:
            if lineno == len(lines) and not tail.strip():
                print(f"srgrpo: dropping an unreadable last line of {path}.", file=sys.stderr)
                good_bytes -= len(raw) + 1
                break
            raise ValueError(f"{path}, line {lineno}: not valid JSON; the file is damaged (use a new --output)")
        if not isinstance(rec, dict) or "index" not in rec:
            raise ValueError(f"{path}, line {lineno}: not an evaluation record (no 'index')")
        if settings_id is not None and rec.get("settings_id") != settings_id:
            raise SettingsMismatchError(
                f"{path} holds records made with other settings (settings_id {rec.get('settings_id')!r}, now "
                f"{settings_id!r}: a different model, adapter, split, prompt, max_new_tokens, dtype or back end). "
                "Use a new --output for these settings, or --overwrite to discard the old records."
            )
        records.setdefault(int(rec["index"]), rec)
    if repair and good_bytes < len(data):
        with open(path, "r+b") as f:
            f.truncate(good_bytes)
    return records


def append_records(path: Path, records: list[dict[str, Any]]) -> None:
    """Append records as JSON lines, flushed and synced, so a kill loses at most the batch being written."""
    with open(path, "a", encoding="utf-8") as f:
        f.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
        f.flush()
        os.fsync(f.fileno())


# --------------------------------------------------------------------------------------------------------------------
# Settings and summary
# --------------------------------------------------------------------------------------------------------------------


def _adapter_identity(adapter: str | None) -> dict[str, Any] | None:
    if adapter is None:
        return None
    folder = Path(adapter).expanduser().resolve()
    weights = folder / "adapter_model.safetensors"
    ident = {"path": str(folder)}
    if weights.is_file():
        digest = hashlib.sha1()
        with open(weights, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
        ident["weights_sha1"] = digest.hexdigest()[:12]
    return ident


def generation_settings(*, model: str, adapter: str | None, split: str, data_file: str, max_new_tokens: int,
                        dtype: str, backend: str, system_prompt: str, dataset: str = "gsm8k") -> dict[str, Any]:
    """The settings that change a completion, and their ``settings_id`` (a short hash)."""
    settings = {
        "model": model,
        "adapter": _adapter_identity(adapter),
        **({} if dataset == "gsm8k" else {"dataset": dataset}),  # GSM8K records of earlier versions stay valid
        "split": split,
        "data_file": data_file,
        "system_prompt_sha1": hashlib.sha1(system_prompt.encode()).hexdigest()[:12],
        "decoding": "greedy",
        "max_new_tokens": max_new_tokens,
        "dtype": dtype,
        "backend": backend,
    }
    blob = json.dumps(settings, sort_keys=True).encode()
    settings["settings_id"] = hashlib.sha1(blob).hexdigest()[:12]
    return settings


def score_record(index: int, row: dict[str, Any], text: str, num_tokens: int, truncated: bool,
                 settings_id: str | None = None) -> dict[str, Any]:
    """One problem's record: the completion and its scores (:mod:`srgrpo.tasks.rewards`).

    ``row`` is a problem (``question``, ``answer``); ``truncated``: the completion ran to ``max_new_tokens``, so only
    an explicit answer counts and it gets no format credit. ``any_answer_line``: a ``#### N`` line anywhere, whether
    or not the completion stopped after it ("in format" is ``format_score == 1.0``). ``equations`` and
    ``false_equations``: the equations the work writes and how many of them are false (:mod:`srgrpo.tasks.work`).
    """
    from srgrpo.tasks.rewards import (correctness_reward, extract_final_answer, format_score, has_answer_line,
                                is_strict_correct)
    from srgrpo.tasks.work import check_work

    cut = bool(truncated)
    work = check_work(text, cut_off=cut)
    return {
        "index": index,
        "question": row["question"],
        "gold": row["answer"],
        "completion": text,
        "predicted": extract_final_answer(text, cut_off=cut),
        "correct": correctness_reward([text], [row["answer"]], cut_off=[cut])[0] == 1.0,
        "strict_correct": bool(is_strict_correct(text, row["answer"], cut_off=cut)),
        "format_score": format_score(text, cut_off=cut),
        "any_answer_line": has_answer_line(text),
        "equations": work.count,
        "false_equations": work.false,
        "num_tokens": num_tokens,
        "truncated": cut,
        "settings_id": settings_id,
    }


def false_equations(record: dict[str, Any]) -> int:
    """How many equations of a record's work are false: stored by :func:`score_record`, or (records written before
    the count existed) checked now from its completion."""
    if record.get("false_equations") is not None:
        return int(record["false_equations"])
    from srgrpo.tasks.work import check_work

    return check_work(record.get("completion") or "", cut_off=bool(record.get("truncated"))).false


def summarize(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Accuracy numbers of a list of records, with 95 % Wilson intervals.

    ``sound``: correct, and no equation in the work is false (:mod:`srgrpo.glossary`); ``wrong_work``: correct with
    at least one false equation ("right answer, wrong work"), and ``wrong_work_share`` its share of the correct
    answers (None when none is correct)."""
    n = len(records)
    correct = sum(bool(r["correct"]) for r in records)
    sound = sum(bool(r["correct"]) and false_equations(r) == 0 for r in records)
    strict = sum(bool(r["strict_correct"]) for r in records)
    fmt = sum(r.get("format_score") == 1.0 for r in records)
    tokens = [r["num_tokens"] for r in records if r.get("num_tokens") is not None]
    truncated = sum(bool(r.get("truncated")) for r in records)
    return {
        "n": n,
        "correct": correct,
        "accuracy": correct / n if n else 0.0,
        "accuracy_ci95": list(wilson_interval(correct, n)),
        "strict_correct": strict,
        "strict_accuracy": strict / n if n else 0.0,
        "strict_accuracy_ci95": list(wilson_interval(strict, n)),
        "sound": sound,
        "sound_rate": sound / n if n else 0.0,
        "sound_rate_ci95": list(wilson_interval(sound, n)),
        "wrong_work": correct - sound,
        "wrong_work_share": (correct - sound) / correct if correct else None,
        "format_rate": fmt / n if n else 0.0,
        "answer_line_rate": sum(bool(r.get("any_answer_line")) for r in records) / n if n else 0.0,
        "mean_completion_tokens": sum(tokens) / len(tokens) if tokens else None,
        "truncated_rate": truncated / n if n else 0.0,
    }
