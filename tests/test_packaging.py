"""pyproject.toml and environment.yml describe the same environment."""

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
