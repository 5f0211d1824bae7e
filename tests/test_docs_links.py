"""No broken relative link in README.md, docs/*.md or the notebooks' markdown cells.

A link is checked when it is relative (no scheme): its file (or folder) must exist, relative to the page that holds
it, and its ``#anchor``, on the same page or on another markdown page or notebook, must be one of that page's
headings as GitHub writes them (lower case, punctuation dropped, spaces to hyphens, ``-1``, ``-2`` for repeats) or
an explicit HTML ``id`` / ``name``. Links inside code (fenced blocks and inline spans) are not links.
"""

from __future__ import annotations

import json
import re
import unicodedata
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
