"""Worker processes for the shard writer and checker: started cleanly, and never outliving their parent.

- ``forkserver`` (``spawn`` where it is missing): workers start from a clean single-threaded server,
  not from a copy of a Dagster step or a pytest process with its threads and open handles.
- Every worker watches the process that created the pool (a pidfd where Linux has one, else a poll
  every half second) and exits at once when it is gone: a ``kill -9`` of a shard run leaves no
  worker behind, still decoding, holding memory or a GPU-less node's cores.
- Workers restore the default SIGTERM / SIGINT whatever they inherited (a run started with `cmd &` from a
  script ignores SIGINT, and Dagster then gives SIGTERM the same "ignore"): the pool's own clean-up
  terminates workers with SIGTERM, and a worker that ignored it would keep the interpreter from exiting.
- A pool that cannot start at all (e.g. a launching script without an ``if __name__ == "__main__"``
  guard, re-run by every worker) raises :class:`WorkerPoolError` instead of failing image after image.
"""

from __future__ import annotations

import multiprocessing
import os
import select
import signal
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

POLL_SECONDS = 0.5
START_TIMEOUT = 120


class WorkerPoolError(RuntimeError):
    """Worker processes cannot start: a fault of the run, not of any image."""


def pool_context():
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


def _exit_when_gone(parent: int) -> None:
    try:
        fd = os.pidfd_open(parent)
    except (AttributeError, OSError):
        fd = None
    if fd is not None:
        select.select([fd], [], [])  # readable when the process has exited
        os._exit(1)
    while True:
        try:
            os.kill(parent, 0)
        except ProcessLookupError:
            os._exit(1)
        except PermissionError:
            pass
        time.sleep(POLL_SECONDS)


def default_signals() -> None:
    """SIGTERM and SIGINT as a fresh process has them: they end it."""
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, signal.SIG_DFL)


def _watch_parent(parent: int) -> None:
    """Pool initializer: default signals, and a daemon thread that ends this worker when ``parent`` ends."""
    default_signals()
    threading.Thread(target=_exit_when_gone, args=(parent,), name="parent-watch", daemon=True).start()


def worker_pool(workers: int, ctx=None) -> ProcessPoolExecutor:
    """A process pool whose workers end with this process."""
    return ProcessPoolExecutor(
        workers, mp_context=ctx or pool_context(), initializer=_watch_parent, initargs=(os.getpid(),)
    )


def _probe() -> int:
    return os.getpid()


def check_pool_starts(ctx=None) -> None:
    """Raise :class:`WorkerPoolError` unless a one-worker pool can run a trivial task."""
    try:
        with worker_pool(1, ctx) as pool:
            pool.submit(_probe).result(timeout=START_TIMEOUT)
    except (BrokenProcessPool, OSError, TimeoutError) as exc:
        raise WorkerPoolError(
            f"worker processes cannot start ({type(exc).__name__}: {exc}). A script that builds shards must "
            "guard its entry point with `if __name__ == '__main__':` (workers re-import it); or set workers: 1"
        ) from exc


class SharedPool:
    """The worker processes of one partition build, started once and used by its writer and then by
    its ``check_wds``; a writer that finds the pool broken by a crashing image calls :meth:`replace`
    (the next use starts a fresh one). Use as a context manager: the pool ends with the build."""

    def __init__(self, workers: int, ctx=None):
        self.workers, self.ctx = workers, ctx or pool_context()
        self._pool: ProcessPoolExecutor | None = None

    @property
    def pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = worker_pool(self.workers, self.ctx)
        return self._pool

    def replace(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> "SharedPool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
