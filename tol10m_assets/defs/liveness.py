"""Runs whose process was killed are marked failed, so the run queue keeps moving.

Dagster's code server fails a run whose worker process it started and saw die, but a run executed
in its own process (``dagster asset materialize``, ``python -m tol10m_assets.run``, a test) or one
whose code server died with it stays STARTED forever, and with ``max_concurrent_runs`` a few of them
stop the queue. Every step of ours records its host and process (run tags ``tol10m/host``,
``tol10m/pid``, ``tol10m/pid_start``); the ``dead_local_runs`` sensor (running by default, every 30 s)
fails STARTED runs of this host whose process is gone. Runs on other hosts (Slurm) are the
launcher's business.
"""

from __future__ import annotations

import os
import socket

from dagster import DagsterRunStatus, DefaultSensorStatus, RunsFilter, SensorEvaluationContext, SkipReason, sensor
from dagster._core.instance import DagsterInstance

HOST_TAG, PID_TAG, START_TAG = "tol10m/host", "tol10m/pid", "tol10m/pid_start"


def process_start(pid: int) -> str | None:
    """The start time of a process (clock ticks since boot), or None when it does not exist."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return None if fields[0] == "Z" else fields[19]


def record_process(context) -> None:
    """Tag the run with the process executing this step (once per run and process)."""
    run = context.run
    pid = str(os.getpid())
    if run.tags.get(PID_TAG) == pid:
        return
    context.instance.add_run_tags(
        run.run_id, {HOST_TAG: socket.gethostname(), PID_TAG: pid, START_TAG: process_start(os.getpid()) or ""}
    )


def sweep_dead_runs(instance: DagsterInstance) -> list[str]:
    """Fail STARTED runs of this host whose recorded process no longer exists; returns their ids."""
    host = socket.gethostname()
    failed = []
    records = instance.get_run_records(RunsFilter(statuses=[DagsterRunStatus.STARTED]))
    for record in records:
        run = record.dagster_run
        tags = run.tags
        if tags.get(HOST_TAG) != host or not tags.get(PID_TAG, "").isdigit():
            continue
        pid = int(tags[PID_TAG])
        start = process_start(pid)
        if start is not None and tags.get(START_TAG) in ("", None, start):
            continue  # the same process is still running
        latest = instance.get_run_by_id(run.run_id)
        if latest is None or latest.status != DagsterRunStatus.STARTED:
            continue
        message = f"the run's process {pid} on {host} is gone (killed, or its machine restarted): marked failed"
        instance.report_run_failed(latest, message)
        failed.append(run.run_id)
    return failed


@sensor(minimum_interval_seconds=30, default_status=DefaultSensorStatus.RUNNING, description="Fails STARTED runs of this host whose process was killed, so the run queue keeps moving.")
def dead_local_runs(context: SensorEvaluationContext):
    failed = sweep_dead_runs(context.instance)
    return SkipReason(f"marked failed: {', '.join(failed)}" if failed else "every started run of this host is alive")
