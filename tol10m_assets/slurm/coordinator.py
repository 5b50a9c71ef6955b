"""``SlurmRunCoordinator``: Dagster's queued run coordinator with two Slurm duties, done in the
daemon's run-queue thread on each dequeue tick (``dequeue_interval_seconds``):

- **the sweep** (``SlurmRunLauncher.sweep``) every ``sweep_interval_seconds`` (default: the run
  monitoring poll interval): orphan jobs cancelled, runs whose job ended before the worker started
  failed, CANCELING runs finished;
- **the queue cap**: at most ``max_slurm_jobs`` jobs of this user in Slurm's queue (pending and
  running, whoever submitted them: Slurm's ``MaxSubmitJobs`` counts them all); the other runs wait
  QUEUED in Dagster's queue. While the controller does not answer, nothing is launched.

    run_coordinator:
      module: tol10m_assets.slurm
      class: SlurmRunCoordinator
      config: {max_concurrent_runs: 200, max_slurm_jobs: 150, dequeue_interval_seconds: 5}

Dagster asks ``get_run_queue_config`` from other threads and processes too (the UI, run workers):
only the daemon's run-queue thread does the Slurm work.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time

from dagster import Field, IntSource
from dagster._core.run_coordinator.queued_run_coordinator import (
    QueuedRunCoordinator,
    RunQueueConfig,
)
from dagster._core.storage.dagster_run import ACTIVE_RUN_STATUSES, RunsFilter

log = logging.getLogger("tol10m_assets.slurm")
QUEUE_THREAD = "dagster-daemon-QUEUED_RUN_COORDINATOR"  # dagster._daemon.controller names daemon threads so


class SlurmRunCoordinator(QueuedRunCoordinator):
    def __init__(self, max_slurm_jobs: int | None = None, sweep_interval_seconds: int | None = None, pool_storage_connections: bool = True,
                 inst_data=None, **kwargs):
        super().__init__(inst_data=inst_data, **kwargs)
        self.max_slurm_jobs = max_slurm_jobs
        self.sweep_interval_seconds = sweep_interval_seconds
        self.pool_storage_connections = pool_storage_connections
        self._last_sweep: float | None = None
        self.last_tick: dict = {}

    @classmethod
    def config_type(cls):
        return {
            **QueuedRunCoordinator.config_type(),
            "max_slurm_jobs": Field(IntSource, is_required=False, description="cap on this user's jobs in the Slurm queue (pending + running); more runs wait in Dagster's queue"),
            "sweep_interval_seconds": Field(IntSource, is_required=False, description="seconds between sweeps (default: run_monitoring.poll_interval_seconds, else 30)"),
            "pool_storage_connections": Field(bool, default_value=True, description="in dagster-daemon and `dagster job backfill`, PostgreSQL storage keeps its connections open (as the webserver does) instead of one per query: creating a backfill's runs ~3x faster"),
        }

    @classmethod
    def from_config_value(cls, inst_data, config_value):
        return cls(inst_data=inst_data, **config_value)

    def register_instance(self, instance) -> None:
        super().register_instance(instance)
        if self.pool_storage_connections and creates_many_runs(sys.argv):
            pool_connections(instance)

    def get_run_queue_config(self) -> RunQueueConfig:
        config = super().get_run_queue_config()
        if threading.current_thread().name != QUEUE_THREAD:
            return config
        try:
            return self.tick(config)
        except Exception:  # a broken tick must not stop the queue daemon; hold the queue instead
            log.exception("Slurm tick failed; no run is launched this tick")
            return config._replace(max_concurrent_runs=self._in_progress())

    def _in_progress(self) -> int:
        return len(self._instance.get_run_records(filters=RunsFilter(statuses=ACTIVE_RUN_STATUSES)))

    def sweep_interval(self) -> float:
        if self.sweep_interval_seconds is not None:
            return self.sweep_interval_seconds
        instance = self._instance
        return instance.run_monitoring_poll_interval_seconds if instance.run_monitoring_enabled else 30

    def tick(self, config: RunQueueConfig) -> RunQueueConfig:
        """One dequeue tick: sweep when due, then how many runs may be launched now."""
        from tol10m_assets.slurm.launcher import SlurmRunLauncher

        launcher = self._instance.run_launcher
        if not isinstance(launcher, SlurmRunLauncher):
            return config
        if self._last_sweep is None or time.monotonic() - self._last_sweep >= self.sweep_interval():
            self._last_sweep = time.monotonic()
            self.last_tick["sweep"] = launcher.sweep()
        if self.max_slurm_jobs is None:
            free = None if launcher.controller_reachable() else 0
        else:
            count = launcher.user_job_count()
            free = 0 if count is None else max(self.max_slurm_jobs - count, 0)
        self.last_tick["free"] = free
        if free is None:
            return config
        limit = self._in_progress() + free
        if config.max_concurrent_runs != -1:
            limit = min(limit, config.max_concurrent_runs)
        return config._replace(max_concurrent_runs=limit)


def creates_many_runs(argv: list[str]) -> bool:
    """The daemon (backfills, the run queue) and ``dagster job backfill``; never a run worker, of
    which there are hundreds: they keep dagster-postgres' one connection per query."""
    return os.path.basename(argv[0]) == "dagster-daemon" or argv[1:3] == ["job", "backfill"]


def pool_connections(instance) -> None:
    """PostgreSQL run, event log and schedule storage hold a small pool (what the webserver does)."""
    for name in ("run_storage", "event_log_storage", "schedule_storage"):
        storage = getattr(instance, name, None)
        if type(storage).__name__.startswith("Postgres") and hasattr(storage, "optimize_for_webserver"):
            storage.optimize_for_webserver(statement_timeout=0, pool_recycle=3600, max_overflow=10)
