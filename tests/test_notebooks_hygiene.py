"""The committed notebooks: executed by the documented command, clean outputs, Colab-ready, no logic of their own.

Strict ``pytest --nbval`` checks that the stored outputs are reproduced; these tests check what nbval cannot see:
that every cell was run (an unrun cell is silently skipped by nbval), that nothing went to stderr, that the figures
are in the file for GitHub and Colab previews, that each notebook opens with a Colab badge and a Colab-only setup
cell, and that the notebooks only call the kit (functions and classes live in ``srgrpo``).
"""

from __future__ import annotations

import base64
import importlib.util
import json
import re

import pytest
from conftest import REPO

NOTEBOOKS = REPO / "notebooks"
EXPECTED = [
    "01_soft_advantage.ipynb",
    "02_advantage_lab.ipynb",
    "03_trainer_on_cpu.ipynb",
    "04_gsm8k_unsloth.ipynb",
]
COLAB_URL = re.compile(
    r"https://colab\.research\.google\.com/github/(?P<repo>[\w.-]+/[\w.-]+)/blob/main/notebooks/(?P<file>[\w.-]+\.ipynb)"
)
# Output text that would differ on another machine or betray a run that went wrong.
MACHINE_SPECIFIC = [
    re.compile(r"0x[0-9a-f]{6,}"),  # memory addresses
    re.compile(r"/tmp/ipykernel_\d+"),  # warning locations
    re.compile(r"Traceback \(most recent call last\)"),
    re.compile(re.escape(str(REPO))),  # absolute paths of the machine that stored the outputs
]


def load(name: str) -> dict:
    return json.loads((NOTEBOOKS / name).read_text(encoding="utf-8"))


def code_cells(nb: dict) -> list[dict]:
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def source(cell: dict) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def text_of(output: dict) -> str:
    if output.get("output_type") == "stream":
        return "".join(output.get("text", ""))
    data = output.get("data", {})
    parts = []
    for key in ("text/plain", "text/html", "text/markdown"):
        if key in data:
            value = data[key]
            parts.append("".join(value) if isinstance(value, list) else value)
    return "\n".join(parts)


present = [name for name in EXPECTED if (NOTEBOOKS / name).is_file()]


def test_every_notebook_of_the_kit_is_there():
    assert sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")) == EXPECTED


@pytest.fixture(params=present)
def nb_name(request) -> str:
    return request.param


def test_every_code_cell_ran_once_in_order(nb_name):
    counts = [c.get("execution_count") for c in code_cells(load(nb_name))]
    assert None not in counts, f"{nb_name}: unrun code cells at {[i for i, c in enumerate(counts) if c is None]}"
    assert counts == list(range(1, len(counts) + 1)), (
        f"{nb_name} was not executed top to bottom in one fresh kernel (execution counts {counts}); "
        "run `python notebooks/execute.py`"
    )


def test_outputs_are_clean(nb_name):
    for i, cell in enumerate(code_cells(load(nb_name))):
        for out in cell.get("outputs", []):
            assert out["output_type"] != "error", f"{nb_name} code cell {i} stored an error"
            assert not (out["output_type"] == "stream" and out.get("name") == "stderr"), (
                f"{nb_name} code cell {i} wrote to stderr: {text_of(out)[:300]!r}"
            )
            text = text_of(out)
            for pattern in MACHINE_SPECIFIC:
                assert not pattern.search(text), f"{nb_name} code cell {i}: machine-specific output {pattern.pattern}"


def test_figures_are_stored_for_previews(nb_name):
    images = [
        out["data"]["image/png"]
        for cell in code_cells(load(nb_name))
        for out in cell.get("outputs", [])
        if "image/png" in out.get("data", {})
    ]
    assert images, f"{nb_name} has no figure in its outputs"
    for b64 in images:
        raw = base64.b64decode("".join(b64) if isinstance(b64, list) else b64)
        assert raw.startswith(b"\x89PNG")
        assert b"Software" not in raw, "PNG carries the matplotlib version: call srgrpo.notebook.setup.setup_notebook()"
    assert not any(
        "image/svg+xml" in out.get("data", {}) for cell in code_cells(load(nb_name)) for out in cell.get("outputs", [])
    ), "SVG output carries a date and fails nbval on every run"


def test_opens_with_a_colab_badge_for_itself(nb_name):
    first = load(nb_name)["cells"][0]
    assert first["cell_type"] == "markdown"
    text = source(first)
    assert "colab-badge.svg" in text
    match = COLAB_URL.search(text)
    assert match and match["file"] == nb_name, f"{nb_name}: the badge must open this notebook"


def test_all_badges_point_at_one_repository():
    repos = {COLAB_URL.search(source(load(n)["cells"][0]))["repo"] for n in present}
    assert len(repos) == 1, repos


def test_has_a_colab_only_setup_cell_before_the_kit_is_imported(nb_name):
    cells = code_cells(load(nb_name))
    setup = [i for i, c in enumerate(cells) if '"google.colab" in sys.modules' in source(c)]
    assert setup, f"{nb_name} has no Colab setup cell"
    cell = cells[setup[0]]
    assert "pip" in source(cell) and "install" in source(cell)
    assert cell.get("outputs") == [], "off Colab the setup cell must print nothing"
    first_import = next(i for i, c in enumerate(cells) if re.search(r"^\s*(from|import) srgrpo", source(c), re.M))
    assert setup[0] < first_import


def test_no_core_logic_in_cells(nb_name):
    cells = code_cells(load(nb_name))
    for i, cell in enumerate(cells):
        src = source(cell)
        assert not re.search(r"^\s*(async\s+)?def\s", src, re.M), f"{nb_name} code cell {i} defines a function"
        assert not re.search(r"^\s*class\s", src, re.M), f"{nb_name} code cell {i} defines a class"
        assert "lambda" not in src, f"{nb_name} code cell {i} defines a lambda"
        assert "interact(" not in src, "interact() fails strict nbval and shows nothing in static viewers"
    assert any(re.search(r"^\s*from srgrpo", source(c), re.M) for c in cells), f"{nb_name} never imports the kit"
    assert any("setup_notebook()" in source(c) for c in cells)


def test_markdown_explains_the_steps(nb_name):
    cells = load(nb_name)["cells"]
    kinds = [c["cell_type"] for c in cells]
    assert kinds.count("markdown") >= 5
    # no long run of code cells without a word in between
    run = longest = 0
    for kind in kinds:
        run = run + 1 if kind == "code" else 0
        longest = max(longest, run)
    assert longest <= 3, f"{nb_name}: {longest} code cells in a row with no explanation"


def test_only_genuinely_run_dependent_cells_skip_the_comparison(nb_name):
    for i, cell in enumerate(code_cells(load(nb_name))):
        tags = cell.get("metadata", {}).get("tags", [])
        if "nbval-ignore-output" in tags or "# NBVAL_IGNORE_OUTPUT" in source(cell):
            assert cell.get("outputs"), f"{nb_name} code cell {i} ignores outputs it does not have"
        assert "nbval-skip" not in tags and "NBVAL_SKIP" not in source(cell), f"{nb_name} code cell {i} is skipped"
        assert "raises-exception" not in tags


def test_the_execution_command_pins_the_test_environment():
    spec = importlib.util.spec_from_file_location("notebooks_execute", NOTEBOOKS / "execute.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    env = module.NOTEBOOK_ENV
    assert env["CUDA_VISIBLE_DEVICES"] == "" and env["SRGRPO_DISABLE_UNSLOTH"] == "1"
    assert env["TQDM_DISABLE"] == "1" and env["HF_HUB_OFFLINE"] == "1" and env["PYTHONWARNINGS"] == "ignore"
    root_conftest = (REPO / "conftest.py").read_text(encoding="utf-8")
    assert "NOTEBOOK_ENV" in root_conftest and "notebooks" in root_conftest
    assert not list(NOTEBOOKS.glob("test_*.py")), "a test_*.py under notebooks/ would be collected by pytest"


#: The longest markdown cell a learner is asked to read in one go (issue 31).
MAX_MARKDOWN_WORDS = 200


def prose_words(text: str) -> int:
    """The words a reader reads in a markdown cell: fenced code, inline code, LaTeX (``$$...$$``, ``$...$``), link
    targets and image badges are left out; a word is a run of letters or digits."""
    text = re.sub(r"```.*?```", " ", text, flags=re.S)
    text = re.sub(r"\$\$.*?\$\$", " ", text, flags=re.S)
    text = re.sub(r"\$[^$\n]+\$", " ", text)
    text = re.sub(r"`[^`\n]*`", " ", text)
    text = re.sub(r"!\[[^\]]*\]\([^)]*\)", " ", text)
    text = re.sub(r"\]\([^)]*\)", "]", text)
    return len(re.findall(r"[A-Za-z0-9][\w'’.-]*", text))


def test_prose_words_counts_what_a_reader_reads():
    assert prose_words("One two `three four` $x + y$ five.\n$$a = b$$\n```python\nx = 1\n```\n[six](http://x.y/z)") == 4
    assert prose_words("[![Open In Colab](https://x/badge.svg)](https://x/nb.ipynb)\n# 1 · A title") == 3


def test_no_markdown_cell_is_over_200_words(nb_name):
    long = [(i, prose_words(source(c))) for i, c in enumerate(load(nb_name)["cells"])
            if c["cell_type"] == "markdown" and prose_words(source(c)) > MAX_MARKDOWN_WORDS]
    assert not long, f"{nb_name}: markdown cells over {MAX_MARKDOWN_WORDS} words (cell, words): {long}"


def test_markdown_uses_the_glossarys_words(nb_name):
    """Issue 31: "strict" meant "in format" in notebook 3 and "correct and in format" in notebook 4; the glossary
    (srgrpo/glossary.py) retired it wherever a person reads."""
    for i, cell in enumerate(load(nb_name)["cells"]):
        if cell["cell_type"] == "markdown":
            assert not re.search(r"\bstrict(ly)?\b", source(cell), re.I), f"{nb_name} cell {i} says 'strict'"


def test_notebook_4_prints_each_evaluation_once():
    """evaluate's own line (with the files' paths) is left out; MainJob.report prints the rates once."""
    calls = [source(c) for c in code_cells(load("04_gsm8k_unsloth.ipynb")) if re.search(r"\bevaluate\(", source(c))]
    assert calls and all("report=False" in call and "plan.report(" in call for call in calls)
