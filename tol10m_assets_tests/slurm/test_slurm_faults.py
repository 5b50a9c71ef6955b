"""Issue 14's faults on the real local cluster (slurm/local-cluster.sh) with a real dagster-daemon:
each test shows the launcher's behaviour and ends with no orphan job in squeue, and the job's final
state in sacct (accounting)."""

import os
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from dagster import DagsterEventType, DagsterRunStatus

from tol10m_assets.slurm import (
    HEALTH_TAG,
    JOB_ID_TAG,
    LOG_TAG,
    NODE_TAG,
    REASON_TAG,
    SCRIPT_TAG,
    STATE_TAG,
)

from .conftest import MISSING_PYTHON, REPO, SECRET, sacct_state, squeued

pytestmark = pytest.mark.slurm
PENDING = {"tol10m/slurm.begin": "now+3600"}  # held PENDING (BeginTime) for an hour


def job_of(faults, run_id: str, timeout: float = 60) -> str:
    return faults.wait(lambda: (r := faults.run(run_id)) and r.tags.get(JOB_ID_TAG), timeout, f"run {run_id} to be submitted")


def final_state(job: str, timeout: float = 60) -> str:
    """The job's final state in accounting, once it has left the queue."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = sacct_state(job)
        if state and state not in ("PENDING", "RUNNING", "COMPLETING", "REQUEUED") and not squeued(job):
            return state
        time.sleep(1)
    raise AssertionError(f"job {job} did not end within {timeout} s (sacct: {sacct_state(job)!r})")


def test_a_failing_module_load_fails_the_run_within_a_sweep_with_the_scripts_error(faults):
    run_id = faults.nap(1, job="setup_fails_job")
    job = job_of(faults, run_id)
    submitted = time.monotonic()
    run = faults.wait_status(run_id, DagsterRunStatus.FAILURE, timeout=60)
    elapsed = time.monotonic() - submitted
    messages = faults.messages(run_id)
    assert "exit code 127:0" in messages and "module load python/3.11" in messages and "before the run worker started" in messages, messages
    assert "seconds to start" not in messages  # failed by the sweep, not by Dagster's start timeout (30 s)
    assert run.tags[STATE_TAG] == "FAILED" and run.tags[HEALTH_TAG].startswith("FAILED")
    assert elapsed < 20, f"{elapsed:.0f} s to fail"  # the job fails at once; the sweep runs every 2 s
    assert final_state(job) == "FAILED"
    faults.assert_no_orphans()


def test_a_missing_interpreter_fails_the_run_without_python(faults):
    run_id = faults.nap(1, job="no_python_job")
    job = job_of(faults, run_id)
    run = faults.wait_status(run_id, DagsterRunStatus.FAILURE, timeout=60)
    messages = faults.messages(run_id)
    assert f"the interpreter {MISSING_PYTHON} is missing" in messages and "exit code 127:0" in messages, messages
    assert run.tags[STATE_TAG] == "FAILED"
    assert final_state(job) == "FAILED"
    faults.assert_no_orphans()


def test_a_controller_outage_is_not_a_failure(faults):
    run_id = faults.nap(60)  # long enough that the outage falls inside the run even on a loaded machine
    faults.wait_status(run_id, DagsterRunStatus.STARTED, timeout=90)
    job = faults.run(run_id).tags[JOB_ID_TAG]
    faults.wait_tag(run_id, STATE_TAG, "RUNNING")
    run = faults.run(run_id)
    assert run.tags[NODE_TAG] and run.tags[HEALTH_TAG] == "RUNNING"
    subprocess.run(["bash", str(REPO / "slurm" / "local-cluster.sh"), "stop-controller"], check=True, capture_output=True)
    try:
        faults.wait(lambda: faults.run(run_id).tags.get(HEALTH_TAG, "").startswith("UNKNOWN"), 60, "the health verdict to become UNKNOWN")
        time.sleep(8)  # four more monitoring polls and sweeps without a controller
        run = faults.run(run_id)
        # never failed for the outage; the worker itself may have finished meanwhile (it reports to
        # the instance, not through Slurm)
        assert run.status in (DagsterRunStatus.STARTED, DagsterRunStatus.SUCCESS), run.status
        if run.status == DagsterRunStatus.STARTED:
            assert run.tags[HEALTH_TAG].startswith("UNKNOWN"), run.tags[HEALTH_TAG]
    finally:
        subprocess.run(["bash", str(REPO / "slurm" / "local-cluster.sh"), "start-controller"], check=True, capture_output=True)
    run = faults.wait_finished(run_id, timeout=120)
    assert run.status == DagsterRunStatus.SUCCESS, faults.messages(run_id)
    assert "Slurm no longer knows" not in faults.messages(run_id)
    assert (faults.markers / f"{run_id}.done").exists()
    assert final_state(job) == "COMPLETED"
    faults.assert_no_orphans()


def test_kill_9_of_the_worker_ends_its_whole_tree_and_nothing_is_written_after(faults):
    nap = 12
    run_id = faults.nap(nap)
    pid_file = faults.markers / f"{run_id}.pid"
    faults.wait(pid_file.exists, 90, "the step process to start")
    started = time.monotonic()
    step_pid = int(pid_file.read_text())
    worker = [e for e in faults.instance.all_logs(run_id) if "Started process for run" in (e.message or "")]
    worker_pid = int(worker[0].message.split("pid: ")[1].rstrip(")."))
    assert worker_pid != step_pid  # the step runs in a child of the worker
    job = faults.run(run_id).tags[JOB_ID_TAG]
    os.kill(worker_pid, signal.SIGKILL)
    run = faults.wait_finished(run_id, timeout=60)
    assert run.status == DagsterRunStatus.FAILURE
    assert not Path(f"/proc/{step_pid}").exists(), "the step process outlived the job"
    time.sleep(max(0, nap + 3 - (time.monotonic() - started)))  # past the nap's end
    assert not (faults.markers / f"{run_id}.done").exists(), "the step wrote after its run failed"
    types = {e.dagster_event.event_type for e in faults.instance.all_logs(run_id) if e.dagster_event}
    assert DagsterEventType.ASSET_MATERIALIZATION not in types and DagsterEventType.STEP_SUCCESS not in types
    assert faults.run(run_id).status == DagsterRunStatus.FAILURE
    assert final_state(job) == "FAILED"
    faults.assert_no_orphans()


def test_a_run_pending_past_the_start_timeout_fails_and_its_job_is_cancelled(faults):
    run_id = faults.launch("slow", "sleep_job", PENDING)
    job = job_of(faults, run_id)
    run = faults.wait_tag(run_id, REASON_TAG, "BeginTime")  # why it has not started: visible on the run
    assert run.tags[STATE_TAG] == "PENDING" and run.status == DagsterRunStatus.STARTING
    run = faults.wait_status(run_id, DagsterRunStatus.FAILURE, timeout=90)
    assert "seconds to start" in faults.messages(run_id)
    assert final_state(job, timeout=30) == "CANCELLED"  # the sweep cancelled the queued job
    assert any(f"Cancelled Slurm job {job}" in m for m in faults.messages(run_id).splitlines())
    faults.assert_no_orphans()


def test_terminate_cancels_a_pending_job(faults):
    run_id = faults.launch("slow", "sleep_job", PENDING)
    job = job_of(faults, run_id)
    assert faults.run(run_id).status == DagsterRunStatus.STARTING
    assert faults.instance.run_coordinator.cancel_run(run_id)
    assert faults.run(run_id).status == DagsterRunStatus.CANCELED  # at once: Slurm confirmed the end
    assert final_state(job, timeout=10) == "CANCELLED"
    faults.assert_no_orphans()


def test_force_cancel_of_a_pending_run_cancels_its_job(faults):
    """What the UI's "force termination" does to a STARTING run: mark it CANCELED, nothing else."""
    run_id = faults.launch("slow", "sleep_job", PENDING)
    job = job_of(faults, run_id)
    faults.instance.report_run_canceled(faults.run(run_id), "forcibly marked as canceled (test)")
    assert final_state(job, timeout=30) == "CANCELLED"
    faults.assert_no_orphans()


def test_the_queue_cap_keeps_extra_runs_in_dagsters_queue(faults):
    assert not subprocess.run(["squeue", "-h", "--me"], capture_output=True, text=True).stdout.strip(), "other jobs would count"
    threads = [threading.Thread(target=lambda: ids.append(faults.launch("slow", "sleep_job", PENDING))) for _ in range(4)]
    ids: list[str] = []
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    faults.wait(lambda: sum(1 for r in ids if faults.run(r).tags.get(JOB_ID_TAG)) == 2, 60, "two runs submitted")
    seen = []
    for _ in range(3):  # several dequeue ticks: never more than two of our jobs in Slurm's queue
        queued = subprocess.run(["squeue", "-h", "--me", "-o", "%i"], capture_output=True, text=True).stdout.split()
        seen.append(len(queued))
        time.sleep(1)
    statuses = sorted(faults.run(r).status.value for r in ids)
    assert max(seen) == 2, seen
    assert statuses.count("QUEUED") == 2, statuses
    # one queued job leaves: a waiting run takes its place
    first = next(r for r in ids if faults.run(r).tags.get(JOB_ID_TAG) and not faults.run(r).is_finished)
    assert faults.instance.run_coordinator.cancel_run(first)
    faults.wait(lambda: sum(1 for r in ids if faults.run(r).tags.get(JOB_ID_TAG)) == 3, 60, "a third run submitted")
    assert len(subprocess.run(["squeue", "-h", "--me", "-o", "%i"], capture_output=True, text=True).stdout.split()) <= 2
    for r in ids:
        if not faults.run(r).is_finished:
            faults.instance.run_coordinator.cancel_run(r)
    faults.wait(lambda: all(faults.run(r).is_finished for r in ids), 60, "all runs finished")
    faults.assert_no_orphans()
    assert not subprocess.run(["squeue", "-h", "--me"], capture_output=True, text=True).stdout.strip()


def test_log_folders_are_private_and_no_file_holds_the_secret(faults):
    runs = [r for r in faults.instance.get_runs() if r.tags.get(SCRIPT_TAG)]
    assert runs
    assert stat.S_IMODE(faults.logs.stat().st_mode) == 0o700
    for run in runs:
        script = Path(run.tags[SCRIPT_TAG])
        assert stat.S_IMODE(script.parent.stat().st_mode) == 0o700
        assert stat.S_IMODE(script.stat().st_mode) == 0o600
    for path in faults.logs.rglob("*"):
        if path.is_file():
            assert SECRET not in path.read_text(errors="replace"), path
    # ... and yet every job got it, through the environment Slurm passes
    got = [p.read_text() for p in faults.markers.glob("*.env")]
    assert got and all(value == SECRET for value in got)
    assert all(Path(r.tags[LOG_TAG]).exists() for r in runs if r.tags.get(LOG_TAG) and r.status == DagsterRunStatus.SUCCESS)


def test_the_status_command_shows_each_runs_job_and_verdict(faults):
    out = subprocess.run([sys.executable, "-m", "tol10m_assets.slurm", "status", "--limit", "50"], env=faults.env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    for run in faults.instance.get_runs(limit=50):
        if run.tags.get(JOB_ID_TAG):
            line = next(l for l in out.stdout.splitlines() if l.startswith(run.run_id[:8]))
            assert run.tags[JOB_ID_TAG] in line and run.tags[HEALTH_TAG] in line, (line, run.tags)
