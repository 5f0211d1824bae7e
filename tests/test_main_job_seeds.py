"""benchmarks/main_job_seeds.py: a finished seed comes back only as one of its own recipe, in its own precision.

The main job is never run here: a fake job (:class:`FakeJob`, in place of the script's ``run_job``) writes the files
a finished ``python -m srgrpo`` leaves (its evaluations' summaries and records, ``srgrpo_config.yaml``) and its
verdict, and counts its calls.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import os
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent


def _load():
    spec = importlib.util.spec_from_file_location("main_job_seeds", REPO / "benchmarks" / "main_job_seeds.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


mjs = _load()

RECIPE = {
    "preset": "smollm2_cpu",
    "script": {"model_name_or_path": "smollm2", "dataset_name": "arithmetic", "system_prompt": "instructions"},
    "training": {"learning_rate": 5e-4, "max_steps": 16, "bf16": False, "temperature": 0.7, "loss_type": "dapo"},
    "system_message": "Solve the math word problem. ... `#### <number>`",
    "evaluation": {"dataset": "arithmetic", "split": "test", "limit": 4, "max_new_tokens": 96, "batch_size": 4},
    "problems": {"train": "a7df46dff0ef", "held_out": "62f2cbed9d1c"},
    "precision": "float32",
}


def changed(recipe: dict, path: str, value) -> dict:
    out = copy.deepcopy(recipe)
    *heads, last = path.split(".")
    node = out
    for head in heads:
        node = node[head]
    node[last] = value
    return out


class FakeJob:
    """Stands in for the script's ``run_job``: writes a finished main job into the folder; ``dtype`` is the precision it
    reports (the pinned one unless a test says otherwise)."""

    def __init__(self, dtype: str | None = None):
        self.calls: list[tuple[int, Path, str]] = []
        self.dtype = dtype

    def __call__(self, seed: int, folder: Path, precision: str) -> str:
        self.calls.append((seed, folder, precision))
        dtype = self.dtype or precision
        folder.mkdir(parents=True, exist_ok=True)
        for when, correct in (("before", 1), ("after", 2 + seed % 3)):
            records = [{"index": i, "question": f"q{i}", "gold": str(i), "completion": f"work\n#### {i}",
                        "predicted": str(i), "correct": i < correct, "strict_correct": i < correct,
                        "format_score": 1.0, "truncated": i == 3, "num_tokens": 9, "settings_id": when}
                       for i in (3, 0, 2, 1)]  # written out of order, as the evaluate command does (longest first)
            (folder / f"eval_{when}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
            summary = {"n": 4, "correct": correct, "format_rate": 0.75, "truncated_rate": 0.25,
                       "settings": {"dtype": dtype}}
            (folder / f"eval_{when}.json").write_text(json.dumps(summary))
        (folder / "srgrpo_config.yaml").write_text(yaml.safe_dump({"model": {"dtype": dtype}, "train_seconds": 60.5}))
        return (f"...\n== verdict: smollm2, 4 held-out problems, before -> after (1.0 min in all; the run is in "
                f"{folder}) ==\ncorrect:   1/4 -> {2 + seed % 3}/4\nin format: 3/4 -> 3/4;   cut off: 1/4 -> 1/4\n"
                "figures:   training.png, held_out.png\n")


@pytest.fixture
def job(monkeypatch):
    fake = FakeJob()
    monkeypatch.setattr(mjs, "run_job", fake)
    return fake


def test_the_recipe_id_changes_with_every_setting_and_only_then():
    rid = mjs.recipe_id(RECIPE)
    assert mjs.recipe_id(json.loads(json.dumps(RECIPE, sort_keys=True))) == rid  # key order is not a setting
    leaves = [("preset", "gsm8k_t4"), ("script.system_prompt", "worked_example"), ("training.learning_rate", 2.5e-4),
              ("training.bf16", True), ("system_message", RECIPE["system_message"] + " "),
              ("evaluation.max_new_tokens", 128), ("problems.held_out", "000000000000"), ("precision", "bfloat16")]
    ids = {mjs.recipe_id(changed(RECIPE, path, value)) for path, value in leaves}
    assert len(ids) == len(leaves) and rid not in ids


def test_differences_name_each_changed_setting():
    other = changed(changed(RECIPE, "training.learning_rate", 2.5e-4), "precision", "bfloat16")
    assert mjs.differences(RECIPE, other) == ["precision: 'float32' -> 'bfloat16'",
                                              "training.learning_rate: 0.0005 -> 0.00025"]
    assert mjs.differences(None, RECIPE) == ["it records no recipe (made before recipe ids)"]


def test_a_finished_seed_of_this_recipe_is_read_back_not_rerun(tmp_path, job):
    folder, record = mjs.run_seed(0, tmp_path, RECIPE)
    assert folder == tmp_path / f"seed-0-{mjs.recipe_id(RECIPE)}" and len(job.calls) == 1
    assert job.calls[0][2] == "float32"  # the job is asked for the recipe's precision
    assert record["recipe_id"] == mjs.recipe_id(RECIPE) and record["precision"] == "float32"
    assert record["before"] == {"n": 4, "correct": 1, "in_format": 3, "cut_off": 1}
    assert record["machine"]["cpu_model"] == mjs.machine_record()["cpu_model"]
    assert "cpu_features" in record["machine"] and record["train_seconds"] == 60.5
    assert record["verdict"][1:3] == ["correct:   1/4 -> 2/4", "in format: 3/4 -> 3/4;   cut off: 1/4 -> 1/4"]
    again_folder, again = mjs.run_seed(0, tmp_path, json.loads(json.dumps(RECIPE)))
    assert (again_folder, again) == (folder, json.loads(json.dumps(record))) and len(job.calls) == 1


def test_a_seed_of_another_recipe_is_rerun_in_a_new_folder_and_kept(tmp_path, job, capsys):
    old_folder, _ = mjs.run_seed(0, tmp_path, RECIPE)
    old_bytes = (old_folder / mjs.RECORD).read_bytes()
    new_recipe = changed(RECIPE, "training.learning_rate", 1e-3)
    new_folder, record = mjs.run_seed(0, tmp_path, new_recipe)
    assert len(job.calls) == 2 and new_folder != old_folder and job.calls[1][1] == new_folder
    assert record["recipe_id"] == mjs.recipe_id(new_recipe) != mjs.recipe_id(RECIPE)
    assert (old_folder / mjs.RECORD).read_bytes() == old_bytes  # never read back, never deleted
    out = capsys.readouterr().out
    assert f"{old_folder} holds a run of another recipe" in out and "training.learning_rate: 0.0005 -> 0.001" in out
    assert "a new folder" in out
    # Both recipes' runs now exist side by side; each is read back as its own.
    assert mjs.run_seed(0, tmp_path, RECIPE)[0] == old_folder
    assert mjs.run_seed(0, tmp_path, new_recipe)[0] == new_folder
    assert len(job.calls) == 2


def test_a_seed_of_the_earlier_layout_is_not_read_back(tmp_path, job, capsys):
    """A record as the script wrote it before recipe ids (a stored row without ``recipe_id``, ``precision`` and
    ``records``, as seeds 0-2 of the earlier recipe were) is of no known recipe."""
    stored = json.loads((REPO / "data" / "benchmarks" / "main_job_seeds.json").read_text())
    row = {k: v for k, v in stored["runs"][0].items() if k not in ("recipe_id", "precision", "records")}
    legacy = tmp_path / "seed-0"
    legacy.mkdir()
    (legacy / mjs.RECORD).write_text(json.dumps({**row, "seed": 0}))
    folder, record = mjs.run_seed(0, tmp_path, RECIPE)
    assert len(job.calls) == 1 and folder != legacy and record["recipe_id"] == mjs.recipe_id(RECIPE)
    assert "records no recipe" in capsys.readouterr().out


def test_only_this_seeds_runs_count(tmp_path, job):
    """seed-10's run is not seed 1's, even of the same recipe; a damaged record is an unfinished run."""
    mjs.run_seed(10, tmp_path, RECIPE)
    damaged = tmp_path / f"seed-1-{mjs.recipe_id(RECIPE)}"
    damaged.mkdir()
    (damaged / mjs.RECORD).write_text('{"seed": 1, "recipe_')
    folder, record = mjs.run_seed(1, tmp_path, RECIPE)
    assert [c[0] for c in job.calls] == [10, 1] and folder == damaged and record["seed"] == 1


def test_another_recipes_run_under_this_recipes_name_is_kept(tmp_path, job):
    """A folder named for this recipe that holds another's finished run (copied there by hand) is not overwritten."""
    other = changed(RECIPE, "precision", "bfloat16")
    other_folder, _ = mjs.run_seed(0, tmp_path, other)
    squatter = tmp_path / f"seed-0-{mjs.recipe_id(RECIPE)}"
    other_folder.rename(squatter)
    folder, record = mjs.run_seed(0, tmp_path, RECIPE)
    assert folder != squatter and folder.name.startswith(squatter.name + "-")
    assert json.loads((squatter / mjs.RECORD).read_text())["recipe_id"] == mjs.recipe_id(other)


def test_a_job_that_ran_in_another_precision_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setattr(mjs, "run_job", FakeJob(dtype="bfloat16"))
    with pytest.raises(SystemExit, match="SRGRPO_CPU_PRECISION=float32 was pinned, but the job ran in"):
        mjs.run_seed(0, tmp_path, RECIPE)
    assert not list(tmp_path.glob(f"*/{mjs.RECORD}"))  # not recorded as finished


def test_the_job_is_the_main_commands_and_its_precision_reaches_it(tmp_path, monkeypatch):
    """The command line parses with ``python -m srgrpo``'s own parser, and the pinned precision is what the kit's
    precision choice then makes."""
    from transformers import HfArgumentParser

    from srgrpo.__main__ import MainJobSettings
    from srgrpo.models.cpu_precision import choose_cpu_precision
    from srgrpo.plumbing.flags import parse_flags

    command = mjs.job_command(7, tmp_path / "seed-7")
    assert command[1:3] == ["-m", "srgrpo"]
    settings = parse_flags(HfArgumentParser(MainJobSettings, allow_abbrev=False), command[3:])[0]
    assert (settings.use_cpu, settings.seed, settings.output_dir, settings.overwrite) == (
        True, 7, str(tmp_path / "seed-7"), True)
    for dtype in ("float32", "bfloat16"):
        env = mjs.job_env(dtype)
        assert env[mjs.ENV_VAR] == dtype and env["HF_HUB_OFFLINE"]
        monkeypatch.setenv(mjs.ENV_VAR, env[mjs.ENV_VAR])
        assert choose_cpu_precision("auto", probe=lambda: pytest.fail("pinned: no probe")).dtype == dtype


def test_the_results_keep_the_stored_format_and_the_records_go_beside_them(tmp_path, job):
    seeds = [0, 1, 2]
    ran = [mjs.run_seed(seed, tmp_path / "runs", RECIPE) for seed in seeds]
    output = tmp_path / "data" / "main_job_seeds.json"
    result = mjs.write_results(output, RECIPE, [r for _, r in ran], [f for f, _ in ran], ["--seeds", "0", "1", "2"])
    assert json.loads(output.read_text()) == result
    # What README.md, notebook 4 and tests/test_docs_numbers.py read from the stored file is all still there.
    stored = json.loads((REPO / "data" / "benchmarks" / "main_job_seeds.json").read_text())
    assert set(stored["summary"]) <= set(result["summary"])
    for key in ("correct", "in_format", "cut_off"):
        assert set(result["summary"][key]) == set(stored["summary"][key])
    assert all(set(stored["runs"][0]) <= set(row) for row in result["runs"])
    summary = result["summary"]
    assert summary["seeds"] == seeds and summary["correct"] == {"before": 1, "after": [2, 3, 4], "min": 2, "max": 4,
                                                                 "n": 4}
    assert summary["recipe_id"] == result["recipe"]["id"] == mjs.recipe_id(RECIPE)
    assert {k: v for k, v in result["recipe"].items() if k != "id"} == RECIPE
    assert result["metadata"]["command"] == "python benchmarks/main_job_seeds.py --seeds 0 1 2"
    for seed, (folder, _), row in zip(seeds, ran, result["runs"]):
        assert "recipe" not in row and row["recipe_id"] == mjs.recipe_id(RECIPE)
        companion = json.loads(Path(row["records"]).read_text())
        assert Path(row["records"]) == output.with_suffix("") / f"seed-{seed}.json"
        assert (companion["seed"], companion["recipe_id"], companion["precision"]) == (seed, row["recipe_id"],
                                                                                       "float32")
        for when in ("before", "after"):
            lines = [json.loads(line) for line in (folder / f"eval_{when}.jsonl").read_text().splitlines()]
            assert companion[when] == sorted(lines, key=lambda r: r["index"])
            assert [r["index"] for r in companion[when]] == [0, 1, 2, 3]


def test_a_summary_is_of_one_recipe():
    run = {"seed": 0, "minutes": 1.0, "recipe_id": "a", "precision": "float32",
           "before": {"n": 4, "correct": 1, "in_format": 0, "cut_off": 3},
           "after": {"n": 4, "correct": 2, "in_format": 3, "cut_off": 1}}
    assert mjs.summarise([run, {**run, "seed": 1}])["recipe_id"] == "a"
    with pytest.raises(ValueError, match="2 recipes"):
        mjs.summarise([run, {**run, "seed": 1, "recipe_id": "b"}])


def test_the_command_line_takes_the_kits_names():
    settings = mjs.parse_settings(["--seeds", "3", "4", "--cpu_precision", "float32", "--work_dir", "w",
                                   "--output", "o.json"])
    assert (settings.seeds, settings.cpu_precision, settings.work_dir, settings.output) == ([3, 4], "float32", "w",
                                                                                           "o.json")
    for old in (["--json", "o.json"], ["--workdir", "w"]):
        with pytest.raises(SystemExit):
            mjs.parse_settings(old)


def test_the_real_recipe_is_the_presets_and_names_no_folder(monkeypatch):
    """The recipe of this checkout: the preset's values, resolved; the system message's text; no path of the machine
    (the id must be the same in any checkout); the same id twice."""
    from srgrpo.tasks.word_problems import system_message
    from srgrpo.train.settings import preset_settings

    monkeypatch.delenv(mjs.ENV_VAR, raising=False)
    recipe = mjs.recipe("float32")
    preset = preset_settings("smollm2_cpu")
    for key in ("learning_rate", "max_steps", "temperature", "num_generations", "max_completion_length", "tau"):
        assert recipe["training"][key] == preset[key], key
    assert recipe["script"]["lora_r"] == preset["lora_r"] and "seed" not in recipe["training"]
    assert recipe["system_message"] == system_message(preset.get("system_prompt", "instructions"))
    assert recipe["training"]["bf16"] is False and recipe["precision"] == "float32"
    assert str(REPO) not in json.dumps(recipe) and "runs/" not in json.dumps(recipe)
    assert mjs.recipe_id(mjs.recipe("float32")) == mjs.recipe_id(recipe)
    assert mjs.ENV_VAR not in os.environ  # the pin is undone


def test_the_command_end_to_end_with_a_fake_job(tmp_path, job, monkeypatch):
    """``main``: the precision asked for reaches the recipe and every job; a second invocation reruns nothing."""
    monkeypatch.setattr(mjs, "recipe", lambda precision: changed(RECIPE, "precision", precision))
    argv = ["--seeds", "0", "1", "--cpu_precision", "bfloat16", "--work_dir", str(tmp_path / "runs"),
            "--output", str(tmp_path / "out.json")]
    assert mjs.main(argv) == 0
    first = json.loads((tmp_path / "out.json").read_text())
    assert [c[2] for c in job.calls] == ["bfloat16", "bfloat16"] and first["summary"]["precision"] == "bfloat16"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["seed-0.json", "seed-1.json"]
    assert mjs.main(argv) == 0 and len(job.calls) == 2
    again = json.loads((tmp_path / "out.json").read_text())
    assert again["runs"] == first["runs"] and again["summary"] == first["summary"]
