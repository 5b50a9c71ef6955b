"""Tasks and a script for the signal tests (imported by pool workers, so a module of its own)."""

import os
import signal
import sys
import time


def sleep_long(seconds: float) -> int:
    print(os.getpid(), flush=True)  # to the shared stdout: the script reads the workers' pids from a pipe
    time.sleep(seconds)
    return os.getpid()


def broken_pool_with_signals_ignored() -> None:
    """What a run started with `cmd &` under Dagster has: SIGINT and SIGTERM ignored. One worker is killed,
    so the pool terminates the other (SIGTERM) and joins it; the interpreter must then exit at once."""
    from concurrent.futures.process import BrokenProcessPool

    from tol10m_assets.shards.pool import worker_pool

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    read, write = os.pipe()
    os.dup2(write, 1)
    pool = worker_pool(2)
    futures = [pool.submit(sleep_long, 300) for _ in range(2)]
    lines = os.fdopen(read)
    pids = [int(lines.readline()) for _ in range(2)]  # both workers are busy
    os.kill(pids[0], signal.SIGKILL)
    for future in futures:
        try:
            future.result()
        except BrokenProcessPool:
            pass
    pool.shutdown(wait=True)
    sys.stderr.write("done\n")


if __name__ == "__main__":
    {"broken_pool": broken_pool_with_signals_ignored}[sys.argv[1]]()
