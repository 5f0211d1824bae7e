"""srgrpo.plumbing.process_group: ending a run's process group joins gloo's worker threads (issue #38).

One gloo process (world size 1) in a subprocess, so that this process's torch.distributed state stays untouched. The
oracle is the operating system's thread list: the threads torch names ``pt_gloo_runloop`` are gone, or still there
while something else holds the group. The abort itself needs two loaded processes and many runs:
benchmarks/two_process_exit.py measures it.
"""

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import subprocess_env

SCRIPT = """
import socket, sys
import torch, torch.distributed as dist
from srgrpo.plumbing.process_group import end_process_group, gloo_worker_threads

def start():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=0, world_size=1)
    outputs = [torch.zeros(2)]
    dist.all_gather(outputs, torch.ones(2))  # tensors made in Python, as transformers' last all_gather

print("none", end_process_group())
start()
print("workers", gloo_worker_threads())
print("ended", end_process_group(), gloo_worker_threads(), dist.is_initialized())
start()
held = dist.group.WORLD  # a live reference, as a trainer's DDP wrapper keeps one
print("held", end_process_group(), gloo_worker_threads())
"""


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="lists threads through /proc (Linux)")
def test_end_process_group_joins_gloos_workers_unless_the_group_is_still_held(tmp_path):
    proc = subprocess.run([sys.executable, "-c", SCRIPT], cwd=tmp_path, env=subprocess_env(OMP_NUM_THREADS="1"),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = dict(line.split(" ", 1) for line in proc.stdout.splitlines())
    assert lines["none"] == "None"  # no group: nothing to do
    assert int(lines["workers"]) >= 1  # the name the check relies on is torch's
    assert lines["ended"] == "True 0 False"
    held_result, held_workers = lines["held"].split()
    assert held_result == "False" and int(held_workers) >= 1
