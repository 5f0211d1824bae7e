"""No broken relative link and no dead repository path in README.md, docs/*.md, the notebooks or the install files.

A link is checked when it is relative (no scheme): its file (or folder) must exist, relative to the page that holds
it, and its ``#anchor``, on the same page or on another markdown page or notebook, must be one of that page's
headings as GitHub writes them (lower case, punctuation dropped, spaces to hyphens, ``-1``, ``-2`` for repeats) or
an explicit HTML ``id`` / ``name``. Links inside code (fenced blocks and inline spans) are not links.

A repository path is any word that starts with one of the repository's top-level folders (``srgrpo/``, ``tests/``,
``docs/``, ``data/``, ...) or ``shared/`` (the workplace's folder, never part of a clone), in prose, backticks, code
blocks, comments or notebook code cells alike: it must name a file or folder of the repository (tracked, or new and
not ignored), as seen from its root. ``*``, ``<placeholder>`` and ``{a,b}`` are wildcards. The git-ignored data
folders a command fills (``data/gsm8k/``) are allowed.
"""

from __future__ import annotations

import fnmatch
import json
import re
import subprocess
import unicodedata
from functools import lru_cache
from pathlib import Path

import pytest

from conftest import REPO

LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
FENCE = re.compile(r"^ {0,3}(```|~~~)")
HTML_ID = re.compile(r"""<[^>]+\b(?:id|name)\s*=\s*["']([^"']+)["']""")
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def markdown_of(path: Path) -> str:
    """A page's markdown: the file itself, or a notebook's markdown cells one after another."""
    if path.suffix == ".ipynb":
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        return "\n\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    return path.read_text(encoding="utf-8")


def prose_lines(text: str) -> list[str]:
    """The lines outside fenced code blocks, with inline code spans blanked."""
    lines, fenced = [], False
    for line in text.splitlines():
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            lines.append(re.sub(r"(`+)(?:(?!\1).)+?\1", "", line))
    return lines


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading: links reduced to their text, markup and punctuation dropped."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    text = re.sub(r"<[^>]+>", "", text).strip().lower()
    kept = []
    for ch in text:
        if ch in " -_" or unicodedata.category(ch)[0] in "LNM":
            kept.append(ch)
    return "".join(kept).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = markdown_of(path)
    seen: dict[str, int] = {}
    found = set(HTML_ID.findall(text))
    fenced = False
    for line in text.splitlines():
        if FENCE.match(line):
            fenced = not fenced
            continue
        match = None if fenced else HEADING.match(line)
        if match:
            slug = github_slug(match.group(2))
            n = seen.get(slug, 0)
            seen[slug] = n + 1
            found.add(slug if n == 0 else f"{slug}-{n}")
    return found


def links(path: Path) -> list[str]:
    return [m.group(1) for line in prose_lines(markdown_of(path)) for m in LINK.finditer(line)]


def broken_links(path: Path) -> list[str]:
    """Every relative link of ``path`` that points nowhere, with the reason."""
    broken = []
    for target in links(path):
        if SCHEME.match(target) or target.startswith("//"):
            continue
        file_part, _, anchor = target.partition("#")
        dest = (path.parent / file_part).resolve() if file_part else path
        if not dest.exists():
            broken.append(f"{target}: no such file")
            continue
        if anchor and dest.suffix in {".md", ".ipynb"} and anchor not in anchors(dest):
            where = dest.relative_to(REPO) if dest.is_relative_to(REPO) else dest.name
            broken.append(f"{target}: no heading #{anchor} in {where}")
    return broken


PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md")), *sorted((REPO / "notebooks").glob("*.ipynb"))]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_no_broken_relative_link(page):
    assert not broken_links(page), f"{page.relative_to(REPO)}:\n" + "\n".join(broken_links(page))


def test_the_pages_have_links_to_check():
    assert sum(len(links(p)) for p in PAGES) > 50
    assert "docs/lab.md" in links(REPO / "README.md")


def test_github_anchors():
    assert github_slug("Choosing τ") == "choosing-τ"
    assert github_slug("The `gsm8k_t4` preset") == "the-gsm8k_t4-preset"
    assert github_slug("What CI checks, and what a CPU cannot check") == "what-ci-checks-and-what-a-cpu-cannot-check"
    assert github_slug("A real model offline: SmolLM2-135M-Instruct") == "a-real-model-offline-smollm2-135m-instruct"
    assert github_slug("See [the lab](lab.md) (measured)") == "see-the-lab-measured"


def test_a_broken_link_is_caught(tmp_path):
    (tmp_path / "other.md").write_text("# Other page\n\n## Its part\n\n## Its part\n")
    page = tmp_path / "page.md"
    page.write_text(
        "# Title\n\n[ok](other.md#its-part) [ok, repeat](other.md#its-part-1) [ok](#title) [web](https://x.org/#a)\n"
        "[missing](nowhere.md) [bad anchor](other.md#not-there) [bad here](#nope)\n"
        "`[code](ignored.md)`\n```\n[fenced](ignored.md)\n# not a heading\n```\n[not a heading](#not-a-heading)\n"
    )
    reasons = broken_links(page)
    assert len(reasons) == 4, reasons
    assert reasons[0] == "nowhere.md: no such file"
    assert [r.split(":")[0] for r in reasons[1:]] == ["other.md#not-there", "#nope", "#not-a-heading"]


def test_the_readme_is_a_front_door():
    # At most 250 lines, in the order a newcomer needs them; everything else is a page of docs/ (issue 30).
    text = (REPO / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 250
    order = ["## Quickstart", "## Open the notebooks", "## The library in one example", "## Results at a glance",
             "## Documentation"]
    positions = [text.index(h) for h in order]
    assert positions == sorted(positions)
    assert text.index("](data/results/") < positions[0], "a figure the kit makes comes before the Quickstart"
    for page in sorted((REPO / "docs").glob("*.md")):
        assert f"](docs/{page.name})" in text, f"README's map of docs/ lacks {page.name}"


# --- repository paths -------------------------------------------------------------------------------------------

#: Where a path must start to be checked: the repository's top-level folders, and the workplace's ``shared/``
#: (which a clone never has, so any mention of it is dead).
PATH_ROOTS = ("srgrpo", "tests", "docs", "data", "benchmarks", "notebooks", "requirements", ".ci", "shared")
#: Git-ignored folders that the kit's commands fill: a path inside them is a place, not a committed file.
FILLED_BY_COMMANDS = ("data/gsm8k",)
REPO_PATH = re.compile(r"(?<![\w./~$-])((?:%s)/[\w./*<>{},+-]*)" % "|".join(re.escape(r) for r in PATH_ROOTS))


@lru_cache(maxsize=1)
def repository_files() -> tuple[str, ...]:
    """The repository's files, relative to its root: tracked, or new and not ignored (what a commit would hold)."""
    try:
        out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                             capture_output=True, text=True, check=True).stdout
        return tuple(line for line in out.splitlines() if (REPO / line).exists())
    except (OSError, subprocess.CalledProcessError):  # not a git checkout: what is on disk
        return tuple(str(p.relative_to(REPO)) for p in REPO.rglob("*") if p.is_file() and ".venv" not in p.parts)


def path_exists(path: str, files: tuple[str, ...] | None = None) -> bool:
    """Whether ``path`` (``*``, ``<...>`` and ``{a,b}`` as wildcards) names a file or a folder of ``files``."""
    files = repository_files() if files is None else files
    pattern = re.sub(r"\{[^}]*\}", "*", re.sub(r"<[^>]*>", "*", path)).rstrip("/")
    return any(fnmatch.fnmatchcase(f, pattern) or fnmatch.fnmatchcase(f, pattern + "/*") for f in files)


def repository_paths(text: str) -> list[str]:
    """The repository paths a text names (trailing punctuation dropped)."""
    return [m.group(1).rstrip(".,:;") for m in REPO_PATH.finditer(text)]


def dead_paths(text: str, files: tuple[str, ...] | None = None) -> list[str]:
    return [p for p in repository_paths(text)
            if not p.startswith(FILLED_BY_COMMANDS) and not path_exists(p, files)]


def notebook_cells(path: Path) -> list[tuple[str, str]]:
    """``(where, source)`` of every markdown and code cell of a notebook."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return [(f"cell {i} ({c['cell_type']})", "".join(c["source"])) for i, c in enumerate(cells)
            if c["cell_type"] in ("markdown", "code")]


INSTALL_FILES = [*sorted((REPO / "requirements").glob("*.txt")), REPO / "pyproject.toml", REPO / "environment.yml",
                 *sorted((REPO / ".ci").iterdir())]
TEXT_PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md")), *INSTALL_FILES]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("page", TEXT_PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_no_dead_repository_path(page):
    dead = dead_paths(page.read_text(encoding="utf-8"))
    assert not dead, f"{page.relative_to(REPO)} names paths the repository does not have: {dead}"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_no_dead_repository_path_in_the_notebooks(notebook):
    """The notebooks' markdown and code cells, apart from the pages above: the notebooks are re-executed when they
    change, so this part fails on its own until they are."""
    dead = [f"{where}: {path}" for where, source in notebook_cells(notebook) for path in dead_paths(source)]
    assert not dead, f"{notebook.name} names paths the repository does not have:\n" + "\n".join(dead)


def test_the_pages_name_paths_to_check():
    assert sum(len(repository_paths(p.read_text(encoding="utf-8"))) for p in TEXT_PAGES) > 100
    assert "srgrpo/notebook/colab.py" in repository_files()


def test_a_dead_path_is_caught():
    files = ("srgrpo/train/presets/gsm8k_t4.yaml", "tests/notebook/test_colab.py", "data/results/real.json")
    text = ("`srgrpo/train/presets/gsm8k_t4.yaml` and `srgrpo/presets/gsm8k_t4.yaml`; (tests/test_colab.py), "
            "tests/notebook/test_colab.py. `srgrpo/train/presets/<name>.yaml`, `srgrpo/train/presets/*.yaml`, "
            "data/results/{real,bandit}.json, `data/gsm8k/test.jsonl`, `shared/notes` and tests/ and "
            "https://github.com/x/y/blob/main/tests/gone.py or /content/srgrpo/tests/gone.py and srgrpo.tests/x")
    assert dead_paths(text, files) == ["srgrpo/presets/gsm8k_t4.yaml", "tests/test_colab.py", "shared/notes"]


def fenced_blocks(text: str) -> list[tuple[int, str]]:
    """``(first line, content)`` of each fenced code block of a markdown text."""
    blocks, current, start = [], None, 0
    for number, line in enumerate(text.splitlines(), 1):
        if FENCE.match(line):
            if current is None:
                current, start = [], number
            else:
                blocks.append((start, "\n".join(current)))
                current = None
        elif current is not None:
            current.append(line)
    return blocks


@pytest.mark.parametrize("page", [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))],
                         ids=lambda p: str(p.relative_to(REPO)))
def test_no_code_block_is_repeated_on_a_page(page):
    seen: dict[str, int] = {}
    repeated = []
    for start, content in fenced_blocks(page.read_text(encoding="utf-8")):
        if content.strip() in seen:
            repeated.append(f"line {start} repeats line {seen[content.strip()]}")
        seen.setdefault(content.strip(), start)
    assert not repeated, f"{page.relative_to(REPO)}: " + "; ".join(repeated)


def test_the_specification_is_linked_where_it_is_named():
    """ "The specification" (the method's original description, not in the repository) is said once what it is, in
    docs/method.md, and every other page that names it links there."""
    assert "## The specification" in (REPO / "docs" / "method.md").read_text(encoding="utf-8")
    unlinked = []
    for page in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        text = page.read_text(encoding="utf-8")
        if page.name != "method.md" and "specification" in text.lower() and "method.md#the-specification)" not in text:
            unlinked.append(str(page.relative_to(REPO)))
    assert not unlinked, f"name the specification without linking docs/method.md#the-specification: {unlinked}"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_the_notebooks_link_the_specification_where_they_name_it(notebook):
    """The notebooks' markdown, apart from the pages above (it fails on its own until the notebooks are re-executed):
    a notebook that names the specification links ../docs/method.md#the-specification."""
    text = markdown_of(notebook)
    assert "specification" not in text.lower() or "docs/method.md#the-specification)" in text, (
        f"{notebook.name} names the specification without linking ../docs/method.md#the-specification")
