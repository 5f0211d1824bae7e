"""Does two-process training exit cleanly every time on a busy machine? (issue #38; a stress check, not a CI test)

    nice -n 10 python benchmarks/two_process_exit.py --runs 30 --label after [--target train_command|test_script]
        [--kit_dir PATH] [--busy_loops 2] [--work_dir runs/two_process_exit]
        [--output data/benchmarks/two_process_exit.json]

Starts ``--busy_loops`` busy-loop processes (default: one a core), then runs a small two-process training ``--runs``
times under ``torchrun --standalone --nproc_per_node 2`` (gloo on the CPU), one after the other:

* ``train_command`` (default): the kit's ``python -m srgrpo.train --preset tiny_cpu --max_steps 2``, as a user
  runs it;
* ``test_script``: tests/scripts/distributed_slices.py, the CI test's script (2 steps of the tiny model).

Each run is *clean* when torchrun exits 0. A failed run records torchrun's exit code, each failed rank's exit code
(-6: SIGABRT), whether "terminate called without an active exception" was printed, and whether the training had
finished anyway (the run's outputs are there); a run still going after ``--timeout`` seconds counts as hung and is
killed. ``--kit_dir`` runs another source tree's code (say, a checkout of the commit before a fix) with this script;
the results file keeps one measurement per ``--label``, ``--target`` and ``--starve_gloo_workers``, with the kit's
commit, the CPU (``lscpu`` model and flags), the versions and the date. Run the whole thing under ``nice -n 10``:
the busy loops inherit it, so the load is relative to the training and the rest of the machine keeps some CPU.

``--starve_gloo_workers true`` amplifies the load where the race is: each rank's gloo worker threads
(``pt_gloo_runloop``) get Linux's lowest priority (``SCHED_IDLE``, through a ``sitecustomize`` module put on the
ranks' path), so that a worker is descheduled right after it completes a collective, as on a very busy machine.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from srgrpo.lab.results import run_metadata, write_json  # noqa: E402

TARGETS = ("train_command", "test_script")
ABORT_MESSAGE = "terminate called without an active exception"
# torchrun's failure summary, one block a failed rank: "rank      : 0 (local_rank: 0)" ... "exitcode  : -6 (pid: ...)"
_RANK_EXIT = re.compile(r"rank\s*:\s*(\d+)\s*\(local_rank.*?\n\s*exitcode\s*:\s*(-?\d+)", re.S)


@dataclass
class Settings:
    runs: int = field(default=30, metadata={"help": "two-process trainings to run, one after the other"})
    label: str = field(default="after", metadata={"help": "this measurement's name in the results file (before/after)"})
    target: str = field(default="train_command", metadata={"help": "what each run trains", "choices": list(TARGETS)})
    kit_dir: str | None = field(default=None, metadata={
        "help": "source tree whose code runs (default: this repository), e.g. a checkout of the commit before a fix"})
    busy_loops: int | None = field(default=None, metadata={"help": "busy-loop processes loading the cores (default: "
                                                                     "one a core)"})
    starve_gloo_workers: bool = field(default=False, metadata={
        "help": "give each rank's gloo worker threads the lowest priority (SCHED_IDLE): the race, amplified"})
    max_steps: int = field(default=2, metadata={"help": "optimizer steps a run (train_command)"})
    timeout: int = field(default=300, metadata={"help": "seconds before a run counts as hung and is killed"})
    work_dir: str = field(default="runs/two_process_exit", metadata={"help": "one folder a run (logs kept)"})
    output: str = field(default="data/benchmarks/two_process_exit.json", metadata={"help": "results file"})


# Put on the ranks' path by --starve_gloo_workers: a thread that lowers gloo's worker threads to SCHED_IDLE as soon as
# they exist, then ends. Only in torchrun's ranks (RANK is set), not in torchrun itself.
STARVE_SITECUSTOMIZE = """
import os, threading, time


def _starve_gloo_workers():
    starved, deadline = set(), time.time() + 600
    while len(starved) < 2 and time.time() < deadline:  # a gloo group starts two worker threads
        for tid in os.listdir("/proc/self/task"):
            try:
                with open(f"/proc/self/task/{tid}/comm") as f:
                    name = f.read().strip()
                if name == "pt_gloo_runloop" and tid not in starved:
                    os.sched_setscheduler(int(tid), os.SCHED_IDLE, os.sched_param(0))
                    starved.add(tid)
            except OSError:
                pass
        time.sleep(0.05)


if os.environ.get("RANK") is not None:
    threading.Thread(target=_starve_gloo_workers, name="starve_gloo_workers", daemon=True).start()
"""


def _git_commit(folder: Path) -> dict:
    """The kit's commit and whether its tracked files differ from it (None outside a git checkout)."""
    def git(*args: str) -> str | None:
        proc = subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True)
        return proc.stdout.strip() if proc.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    dirty = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "modified": None if dirty is None else bool(dirty)}


def _command(settings: Settings, kit: Path, run_dir: Path, tiny_dir: str) -> list[str]:
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    if settings.target == "test_script":
        (run_dir / "out").mkdir(parents=True, exist_ok=True)
        return torchrun + [str(kit / "tests" / "scripts" / "distributed_slices.py"), str(run_dir / "out"), tiny_dir]
    return torchrun + ["-m", "srgrpo.train", "--preset", "tiny_cpu", "--max_steps", str(settings.max_steps),
                       "--output_dir", str(run_dir / "model"), "--save_strategy", "no", "--disable_tqdm", "true"]


def _work_done(settings: Settings, run_dir: Path) -> bool:
    """Did the training finish, whatever the exit code? (the outputs a finished run leaves)"""
    if settings.target == "test_script":
        return all((run_dir / "out" / f"rank{r}.json").is_file() for r in (0, 1))
    state = run_dir / "model" / "trainer_state.json"
    return state.is_file() and json.loads(state.read_text()).get("global_step") == settings.max_steps


def run_once(settings: Settings, kit: Path, run_dir: Path, env: dict, tiny_dir: str) -> dict:
    """One two-process training; its outcome (and its log in ``run_dir/log.txt``)."""
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    start = time.time()
    with open(run_dir / "log.txt", "w") as log:
        # A session of its own: a hung run's ranks are killed with torchrun, not left behind as orphans.
        proc = subprocess.Popen(_command(settings, kit, run_dir, tiny_dir), cwd=run_dir, stdout=log,
                                stderr=subprocess.STDOUT, env={**env, "TMPDIR": str(run_dir)}, start_new_session=True)
        try:
            returncode = proc.wait(timeout=settings.timeout)
        except subprocess.TimeoutExpired:
            returncode = None  # hung
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    text = (run_dir / "log.txt").read_text(errors="replace")
    return {
        "returncode": returncode,
        "clean": returncode == 0,
        "seconds": round(time.time() - start, 1),
        "work_done": _work_done(settings, run_dir),
        "terminate_message": ABORT_MESSAGE in text,
        "failed_ranks": {rank: int(code) for rank, code in _RANK_EXIT.findall(text)},
    }


def summarise(runs: list[dict]) -> dict:
    failures = [dict(r, run=i) for i, r in enumerate(runs) if not r["clean"]]
    return {
        "runs": len(runs),
        "clean": len(runs) - len(failures),
        "failed": len(failures),
        "aborts": sum(-6 in r["failed_ranks"].values() for r in failures),  # a rank died of SIGABRT
        "hung": sum(r["returncode"] is None for r in failures),
        "failed_after_the_work_was_done": sum(r["work_done"] for r in failures),
        "failures": failures,
        "seconds_per_run": {"min": min(r["seconds"] for r in runs), "max": max(r["seconds"] for r in runs)},
    }


def parse_settings(argv: list[str] | None = None) -> Settings:
    """The command line (HfArgumentParser through the kit's parse_flags: a renamed flag fails naming its new name)."""
    from transformers import HfArgumentParser

    from srgrpo.plumbing.flags import parse_flags

    parser = HfArgumentParser(Settings, prog="python benchmarks/two_process_exit.py", allow_abbrev=False,
                              description=(__doc__ or "").splitlines()[0])
    return parse_flags(parser, sys.argv[1:] if argv is None else argv)[0]


def main() -> int:
    settings = parse_settings()
    if settings.runs < 1:
        raise SystemExit(f"--runs must be at least 1, got {settings.runs}")
    kit = Path(settings.kit_dir).resolve() if settings.kit_dir else REPO
    if not (kit / "srgrpo" / "train" / "command.py").is_file():
        raise SystemExit(f"--kit_dir {kit} holds no srgrpo source tree (srgrpo/train/command.py is missing)")
    name = f"{settings.label}/{settings.target}" + ("/starved_gloo_workers" if settings.starve_gloo_workers else "")
    work = (REPO / settings.work_dir / name).resolve()
    env = dict(os.environ, PYTHONPATH=str(kit), HF_HUB_OFFLINE="1", CUDA_VISIBLE_DEVICES="", OMP_NUM_THREADS="1",
               PYTHONUNBUFFERED="1")
    if settings.starve_gloo_workers:
        site = work / "starve_site"
        site.mkdir(parents=True, exist_ok=True)
        (site / "sitecustomize.py").write_text(STARVE_SITECUSTOMIZE)
        env["PYTHONPATH"] = os.pathsep.join([str(site), str(kit)])
    # The tiny model is built once, before the load and the runs (two ranks must not build it at the same time).
    tiny_dir = subprocess.run([sys.executable, "-c", "from srgrpo.models.tiny import tiny_model_dir; "
                               "print(tiny_model_dir())"], env=env, cwd=kit, capture_output=True, text=True,
                              check=True).stdout.strip().splitlines()[-1]
    kit_commit = _git_commit(kit)  # before the runs: the code they ran
    n_busy = settings.busy_loops if settings.busy_loops is not None else os.cpu_count() or 1
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n_busy)]
    runs = []
    try:
        for i in range(settings.runs):
            runs.append(run_once(settings, kit, work / f"run-{i:03d}", env, tiny_dir))
            r = runs[-1]
            print(f"run {i + 1}/{settings.runs}: {'clean' if r['clean'] else 'FAILED'} (exit {r['returncode']}, "
                  f"{r['seconds']} s{', ranks ' + str(r['failed_ranks']) if r['failed_ranks'] else ''})", flush=True)
    finally:
        for p in busy:
            p.kill()
            p.wait()
    summary = summarise(runs)
    output = REPO / settings.output
    results = json.loads(output.read_text()) if output.is_file() else {"benchmark": "two_process_exit"}
    results.setdefault("measurements", {})[name] = {
        "target": settings.target, "starve_gloo_workers": settings.starve_gloo_workers,
        "kit": {"dir": str(kit), **kit_commit}, "busy_loops": n_busy, "niceness": os.nice(0), **summary,
        "metadata": run_metadata(sys.argv[1:], prog="python benchmarks/two_process_exit.py"),
    }
    write_json(output, results)
    print(f"{settings.label}: {summary['clean']}/{summary['runs']} clean, {summary['aborts']} aborted "
          f"(SIGABRT), {summary['hung']} hung; wrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
