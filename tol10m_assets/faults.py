"""Fault injection: kill this process at a named step, to prove that publishing is a transaction.

Set ``TOL10M_FAULT=<point>`` (one of :data:`FAULT_POINTS`) and the process sends itself SIGKILL
when it reaches that point: no ``finally`` block, no atexit handler, exactly like the OOM killer or
``kill -9``. The tests run a build in a subprocess once per point and compare the published files
before and after. Unset (the normal case) it costs one dictionary lookup.
"""

from __future__ import annotations

import os
import signal

FAULT_ENV = "TOL10M_FAULT"
PAUSE_ENV = "TOL10M_PAUSE"  # <point>=<file>: at that point, write the file and wait until it is removed (races)

FAULT_POINTS = (
    # a shard partition (store.py / partition.py)
    "partition.written",  # the generation's shards are complete in staging, not yet checked
    "partition.checked",  # check_wds passed on the staged files, manifest not yet written
    "partition.manifest-staged",  # the generation's manifest is written, the commit rename not done
    "partition.committed",  # the partition's manifest points at the new generation
    "partition.old-removed",  # the previous generation is gone
    # a release: catalog, licences, taxa report, shard links, split indexes (release.py)
    "release.linked",  # the shards are linked into the staged release
    "release.catalog-written",  # catalog, licences, split indexes staged, checks not yet run
    "release.checked",  # every check passed on the staged release
    "release.committed",  # the ``published`` link points at the new release
)


def fault_point(name: str) -> None:
    """SIGKILL this process if ``TOL10M_FAULT`` names this point (pause it if ``TOL10M_PAUSE`` does)."""
    pause = os.environ.get(PAUSE_ENV)
    if pause and pause.split("=", 1)[0] == name:
        _pause(pause.split("=", 1)[1])
    if os.environ.get(FAULT_ENV) == name:
        if name not in FAULT_POINTS:  # a typo in a test must not pass silently
            raise ValueError(f"unknown fault point {name!r}")
        os.kill(os.getpid(), signal.SIGKILL)


def _pause(flag: str, limit_s: float = 600) -> None:
    import time

    with open(flag, "w") as handle:
        handle.write(str(os.getpid()))
    deadline = time.monotonic() + limit_s
    while os.path.exists(flag) and time.monotonic() < deadline:
        time.sleep(0.1)
