"""The run worker of a Slurm job: ``python -m tol10m_assets.slurm.worker <ExecuteRunArgs JSON>``.

What ``dagster api execute_run`` does, with two differences that make Slurm's verdict the run's:

- **SIGTERM does nothing** in the worker and in every Python process it starts (a no-op handler:
  step processes re-import this module as their ``__mp_main__``, the shard pool's forkserver too,
  its workers inherit it; programs it ``exec``s, such as Dagster's log ``tail``, get the default
  back, so Dagster can still stop them). Slurm sends SIGTERM,
  then SIGKILL after ``KillWait``, on a cancel, a time limit, a requeue, a preemption or a node
  going down; Dagster's worker would turn that SIGTERM into "execution interrupted" and fail the
  run itself. Here it dies by SIGKILL, and the launcher records Slurm's final state instead
  (TIMEOUT, OUT_OF_MEMORY, CANCELLED, …), or, for a requeue, the run goes on.
- **A requeued job continues its run** (``SLURM_RESTART_COUNT`` ≥ 1): a run still STARTED is
  resumed (``resume_from_failure``: its steps run again; a shard partition takes its lock again and
  restarts from staging, the previous attempt's uncommitted generation removed); a run not yet
  started is executed; a finished run is left alone.

``TOL10M_SLURM_T0`` (the batch script's start, epoch seconds) makes the worker log where its
start-up went (interpreter + imports, instance) in the job log.
"""

from __future__ import annotations

import os
import signal
import sys
import time


def _slurm_decides(signo, frame) -> None:
    """SIGTERM from Slurm: the job's end is Slurm's to record (SIGKILL follows after KillWait)."""


signal.signal(signal.SIGTERM, _slurm_decides)  # at import: step processes import this module too

import dagster._utils.interrupts as _interrupts  # noqa: E402

_interrupts.setup_interrupt_handlers = lambda: None  # Dagster maps SIGTERM to its interrupt handler here


def _say(text: str) -> None:
    print(f"tol10m-slurm: {text}", file=sys.stderr, flush=True)


def main(argv: list[str]) -> int:
    entered = time.time()
    from dagster import DagsterRunStatus
    from dagster._cli.api import _execute_run_command_body, _resume_run_command_body
    from dagster._core.instance import DagsterInstance
    from dagster._grpc.types import ExecuteRunArgs
    from dagster._serdes import deserialize_value

    imported = time.time()
    t0 = float(os.environ.get("TOL10M_SLURM_T0") or entered)
    args = deserialize_value(argv[0], ExecuteRunArgs)
    restart = int(os.environ.get("SLURM_RESTART_COUNT") or 0)
    with DagsterInstance.from_ref(args.instance_ref) as instance:
        opened = time.time()
        _say(f"start-up: {opened - t0:.1f} s to an open instance (script, interpreter and dagster import {entered - t0:.1f} s, "
             f"dagster's run modules {imported - entered:.1f} s, instance {opened - imported:.1f} s)")
        run = instance.get_run_by_id(args.run_id)
        if run is None:
            _say(f"run {args.run_id} is not in the instance")
            return 1
        job = os.environ.get("SLURM_JOB_ID", "?")
        if restart and run.is_finished:
            _say(f"job {job} was requeued (restart {restart}) but run {run.run_id} is {run.status.value}: nothing to do")
            return 0
        if restart and run.status not in (DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING):
            instance.report_engine_event(
                f"Slurm requeued job {job} (restart {restart}: preemption, node failure or scontrol requeue): the run "
                "resumes; its steps run again from the start (a shard partition takes its lock again and restarts from staging)",
                run,
            )
            body = _resume_run_command_body
        else:
            body = _execute_run_command_body
        return body(run.run_id, instance, lambda event: None, set_exit_code_on_failure=bool(args.set_exit_code_on_failure))


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
