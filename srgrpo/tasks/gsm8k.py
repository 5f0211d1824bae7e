"""GSM8K: grade-school math word problems, loaded as prompts for GRPO.

What GSM8K is
-------------
GSM8K (Cobbe et al., 2021, "Training Verifiers to Solve Math Word Problems") holds 8,792 grade-school math word
problems written by people: 7,473 for training and 1,319 for testing. Each takes 2 to 8 steps of basic arithmetic,
and each gold solution is a short worked explanation whose last line gives the answer as ``#### <number>``::

    {"question": "Janet's ducks lay 16 eggs per day. ...",
     "answer": "Janet sells 16 - 3 - 4 = <<16-3-4=9>>9 duck eggs a day.\\n...\\n#### 18"}

(The ``<<16-3-4=9>>`` marks are calculator annotations from the original data.) Because every answer is a single
number, a completion can be graded automatically, which is what makes GSM8K a good first task for reinforcement
learning with verifiable rewards. The kit asks the model for the same ``#### <number>`` last line (see
:data:`SYSTEM_PROMPT` and :mod:`srgrpo.tasks.rewards`).

Where the data comes from
-------------------------
:func:`load_gsm8k` looks for ``{split}.jsonl`` (one ``{"question", "answer"}`` object per line) in this order:

1. the ``data_dir`` argument; if given, the file must be there (``FileNotFoundError`` otherwise, no fallback);
2. the directory in the environment variable ``SRGRPO_DATA_DIR``;
3. the repository's git-ignored ``data/gsm8k/`` (found relative to this package), then ``data/gsm8k/`` under the
   current working directory when that is a different folder (e.g. a notebook started elsewhere with the package
   installed from PyPI);
4. the Hugging Face hub: ``datasets.load_dataset("openai/gsm8k", "main")``, saved as JSONL into ``data/gsm8k/`` so
   later runs work offline.

Without network, provide the files yourself: run ``python -m srgrpo.gsm8k download`` on a machine that has network
and copy ``data/gsm8k/`` over, or point ``SRGRPO_DATA_DIR`` (or ``data_dir=``) at a folder holding ``train.jsonl`` and
``test.jsonl`` (the original files from github.com/openai/grade-school-math have exactly this layout).

Command line (:mod:`srgrpo.gsm8k`)::

    python -m srgrpo.gsm8k download [--data_dir DIR]   # fetch both splits from the hub into DIR (default data/gsm8k)
    python -m srgrpo.gsm8k info [--data_dir DIR]       # where each split is found, and how many problems it has

Prompts longer than the trainer's ``max_prompt_length`` are the trainer's business, not this loader's.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from srgrpo.tasks.rewards import ANSWER_FORMAT, extract_gold_answer
from srgrpo.plumbing.runtime import REPO_ROOT, atomic_write_text, env_flag, hub_offline, hub_reachable

if TYPE_CHECKING:  # importing datasets takes about a second; only load_gsm8k needs it
    import datasets

__all__ = [
    "SYSTEM_PROMPT",
    "SPLITS",
    "HF_DATASET",
    "HF_CONFIG",
    "ENV_DATA_DIR",
    "GSM8KUnavailableError",
    "default_data_dir",
    "local_data_dirs",
    "find_data_file",
    "read_jsonl",
    "load_gsm8k",
    "download_gsm8k",
    "HOW_TO_PROVIDE",
]

#: System message of every prompt. It asks for reasoning first (GRPO needs room to explore) and a machine-checkable
#: last line in the kit's format.
SYSTEM_PROMPT = (
    "Solve the math word problem. Think it through step by step and show your reasoning. "
    f"Then write the final answer on its own last line in the form `{ANSWER_FORMAT}`, for example `#### 42`: "
    "the number only, with no units, currency signs or words."
)

SPLITS = ("train", "test")
HF_DATASET = "openai/gsm8k"
HF_CONFIG = "main"
ENV_DATA_DIR = "SRGRPO_DATA_DIR"

HOW_TO_PROVIDE = (
    "To provide GSM8K: run `python -m srgrpo.gsm8k download` on a machine with network access "
    "(it writes data/gsm8k/train.jsonl and test.jsonl; copy that folder here), or set the environment variable "
    f"{ENV_DATA_DIR} (or pass data_dir=...) to a folder holding train.jsonl and test.jsonl, one "
    '{"question": ..., "answer": "...\\n#### <number>"} object per line.'
)


class GSM8KUnavailableError(RuntimeError):
    """GSM8K is neither on disk nor reachable on the hub. The message says how to provide it."""


# --------------------------------------------------------------------------------------------------------------------
# Finding files
# --------------------------------------------------------------------------------------------------------------------


def _package_data_dir() -> Path:
    return REPO_ROOT / "data" / "gsm8k"


def default_data_dir() -> Path:
    """Where downloads go: the repository's ``data/gsm8k`` in a source checkout, else ``./data/gsm8k``.

    A checkout is recognised by ``pyproject.toml`` next to the package; an installed package lives in
    ``site-packages``, where writing data would be wrong.
    """
    if (REPO_ROOT / "pyproject.toml").is_file():
        return _package_data_dir()
    return Path.cwd() / "data" / "gsm8k"


def local_data_dirs() -> list[Path]:
    """Step 3 of the lookup: the package-relative ``data/gsm8k`` and, if different, ``./data/gsm8k``."""
    dirs = [_package_data_dir()]
    cwd_dir = (Path.cwd() / "data" / "gsm8k").resolve()
    if cwd_dir != dirs[0]:
        dirs.append(cwd_dir)
    return dirs


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"unknown GSM8K split {split!r}; valid splits are {', '.join(map(repr, SPLITS))}")


def find_data_file(split: str, data_dir: str | os.PathLike[str] | None = None) -> Path | None:
    """Path of ``{split}.jsonl`` following steps 1-3 of the lookup order, or ``None`` if no local copy exists.

    Raises ``FileNotFoundError`` when ``data_dir`` is given but lacks the file: an explicit folder is never silently
    replaced by another one.
    """
    _check_split(split)
    name = f"{split}.jsonl"
    if data_dir is not None:
        path = Path(data_dir).expanduser() / name
        if not path.is_file():
            raise FileNotFoundError(f"GSM8K file not found: {path} (data_dir={str(data_dir)!r}). {HOW_TO_PROVIDE}")
        return path
    candidates = []
    env_dir = os.environ.get(ENV_DATA_DIR, "").strip()
    if env_dir:
        candidates.append(Path(env_dir).expanduser())
    candidates.extend(local_data_dirs())
    for folder in candidates:
        if (folder / name).is_file():
            return folder / name
    return None


# --------------------------------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------------------------------


def _validate_record(record: Any, where: str) -> tuple[str, str, str]:
    """``(question, solution, gold number)`` of one JSONL record; ``ValueError`` naming ``where`` if malformed."""
    if not isinstance(record, dict):
        raise ValueError(f"{where}: expected a JSON object, got {type(record).__name__}")
    for key in ("question", "answer"):
        if key not in record:
            raise ValueError(f"{where}: missing key {key!r} (each line needs 'question' and 'answer')")
        if not isinstance(record[key], str) or not record[key].strip():
            raise ValueError(f"{where}: {key!r} must be a non-empty string")
    gold = extract_gold_answer(record["answer"])
    if gold is None:
        raise ValueError(f"{where}: the 'answer' has no '{ANSWER_FORMAT}' line with a number")
    return record["question"], record["answer"], gold


def read_jsonl(path: str | os.PathLike[str], limit: int | None = None) -> Iterator[tuple[str, str, str]]:
    """Yield ``(question, solution, gold number)`` from a GSM8K JSONL file, validating every line.

    Blank lines are skipped. A bad line raises ``ValueError`` with the file and 1-based line number. Reading stops
    after ``limit`` records, so ``limit`` also saves time on the 4 MB train file.
    """
    path = Path(path)
    count = 0
    with path.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            if limit is not None and count >= limit:
                return
            if not line.strip():
                continue
            where = f"{path}, line {lineno}"
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{where}: invalid JSON ({exc.msg})") from exc
            yield _validate_record(record, where)
            count += 1


def _make_prompt(question: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": question}]


def _to_dataset(rows: list[tuple[str, str, str]]) -> "datasets.Dataset":
    import datasets

    return datasets.Dataset.from_dict(
        {
            "prompt": [_make_prompt(q) for q, _, _ in rows],
            "answer": [gold for _, _, gold in rows],
            "question": [q for q, _, _ in rows],
            "solution": [sol for _, sol, _ in rows],
        }
    )


def _check_limit(limit: int | None) -> None:
    if limit is None:
        return
    if isinstance(limit, bool) or not isinstance(limit, int) or limit <= 0:
        raise ValueError(f"limit must be a positive integer or None, got {limit!r}")


def load_gsm8k(
    split: str,
    data_dir: str | os.PathLike[str] | None = None,
    limit: int | None = None,
) -> "datasets.Dataset":
    """GSM8K ``split`` ("train" or "test") as a ``datasets.Dataset`` ready for TRL's ``GRPOTrainer``.

    Columns: ``prompt`` (chat messages: :data:`SYSTEM_PROMPT`, then the question), ``answer`` (the gold number,
    normalised as in :func:`srgrpo.tasks.rewards.normalize_number`, e.g. ``"18"``), ``question`` and ``solution`` (the
    original worked gold solution). ``limit`` keeps the first ``limit`` problems. Files are looked up as described in
    the module docstring; if none is found the hub is tried, and :class:`GSM8KUnavailableError` explains how to
    provide the data when that fails too.
    """
    _check_split(split)
    _check_limit(limit)
    path = find_data_file(split, data_dir)
    if path is not None:
        return _to_dataset(list(read_jsonl(path, limit=limit)))
    try:
        records = _hub_records(split)
    except GSM8KUnavailableError as exc:
        searched = [os.environ.get(ENV_DATA_DIR, "").strip() or f"${ENV_DATA_DIR} (unset)"]
        searched += [str(d) for d in local_data_dirs()]
        raise GSM8KUnavailableError(
            f"GSM8K {split!r} split not found locally (looked for {split}.jsonl in: {'; '.join(searched)}), "
            f"and {exc}. {HOW_TO_PROVIDE}"
        ) from (exc.__cause__ or exc)
    target = default_data_dir() / f"{split}.jsonl"
    try:
        _write_jsonl(records, target)
    except OSError as exc:  # a read-only checkout should not stop training; it only loses the offline copy
        warnings.warn(f"could not save GSM8K to {target} ({exc}); it will be downloaded again next time", stacklevel=2)
    rows = [_validate_record(r, f"{HF_DATASET} {split} row {i}") for i, r in enumerate(records, start=1)]
    return _to_dataset(rows[:limit] if limit is not None else rows)


# --------------------------------------------------------------------------------------------------------------------
# Downloading
# --------------------------------------------------------------------------------------------------------------------


def _hub_probably_reachable() -> bool:
    """Cheap check that the hub's host accepts connections, so an offline machine fails in seconds, not ~25 s.

    Skipped (True) when a proxy is configured or offline mode is on: a direct connection says nothing about a proxy,
    and in offline mode ``datasets`` fails fast itself, or serves its own cache.
    """
    if hub_offline() or env_flag("HF_DATASETS_OFFLINE"):
        return True
    return hub_reachable()


def _write_jsonl(rows: list[dict[str, str]], path: Path) -> None:
    """Write atomically, so an interrupted download never leaves a truncated file that later looks like data."""
    atomic_write_text(path, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))


def _hub_records(split: str) -> list[dict[str, str]]:
    """``{"question", "answer"}`` records of one split from the hub; :class:`GSM8KUnavailableError` if that fails.

    The error message says only what went wrong (callers add how to provide the data); the original exception is
    chained.
    """
    if not _hub_probably_reachable():
        raise GSM8KUnavailableError(
            f"the Hugging Face hub ({os.environ.get('HF_ENDPOINT', 'https://huggingface.co')}) is not reachable"
        )
    try:
        import datasets

        ds = datasets.load_dataset(HF_DATASET, HF_CONFIG, split=split)
        records = [{"question": r["question"], "answer": r["answer"]} for r in ds]
    # datasets raises ConnectionError, OSError, HfHubHTTPError, ValueError... depending on its version and on what
    # failed; all mean "no data from the hub", and the chained exception keeps the details.
    except Exception as exc:
        raise GSM8KUnavailableError(
            f"downloading {HF_DATASET} ({split}) from the Hugging Face hub failed: {type(exc).__name__}: {exc}"
        ) from exc
    for i, record in enumerate(records, start=1):
        _validate_record(record, f"{HF_DATASET} {split} row {i}")
    return records


def download_gsm8k(
    data_dir: str | os.PathLike[str] | None = None,
    splits: tuple[str, ...] | list[str] = SPLITS,
) -> dict[str, int]:
    """Fetch ``splits`` of ``openai/gsm8k`` (config ``main``) from the hub into ``data_dir`` as JSONL.

    ``data_dir`` defaults to :func:`default_data_dir`. Returns ``{split: number of problems}``. Raises
    :class:`GSM8KUnavailableError` (chaining the original error) when the hub cannot be used.
    """
    for split in splits:
        _check_split(split)
    target = Path(data_dir).expanduser() if data_dir is not None else default_data_dir()
    counts = {}
    for split in splits:
        try:
            records = _hub_records(split)
        except GSM8KUnavailableError as exc:
            raise GSM8KUnavailableError(f"{exc}. {HOW_TO_PROVIDE}") from (exc.__cause__ or exc)
        _write_jsonl(records, target / f"{split}.jsonl")
        counts[split] = len(records)
    return counts
