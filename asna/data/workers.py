"""Worker processes that never outlive the process that started them.

A preparation run distorts images in a pool of processes. Killed with
``kill -9``, a parent cannot stop its workers, which then ran on under init;
here each worker asks the kernel to end it when its parent ends (Linux), or
watches its parent (elsewhere). When the parent stops on an error, Ctrl-C or
SIGTERM, queued tasks are dropped and the workers end after their current one.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Iterator

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def available_cpus() -> int:
    """The CPUs this process may run on (its affinity where the OS has one), for sizing pools and shares."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)


def die_with_parent(parent: int, death_signal: int = signal.SIGKILL) -> None:
    """Pool initializer: end this worker as soon as process ``parent`` is gone.

    Ctrl-C is left to the parent, which stops the pool; a worker does not
    print its own KeyboardInterrupt traceback. ``death_signal``: what the
    kernel sends when the parent ends (Linux); ``SIGTERM`` lets a process
    that handles it clean up (a seed study's child run), ``SIGKILL`` cannot be caught.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, death_signal)
        if os.getppid() != parent:  # the parent ended before the request took effect
            os._exit(1)
    else:
        threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()


@contextlib.contextmanager
def worker_pool(workers: int) -> Iterator[ProcessPoolExecutor]:
    """A ``spawn`` process pool whose workers die with this process and stop when it fails."""
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=die_with_parent, initargs=(os.getpid(),))
    try:
        yield pool
    except BaseException:
        # queued tasks are dropped; running ones finish (a worker killed while it sends
        # its result would leave the pool's reader waiting for the rest forever)
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
