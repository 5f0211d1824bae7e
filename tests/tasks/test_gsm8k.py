"""Tests for srgrpo.tasks.gsm8k: file lookup, validation, the hub fallback and the command line. All offline."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from srgrpo import gsm8k as gsm8k_command
from srgrpo.tasks import gsm8k
from srgrpo.tasks.gsm8k import SYSTEM_PROMPT, GSM8KUnavailableError, find_data_file, load_gsm8k
from conftest import REPO

REPO_ROOT = REPO

ROWS = [
    {"question": "Tom has 3 apples and buys 4 more. How many apples does he have?", "answer": "3 + 4 = 7\n#### 7"},
    {"question": "A farm sells 500 eggs on each of 2 days. How many eggs?", "answer": "500 * 2 = 1000\n#### 1,000"},
    {"question": "It is 2 degrees and falls by 5. What is it now?", "answer": "2 - 5 = -3\n#### -3"},
    {"question": "Half of 1?", "answer": "1 / 2 = 0.5\n#### 0.5"},
]


def write_jsonl(folder: Path, split: str, rows=ROWS, extra_lines: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{split}.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + extra_lines, encoding="utf-8")
    return path


def force_hub_offline(monkeypatch) -> None:
    """HF_HUB_OFFLINE=1, also for huggingface_hub/datasets if already imported (they read it at import time)."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    if "huggingface_hub.constants" in sys.modules:
        monkeypatch.setattr(sys.modules["huggingface_hub.constants"], "HF_HUB_OFFLINE", True)
    if "datasets.config" in sys.modules:
        monkeypatch.setattr(sys.modules["datasets.config"], "HF_HUB_OFFLINE", True)


@pytest.fixture
def isolated(monkeypatch, tmp_path):
    """No SRGRPO_DATA_DIR, no repo/cwd data/gsm8k, hub offline, and downloads land in tmp_path/'download'."""
    force_hub_offline(monkeypatch)
    monkeypatch.delenv(gsm8k.ENV_DATA_DIR, raising=False)
    monkeypatch.setattr(gsm8k, "local_data_dirs", lambda: [tmp_path / "no-repo-data"])
    monkeypatch.setattr(gsm8k, "default_data_dir", lambda: tmp_path / "download")
    return tmp_path


# --------------------------------------------------------------------------------------------------------------------
# Loading from files
# --------------------------------------------------------------------------------------------------------------------


def test_load_from_data_dir(isolated):
    write_jsonl(isolated / "d", "train")
    ds = load_gsm8k("train", data_dir=isolated / "d")
    assert len(ds) == len(ROWS)
    assert set(ds.column_names) == {"prompt", "answer", "question", "solution"}
    assert ds["answer"] == ["7", "1000", "-3", "0.5"]
    assert ds["question"] == [r["question"] for r in ROWS]
    assert ds["solution"] == [r["answer"] for r in ROWS]
    assert ds[0]["prompt"] == [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": ROWS[0]["question"]},
    ]


def test_data_dir_accepts_str(isolated):
    write_jsonl(isolated / "d", "test")
    assert len(load_gsm8k("test", data_dir=str(isolated / "d"))) == len(ROWS)


def test_system_prompt_asks_for_the_format():
    assert "#### <number>" in SYSTEM_PROMPT
    assert "step by step" in SYSTEM_PROMPT
    assert "no units" in SYSTEM_PROMPT


@pytest.mark.parametrize("limit, expected", [(1, 1), (2, 2), (len(ROWS), len(ROWS)), (100, len(ROWS))])
def test_limit(isolated, limit, expected):
    write_jsonl(isolated / "d", "train")
    ds = load_gsm8k("train", data_dir=isolated / "d", limit=limit)
    assert len(ds) == expected
    assert ds["question"] == [r["question"] for r in ROWS[:expected]]


@pytest.mark.parametrize("limit", [0, -1, 1.5, "2", True])
def test_bad_limit(isolated, limit):
    write_jsonl(isolated / "d", "train")
    with pytest.raises(ValueError, match="limit"):
        load_gsm8k("train", data_dir=isolated / "d", limit=limit)


@pytest.mark.parametrize("split", ["validation", "Train", "", "all"])
def test_bad_split(isolated, split):
    with pytest.raises(ValueError, match="valid splits are 'train', 'test'"):
        load_gsm8k(split)


def test_blank_lines_are_fine(isolated):
    folder = isolated / "d"
    folder.mkdir()
    lines = [json.dumps(ROWS[0]), "", "   ", json.dumps(ROWS[1]), "", ""]
    (folder / "train.jsonl").write_text("\n".join(lines) + "\n\n", encoding="utf-8")
    assert load_gsm8k("train", data_dir=folder)["answer"] == ["7", "1000"]


@pytest.mark.parametrize(
    "bad_line, message",
    [
        ('{"question": "q", "answer": "1 + 1 = 2\\n#### 2"', "invalid JSON"),
        ("not json at all", "invalid JSON"),
        ('{"answer": "x\\n#### 2"}', "missing key 'question'"),
        ('{"question": "q"}', "missing key 'answer'"),
        ('{"question": "q", "answer": "one plus one is two"}', "no '#### <number>' line"),
        ('{"question": "q", "answer": "####\\n"}', "no '#### <number>' line"),
        ('{"question": "q", "answer": 2}', "'answer' must be a non-empty string"),
        ('["q", "#### 2"]', "expected a JSON object"),
    ],
)
def test_malformed_line_names_file_and_line(isolated, bad_line, message):
    folder = isolated / "d"
    folder.mkdir()
    path = folder / "test.jsonl"
    # The bad line is line 3 (1-based), after two good lines.
    path.write_text(f"{json.dumps(ROWS[0])}\n{json.dumps(ROWS[1])}\n{bad_line}\n", encoding="utf-8")
    with pytest.raises(ValueError) as excinfo:
        load_gsm8k("test", data_dir=folder)
    text = str(excinfo.value)
    assert str(path) in text
    assert "line 3" in text
    assert message in text


def test_explicit_data_dir_without_file_does_not_fall_through(isolated, monkeypatch):
    # Even with valid data elsewhere, a wrong explicit folder is an error.
    write_jsonl(isolated / "env", "train")
    monkeypatch.setenv(gsm8k.ENV_DATA_DIR, str(isolated / "env"))
    missing = isolated / "empty"
    missing.mkdir()
    with pytest.raises(FileNotFoundError) as excinfo:
        load_gsm8k("train", data_dir=missing)
    assert str(missing / "train.jsonl") in str(excinfo.value)
    assert "python -m srgrpo.gsm8k download" in str(excinfo.value)


# --------------------------------------------------------------------------------------------------------------------
# Lookup order
# --------------------------------------------------------------------------------------------------------------------


def test_env_var_lookup(isolated, monkeypatch):
    write_jsonl(isolated / "env", "test", rows=ROWS[:2])
    monkeypatch.setenv(gsm8k.ENV_DATA_DIR, str(isolated / "env"))
    assert find_data_file("test") == isolated / "env" / "test.jsonl"
    assert len(load_gsm8k("test")) == 2


def test_lookup_order(isolated, monkeypatch):
    write_jsonl(isolated / "arg", "train", rows=ROWS[:1])
    write_jsonl(isolated / "env", "train", rows=ROWS[:2])
    write_jsonl(isolated / "repo", "train", rows=ROWS[:3])
    monkeypatch.setattr(gsm8k, "local_data_dirs", lambda: [isolated / "repo"])
    assert len(load_gsm8k("train")) == 3  # only the repo folder
    monkeypatch.setenv(gsm8k.ENV_DATA_DIR, str(isolated / "env"))
    assert len(load_gsm8k("train")) == 2  # the environment variable beats the repo folder
    assert len(load_gsm8k("train", data_dir=isolated / "arg")) == 1  # the argument beats both


def test_env_var_without_the_split_falls_through_to_repo(isolated, monkeypatch):
    write_jsonl(isolated / "env", "test")
    write_jsonl(isolated / "repo", "train", rows=ROWS[:3])
    monkeypatch.setenv(gsm8k.ENV_DATA_DIR, str(isolated / "env"))
    monkeypatch.setattr(gsm8k, "local_data_dirs", lambda: [isolated / "repo"])
    assert find_data_file("train") == isolated / "repo" / "train.jsonl"


def test_local_data_dirs_real_function():
    dirs = gsm8k.local_data_dirs()
    assert dirs[0] == REPO_ROOT / "data" / "gsm8k"
    assert len(dirs) == len(set(dirs))


def test_local_data_dirs_includes_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert gsm8k.local_data_dirs() == [REPO_ROOT / "data" / "gsm8k", (tmp_path / "data" / "gsm8k").resolve()]


# --------------------------------------------------------------------------------------------------------------------
# No data: the hub fallback and its error
# --------------------------------------------------------------------------------------------------------------------


def assert_helpful(message: str) -> None:
    assert "python -m srgrpo.gsm8k download" in message
    assert "SRGRPO_DATA_DIR" in message
    assert "train.jsonl" in message and "test.jsonl" in message


def test_no_data_offline_gives_helpful_error(isolated, monkeypatch):
    monkeypatch.setenv(gsm8k.ENV_DATA_DIR, str(isolated / "nonexistent"))
    start = time.perf_counter()
    try:
        load_gsm8k("test")
    except GSM8KUnavailableError as exc:
        assert isinstance(exc, RuntimeError)
        assert_helpful(str(exc))
        assert "not found locally" in str(exc)
        assert exc.__cause__ is not None  # the hub's own error is chained for debugging
    else:  # pragma: no cover - depends on the machine's Hugging Face cache
        pytest.skip("openai/gsm8k is in this machine's Hugging Face cache, so offline loading succeeded")
    assert time.perf_counter() - start < 30
    assert not (isolated / "download").exists()


def test_no_data_unreachable_hub_fails_fast(isolated, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setattr(gsm8k, "_hub_probably_reachable", lambda: False)
    with pytest.raises(RuntimeError) as excinfo:
        load_gsm8k("train")
    assert_helpful(str(excinfo.value))
    assert "not reachable" in str(excinfo.value)


def test_hub_errors_are_caught_and_chained(isolated, monkeypatch):
    import datasets

    def broken(*args, **kwargs):
        raise ValueError("something deep inside datasets")

    monkeypatch.setattr(gsm8k, "_hub_probably_reachable", lambda: True)
    monkeypatch.setattr(datasets, "load_dataset", broken)
    with pytest.raises(GSM8KUnavailableError) as excinfo:
        gsm8k.download_gsm8k(isolated / "out")
    assert isinstance(excinfo.value.__cause__, ValueError)
    assert "something deep inside datasets" in str(excinfo.value)
    assert_helpful(str(excinfo.value))
    assert not (isolated / "out").exists()


def test_hub_fallback_saves_jsonl_for_offline_use(isolated, monkeypatch):
    import datasets

    calls = []

    def fake_load_dataset(name, config, split):
        calls.append((name, config, split))
        return [dict(r, extra="ignored") for r in ROWS]

    monkeypatch.setattr(gsm8k, "_hub_probably_reachable", lambda: True)
    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    ds = load_gsm8k("train", limit=3)
    assert calls == [("openai/gsm8k", "main", "train")]
    assert ds["answer"] == ["7", "1000", "-3"]
    saved = isolated / "download" / "train.jsonl"
    assert [json.loads(line) for line in saved.read_text(encoding="utf-8").splitlines()] == ROWS
    # The saved copy is used from now on.
    monkeypatch.setattr(gsm8k, "local_data_dirs", lambda: [isolated / "download"])
    assert len(load_gsm8k("train")) == len(ROWS)
    assert len(calls) == 1


def test_download_writes_both_splits(isolated, monkeypatch):
    import datasets

    monkeypatch.setattr(gsm8k, "_hub_probably_reachable", lambda: True)
    monkeypatch.setattr(datasets, "load_dataset", lambda name, config, split: ROWS[: 2 if split == "test" else 4])
    counts = gsm8k.download_gsm8k(isolated / "out")
    assert counts == {"train": 4, "test": 2}
    assert len(load_gsm8k("test", data_dir=isolated / "out")) == 2
    assert not list((isolated / "out").glob(".*tmp"))  # no temporary files left behind


# --------------------------------------------------------------------------------------------------------------------
# Command line (subprocesses with a fresh, empty Hugging Face cache and offline mode)
# --------------------------------------------------------------------------------------------------------------------


def run_cli(tmp_path: Path, *args: str, **env_extra: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != gsm8k.ENV_DATA_DIR}
    env.update(
        HF_HUB_OFFLINE="1",
        HF_HOME=str(tmp_path / "hf-home"),
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")])),
        **env_extra,
    )
    return subprocess.run(
        [sys.executable, "-m", "srgrpo.gsm8k", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_download_offline_fails_clearly(tmp_path):
    out = tmp_path / "out"
    proc = run_cli(tmp_path, "download", "--data_dir", str(out))
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert_helpful(proc.stderr)
    assert not out.exists()


def test_cli_info(tmp_path):
    write_jsonl(tmp_path / "env", "train")
    write_jsonl(tmp_path / "env", "test", rows=ROWS[:2])
    proc = run_cli(tmp_path, "info", **{gsm8k.ENV_DATA_DIR: str(tmp_path / "env")})
    assert proc.returncode == 0, proc.stderr
    assert f"train: {len(ROWS)} problems in {tmp_path / 'env' / 'train.jsonl'}" in proc.stdout
    assert f"test: 2 problems in {tmp_path / 'env' / 'test.jsonl'}" in proc.stdout


# The remaining command-line cases run main() in-process: a subprocess costs seconds of imports each.


def test_main_info_in_process(isolated, monkeypatch, capsys):
    write_jsonl(isolated / "env", "test", rows=ROWS[:2])
    monkeypatch.setenv(gsm8k.ENV_DATA_DIR, str(isolated / "env"))
    assert gsm8k_command.main(["info"]) == 1  # train is missing
    out = capsys.readouterr().out
    assert f"test: 2 problems in {isolated / 'env' / 'test.jsonl'}" in out
    assert "train: not found locally" in out and "python -m srgrpo.gsm8k download" in out


def test_main_info_missing_data_dir(isolated, capsys):
    assert gsm8k_command.main(["info", "--data_dir", str(isolated / "nothing")]) == 1
    err = capsys.readouterr().err
    assert str(isolated / "nothing" / "train.jsonl") in err
    assert str(isolated / "nothing" / "test.jsonl") in err


def test_main_download_in_process(isolated, monkeypatch, capsys):
    import datasets

    monkeypatch.setattr(gsm8k, "_hub_probably_reachable", lambda: True)
    monkeypatch.setattr(datasets, "load_dataset", lambda name, config, split: ROWS[:3])
    assert gsm8k_command.main(["download", "--data_dir", str(isolated / "out")]) == 0
    out = capsys.readouterr().out
    assert f"train: 3 problems -> {isolated / 'out' / 'train.jsonl'}" in out
    assert "test: 3 problems" in out


def test_main_requires_a_command(capsys):
    with pytest.raises(SystemExit) as excinfo:
        gsm8k_command.main([])
    assert excinfo.value.code == 2
    assert "download" in capsys.readouterr().err
