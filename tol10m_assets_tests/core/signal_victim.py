"""Tests the signal tests run in a pytest of their own, started with `&` from a script (not collected by the
suite: the file name does not start with test_). Each first runs a Dagster job in-process, as the suite's
tests do: with SIGINT inherited ignored, Dagster would then give SIGTERM the same "ignore"."""

import os
import time
from pathlib import Path

from dagster import job, op


@op
def nothing():
    return 1


@job
def tiny():
    nothing()


def test_sleeps_after_a_dagster_run():
    assert tiny.execute_in_process().success
    Path(os.environ["TOL10M_VICTIM_MARK"]).write_text(str(os.getpid()))
    time.sleep(300)


def test_breaks_a_pool_after_a_dagster_run():
    """A worker dies, so the pool terminates the other one (SIGTERM); then the session must end."""
    from tol10m_assets_tests.core.signal_tasks import break_a_pool

    assert tiny.execute_in_process().success
    break_a_pool()
