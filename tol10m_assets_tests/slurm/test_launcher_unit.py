"""The launcher with a fake sbatch/squeue/scontrol on PATH: scripts, quoting, states."""

import os
import stat
import subprocess
import textwrap
import time

import pytest
from dagster import DagsterRunStatus, instance_for_test
from dagster._core.launcher import LaunchRunContext, WorkerStatus

from tol10m_assets.slurm import (
    HEALTH_TAG,
    JOB_ID_TAG,
    LOG_TAG,
    REASON_TAG,
    STATE_TAG,
    BatchScript,
    SlurmOptions,
    SlurmRunLauncher,
    UnsafeValue,
)
from tol10m_assets.slurm.launcher import BASE_ENV
from tol10m_assets.slurm.script import env_file_text
from tol10m_assets.slurm.states import parse_scontrol

from .slow_defs import defs as slow_defs


def fake(tmp_path, name, body):
    path = tmp_path / name
    path.write_text("#!/bin/bash\n" + textwrap.dedent(body))
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return str(path)


def test_options_are_validated_and_tags_override():
    base = SlurmOptions(partition="cpu", mem="4G").validated()
    merged = base.with_tags({"tol10m/slurm.mem": "16G", "tol10m/slurm.cpus_per_task": "8", "other": "x"})
    assert merged.mem == "16G" and merged.cpus_per_task == "8" and merged.partition == "cpu"
    for bad in ("16G\nrm -rf /", "16G; rm", "$(id)", "4 G"):
        with pytest.raises(UnsafeValue):
            base.with_tags({"tol10m/slurm.mem": bad})
    with pytest.raises(UnsafeValue):
        SlurmOptions(partition="cpu\n#SBATCH --uid=0").validated()


def test_script_quotes_everything_shell_bound():
    script = BatchScript(
        job_name="dagster-x-1234",
        output="/logs/run 1/slurm-%j.out",
        command=["/venv/bin/python", "-m", "dagster", "api", "execute_run", '{"a": "b c; $(id)"}'],
        options=SlurmOptions(partition="debug", time="1:00:00"),
        working_directory="/work/my repo",
        env_file="/logs/run 1/env",
    ).render()
    assert "#SBATCH --partition=debug" in script and "#SBATCH --time=1:00:00" in script
    assert "cd '/work/my repo'" in script
    assert ". '/logs/run 1/env'" in script and "export" not in script  # values never in the script
    assert """'{"a": "b c; $(id)"}'""" in script
    assert env_file_text({"TOL10M_DATA_ROOT": "/data/with space$HOME"}) == "export TOL10M_DATA_ROOT='/data/with space$HOME'\n"
    with pytest.raises(UnsafeValue):
        BatchScript(job_name="a\nb", output="o", command=["x"]).render()
    with pytest.raises(UnsafeValue):
        env_file_text({"BAD NAME": "v"})
    with pytest.raises(UnsafeValue):
        BatchScript(job_name="a", output="o", command=["x"], extra_sbatch_lines=("rm -rf /",)).render()


def test_scontrol_parsing():
    fields = parse_scontrol("JobId=5 JobName=x JobState=OUT_OF_MEMORY Reason=OutOfMemory Dependency=(null) ExitCode=0:125")
    assert fields["JobState"] == "OUT_OF_MEMORY" and fields["Reason"] == "OutOfMemory"


COMMAND = ["python", "-m", "dagster", "api", "execute_run", "{}"]
REAL_RUN_COMMAND = SlurmRunLauncher.run_command


@pytest.fixture(autouse=True)
def no_code_origin(monkeypatch):
    """Runs made outside a code location have no origin: give them a fixed command."""
    monkeypatch.setattr(SlurmRunLauncher, "run_command", lambda self, run: list(COMMAND))


def launcher_and_run(tmp_path, instance, tags=None, **config):
    launcher = SlurmRunLauncher(log_directory=str(tmp_path / "logs"), **config)
    launcher.register_instance(instance)
    run = instance.create_run_for_job(slow_defs.resolve_job_def("sleep_job"), tags=tags or {})
    launcher.launch_run(LaunchRunContext(dagster_run=run, workspace=None))
    return instance.get_run_by_id(run.run_id)



def test_launch_writes_a_private_script_without_secrets_and_tags_the_run(tmp_path, monkeypatch):
    monkeypatch.setenv("TOL10M_SECRET_URL", "postgresql://u:pa55word@db/x")
    sbatch = fake(tmp_path, "sbatch", f'cp "${{@: -1}}" {tmp_path}/submitted.sbatch; echo "$*" > {tmp_path}/args; env > {tmp_path}/env; echo "4242;cluster"\n')
    with instance_for_test() as instance:
        run = launcher_and_run(tmp_path, instance, {"tol10m/slurm.cpus_per_task": "3"}, sbatch=sbatch, partition="debug",
                               per_job={"sleep_job": {"mem": "2G", "setup_lines": ["module load x/1"]}}, env_vars=["TOL10M_SECRET_URL", "PLAIN=1"])
        assert run.tags[JOB_ID_TAG] == "4242" and run.tags[STATE_TAG] == "SUBMITTED"
        assert run.tags[LOG_TAG].endswith(f"{run.run_id}/slurm-4242.out")
        text = (tmp_path / "submitted.sbatch").read_text()
        assert "#SBATCH --partition=debug" in text and "#SBATCH --mem=2G" in text and "#SBATCH --cpus-per-task=3" in text
        assert f"#SBATCH --comment=dagster-run={run.run_id}" in text and "\nmodule load x/1\n" in text
        assert "\nTOL10M_SLURM_T0=$job_start setsid python -m dagster api execute_run '{}' &\n" in text
        assert "pa55word" not in text and "PLAIN" not in text  # values reach the job through Slurm's --export
        # only the configured variables and a few basics reach the job, not the daemon's whole environment
        # (changed on purpose, issue 21: this was --export=ALL)
        assert f"--export={','.join(sorted({'PLAIN', 'TOL10M_SECRET_URL', *(n for n in BASE_ENV if n in os.environ)}))} " in (tmp_path / "args").read_text()
        env = (tmp_path / "env").read_text()
        assert "TOL10M_SECRET_URL=postgresql://u:pa55word@db/x" in env and "PLAIN=1" in env
        run_dir = tmp_path / "logs" / run.run_id
        assert stat.S_IMODE(run_dir.stat().st_mode) == 0o700 and stat.S_IMODE((tmp_path / "logs").stat().st_mode) == 0o700
        assert stat.S_IMODE((run_dir / "job.sbatch").stat().st_mode) == 0o600
        assert sorted(p.name for p in run_dir.iterdir()) == ["job.sbatch"]


def test_env_passing_file_is_user_only(tmp_path, monkeypatch):
    monkeypatch.setenv("TOL10M_SECRET_URL", "postgresql://u:pa55word@db/x")
    sbatch = fake(tmp_path, "sbatch", f'env > {tmp_path}/env; echo 7\n')
    with instance_for_test() as instance:
        inherited = {JOB_ID_TAG: "999", HEALTH_TAG: "FAILED: x", STATE_TAG: "FAILED"}  # a re-execution copies its parent's tags
        run = launcher_and_run(tmp_path, instance, inherited, sbatch=sbatch, env_vars=["TOL10M_SECRET_URL"], env_passing="file")
        assert (run.tags[JOB_ID_TAG], run.tags[STATE_TAG], run.tags[HEALTH_TAG]) == ("7", "SUBMITTED", "SUBMITTED")
        env_file = tmp_path / "logs" / run.run_id / "env"
        assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
        assert env_file.read_text() == "export TOL10M_SECRET_URL=postgresql://u:pa55word@db/x\n"
        assert "pa55word" not in (tmp_path / "logs" / run.run_id / "job.sbatch").read_text()


def run_script(tmp_path, command, setup_lines=(), timeout=30):
    """Run a rendered batch script with bash, outside Slurm: what the job does on the node."""
    script = BatchScript(job_name="t", output=str(tmp_path / "out"), command=command, setup_lines=tuple(setup_lines)).render()
    path = tmp_path / "job.sbatch"
    path.write_text(script)
    return subprocess.run(["bash", str(path)], capture_output=True, text=True, timeout=timeout, cwd=tmp_path)


def test_a_failing_setup_line_ends_the_job_with_its_status_and_says_so(tmp_path):
    out = run_script(tmp_path, ["/bin/true"], setup_lines=["module load python/3.11"])
    assert out.returncode == 127
    assert "tol10m-slurm: the batch script failed before the run worker started" in out.stderr and "module load python/3.11" in out.stderr


def test_a_missing_interpreter_ends_the_job_127_without_running_python(tmp_path):
    out = run_script(tmp_path, ["/nonexistent/venv/bin/python", "-m", "dagster"])
    assert out.returncode == 127
    assert "tol10m-slurm: the interpreter /nonexistent/venv/bin/python is missing" in out.stderr


def test_the_workers_children_die_with_it(tmp_path):
    """The worker starts a child that outlives it (like a step process after kill -9 of the worker):
    the script kills the worker's whole process group before the job ends."""
    child = tmp_path / "child.pid"
    body = f"sleep 300 & echo $! > {child}; kill -9 $$"
    out = run_script(tmp_path, ["/bin/bash", "-c", body])
    assert out.returncode == 137 and "run worker exited with status 137" in out.stdout
    pid = int(child.read_text())
    time.sleep(0.2)
    assert not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split()[2] == "Z"


def make_run(instance, status, tags):
    run = instance.create_run_for_job(slow_defs.resolve_job_def("sleep_job"), status=status, tags=tags)
    return instance.get_run_by_id(run.run_id)


class FakeSlurm:
    """sbatch/squeue/scontrol/sacct/scancel that read their answers from files in a folder."""

    def __init__(self, tmp_path):
        self.dir = tmp_path / "fake"
        self.dir.mkdir()
        for name in ("squeue", "scontrol", "sacct", "scancel"):
            (self.dir / f"{name}.sh").write_text("exit 0\n")
            fake(self.dir, name, f'echo "$*" >> {self.dir}/calls\nsource {self.dir}/{name}.sh\n')
        self.set("scontrol", 'case "$1" in ping) echo "Slurmctld(primary) at c1 is UP";; *) echo "slurm_load_jobs error: Invalid job id specified" >&2; exit 1;; esac')

    def set(self, name, body):
        (self.dir / f"{name}.sh").write_text(body + "\n")

    def calls(self):
        path = self.dir / "calls"
        return path.read_text() if path.exists() else ""

    def launcher(self, instance, tmp_path, **config):
        launcher = SlurmRunLauncher(log_directory=str(tmp_path / "logs"), cancel_wait_seconds=2,
                                    **{n: str(self.dir / n) for n in ("squeue", "scontrol", "sacct", "scancel")}, **config)
        launcher.register_instance(instance)
        return launcher


DOWN = 'echo "slurm_load_jobs error: Unable to contact slurm controller (connect failure)" >&2; exit 1'
PING_DOWN = 'case "$1" in ping) echo "Slurmctld(primary) at c1 is DOWN"; exit 1;; *) echo "Unable to contact slurm controller" >&2; exit 1;; esac'


@pytest.fixture(scope="module")
def shared_instance():
    with instance_for_test() as instance:
        yield instance


@pytest.mark.parametrize(
    "squeue, scontrol, sacct, status, words, health",
    [
        ("echo 'PENDING|Resources|'", None, None, WorkerStatus.RUNNING, "PENDING (Resources)", "RUNNING"),
        ("echo 'RUNNING|None|node7'", None, None, WorkerStatus.RUNNING, "RUNNING on node7", "RUNNING"),
        ("true", "echo 'JobId=7 JobState=COMPLETED Reason=None ExitCode=0:0'", None, WorkerStatus.SUCCESS, "COMPLETED", "SUCCESS"),
        ("true", "echo 'JobId=7 JobState=OUT_OF_MEMORY Reason=OutOfMemory'", None, WorkerStatus.FAILED, "OUT_OF_MEMORY", "FAILED"),
        ("true", "echo 'JobId=7 JobState=TIMEOUT Reason=TimeLimit'", None, WorkerStatus.FAILED, "TIMEOUT", "FAILED"),
        ("true", "echo 'JobId=7 JobState=CANCELLED Reason=None'", None, WorkerStatus.FAILED, "last words", "FAILED"),
        # the controller forgot the job: accounting is the record
        ("echo 'slurm_load_jobs error: Invalid job id specified' >&2; exit 1", None, "echo 'FAILED|None|node7|127:0'", WorkerStatus.FAILED, "exit code 127:0 [sacct]", "FAILED"),
        ("echo 'slurm_load_jobs error: Invalid job id specified' >&2; exit 1", None, "echo 'COMPLETED|None|node7|0:0'", WorkerStatus.SUCCESS, "[sacct]", "SUCCESS"),
        ("echo 'slurm_load_jobs error: Invalid job id specified' >&2; exit 1", None, "echo 'Slurm accounting storage is disabled' >&2; exit 1", WorkerStatus.NOT_FOUND, "no longer knows", "NOT_FOUND"),
        ("echo 'slurm_load_jobs error: Invalid job id specified' >&2; exit 1", None, "true", WorkerStatus.NOT_FOUND, "no record", "NOT_FOUND"),
        # no answer is not an answer: the run keeps its status
        (DOWN, PING_DOWN, None, WorkerStatus.RUNNING, "Unable to contact slurm controller", "UNKNOWN"),
        ("sleep 3", None, None, WorkerStatus.RUNNING, "timed out", "UNKNOWN"),
        ("echo 'slurm_load_jobs error: Invalid job id specified' >&2; exit 1", None, "echo 'Connection refused' >&2; exit 1", WorkerStatus.RUNNING, "sacct failed", "UNKNOWN"),
        ("echo 'WEIRD_NEW_STATE|x|' ", None, None, WorkerStatus.RUNNING, "WEIRD_NEW_STATE", "UNKNOWN"),
    ],
)
def test_health_follows_slurm_and_outages_are_unknown(tmp_path, monkeypatch, shared_instance, squeue, scontrol, sacct, status, words, health):
    monkeypatch.setattr("tol10m_assets.slurm.states.TIMEOUT", 1)
    slurm = FakeSlurm(tmp_path)
    slurm.set("squeue", squeue)
    if scontrol:
        slurm.set("scontrol", scontrol)
    if sacct:
        slurm.set("sacct", sacct)
    log = tmp_path / "slurm-7.out"
    log.write_text("starting\nlast words\n")
    instance = shared_instance
    launcher = slurm.launcher(instance, tmp_path)
    run = make_run(instance, DagsterRunStatus.STARTED, {JOB_ID_TAG: "7", LOG_TAG: str(log)})
    result = launcher.check_run_worker_health(run)
    assert result.status == status and words in result.msg, result.msg
    tags = instance.get_run_by_id(run.run_id).tags
    assert tags[HEALTH_TAG].startswith(health), tags
    assert instance.get_run_by_id(run.run_id).status == DagsterRunStatus.STARTED  # the launcher never decides alone


def test_the_sweep_cancels_jobs_of_finished_runs_only(tmp_path):
    slurm = FakeSlurm(tmp_path)
    with instance_for_test() as instance:
        failed = make_run(instance, DagsterRunStatus.FAILURE, {JOB_ID_TAG: "11"})
        canceled = make_run(instance, DagsterRunStatus.CANCELED, {JOB_ID_TAG: "12"})
        live = make_run(instance, DagsterRunStatus.STARTED, {JOB_ID_TAG: "13"})
        just_done = make_run(instance, DagsterRunStatus.SUCCESS, {JOB_ID_TAG: "16"})
        slurm.set("squeue", "printf '%s\\n' " + " ".join(repr(x) for x in [
            f"11|PENDING|BeginTime||dagster-run={failed.run_id}",
            f"12|RUNNING|None|n1|dagster-run={canceled.run_id}",
            f"13|RUNNING|None|n1|dagster-run={live.run_id}",
            "14|RUNNING|None|n1|dagster-run=0000-not-a-run-of-this-instance",
            "15|RUNNING|None|n1|my own job",
            f"16|RUNNING|None|n1|dagster-run={just_done.run_id}",
        ]))
        launcher = slurm.launcher(instance, tmp_path, orphan_grace_seconds=3600)
        assert launcher.sweep()["cancelled"] == ["11"]  # PENDING: at once; RUNNING: after the grace period
        launcher.orphan_grace_seconds = 0
        done = launcher.sweep()  # the fake still lists 11: cancelling again is harmless
        assert sorted(done["cancelled"]) == ["11", "12", "16"]
        scancels = [line for line in slurm.calls().splitlines() if line in ("11", "12", "13", "14", "15", "16")]
        assert sorted(scancels) == ["11", "11", "12", "16"]
        assert any("Cancelled Slurm job 11" in e.message for e in instance.all_logs(failed.run_id))


def test_the_sweep_fails_a_starting_run_whose_job_ended_before_the_worker_started(tmp_path):
    slurm = FakeSlurm(tmp_path)
    slurm.set("squeue", 'case "$*" in *--me*) exit 0;; *) echo "slurm_load_jobs error: Invalid job id specified" >&2; exit 1;; esac')
    slurm.set("sacct", "echo 'FAILED|NonZeroExitCode|node3|127:0'")
    log = tmp_path / "slurm-21.out"
    log.write_text("bash: line 9: module: command not found\ntol10m-slurm: the batch script failed before the run worker started: line 9: module load python (exit 127)\n")
    with instance_for_test() as instance:
        run = make_run(instance, DagsterRunStatus.STARTING, {JOB_ID_TAG: "21", LOG_TAG: str(log)})
        assert slurm.launcher(instance, tmp_path).sweep()["failed"] == [run.run_id]
        run = instance.get_run_by_id(run.run_id)
        assert run.status == DagsterRunStatus.FAILURE
        assert run.tags[STATE_TAG] == "FAILED" and run.tags[HEALTH_TAG].startswith("FAILED")
        messages = " ".join(e.message for e in instance.all_logs(run.run_id))
        assert "exit code 127:0" in messages and "module: command not found" in messages


def test_the_sweep_tags_pending_runs_and_does_nothing_while_slurm_is_unreachable(tmp_path):
    slurm = FakeSlurm(tmp_path)
    with instance_for_test() as instance:
        run = make_run(instance, DagsterRunStatus.STARTING, {JOB_ID_TAG: "31"})
        slurm.set("squeue", f"echo '31|PENDING|Priority||dagster-run={run.run_id}'")
        slurm.launcher(instance, tmp_path).sweep()
        tags = instance.get_run_by_id(run.run_id).tags
        assert (tags[STATE_TAG], tags[REASON_TAG]) == ("PENDING", "Priority")
        slurm.set("squeue", DOWN)
        slurm.set("scontrol", PING_DOWN)
        done = slurm.launcher(instance, tmp_path).sweep()
        assert done == {"cancelled": [], "failed": [], "canceled": []}
        assert instance.get_run_by_id(run.run_id).status == DagsterRunStatus.STARTING
        assert "31" not in slurm.calls().splitlines()  # no scancel


def test_terminate_cancels_a_pending_job_and_waits_for_slurm(tmp_path):
    slurm = FakeSlurm(tmp_path)
    # PENDING until scancel is called, then CANCELLED
    slurm.set("scancel", f"touch {slurm.dir}/cancelled")
    slurm.set("squeue", f'[ -e {slurm.dir}/cancelled ] && exit 0; echo "PENDING|BeginTime|"')
    slurm.set("scontrol", 'case "$1" in ping) echo "is UP";; *) echo "JobId=41 JobState=CANCELLED Reason=None ExitCode=0:15";; esac')
    with instance_for_test() as instance:
        run = make_run(instance, DagsterRunStatus.STARTING, {JOB_ID_TAG: "41"})
        assert slurm.launcher(instance, tmp_path).terminate(run.run_id)
        run = instance.get_run_by_id(run.run_id)
        assert run.status == DagsterRunStatus.CANCELED and run.tags[STATE_TAG] == "CANCELLED"


def test_terminate_while_slurm_is_unreachable_keeps_the_run_canceling_and_the_sweep_finishes_it(tmp_path):
    slurm = FakeSlurm(tmp_path)
    slurm.set("scancel", 'echo "scancel: error: Kill job error on job id 51: Unable to contact slurm controller" >&2; exit 1')
    with instance_for_test() as instance:
        run = make_run(instance, DagsterRunStatus.STARTED, {JOB_ID_TAG: "51"})
        launcher = slurm.launcher(instance, tmp_path)
        assert not launcher.terminate(run.run_id)
        assert instance.get_run_by_id(run.run_id).status == DagsterRunStatus.CANCELING
        # the controller is back and the job still runs: the sweep cancels it again, then sees it end
        slurm.set("scancel", f"touch {slurm.dir}/cancelled")
        slurm.set("squeue", f'[ -e {slurm.dir}/cancelled ] && exit 0; echo "51|RUNNING|None|n1|dagster-run={run.run_id}"')
        launcher.sweep()
        assert instance.get_run_by_id(run.run_id).status == DagsterRunStatus.CANCELING
        slurm.set("scontrol", 'case "$1" in ping) echo "is UP";; *) echo "JobId=51 JobState=CANCELLED Reason=None";; esac')
        assert launcher.sweep()["canceled"] == [run.run_id]
        assert instance.get_run_by_id(run.run_id).status == DagsterRunStatus.CANCELED


def coordinator(instance, **config):
    from tol10m_assets.slurm import SlurmRunCoordinator

    c = SlurmRunCoordinator(sweep_interval_seconds=3600, **config)
    c.register_instance(instance)
    return c


def test_the_queue_cap_counts_every_job_of_the_user(tmp_path):
    slurm = FakeSlurm(tmp_path)
    slurm.set("squeue", "printf '1|RUNNING|None|n|x\\n2|PENDING|Priority||y\\n3|PENDING|Priority||\\n'")
    with instance_for_test() as instance:
        launcher = slurm.launcher(instance, tmp_path)
        instance._run_launcher = launcher
        make_run(instance, DagsterRunStatus.STARTED, {JOB_ID_TAG: "1"})
        c = coordinator(instance, max_concurrent_runs=10, max_slurm_jobs=5)
        base = c.get_run_queue_config()  # not the daemon's queue thread: no Slurm calls
        assert base.max_concurrent_runs == 10 and "--me" not in slurm.calls()
        assert c.tick(base).max_concurrent_runs == 1 + 2  # one run in progress, 5 - 3 jobs free
        assert coordinator(instance, max_concurrent_runs=2, max_slurm_jobs=5).tick(base._replace(max_concurrent_runs=2)).max_concurrent_runs == 2
        assert coordinator(instance, max_slurm_jobs=2).tick(base).max_concurrent_runs == 1  # over the cap: none
        slurm.set("squeue", DOWN)
        slurm.set("scontrol", PING_DOWN)
        assert coordinator(instance, max_slurm_jobs=5).tick(base).max_concurrent_runs == 1  # unreachable: none
        assert coordinator(instance).tick(base).max_concurrent_runs == 1  # no cap, still none while down


def test_the_tick_runs_only_in_the_daemons_queue_thread(tmp_path):
    import threading

    from tol10m_assets.slurm.coordinator import QUEUE_THREAD

    slurm = FakeSlurm(tmp_path)
    slurm.set("squeue", "exit 0")
    with instance_for_test() as instance:
        instance._run_launcher = slurm.launcher(instance, tmp_path)
        c = coordinator(instance, max_slurm_jobs=4)
        result = {}
        thread = threading.Thread(target=lambda: result.setdefault("config", c.get_run_queue_config()), name=QUEUE_THREAD)
        thread.start()
        thread.join()
        assert result["config"].max_concurrent_runs == 4 and "--me" in slurm.calls()
        assert "sweep" in c.last_tick


def test_dagster_names_its_queue_thread_as_the_coordinator_expects():
    import inspect

    from dagster._daemon import controller
    from dagster._daemon.run_coordinator.queued_run_coordinator_daemon import (
        QueuedRunCoordinatorDaemon,
    )

    from tol10m_assets.slurm.coordinator import QUEUE_THREAD

    assert 'name=f"dagster-daemon-{daemon_type}"' in inspect.getsource(controller)
    assert QUEUE_THREAD == f"dagster-daemon-{QueuedRunCoordinatorDaemon.daemon_type()}"


def test_a_newline_in_a_tag_fails_the_run_and_submits_nothing(tmp_path):
    sbatch = fake(tmp_path, "sbatch", f"touch {tmp_path}/called; echo 1\n")
    with instance_for_test() as instance:
        run = launcher_and_run(tmp_path, instance, {"tol10m/slurm.time": "1:00\ntouch /tmp/pwned"}, sbatch=sbatch)
        assert run.status == DagsterRunStatus.FAILURE
        assert not (tmp_path / "called").exists()
        assert not list((tmp_path / "logs").glob("*/job.sbatch"))  # no script written either
        messages = [e.message for e in instance.all_logs(run.run_id)]
        assert any("Slurm job not submitted" in m and "time=" in m and "is not allowed" in m for m in messages), messages


def test_a_refused_submission_fails_the_run_with_sbatchs_message(tmp_path):
    sbatch = fake(tmp_path, "sbatch", "echo 'sbatch: error: invalid partition specified: nope' >&2; exit 1\n")
    with instance_for_test() as instance:
        run = launcher_and_run(tmp_path, instance, sbatch=sbatch)
        assert run.status == DagsterRunStatus.FAILURE
        assert any("invalid partition specified: nope" in e.message for e in instance.all_logs(run.run_id))



def test_cluster_instance_config_is_valid(monkeypatch):
    from dagster._core.instance.config import dagster_instance_config

    root = os.path.join(os.path.dirname(__file__), "..", "..")
    monkeypatch.setenv("DAGSTER_PG_URL", "postgresql://u:p@127.0.0.1:1/x")
    for folder, name in ((os.path.join(root, "slurm"), "dagster.cluster.yaml"), (os.path.join(root, "slurm"), "dagster.local.yaml"), (root, "dagster.yaml")):
        config, _ = dagster_instance_config(folder, config_filename=name)
        assert "run_coordinator" in config


def test_run_command_is_the_slurm_worker_with_the_runs_execute_run_args(tmp_path):
    """``<python> -m tol10m_assets.slurm.worker <ExecuteRunArgs>`` (changed on purpose, issue 21: this was
    ``dagster api execute_run``, which turns Slurm's SIGTERM into a failed run)."""
    import sys

    from dagster._core.definitions.reconstruct import ReconstructableRepository
    from dagster._grpc.types import ExecuteRunArgs
    from dagster._serdes import deserialize_value

    origin = (
        ReconstructableRepository.for_module("tol10m_assets_tests.slurm.slow_defs", "defs", working_directory=os.getcwd())
        .get_reconstructable_job("sleep_job")
        .get_python_origin()
    )
    with instance_for_test() as instance:
        run = instance.create_run_for_job(slow_defs.resolve_job_def("sleep_job"), job_code_origin=origin)
        for config, python in (({}, sys.executable), ({"python_executable": "/opt/node/python"}, "/opt/node/python")):
            launcher = SlurmRunLauncher(log_directory=str(tmp_path), **config)
            launcher.register_instance(instance)
            command = REAL_RUN_COMMAND(launcher, run)
            assert command[:3] == [python, "-m", "tol10m_assets.slurm.worker"] and len(command) == 4
            args = deserialize_value(command[3], ExecuteRunArgs)
            assert args.run_id == run.run_id and args.set_exit_code_on_failure and args.instance_ref is not None
            assert args.job_origin.job_name == "sleep_job"


def test_commands_may_be_strings_or_lists(tmp_path):
    from dagster._config import process_config
    from dagster._config.field import resolve_to_config_type

    schema = resolve_to_config_type(SlurmRunLauncher.config_type())
    for value in ("ssh login1 sbatch", ["ssh", "login1", "sbatch"]):
        result = process_config(schema, {"sbatch": value})
        assert result.success, result.errors
        launcher = SlurmRunLauncher.from_config_value(None, result.value)
        assert launcher.commands["sbatch"] == ["ssh", "login1", "sbatch"]
        assert launcher.commands["squeue"] == ["squeue"]


def test_why_a_job_ended_names_the_limit_and_the_setting():
    from tol10m_assets.slurm.states import JobRecord, JobState, Verdict, why_it_ended

    timeout = why_it_ended(JobState(Verdict.FAILED, "TIMEOUT"), JobRecord("TIMEOUT", "0:0", "00:01:14", "00:01:00"), "")
    assert "time limit (00:01:00, after 00:01:14)" in timeout and "tol10m/slurm.time" in timeout and "`time`" in timeout
    # OverMemoryKill: FAILED 0:9, the memory only in the log; cgroup clusters: OUT_OF_MEMORY (job or step)
    log = "slurmstepd: error: StepId=1.batch exceeded memory limit (436322304 > 104857600), being killed\n"
    for state, record, text in (("FAILED", JobRecord("FAILED", "0:9", req_mem="100M", max_rss="426096K"), log),
                                ("OUT_OF_MEMORY", JobRecord(), ""), ("FAILED", JobRecord(step_states=("OUT_OF_MEMORY",)), "")):
        message = why_it_ended(JobState(Verdict.FAILED, state), record, text)
        assert "memory limit" in message and "tol10m/slurm.mem" in message, message
    assert "used 416M of its 100M limit" in why_it_ended(JobState(Verdict.FAILED, "FAILED"), JobRecord("FAILED", "0:9", req_mem="100M", max_rss="426096K"), log)
    # accounting not caught up yet (a partial record): the log's figures, never a garbled one
    assert "used 416M of its 100M limit" in why_it_ended(JobState(Verdict.FAILED, "FAILED"), JobRecord("FAILED", "0:9", req_mem="16?"), log)
    assert "used 426096K of its 100M limit" in why_it_ended(JobState(Verdict.FAILED, "OUT_OF_MEMORY"), JobRecord(req_mem="100M", max_rss="426096K"), "")
    assert "requeue" in why_it_ended(JobState(Verdict.FAILED, "NODE_FAIL"), JobRecord(), "")
    assert "PreemptMode" in why_it_ended(JobState(Verdict.FAILED, "PREEMPTED"), JobRecord(), "")
    assert "outside Dagster" in why_it_ended(JobState(Verdict.FAILED, "CANCELLED"), JobRecord(), "")


def test_the_script_lets_slurm_requeue_and_keeps_every_attempts_log():
    text = BatchScript(job_name="t", output="o", command=COMMAND).render()
    assert "#SBATCH --requeue\n" in text and "#SBATCH --open-mode=append\n" in text
    assert "tol10m-slurm: starting the run worker" in text and "SLURM_RESTART_COUNT" in text
    assert "#SBATCH --no-requeue\n" in BatchScript(job_name="t", output="o", command=COMMAND, requeue=False).render()


def test_a_memory_kill_after_the_worker_started_says_so_and_names_mem(tmp_path):
    slurm = FakeSlurm(tmp_path)
    slurm.set("squeue", 'case "$*" in *--me*) exit 0;; *) echo "slurm_load_jobs error: Invalid job id specified" >&2; exit 1;; esac')
    slurm.set("sacct", 'case "$*" in *-X*) echo "FAILED|None|node3|0:9";; *) printf "22|FAILED|0:9|00:00:02|00:15:00|100M|\\n22.batch|CANCELLED by 0|0:9|00:00:02|||426096K\\n";; esac')
    log = tmp_path / "slurm-22.out"
    log.write_text("tol10m-slurm: starting the run worker at now\nslurmstepd: error: StepId=22.batch exceeded memory limit (436322304 > 104857600), being killed\n")
    with instance_for_test() as instance:
        run = make_run(instance, DagsterRunStatus.STARTING, {JOB_ID_TAG: "22", LOG_TAG: str(log)})
        assert slurm.launcher(instance, tmp_path).sweep()["failed"] == [run.run_id]
        messages = " ".join(e.message for e in instance.all_logs(run.run_id))
        assert "after the run worker started" in messages and "before the run worker started" not in messages
        assert "used 416M of its 100M limit" in messages and "tol10m/slurm.mem" in messages


def test_finished_runs_get_their_jobs_final_state_in_their_tags(tmp_path):
    slurm = FakeSlurm(tmp_path)
    slurm.set("squeue", 'case "$*" in *--me*) exit 0;; *) echo "slurm_load_jobs error: Invalid job id specified" >&2; exit 1;; esac')
    slurm.set("sacct", 'case "$*" in *" 41 "*) echo "COMPLETED|None|n1|0:0";; *" 42 "*) echo "FAILED|None|n1|1:0";; *" 43 "*) echo "TIMEOUT|None|n1|0:0";; esac')
    with instance_for_test() as instance:
        ok = make_run(instance, DagsterRunStatus.SUCCESS, {JOB_ID_TAG: "41", STATE_TAG: "RUNNING", HEALTH_TAG: "RUNNING"})
        bad = make_run(instance, DagsterRunStatus.FAILURE, {JOB_ID_TAG: "42", STATE_TAG: "PENDING", HEALTH_TAG: "SUBMITTED"})
        late = make_run(instance, DagsterRunStatus.SUCCESS, {JOB_ID_TAG: "43", STATE_TAG: "RUNNING", HEALTH_TAG: "RUNNING"})
        done = slurm.launcher(instance, tmp_path).sweep()
        assert sorted(done["settled"]) == sorted([ok.run_id, bad.run_id, late.run_id])
        tags = {r.run_id: instance.get_run_by_id(r.run_id).tags for r in (ok, bad, late)}
        assert (tags[ok.run_id][STATE_TAG], tags[ok.run_id][HEALTH_TAG]) == ("COMPLETED", "SUCCESS")
        assert (tags[bad.run_id][STATE_TAG], tags[bad.run_id][HEALTH_TAG]) == ("FAILED", "FAILED: FAILED exit 1:0")
        assert tags[late.run_id][STATE_TAG] == "TIMEOUT"
        assert any("after the run had reported success" in e.message for e in instance.all_logs(late.run_id))
        calls = slurm.calls()
        assert slurm.launcher(instance, tmp_path).sweep()["settled"] == []  # settled once
        assert slurm.calls().count("-X -j 41") == calls.count("-X -j 41")


def test_only_the_daemon_and_the_backfill_command_pool_storage_connections():
    from tol10m_assets.slurm.coordinator import creates_many_runs

    assert creates_many_runs(["/venv/bin/dagster-daemon", "run", "-w", "workspace.yaml"])
    assert creates_many_runs(["/venv/bin/dagster", "job", "backfill", "-j", "write_shards"])
    for argv in (["/venv/bin/python", "-m", "tol10m_assets.slurm.worker", "{}"], ["/venv/bin/dagster-webserver"], ["/venv/bin/dagster", "job", "launch"]):
        assert not creates_many_runs(argv)  # hundreds of workers: one connection per query, none held
