"""Re-execute the kit's notebooks in place, in the same pinned environment as their tests.

    python notebooks/execute.py                  # every notebooks/*.ipynb, in order
    python notebooks/execute.py notebooks/02_advantage_lab.ipynb

Each notebook is run top to bottom by ``jupyter nbconvert --to notebook --execute --inplace`` in a fresh
kernel of this Python, with :data:`NOTEBOOK_ENV` added to the environment: CPU only (no GPU, no Unsloth),
offline, no progress bars, no warnings. That is the environment ``pytest --nbval`` gives the kernels too
(the repository's root ``conftest.py`` reads :data:`NOTEBOOK_ENV` from this file), so the stored outputs are
the ones the strict comparison expects, on any machine.

Afterwards the script checks what every notebook must satisfy before it is committed (every code cell
ran, nothing on stderr, no error) and prints each notebook's wall time. Never edit outputs by hand: change
the code or the kit, then run this again.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

NOTEBOOKS_DIR = Path(__file__).resolve().parent

#: Added to the environment of every notebook kernel, when storing outputs and when testing them.
NOTEBOOK_ENV: dict[str, str] = {
    "CUDA_VISIBLE_DEVICES": "",  # the CPU path everywhere, so outputs match on a GPU machine too
    "SRGRPO_DISABLE_UNSLOTH": "1",
    # float32 on every CPU: a bf16-capable CPU would otherwise train and evaluate in bf16 and print other numbers
    "SRGRPO_CPU_PRECISION": "float32",
    "HF_HUB_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "TQDM_DISABLE": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "HF_DATASETS_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_VERBOSITY": "error",
    "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "PYTHONWARNINGS": "ignore",
    "PYTHONHASHSEED": "0",
}

#: Seconds one cell may run before the execution fails.
CELL_TIMEOUT_S = 900


def notebook_paths(args: list[str]) -> list[Path]:
    """The notebooks named on the command line, or every ``notebooks/*.ipynb`` in name order."""
    if args:
        return [Path(a).resolve() for a in args]
    return sorted(NOTEBOOKS_DIR.glob("*.ipynb"))


def notebook_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(NOTEBOOK_ENV)
    return env


def problems(path: Path) -> list[str]:
    """What is wrong with an executed notebook: unrun code cells, stderr output, errors."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    found = []
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        if cell.get("execution_count") is None:
            found.append(f"cell {i} did not run")
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and out.get("name") == "stderr":
                found.append(f"cell {i} wrote to stderr: {''.join(out.get('text', ''))[:300]!r}")
            if out.get("output_type") == "error":
                found.append(f"cell {i} raised {out.get('ename')}: {out.get('evalue')}")
    return found


def execute(path: Path) -> float:
    """Run one notebook in place; return its wall time in seconds."""
    cmd = [
        sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute", "--inplace",
        f"--ExecutePreprocessor.timeout={CELL_TIMEOUT_S}",
        "--ExecutePreprocessor.kernel_name=python3",
        "--ExecutePreprocessor.record_timing=False",
        str(path),
    ]
    start = time.perf_counter()
    subprocess.run(cmd, check=True, env=notebook_env(), cwd=path.parent)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", help="notebooks to run (default: every notebooks/*.ipynb)")
    args = parser.parse_args(argv)
    paths = notebook_paths(args.notebooks)
    if not paths:
        print("no notebooks found", file=sys.stderr)
        return 1
    total, failed = 0.0, False
    for path in paths:
        print(f"executing {path.name} ...", flush=True)
        try:
            wall = execute(path)
        except subprocess.CalledProcessError:
            print(f"  FAILED: {path.name} raised an error (see above); its file is unchanged", file=sys.stderr)
            failed = True
            continue
        total += wall
        issues = problems(path)
        print(f"  {wall:6.1f} s" + ("" if not issues else "  PROBLEMS:"), flush=True)
        for issue in issues:
            print(f"    {issue}", file=sys.stderr)
        failed |= bool(issues)
    print(f"total {total:.1f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
