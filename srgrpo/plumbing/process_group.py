"""Ending a ``torchrun`` / ``accelerate launch`` run so that the process exits 0 every time, also on a busy machine.

Why :func:`torch.distributed.destroy_process_group` alone is not enough (torch 2.13, gloo on a CPU; issue #38):

* gloo's worker threads (``pt_gloo_runloop``) mark a collective complete, *then* drop their reference to it. When
  that is the last one, its tensors go too, and in torch 2.13 letting go of a tensor that has a Python object takes
  the GIL (``TensorImpl::decref_pyobject``). In a training run the last collective is transformers' ``all_gather``
  of ``Trainer.store_flos``, whose tensors were made in Python.
* ``barrier()`` waits for earlier collectives to *complete*, not for the workers to let go of them; and
  ``destroy_process_group()`` calls ``ProcessGroupGloo::shutdown()``, which gloo does not override (a no-op): the
  workers are stopped and joined only by the group's C++ destructor, which runs when its last reference goes, and
  DDP's reducer (inside the trainer) still holds one.
* On a loaded machine a worker can be descheduled between "complete" and "drop" long enough for the main thread to
  reach interpreter finalization. Before Python 3.14, a thread that asks for the GIL then calls ``pthread_exit``,
  whose unwinding hits a ``noexcept`` C++ destructor: ``std::terminate`` ("terminate called without an active
  exception"), SIGABRT, and torchrun fails a run whose work was done. The aborting thread's backtrace
  (``ProcessGroupGloo::runLoop`` -> ``~AsyncAllgatherWork`` -> ``TensorImpl::decref_pyobject`` ->
  ``gil_scoped_acquire`` -> ``take_gil`` -> ``pthread_exit`` -> ``std::terminate``) is in
  data/benchmarks/two_process_exit_backtrace.txt.
* Or the run hangs: when the trainer is freed after ``destroy_process_group()``, pybind frees DDP's reducer with the
  GIL held, the reducer drops the group's last reference, and ``~ProcessGroupGloo`` waits to join a worker that
  waits for that GIL (the same file has this backtrace too).

Upstream: pytorch/pytorch#190489 is this abort when ``destroy_process_group`` is not called, #179291 an abandoned
atexit ``destroy_process_group``; neither covers a group that outlives ``destroy_process_group``. The report to file:
"ProcessGroupGloo::shutdown() does not join its worker threads, so a worker may release a finished work (and its
Python-owned tensors) after the interpreter began finalizing; and when DDP's Reducer, freed with the GIL held, drops
the group's last reference, ~ProcessGroupGloo deadlocks joining that worker". CPython gh-87135: from 3.14 such a
thread hangs instead of unwinding.

The workaround, :func:`end_process_group`: after the barrier and ``destroy_process_group()``, collect the garbage
(the trainer's DDP wrapper, where a reference cycle keeps it) while holding our own Python handles on the group and
its backends, then drop the handles. The last reference is then ours, and torch's Python holder releases the GIL
before the C++ destructor joins the workers, so each finishes its drop while the interpreter is whole. Without the
handles the destructor would run wherever the trainer happens to be freed, GIL held: the hang above.

Imports torch only when called; nothing of the kit.
"""

from __future__ import annotations

import gc
import os

__all__ = ["end_process_group", "gloo_worker_threads"]

#: The name torch gives gloo's worker threads (``c10::setThreadName`` in ``ProcessGroupGloo::runLoop``).
GLOO_WORKER_THREAD = "pt_gloo_runloop"


def gloo_worker_threads() -> int | None:
    """How many of this process's threads are gloo workers; None where threads cannot be listed (not Linux)."""
    tasks = "/proc/self/task"
    if not os.path.isdir(tasks):
        return None
    count = 0
    for tid in os.listdir(tasks):
        try:
            with open(f"{tasks}/{tid}/comm") as f:
                count += f.read().strip() == GLOO_WORKER_THREAD
        except OSError:  # the thread ended while we looked
            continue
    return count


def end_process_group() -> bool | None:
    """End torch.distributed's process group of a finished run, every rank together; a no-op without one.

    Call it once every rank has finished its work, after dropping your own references to the trainer (and model):
    it waits at a barrier for the other ranks, destroys the group, and joins gloo's worker threads.

    Returns True when no gloo worker thread is left (the run can exit cleanly), False when some are (something
    still references the group, e.g. a live trainer: its process may abort at exit under load), None when there was
    no group or the threads cannot be listed.
    """
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return None
    dist.barrier()  # every rank done before any tears down (a peer still in a collective would see a closed socket)
    groups = _all_groups(dist)
    # Python handles on the groups and their backends (gloo's ProcessGroupGloo): torch binds both with a holder that
    # releases the GIL in its destructor (IntrusivePtrNoGilDestructor), so whichever goes last joins gloo's workers
    # with the GIL free for them.
    handles = groups + [pg._get_backend(device) for pg in groups for device in pg._device_types]
    del groups
    dist.destroy_process_group()
    gc.collect()  # frees the DDP wrapper (a cycle through the trainer): its reducer's C++ reference to the group goes
    del handles  # the last references: ~ProcessGroupGloo runs here, GIL released, and joins the workers
    remaining = gloo_worker_threads()
    return None if remaining is None else remaining == 0


def _all_groups(dist) -> list:
    """The default group and any others (``destroy_process_group()`` destroys them all)."""
    world = getattr(dist.distributed_c10d, "_world", None)
    groups = list(getattr(world, "pg_map", {}) or {})
    return groups or [dist.group.WORLD]
