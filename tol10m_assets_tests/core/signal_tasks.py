"""Tasks and a script for the signal tests (imported by pool workers, so a module of its own)."""

import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path


def sleep_long(folder: str, seconds: float) -> int:
    Path(folder, f"worker-{os.getpid()}").write_text("")  # the script learns the workers' pids from these
    time.sleep(seconds)
    return os.getpid()


def break_a_pool() -> None:
    """Two workers busy, one killed: the pool terminates the other (SIGTERM) and joins it."""
    from concurrent.futures.process import BrokenProcessPool

    from tol10m_assets.shards.pool import worker_pool

    folder = tempfile.mkdtemp(prefix="tol10m-pool-")
    pool = worker_pool(2)
    futures = [pool.submit(sleep_long, folder, 300) for _ in range(2)]
    deadline = time.monotonic() + 120
    while len(os.listdir(folder)) < 2 and time.monotonic() < deadline:  # both workers busy
        time.sleep(0.05)
    pids = [int(name.split("-")[1]) for name in os.listdir(folder)]
    shutil.rmtree(folder, ignore_errors=True)
    # One more (queued) task wakes the pool's manager thread, which then watches both workers: the second
    # worker is spawned after the wake-up of its own submit, a race of CPython's ProcessPoolExecutor
    # (a killed worker it does not watch would never be noticed, with or without our signal handling).
    pool.submit(os.getpid)
    time.sleep(0.5)
    os.kill(pids[0], signal.SIGKILL)
    for future in futures:
        try:
            future.result()
        except BrokenProcessPool:
            pass
    pool.shutdown(wait=True)


def broken_pool_with_signals_ignored() -> None:
    """What a run started with `cmd &` under Dagster has: SIGINT and SIGTERM ignored; then a broken pool."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    break_a_pool()
    sys.stderr.write("done\n")


if __name__ == "__main__":
    {"broken_pool": broken_pool_with_signals_ignored}[sys.argv[1]]()
