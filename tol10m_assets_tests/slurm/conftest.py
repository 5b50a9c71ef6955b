"""A Dagster instance wired to the real local Slurm cluster (slurm/local-cluster.sh), a daemon
that launches its runs, and helpers to wait for runs."""

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import yaml
from dagster import DagsterInstance, DagsterRunStatus, RunsFilter
from dagster._core.instance.ref import InstanceRef

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
VENV = BIN.parent


def slurm_ready() -> str | None:
    if not shutil.which("sinfo"):
        return "Slurm is not installed (bash slurm/local-cluster.sh start)"
    out = subprocess.run(["sinfo", "-h", "-N", "-o", "%t"], capture_output=True, text=True)
    if out.returncode != 0 or not out.stdout.strip().startswith(("idle", "mix", "alloc")):
        return f"the local Slurm node is not up: {out.stdout.strip() or out.stderr.strip()}"
    return None


def postgres_url() -> str | None:
    out = subprocess.run(["bash", str(REPO / "slurm" / "local-postgres.sh"), "url"], capture_output=True, text=True)
    url = out.stdout.strip()
    plain = url.replace("+psycopg2", "")
    probe = subprocess.run([sys.executable, "-c", f"import psycopg2; psycopg2.connect({plain!r}).close()"], capture_output=True)
    return url if probe.returncode == 0 else None


SECRET = "s3cret-" + os.urandom(6).hex()  # stands for a password in DAGSTER_PG_URL: must reach jobs, never files
MISSING_PYTHON = "/nonexistent/venv/bin/python"
DAEMON_ONLY = "TOL10M_DAEMON_ONLY"  # in the daemon's environment, not in env_vars: must not reach jobs


def write_home(home: Path, logs: Path, storage: str, start_timeout: int = 300, max_slurm_jobs: int | None = None) -> None:
    coordinator = {"max_concurrent_runs": 4, "dequeue_interval_seconds": 1, "sweep_interval_seconds": 2}
    if max_slurm_jobs is not None:
        coordinator["max_slurm_jobs"] = max_slurm_jobs
    config = {
        "run_coordinator": {"module": "tol10m_assets.slurm", "class": "SlurmRunCoordinator", "config": coordinator},
        "run_launcher": {
            "module": "tol10m_assets.slurm",
            "class": "SlurmRunLauncher",
            "config": {
                "partition": "debug",
                "cpus_per_task": "1",
                "mem": "1500M",
                "time": "00:15:00",
                "log_directory": str(logs),
                "working_directory": str(REPO),
                "env_vars": ["TOL10M_DATA_ROOT", "TOL10M_SOURCES_ROOT", "DAGSTER_HOME", "TOL10M_TEST_SECRET"],
                "cancel_wait_seconds": 30,
                "per_job": {
                    "setup_fails_job": {"setup_lines": ["module load python/3.11"]},
                    "no_python_job": {"python_executable": MISSING_PYTHON},
                },
            },
        },
        "run_monitoring": {"enabled": True, "poll_interval_seconds": 2, "start_timeout_seconds": start_timeout, "cancel_timeout_seconds": 60},
        "telemetry": {"enabled": False},
    }
    if storage == "postgres":
        config["storage"] = {"postgres": {"postgres_url": {"env": "DAGSTER_PG_URL"}}}  # as a site would: no password in files
        config["run_launcher"]["config"]["env_vars"].append("DAGSTER_PG_URL")
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(yaml.safe_dump(config))


def write_workspace(path: Path, pipeline: bool = True) -> Path:
    locations = [{"python_module": {"module_name": "tol10m_assets_tests.slurm.slow_defs", "attribute": "defs", "working_directory": str(REPO), "location_name": "slow"}}]
    if pipeline:
        locations.insert(0, {"python_module": {"module_name": "tol10m_assets_tests.slurm.sample_defs", "attribute": "defs", "working_directory": str(REPO), "location_name": "tol10m_assets"}})
    path.write_text(yaml.safe_dump({"load_from": locations}))
    return path


class Cluster:
    """One instance home, its environment, and a running dagster-daemon."""

    def __init__(self, root: Path, storage: str, world: bool = True, **home):
        from tol10m_assets_tests.pipeline.conftest import make_world

        self.root, self.storage = root, storage
        self.home, self.logs = root / "home", root / "slurm-logs"
        self.sources, self.data = root / "sources", root / "data"
        self.markers = root / "markers"
        self.markers.mkdir(parents=True, exist_ok=True)
        if world:
            make_world(self.sources, images=150, seed=2)
        if storage == "postgres":
            os.environ["DAGSTER_PG_URL"] = postgres_url()  # this process opens the instance too
        write_home(self.home, self.logs, storage, **home)
        self.workspace = write_workspace(root / "workspace.yaml", pipeline=world)
        self.env = {**os.environ, "DAGSTER_HOME": str(self.home), "TOL10M_SOURCES_ROOT": str(self.sources), "TOL10M_DATA_ROOT": str(self.data),
                    "TOL10M_TEST_SECRET": SECRET, DAEMON_ONLY: "the daemon's own; no job needs it"}
        self.instance = DagsterInstance.from_ref(InstanceRef.from_dir(str(self.home)))
        if storage == "postgres":
            self.instance.wipe()
            self.instance.wipe_all_schedules()
        self.daemon = None
        self._workspace = None

    def start_daemon(self):
        log = open(self.root / "daemon.log", "ab")
        self.daemon = subprocess.Popen([str(BIN / "dagster-daemon"), "run", "-w", str(self.workspace)], cwd=REPO, env=self.env,
                                       stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def stop(self):
        if self._workspace is not None:
            self._workspace.__exit__(None, None, None)
        if self.daemon and self.daemon.poll() is None:
            os.killpg(self.daemon.pid, signal.SIGTERM)
            try:
                self.daemon.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.daemon.pid, signal.SIGKILL)
        for run in self.instance.get_runs():
            job = run.tags.get("tol10m/slurm.job_id")
            if job and not run.is_finished:
                subprocess.run(["scancel", job], capture_output=True)
        self.instance.dispose()

    def dagster(self, *args, check=True):
        out = subprocess.run([str(BIN / "dagster"), *args], cwd=REPO, env=self.env, capture_output=True, text=True, timeout=300)
        if check and out.returncode != 0:
            raise AssertionError(f"dagster {' '.join(args)} failed:\n{out.stdout}\n{out.stderr}")
        return out

    def settings(self):
        from tol10m_assets.defs.resources import TreeOfLifeConfig
        from tol10m_assets.run import SAMPLE_SETTINGS

        return TreeOfLifeConfig(sources_root=str(self.sources), data_root=str(self.data), **SAMPLE_SETTINGS)

    def prepare(self):
        from tol10m_assets.definitions import build_definitions
        from tol10m_assets.run import _execute

        _execute(build_definitions(self.settings()).resolve_job_def("prepare"), self.instance)

    def runs(self, job_name: str):
        return self.instance.get_runs(filters=RunsFilter(job_name=job_name))

    def wait(self, predicate, timeout: float = 240, what: str = "condition"):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(1)
        daemon_log = (self.root / "daemon.log").read_text(errors="replace")[-4000:] if (self.root / "daemon.log").exists() else ""
        raise AssertionError(f"timed out after {timeout} s waiting for {what}\n--- daemon log ---\n{daemon_log}")

    def wait_finished(self, run_id: str, timeout: float = 240):
        return self.wait(lambda: (r := self.instance.get_run_by_id(run_id)) and r.is_finished and r, timeout, f"run {run_id} to finish")

    def launch(self, location: str, job: str, tags: dict | None = None, config: dict | None = None) -> str:
        """What ``dagster job launch`` does (create the run from the code server's job, submit it to
        the run queue), with one workspace kept open across launches: the CLI loads it every time."""
        from dagster._cli.job import _create_run
        from dagster._core.workspace.context import WorkspaceProcessContext
        from dagster._core.workspace.load_target import WorkspaceFileTarget

        if self._workspace is None:
            self._workspace = WorkspaceProcessContext(self.instance, WorkspaceFileTarget(paths=[str(self.workspace)]))
        request = self._workspace.create_request_context()
        code_location = request.get_code_location(location)
        repo = code_location.get_repository("__repository__")
        run = _create_run(instance=self.instance, code_location=code_location, remote_repo=repo, remote_job=repo.get_full_job(job),
                          run_config=config or {}, tags=tags or {}, op_selection=None, run_id=str(uuid.uuid4()))
        self.instance.submit_run(run.run_id, request)
        return run.run_id

    def nap(self, seconds: float, job: str = "nap_job", tags: dict | None = None) -> str:
        return self.launch("slow", job, tags, {"ops": {"nap": {"config": {"seconds": seconds, "marker_dir": str(self.markers)}}}})

    def run(self, run_id: str):
        return self.instance.get_run_by_id(run_id)

    def wait_status(self, run_id: str, *statuses, timeout: float = 120):
        return self.wait(lambda: (r := self.run(run_id)) and r.status in statuses and r, timeout, f"run {run_id} to be {statuses}")

    def wait_tag(self, run_id: str, key: str, value: str, timeout: float = 60):
        return self.wait(lambda: (r := self.run(run_id)) and r.tags.get(key) == value and r, timeout, f"tag {key}={value} on run {run_id}")

    def messages(self, run_id: str) -> str:
        return "\n".join(e.message or "" for e in self.instance.all_logs(run_id))

    def orphans(self) -> list[str]:
        """Jobs Slurm still queues or runs for a finished run of this instance."""
        out = subprocess.run(["squeue", "-h", "--me", "-o", "%i|%T|%k"], capture_output=True, text=True, check=True)
        found = []
        for line in out.stdout.splitlines():
            job, state, comment = line.split("|", 2)
            run = self.run(comment.removeprefix("dagster-run=")) if comment.startswith("dagster-run=") else None
            if run is not None and run.is_finished:
                found.append(f"{job} {state} (run {run.run_id} {run.status.value})")
        return found

    def assert_no_orphans(self, timeout: float = 30):
        self.wait(lambda: not self.orphans(), timeout, "no orphan Slurm job")


@pytest.fixture(scope="module")
def slurm():
    reason = slurm_ready()
    if reason:
        pytest.skip(reason)


@pytest.fixture(scope="module")
def cluster(slurm, tmp_path_factory):
    c = Cluster(tmp_path_factory.mktemp("cluster"), "sqlite")
    c.prepare()
    c.start_daemon()
    yield c
    c.stop()


@pytest.fixture(scope="module")
def verdicts(slurm, tmp_path_factory):
    """The sleeper location with a generous start timeout: Slurm's ends of jobs (limits, requeue)."""
    c = Cluster(tmp_path_factory.mktemp("verdicts"), "sqlite", world=False, start_timeout=600)
    c.start_daemon()
    yield c
    c.stop()


@pytest.fixture(scope="module")
def faults(slurm, tmp_path_factory):
    """A small instance for the fault tests: the sleeper location only, a short start timeout and
    a cap of two jobs in Slurm's queue."""
    c = Cluster(tmp_path_factory.mktemp("faults"), "sqlite", world=False, start_timeout=30, max_slurm_jobs=2)
    c.start_daemon()
    yield c
    c.stop()


def scontrol_state(job_id: str) -> str:
    """The job's state from the controller, else from accounting (sacct): "" when neither knows it."""
    out = subprocess.run(["scontrol", "show", "job", "-o", job_id], capture_output=True, text=True)
    for field in out.stdout.split():
        if field.startswith("JobState="):
            return field.split("=", 1)[1]
    return sacct_state(job_id)


def sacct_state(job_id: str) -> str:
    out = subprocess.run(["sacct", "-n", "-P", "-X", "-j", job_id, "-o", "State"], capture_output=True, text=True)
    return out.stdout.strip().split(" ")[0] if out.returncode == 0 else ""


def squeued(job_id: str) -> bool:
    out = subprocess.run(["squeue", "-h", "-j", job_id, "-o", "%T"], capture_output=True, text=True)
    return bool(out.stdout.strip())


__all__ = ["DAEMON_ONLY", "MISSING_PYTHON", "SECRET", "Cluster", "DagsterRunStatus", "postgres_url", "sacct_state", "scontrol_state", "squeued"]
