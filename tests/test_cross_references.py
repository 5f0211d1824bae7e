"""Every Sphinx cross-reference in the kit's docstrings and docs (``:func:``, ``:mod:``, ``:class:``, ``:meth:``,
``:attr:``, ``:data:``, ``:exc:``, ``:obj:``) names something that exists.

A reference resolves when its target is

* an importable dotted name (``srgrpo.train.main_job.plan_main_job``, ``trl.TrlParser``): the longest importable
  module, then attributes; the last part may also be a class's annotated or dataclass field or an attribute its
  methods assign (``self.module = ...``), which ``getattr`` on the class cannot see; or
* a name of the file that holds the reference, as Sphinx reads it in its module: a top-level function, class,
  assignment or import of that file (read from its source, so commands' ``__main__`` modules are never run), or a
  member of one of its classes (``:meth:`sync``` inside ``MergedPolicy``), possibly dotted (``MainJob.describe``).
"""

from __future__ import annotations

import ast
import importlib
import re
from functools import lru_cache
from pathlib import Path

import pytest

from conftest import REPO

ROLE = re.compile(r":(?:py:)?(func|mod|class|meth|attr|data|exc|obj|const):`([^`]+)`")


def references(text: str) -> list[str]:
    """The targets of a text's references (``~`` and a leading ``.`` dropped, ``title <target>`` to its target)."""
    out = []
    for match in ROLE.finditer(text):
        target = " ".join(match.group(2).split())
        explicit = re.search(r"<([^>]+)>$", target)
        out.append((explicit.group(1) if explicit else target).lstrip("~.").removesuffix("()"))
    return out


def _class_members(node: ast.ClassDef) -> set[str]:
    names = set()
    for item in ast.walk(node):
        if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and item is not node:
            names.add(item.name)
        elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
            names.add(item.target.id)
        elif isinstance(item, ast.Assign):
            names.update(t.id for t in item.targets if isinstance(t, ast.Name))
        elif isinstance(item, ast.Attribute) and isinstance(item.value, ast.Name) and item.value.id == "self" \
                and isinstance(item.ctx, ast.Store):
            names.add(item.attr)
    return names


@lru_cache(maxsize=None)
def file_names(path: Path) -> tuple[dict[str, str], dict[str, set[str]]]:
    """A file's top-level names (-> the dotted name an import binds, or "" for its own definitions) and its classes'
    members."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: dict[str, str] = {}
    classes: dict[str, set[str]] = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names[node.name] = ""
        elif isinstance(node, ast.ClassDef):
            names[node.name] = ""
            classes[node.name] = _class_members(node)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update({t.id: "" for t in targets if isinstance(t, ast.Name)})
        elif isinstance(node, ast.Import):
            names.update({(a.asname or a.name).split(".")[0]: (a.name if a.asname else a.name.split(".")[0])
                          for a in node.names})
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.update({a.asname or a.name: f"{node.module}.{a.name}" for a in node.names})
    return names, classes


def _has_member(cls: type, name: str) -> bool:
    if hasattr(cls, name) or name in getattr(cls, "__dataclass_fields__", {}):
        return True
    for klass in cls.__mro__:
        if name in getattr(klass, "__annotations__", {}):
            return True
        try:
            source = Path(importlib.import_module(klass.__module__).__file__)
        except (ImportError, TypeError, AttributeError):
            continue
        if source.suffix == ".py" and name in file_names(source)[1].get(klass.__name__, set()):
            return True
    return False


@lru_cache(maxsize=None)
def importable(dotted: str) -> bool:
    """Whether ``dotted`` is a module, or attributes of one (see the module's docstring for fields)."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for i, part in enumerate(parts[cut:], start=cut):
            if hasattr(obj, part):
                obj = getattr(obj, part)
            elif isinstance(obj, type) and i == len(parts) - 1 and _has_member(obj, part):
                return True
            else:
                return False
        return True
    return False


def _module_name(source: Path) -> str | None:
    """The importable module a package file is (``srgrpo/lab/real/command.py`` -> ``srgrpo.lab.real.command``); None for commands'
    ``__main__`` (importing one would run it), tests and benchmarks."""
    if not source.is_relative_to(REPO):
        return None
    parts = source.relative_to(REPO).with_suffix("").parts
    if parts[0] != "srgrpo" or parts[-1] == "__main__":
        return None
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def resolves(target: str, source: Path | None) -> bool:
    if importable(target):
        return True
    if source is None or source.suffix != ".py":
        return False
    module = _module_name(source)
    if module and importable(f"{module}.{target}"):  # a name the module offers (a lazy export too)
        return True
    names, classes = file_names(source)
    head, *rest = target.split(".")
    if head not in names:
        return False
    if names[head]:  # an imported name: resolve it where it came from
        return importable(".".join([names[head], *rest]))
    if not rest:
        return True
    return head in classes and len(rest) == 1 and rest[0] in classes[head]


def _member_of_a_class(target: str, source: Path) -> bool:
    """``:meth:`sync``` written inside a class: a member of one of the file's classes."""
    return source.suffix == ".py" and "." not in target and any(
        target in members for members in file_names(source)[1].values())


SOURCES = sorted([*(REPO / "srgrpo").rglob("*.py"), *(REPO / "benchmarks").glob("*.py"), *(REPO / "tests").rglob("*.py"),
                  REPO / "conftest.py", REPO / "README.md", *(REPO / "docs").glob("*.md")])
SOURCES.remove(Path(__file__).resolve())  # its examples are not references


def dead_references(path: Path) -> list[str]:
    return [t for t in references(path.read_text(encoding="utf-8"))
            if not resolves(t, path) and not _member_of_a_class(t, path)]


def test_there_are_references_to_check():
    assert sum(len(references(p.read_text(encoding="utf-8"))) for p in SOURCES) > 200


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_cross_reference_resolves(path):
    dead = dead_references(path)
    assert not dead, f"{path.relative_to(REPO)}: these references name nothing: {dead}"


def test_a_dead_reference_is_caught(tmp_path):
    page = tmp_path / "mod.py"
    page.write_text('"""See :func:`helper`, :meth:`Thing.go`, :attr:`size`, :class:`srgrpo.SRGRPOTrainer`,\n'
                    ':func:`srgrpo.main_job.plan_main_job`, :func:`gone`, :meth:`Thing.gone` and\n'
                    ':func:`plan <srgrpo.train.main_job.plan_main_job>`."""\n'
                    "from srgrpo.train import main_job\n\n"
                    "def helper():\n    pass\n\n"
                    "class Thing:\n    def go(self):\n        self.size = 1\n")
    assert dead_references(page) == ["srgrpo.main_job.plan_main_job", "gone", "Thing.gone"]
