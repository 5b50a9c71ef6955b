"""Issue 21 on the real local cluster: Slurm's verdict is the run's (a time limit, a memory kill),
a requeued job continues its run (``scontrol requeue``, a node going down) with no double write,
finished runs show their job's final state, and a job gets only the configured environment."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from dagster import DagsterEventType, DagsterRunStatus

from tol10m_assets.slurm import HEALTH_TAG, JOB_ID_TAG, STATE_TAG
from tol10m_assets.slurm.launcher import BASE_ENV

from .conftest import DAEMON_ONLY, SECRET, sacct_state, squeued

pytestmark = pytest.mark.slurm


def job_of(c, run_id: str, timeout: float = 120) -> str:
    return c.wait(lambda: (r := c.run(run_id)) and r.tags.get(JOB_ID_TAG), timeout, f"run {run_id} to be submitted")


def squeue_state(job: str) -> str:
    return subprocess.run(["squeue", "-h", "-j", job, "-o", "%T"], capture_output=True, text=True).stdout.strip()


def final_state(job: str, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = sacct_state(job)
        if state and state not in ("PENDING", "RUNNING", "COMPLETING", "REQUEUED") and not squeued(job):
            return state
        time.sleep(1)
    raise AssertionError(f"job {job} did not end within {timeout} s (sacct: {sacct_state(job)!r})")


def settled(c, run_id: str, state: str, health: str, timeout: float = 90):
    """The finished run's tags show its job's final state (the sweep settles them)."""
    return c.wait(lambda: (r := c.run(run_id)) and r.tags.get(STATE_TAG) == state and r.tags.get(HEALTH_TAG, "").startswith(health) and r,
                  timeout, f"run {run_id} tags {state}/{health}")


def test_a_job_over_its_time_limit_fails_its_run_naming_the_limit(verdicts):
    run_id = verdicts.nap(600, tags={"tol10m/slurm.time": "1"})
    job = job_of(verdicts, run_id)
    run = verdicts.wait_status(run_id, DagsterRunStatus.FAILURE, DagsterRunStatus.SUCCESS, timeout=400)
    messages = verdicts.messages(run_id)
    assert run.status == DagsterRunStatus.FAILURE, messages
    assert "TIMEOUT" in messages and "time limit (00:01:00" in messages and "tol10m/slurm.time" in messages, messages
    assert "interrupted" not in messages.lower()  # the worker did not turn Slurm's SIGTERM into its own verdict
    assert final_state(job) == "TIMEOUT"
    settled(verdicts, run_id, "TIMEOUT", "FAILED: TIMEOUT")
    verdicts.assert_no_orphans()


def test_a_job_killed_for_memory_fails_its_run_naming_the_limit(verdicts):
    run_id = verdicts.nap(30, tags={"tol10m/slurm.mem": "60M"})  # the interpreter alone needs more
    job = job_of(verdicts, run_id)
    run = verdicts.wait_status(run_id, DagsterRunStatus.FAILURE, DagsterRunStatus.SUCCESS, timeout=300)
    messages = verdicts.messages(run_id)
    assert run.status == DagsterRunStatus.FAILURE, messages
    assert "memory limit" in messages and "60M" in messages and "tol10m/slurm.mem" in messages, messages
    assert "before the run worker started" not in messages  # it had started: the log says so
    assert final_state(job) in ("FAILED", "OUT_OF_MEMORY")
    verdicts.assert_no_orphans()


def writer(c, seconds: float, partition: str) -> str:
    store = c.root / "store"
    return c.launch("slow", "writer_job", config={"ops": {"partition_writer": {"config": {
        "seconds": seconds, "store": str(store), "marker_dir": str(c.markers), "partition": partition}}}})


def assert_one_write(c, run_id: str, partition: str, first_pid: int):
    """Two attempts, one commit by the second; the first attempt's staging is gone; one materialization."""
    lines = (c.markers / f"{run_id}.attempts").read_text().split("\n")
    starts = [l for l in lines if l.startswith("start ")]
    commits = [l for l in lines if l.startswith("commit ")]
    assert len(starts) == 2 and len(commits) == 1, lines
    assert commits[0].split()[1] == starts[1].split()[1] != str(first_pid)
    assert not Path(f"/proc/{first_pid}").exists()
    folder = c.root / "store" / partition
    manifest = json.loads((folder / "manifest.json").read_text())
    assert sorted(p.name for p in folder.glob("gen-*")) == [manifest["generation"]] == [commits[0].split()[2]]
    assert manifest["run"]["run_id"] == run_id
    events = [e.dagster_event.event_type for e in c.instance.all_logs(run_id) if e.dagster_event]
    assert events.count(DagsterEventType.ASSET_MATERIALIZATION) == 1 and events.count(DagsterEventType.RUN_SUCCESS) == 1
    assert DagsterEventType.RUN_FAILURE not in events


def first_attempt(c, run_id: str) -> tuple[str, int]:
    attempts = c.markers / f"{run_id}.attempts"
    c.wait(lambda: attempts.exists() and "start" in attempts.read_text(), 300, "the first attempt to start writing")
    return c.run(run_id).tags[JOB_ID_TAG], int(attempts.read_text().split()[1])


def requeued_and_pending(c, run_id: str, job: str):
    c.wait(lambda: squeue_state(job) == "PENDING", 120, f"job {job} to be requeued")
    assert c.run(run_id).status == DagsterRunStatus.STARTED  # the run waits for its job, it is not failed
    subprocess.run(["scontrol", "update", f"jobid={job}", "StartTime=now"], capture_output=True)  # Slurm holds a requeued job ~2 min


def test_a_requeued_job_continues_its_run_with_no_double_write(verdicts):
    run_id = writer(verdicts, 30, "eol-01")
    job, first_pid = first_attempt(verdicts, run_id)
    out = subprocess.run(["scontrol", "requeue", job], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    requeued_and_pending(verdicts, run_id, job)
    run = verdicts.wait_finished(run_id, timeout=600)
    assert run.status == DagsterRunStatus.SUCCESS, verdicts.messages(run_id)
    assert f"Slurm requeued job {job} (restart 1" in verdicts.messages(run_id)
    assert_one_write(verdicts, run_id, "eol-01", first_pid)
    assert final_state(job) == "COMPLETED"
    settled(verdicts, run_id, "COMPLETED", "SUCCESS")
    verdicts.assert_no_orphans()


def node_state() -> str:
    return subprocess.run(["sinfo", "-h", "-N", "-o", "%t"], capture_output=True, text=True).stdout.strip()


def test_a_node_failure_requeues_the_job_and_its_run_succeeds(verdicts):
    node = subprocess.run(["sinfo", "-h", "-N", "-o", "%N"], capture_output=True, text=True, check=True).stdout.split()[0]
    run_id = writer(verdicts, 30, "eol-02")
    job, first_pid = first_attempt(verdicts, run_id)
    try:
        out = subprocess.run(["scontrol", "update", f"nodename={node}", "state=down", "reason=tol10m-test-node-failure"], capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        verdicts.wait(lambda: squeue_state(job) == "PENDING", 120, f"job {job} to be requeued off the failed node")
        assert verdicts.run(run_id).status == DagsterRunStatus.STARTED
        # the node did not really die: wait for slurmd to kill the first attempt before the job may start
        # again there (a real failed node takes its processes with it)
        verdicts.wait(lambda: not Path(f"/proc/{first_pid}").exists(), 120, "the first attempt to be killed")
    finally:
        if not node_state().startswith(("idle", "mix", "alloc")):  # ReturnToService=2 may have returned it already
            subprocess.run(["scontrol", "update", f"nodename={node}", "state=resume"], capture_output=True)
    verdicts.wait(lambda: node_state().startswith(("idle", "mix", "alloc")), 120, "the node to be back")
    subprocess.run(["scontrol", "update", f"jobid={job}", "StartTime=now"], capture_output=True)
    run = verdicts.wait_finished(run_id, timeout=600)
    assert run.status == DagsterRunStatus.SUCCESS, verdicts.messages(run_id)
    assert_one_write(verdicts, run_id, "eol-02", first_pid)
    settled(verdicts, run_id, "COMPLETED", "SUCCESS")
    assert node_state().startswith(("idle", "mix", "alloc")), node_state()
    verdicts.assert_no_orphans()


def test_finished_runs_show_final_states_and_jobs_get_only_the_configured_environment(verdicts):
    run_id = verdicts.nap(1)
    run = verdicts.wait_finished(run_id, timeout=300)
    assert run.status == DagsterRunStatus.SUCCESS, verdicts.messages(run_id)
    settled(verdicts, run_id, "COMPLETED", "SUCCESS")
    out = subprocess.run([sys.executable, "-m", "tol10m_assets.slurm", "status", "--limit", "50"], env=verdicts.env, capture_output=True, text=True, timeout=120)
    line = next(l for l in out.stdout.splitlines() if l.startswith(run_id[:8]))
    assert "SUCCESS" in line and "COMPLETED" in line and "RUNNING" not in line, line
    for finished in verdicts.instance.get_runs():  # every finished run of this module: no RUNNING/PENDING/SUBMITTED left
        if finished.is_finished and finished.tags.get(JOB_ID_TAG):
            assert verdicts.wait(lambda r=finished.run_id: verdicts.run(r).tags.get(STATE_TAG) not in ("", "SUBMITTED", "PENDING", "RUNNING", "COMPLETING"),
                                 60, f"run {finished.run_id} to show its job's final state")
    names = set((verdicts.markers / f"{run_id}.names").read_text().split())
    assert (verdicts.markers / f"{run_id}.env").read_text() == SECRET  # a configured variable reaches the job
    assert DAEMON_ONLY in os.environ or DAEMON_ONLY in verdicts.env
    assert DAEMON_ONLY not in names, "the daemon's whole environment reached the job"
    configured = {"TOL10M_DATA_ROOT", "TOL10M_SOURCES_ROOT", "DAGSTER_HOME", "TOL10M_TEST_SECRET"}
    assert configured <= names
    # besides those and Slurm's own, a job may have what a login shell of the user defines on the node
    # (Slurm loads it when --export is not ALL), never the rest of the daemon's environment
    login = set(subprocess.run(["env", "-i", f"HOME={os.path.expanduser('~')}", "bash", "-lc", "env -0"], capture_output=True, text=True).stdout.split("\0"))
    login = {item.split("=", 1)[0] for item in login if "=" in item}
    leaked = (names & set(verdicts.env)) - configured - set(BASE_ENV) - login - {"PWD", "SHLVL", "_", "OLDPWD", "HOSTNAME", "ENVIRONMENT", "TMPDIR", "SHELL", "MAIL"}
    assert not {n for n in leaked if not n.startswith("SLURM")}, leaked
