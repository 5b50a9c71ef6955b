"""A Dagster instance wired to the real local Slurm cluster (slurm/local-cluster.sh), a daemon
that launches its runs, and helpers to wait for runs."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
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


def write_home(home: Path, logs: Path, storage: str) -> None:
    config = {
        "run_coordinator": {
            "module": "dagster.core.run_coordinator",
            "class": "QueuedRunCoordinator",
            "config": {"max_concurrent_runs": 4, "dequeue_interval_seconds": 1},
        },
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
                "env_vars": ["TOL10M_DATA_ROOT", "TOL10M_SOURCES_ROOT", "DAGSTER_HOME"],
            },
        },
        "run_monitoring": {"enabled": True, "poll_interval_seconds": 2, "start_timeout_seconds": 300, "cancel_timeout_seconds": 60},
        "telemetry": {"enabled": False},
    }
    if storage == "postgres":
        config["storage"] = {"postgres": {"postgres_url": postgres_url()}}
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(yaml.safe_dump(config))


def write_workspace(path: Path) -> Path:
    path.write_text(yaml.safe_dump({"load_from": [
        {"python_module": {"module_name": "tol10m_assets.definitions", "attribute": "defs", "working_directory": str(REPO), "location_name": "tol10m_assets"}},
        {"python_module": {"module_name": "tol10m_assets_tests.slurm.slow_defs", "attribute": "defs", "working_directory": str(REPO), "location_name": "slow"}},
    ]}))
    return path


class Cluster:
    """One instance home, its environment, and a running dagster-daemon."""

    def __init__(self, root: Path, storage: str):
        from tol10m_assets_tests.pipeline.conftest import make_world

        self.root, self.storage = root, storage
        self.home, self.logs = root / "home", root / "slurm-logs"
        self.sources, self.data = root / "sources", root / "data"
        make_world(self.sources, images=150, seed=2)
        write_home(self.home, self.logs, storage)
        self.workspace = write_workspace(root / "workspace.yaml")
        self.env = {**os.environ, "DAGSTER_HOME": str(self.home), "TOL10M_SOURCES_ROOT": str(self.sources), "TOL10M_DATA_ROOT": str(self.data)}
        self.instance = DagsterInstance.from_ref(InstanceRef.from_dir(str(self.home)))
        if storage == "postgres":
            self.instance.wipe()
            self.instance.wipe_all_schedules()
        self.daemon = None

    def start_daemon(self):
        log = open(self.root / "daemon.log", "ab")
        self.daemon = subprocess.Popen([str(BIN / "dagster-daemon"), "run", "-w", str(self.workspace)], cwd=REPO, env=self.env,
                                       stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def stop(self):
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

    def prepare(self):
        from tol10m_assets.defs.resources import TreeOfLifeConfig
        from tol10m_assets.definitions import build_definitions
        from tol10m_assets.run import _execute

        tol = TreeOfLifeConfig(sources_root=str(self.sources), data_root=str(self.data))
        _execute(build_definitions(tol).resolve_job_def("prepare"), self.instance)

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

    def launch(self, location: str, job: str, tags: dict | None = None) -> str:
        out = self.dagster("job", "launch", "-w", str(self.workspace), "-l", location, "-j", job, "--tags", json.dumps(tags or {}))
        runs = self.runs(job)
        return runs[0].run_id


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


def scontrol_state(job_id: str) -> str:
    out = subprocess.run(["scontrol", "show", "job", "-o", job_id], capture_output=True, text=True)
    for field in out.stdout.split():
        if field.startswith("JobState="):
            return field.split("=", 1)[1]
    return ""


__all__ = ["Cluster", "DagsterRunStatus", "postgres_url", "scontrol_state"]
