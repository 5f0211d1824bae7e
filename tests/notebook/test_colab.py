"""The notebooks' Colab setup: one repository URL, the pinned Unsloth / Colab set, Colab's torch never replaced."""

from __future__ import annotations

import json
import re
import runpy

import pytest
from packaging.requirements import Requirement

from conftest import REPO
from srgrpo.notebook import colab

NOTEBOOKS = sorted((REPO / "notebooks").glob("0*.ipynb"))
GITHUB_URL = re.compile(r"https://github\.com/[\w.-]+/[\w.-]+")
COLAB_BADGE = re.compile(r"https://colab\.research\.google\.com/github/[\w./-]+?\.ipynb")


def cell_text(nb_path, index: int) -> str:
    source = json.loads(nb_path.read_text(encoding="utf-8"))["cells"][index]["source"]
    return "".join(source) if isinstance(source, list) else source


def test_every_clone_and_badge_uses_the_one_repository_url():
    wrong = []
    for nb in NOTEBOOKS:
        setup = cell_text(nb, 1)
        urls = [u for u in GITHUB_URL.findall(setup)]
        if urls != [colab.REPOSITORY_URL]:
            wrong.append(f"{nb.name} cell 1 (setup) clones {urls}")
        badges = COLAB_BADGE.findall(cell_text(nb, 0))
        if badges != [colab.colab_badge_url(nb.name)]:
            wrong.append(f"{nb.name} cell 0 (badge) links {badges}")
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for url in COLAB_BADGE.findall(readme):
        if url != colab.colab_badge_url(url.rsplit("/", 1)[-1]):
            wrong.append(f"README.md badge {url}")
    assert not wrong, f"not srgrpo.notebook.colab.REPOSITORY_URL = {colab.REPOSITORY_URL!r}:\n" + "\n".join(wrong)


def test_setup_cells_install_the_pinned_set_through_srgrpo_colab():
    for nb in NOTEBOOKS:
        setup = cell_text(nb, 1)
        assert 'runpy.run_path("/content/srgrpo/srgrpo/notebook/colab.py")["install"]("/content/srgrpo"' in setup, nb.name
        assert colab.CONSTRAINTS in setup, nb.name
    assert 'unsloth="auto"' in cell_text(REPO / "notebooks" / "04_gsm8k_unsloth.ipynb", 1)


def test_the_module_runs_standalone_without_the_kit_installed():
    # The cell runs srgrpo/notebook/colab.py by path before anything is installed: it must import only the standard library.
    namespace = runpy.run_path(str(REPO / "srgrpo" / "notebook" / "colab.py"))
    assert callable(namespace["install"]) and namespace["REPOSITORY_URL"] == colab.REPOSITORY_URL
    source = (REPO / "srgrpo" / "notebook" / "colab.py").read_text()
    imported = set(re.findall(r"^(?:import|from) ([\w.]+)", source, re.M))
    assert imported <= {"__future__", "importlib.metadata", "json", "os", "subprocess", "sys", "tempfile", "pathlib"}


def pins() -> dict[str, Requirement]:
    lines = (REPO / colab.CONSTRAINTS).read_text().splitlines()
    reqs = [Requirement(line.split("#")[0]) for line in lines if line.split("#")[0].strip()]
    return {r.name.lower().replace("_", "-"): r for r in reqs}


def test_the_pinned_set_is_unsloths():
    reqs = pins()
    exact = {name: str(r.specifier) for name, r in reqs.items() if str(r.specifier).startswith("==")}
    assert exact["trl"] == "==1.15.0" and exact["transformers"] == "==5.17.0"
    assert exact["unsloth"] == exact["unsloth-zoo"] == "==2026.10.9"
    assert exact["datasets"].startswith("==4.")
    for name in ("peft", "accelerate", "pillow"):
        assert name in exact, name
    # torch is bounded, never pinned: CI installs the CPU build first, Colab keeps its own.
    assert "torch" in reqs and not str(reqs["torch"].specifier).startswith("==")
    assert reqs["torch"].specifier.contains("2.13.0")


def test_the_pinned_set_fits_the_kits_own_requirements():
    import tomllib

    deps = {Requirement(d).name.lower(): Requirement(d) for d in
            tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]}
    for name, pin in pins().items():
        if name in deps and str(pin.specifier).startswith("=="):
            assert deps[name].specifier.contains(str(pin.specifier)[2:]), f"{name}{pin.specifier} vs {deps[name]}"


@pytest.mark.parametrize("report, changes", [
    ({"install": [{"metadata": {"name": "trl", "version": "1.15.0"}}]}, []),
    ({"install": [{"metadata": {"name": "torch", "version": "2.14.1"}},
                  {"metadata": {"name": "Triton", "version": "3.6.0"}}]},
     ["torch 2.9.0+cu126 -> 2.14.1", "triton 3.5.0 -> 3.6.0"]),
    ({}, []),
])
def test_a_plan_that_would_replace_colabs_torch_is_caught(report, changes):
    assert colab.torch_changes(report, {"torch": "2.9.0+cu126", "triton": "3.5.0"}) == changes


def fake_pip(calls, torch_for):
    """A fake ``subprocess.run`` for pip: a dry run reports installing torch ``torch_for(cmd)`` (None: no torch)."""

    def run(cmd, **kwargs):
        calls.append(cmd)
        if "--dry-run" in cmd:
            version = torch_for(cmd)
            with open(cmd[cmd.index("--report") + 1], "w") as f:
                json.dump({"install": [{"metadata": {"name": "torch", "version": version}}] if version else []}, f)

        class Done:
            returncode, stdout, stderr = 0, "", ""

        return Done()

    return run


def test_when_unsloths_set_would_replace_torch_the_kit_installs_without_it(monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(colab, "installed_versions",
                        lambda names=("torch", "transformers", "trl", "unsloth"): {n: "9.9" for n in names})
    monkeypatch.setattr(colab.subprocess, "run",
                        fake_pip(calls, lambda cmd: "2.14.1" if "unsloth" in cmd else None))
    colab.install(REPO, unsloth=True)
    plans = [c for c in calls if "--dry-run" in c]
    real = [c for c in calls if "--dry-run" not in c]
    assert len(plans) == 2 and plans[0][-2:] == ["unsloth", "unsloth_zoo"] and "unsloth" not in plans[1]
    assert str(REPO / colab.CONSTRAINTS) not in plans[1]  # the kit's own ranges, not Unsloth's set
    # on a GPU, bitsandbytes comes with the kit: the GPU preset's 4-bit weights without Unsloth (issue 37)
    assert len(real) == 1 and "unsloth" not in real[0] and real[0][-3:] == ["-e", str(REPO), "bitsandbytes"]
    assert plans[1][-3:] == real[0][-3:]  # the fallback's dry run checked what is installed
    out = capsys.readouterr().out
    assert "installed without Unsloth" in out and "transformers + peft, 4-bit through bitsandbytes" in out
    assert "-> 2.14.1" in out


def test_install_stops_before_replacing_torch(monkeypatch):
    calls = []
    monkeypatch.setattr(colab.subprocess, "run", fake_pip(calls, lambda cmd: "2.14.1"))
    with pytest.raises(colab.TorchWouldChange, match="would replace Colab's torch .* -> 2.14.1"):
        colab.install(REPO, unsloth=True)
    assert all("--dry-run" in c for c in calls), "nothing may be installed after the dry runs found a torch change"
    assert "-c" in calls[0] and str(REPO / colab.CONSTRAINTS) in calls[0]
    assert calls[0][-2:] == ["unsloth", "unsloth_zoo"]


def test_install_pins_colabs_torch_and_prints_versions(monkeypatch, capsys):
    calls = []

    def fake_run(cmd, **kwargs):
        calls.append(cmd)
        if "--dry-run" in cmd:
            with open(cmd[cmd.index("--report") + 1], "w") as f:
                json.dump({"install": [{"metadata": {"name": "trl", "version": "1.15.0"}}]}, f)
        elif "-c" in cmd and len(calls) == 2:
            keep = cmd[cmd.index("-c", cmd.index("-c") + 1) + 1]
            calls.append(open(keep).read())

        class Done:
            returncode, stdout, stderr = 0, "", ""

        return Done()

    monkeypatch.setattr(colab.subprocess, "run", fake_run)
    versions = colab.install(REPO, unsloth=False)
    assert "--dry-run" not in calls[1] and calls[1][-2:] == ["-e", str(REPO)]
    assert "torch==" in calls[2]  # Colab's torch pinned during the real install
    out = capsys.readouterr().out
    assert out.startswith("srgrpo Colab setup: torch ") and "transformers" in out and "trl" in out and "unsloth" in out
    assert set(versions) == {"torch", "transformers", "trl", "unsloth"}


def _kit_files():
    """The repository's text files: README, docs, notebooks, the package, tests, install and CI files."""
    suffixes = {".md", ".py", ".ipynb", ".toml", ".yml", ".yaml", ".txt", ".cfg", ".sh", ""}
    for path in sorted(REPO.rglob("*")):
        parts = path.relative_to(REPO).parts
        if path.is_file() and path.suffix in suffixes and not {".venv", ".git", ".cache", "runs", "outputs"} & set(parts) \
                and not parts[0].startswith((".venv", "data")):
            yield path


def test_the_repository_url_is_written_once_and_every_copy_agrees():
    """srgrpo.notebook.colab.REPOSITORY_URL is the kit's one address; every other mention of a GitHub repository
    named srgrpo (clone commands, badges, setup cells, docs) is that address, so a fork changes one constant and the
    test names each copy that must follow."""
    owner_repo = colab.REPOSITORY_URL.removeprefix("https://github.com/")
    mention = re.compile(r"(?:github\.com|colab\.research\.google\.com/github)/([\w.-]+/srgrpo)(?:\.git)?\b")
    found, wrong = 0, []
    for path in _kit_files():
        for match in mention.finditer(path.read_text(encoding="utf-8", errors="replace")):
            found += 1
            if match.group(1) != owner_repo:
                wrong.append(f"{path.relative_to(REPO)}: {match.group(0)}")
    assert not wrong, f"not {colab.REPOSITORY_URL}:\n" + "\n".join(wrong)
    assert found >= 10  # the README's clone line and badges, docs/gpu-colab.md, the notebooks' badges and cells
    for page in ("README.md", "docs/gpu-colab.md"):
        assert f"git clone {colab.REPOSITORY_URL}.git" in (REPO / page).read_text(encoding="utf-8"), page


def test_the_readme_says_what_to_do_until_the_repository_is_published():
    readme = " ".join((REPO / "README.md").read_text(encoding="utf-8").split())
    assert "**Until the repository is published.**" in readme and "`REPOSITORY_URL` in `srgrpo/notebook/colab.py`" in readme
