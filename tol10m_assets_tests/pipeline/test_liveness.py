"""A run whose process was killed is marked failed by the dead_local_runs sensor; live runs are left alone."""

import socket
import subprocess

from dagster import DagsterRunStatus, build_sensor_context, instance_for_test
from dagster._core.test_utils import create_run_for_test

from tol10m_assets.defs.liveness import HOST_TAG, PID_TAG, START_TAG, dead_local_runs, process_start


def started_run(instance, pid: int):
    run = create_run_for_test(instance, job_name="write_shards", status=DagsterRunStatus.STARTED)
    instance.add_run_tags(run.run_id, {HOST_TAG: socket.gethostname(), PID_TAG: str(pid), START_TAG: process_start(pid) or ""})
    return run.run_id


def test_a_killed_run_is_failed_and_a_live_one_is_not():
    with instance_for_test() as instance:
        alive = subprocess.Popen(["sleep", "60"])
        doomed = subprocess.Popen(["sleep", "60"])
        try:
            live_id, dead_id = started_run(instance, alive.pid), started_run(instance, doomed.pid)
            doomed.kill()
            doomed.wait()
            dead_local_runs(build_sensor_context(instance=instance))
            assert instance.get_run_by_id(dead_id).status == DagsterRunStatus.FAILURE
            assert instance.get_run_by_id(live_id).status == DagsterRunStatus.STARTED
            events = instance.all_logs(dead_id)
            assert any(f"process {doomed.pid}" in (e.message or "") for e in events)
        finally:
            alive.kill()
            alive.wait()


def test_shard_runs_record_their_process(built):
    tol, instance, where, summary = built
    runs = instance.get_runs()
    shard_runs = [r for r in runs if r.tags.get("dagster/partition") in where["partitions"]]
    assert shard_runs and all(r.tags.get(PID_TAG, "").isdigit() and r.tags.get(HOST_TAG) for r in shard_runs)
