"""``SlurmRunLauncher``: every run Dagster launches (UI, backfills, the daemon) becomes a Slurm job
that runs ``dagster api execute_run`` on a compute node.

    run_launcher:
      module: tol10m_assets.slurm
      class: SlurmRunLauncher
      config: {partition: cpu, time: "12:00:00", log_directory: /shared/dagster/slurm-logs, ...}

Run tags ``tol10m/slurm.<option>`` (partition, account, qos, time, cpus_per_task, mem, gres,
constraint, begin) override the configured options for one run. The launcher writes the job's
state, node, pending reason and its health verdict back as run tags (``tol10m/slurm.state`` …).

Rules it keeps: a run fails only when Slurm positively says its job ended or is gone, never because
the controller did not answer; a run that ends in Dagster has its job cancelled (``sweep``, run by
``SlurmRunCoordinator`` in the daemon); a run is marked CANCELED only once Slurm reports its job ended.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shlex
import subprocess
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from dagster import (
    Array,
    Enum,
    EnumValue,
    Field,
    IntSource,
    Noneable,
    Permissive,
    ScalarUnion,
    StringSource,
)
from dagster._core.launcher import (
    CheckRunHealthResult,
    LaunchRunContext,
    RunLauncher,
    WorkerStatus,
)
from dagster._core.storage.dagster_run import DagsterRunStatus, RunsFilter
from dagster._grpc.types import ExecuteRunArgs
from dagster._serdes import ConfigurableClass, ConfigurableClassData, serialize_value

from tol10m_assets.slurm.script import (
    OPTIONS,
    ENV_NAME,
    RUN_COMMENT,
    WORKER_STARTED,
    BatchScript,
    SlurmOptions,
    UnsafeValue,
    env_file_text,
)
from tol10m_assets.slurm.states import (
    ACTIVE,
    UNKNOWN_JOB,
    JobState,
    Verdict,
    controller_reachable,
    job_record,
    job_state,
    run,
    user_jobs,
    why_it_ended,
)

JOB_ID_TAG = "tol10m/slurm.job_id"
SCRIPT_TAG = "tol10m/slurm.script"
LOG_TAG = "tol10m/slurm.log"
STATE_TAG = "tol10m/slurm.state"
NODE_TAG = "tol10m/slurm.node"
REASON_TAG = "tol10m/slurm.reason"
HEALTH_TAG = "tol10m/slurm.health"
STATUS_TAGS = (STATE_TAG, NODE_TAG, REASON_TAG, HEALTH_TAG)
LOG_TAIL_LINES = 30
COMMAND = ScalarUnion(scalar_type=str, non_scalar_schema=Array(str))
PER_JOB_EXTRAS = ("setup_lines", "python_executable")
BASE_ENV = ("PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "TZ")  # besides env_vars, all a job gets (--export)
UNSETTLED = {"", "SUBMITTED", *ACTIVE}  # state tags that are not a job's final state
FINISHED = [DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED]
WORKER = "tol10m_assets.slurm.worker"


def _command(value) -> list[str]:
    return shlex.split(value) if isinstance(value, str) else list(value)


def _private_dir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.write(text)


class SlurmRunLauncher(RunLauncher, ConfigurableClass):
    def __init__(
        self,
        inst_data: ConfigurableClassData | None = None,
        log_directory: str = "slurm-logs",
        working_directory: str | None = None,
        job_name_template: str = "dagster-{job_name}-{run_id_short}",
        setup_lines: list[str] | None = None,
        extra_sbatch_lines: list[str] | None = None,
        env_vars: list[str] | None = None,
        env_passing: str = "export",
        python_executable: str | None = None,
        cancel_wait_seconds: int = 60,
        orphan_grace_seconds: int = 30,
        sbatch: str | list[str] = "sbatch",
        squeue: str | list[str] = "squeue",
        scancel: str | list[str] = "scancel",
        scontrol: str | list[str] = "scontrol",
        sacct: str | list[str] = "sacct",
        per_job: dict | None = None,
        requeue: bool = True,
        base_env: list[str] | None = None,
        **options,
    ):
        self._inst_data = inst_data
        self.log_directory = os.path.abspath(log_directory)
        self.working_directory = working_directory
        self.job_name_template = job_name_template
        self.setup_lines = tuple(setup_lines or ())
        self.extra_sbatch_lines = tuple(extra_sbatch_lines or ())
        self.env_vars = list(env_vars or ())
        if env_passing not in ("export", "file"):
            raise ValueError(f"env_passing must be 'export' or 'file', not {env_passing!r}")
        self.env_passing = env_passing
        self.python_executable = python_executable
        self.cancel_wait_seconds = cancel_wait_seconds
        self.orphan_grace_seconds = orphan_grace_seconds
        self.commands = {name: _command(v) for name, v in (("sbatch", sbatch), ("squeue", squeue), ("scancel", scancel), ("scontrol", scontrol), ("sacct", sacct))}
        self.per_job = {job: SlurmOptions(**{k: str(v) for k, v in opts.items() if k not in PER_JOB_EXTRAS}).validated() for job, opts in (per_job or {}).items()}
        self.per_job_extras = {job: {k: opts[k] for k in PER_JOB_EXTRAS if k in opts} for job, opts in (per_job or {}).items()}
        self.requeue = requeue
        self.base_env = tuple(BASE_ENV if base_env is None else base_env)
        for name in self.base_env:
            if not ENV_NAME.fullmatch(name):
                raise ValueError(f"base_env: {name!r} is not a variable name")
        self.options = SlurmOptions(**{k: (None if v is None else str(v)) for k, v in options.items() if k in OPTIONS}).validated()
        super().__init__()

    # --- configuration ----------------------------------------------------------------------

    @property
    def inst_data(self):
        return self._inst_data

    @classmethod
    def config_type(cls):
        option_fields = {name: Field(Noneable(StringSource), is_required=False, description=f"sbatch {flag}") for name, (flag, _) in OPTIONS.items()}
        commands = {
            name: Field(COMMAND, default_value=name, description=f"the {name} command: a path or command line ('ssh login1 {name}'), or a list of words")
            for name in ("sbatch", "squeue", "scancel", "scontrol", "sacct")
        }
        return {
            **option_fields,
            **commands,
            "log_directory": Field(StringSource, default_value="slurm-logs", description="batch scripts and job logs, one folder per run (shared filesystem; folders 0700, scripts 0600)"),
            "working_directory": Field(Noneable(StringSource), is_required=False, description="cd here before running"),
            "job_name_template": Field(str, default_value="dagster-{job_name}-{run_id_short}"),
            "setup_lines": Field(Array(str), is_required=False, description="shell lines run first (module load, venv activation)"),
            "extra_sbatch_lines": Field(Array(str), is_required=False, description="more '#SBATCH …' lines"),
            "env_vars": Field(Array(str), is_required=False, description="NAME (passed from the launching process) or NAME=value; never written into the script"),
            "env_passing": Field(
                Enum("EnvPassing", [EnumValue("export"), EnumValue("file")]),
                default_value="export",
                description="export: sbatch gets the values in its environment (--export=<those names and base_env>); file: a 0600 file in the run's 0700 folder, for an sbatch behind ssh",
            ),
            "base_env": Field(Array(str), is_required=False, description=f"variables of the daemon's environment every job gets besides env_vars (default {', '.join(BASE_ENV)})"),
            "requeue": Field(bool, default_value=True, description="sbatch --requeue: a job requeued by Slurm (node failure, preemption, scontrol requeue) resumes its run; false: --no-requeue, the run fails"),
            "python_executable": Field(Noneable(StringSource), is_required=False, description="python on the compute nodes (default: the code location's)"),
            "cancel_wait_seconds": Field(IntSource, default_value=60, description="terminate waits this long for Slurm to report the job ended before the run is CANCELED"),
            "orphan_grace_seconds": Field(IntSource, default_value=30, description="a RUNNING job of a finished run is cancelled this long after the run ended (a PENDING one at once): time for the worker to exit"),
            "per_job": Field(Permissive(), is_required=False, description="job name → options (and setup_lines, python_executable) for that job's runs"),
        }

    @classmethod
    def from_config_value(cls, inst_data, config_value):
        return cls(inst_data=inst_data, **config_value)

    # --- launching --------------------------------------------------------------------------

    def _env(self) -> dict[str, str]:
        env = {}
        for item in self.env_vars:
            name, sep, value = item.partition("=")
            if sep:
                env[name] = value
            elif name in os.environ:
                env[name] = os.environ[name]
        return env

    def python(self, run) -> str:
        """The compute node's python: the job's ``per_job`` one, the configured one, else the code location's."""
        return self.per_job_extras.get(run.job_name, {}).get("python_executable") or self.python_executable or run.job_code_origin.executable_path

    def run_command(self, run) -> list[str]:
        """``<python> -m tol10m_assets.slurm.worker <ExecuteRunArgs>``: Dagster's ``api execute_run``
        that leaves SIGTERM to Slurm and resumes its run when Slurm requeues the job (``worker.py``)."""
        args = ExecuteRunArgs(job_origin=run.job_code_origin, run_id=run.run_id, instance_ref=self._instance.get_ref(), set_exit_code_on_failure=True)
        return [self.python(run), "-m", WORKER, serialize_value(args)]

    def run_dir(self, run_id: str) -> Path:
        return Path(self.log_directory) / run_id

    def batch_script(self, run) -> tuple[BatchScript, Path]:
        run_dir = self.run_dir(run.run_id)
        job_name = self.job_name_template.format(job_name=run.job_name, run_id=run.run_id, run_id_short=run.run_id[:8])
        script = BatchScript(
            job_name=job_name,
            output=str(run_dir / "slurm-%j.out"),
            command=self.run_command(run),
            comment=RUN_COMMENT + run.run_id,
            options=self.options_for(run),
            working_directory=self.working_directory,
            setup_lines=self.setup_lines + tuple(self.per_job_extras.get(run.job_name, {}).get("setup_lines", ())),
            extra_sbatch_lines=self.extra_sbatch_lines,
            env_file=str(run_dir / "env") if self.env_passing == "file" else None,
            requeue=self.requeue,
        )
        return script, run_dir / "job.sbatch"

    def options_for(self, run) -> SlurmOptions:
        """Configured options, then the job's ``per_job`` options, then the run's tags."""
        options = self.options
        job = self.per_job.get(run.job_name)
        if job is not None:
            options = SlurmOptions(**{**vars(options), **{k: v for k, v in vars(job).items() if v is not None}})
        return options.with_tags(run.tags)

    def launch_run(self, context: LaunchRunContext) -> None:
        run = context.dagster_run
        self._warn_without_sweep()
        env = self._env()
        try:
            script, path = self.batch_script(run)
            text = script.render()
            env_text = env_file_text(env)
        except UnsafeValue as exc:
            self._fail(run, f"Slurm job not submitted: {exc}")
            return
        if run.tags.get(JOB_ID_TAG):  # a re-execution inherits its parent's tags: forget the parent's job now
            self._instance.add_run_tags(run.run_id, {JOB_ID_TAG: "", STATE_TAG: "", NODE_TAG: "", REASON_TAG: "", HEALTH_TAG: ""})
        _private_dir(Path(self.log_directory))
        _private_dir(path.parent)
        _write_private(path, text)
        if script.env_file:
            _write_private(Path(script.env_file), env_text)
            sbatch_env, exported = None, [n for n in self.base_env if n in os.environ]
        else:
            sbatch_env = {**os.environ, **env}
            exported = sorted({*(n for n in self.base_env if n in os.environ), *env})
        export = "--export=" + (",".join(exported) if exported else "NONE")
        out = run_sbatch([*self.commands["sbatch"], "--parsable", export, str(path)], sbatch_env)
        if out.returncode != 0:
            self._fail(run, f"sbatch refused the job (exit {out.returncode}): {out.stderr.strip() or out.stdout.strip()}")
            return
        job_id = out.stdout.strip().split(";")[0]
        log_path = script.output.replace("%j", job_id)
        self._instance.add_run_tags(run.run_id, {JOB_ID_TAG: job_id, SCRIPT_TAG: str(path), LOG_TAG: log_path, STATE_TAG: "SUBMITTED", NODE_TAG: "", REASON_TAG: "", HEALTH_TAG: "SUBMITTED"})
        self._instance.report_engine_event(f"Submitted Slurm job {job_id} ({path}); log: {log_path}", run, cls=self.__class__)

    _warned = False

    def _warn_without_sweep(self) -> None:
        from tol10m_assets.slurm.coordinator import SlurmRunCoordinator

        if not SlurmRunLauncher._warned and not isinstance(self._instance.run_coordinator, SlurmRunCoordinator):
            SlurmRunLauncher._warned = True
            logging.getLogger("tol10m_assets.slurm").warning(
                "the run coordinator is not tol10m_assets.slurm.SlurmRunCoordinator: no sweep cancels the jobs of runs that "
                "end in Dagster (start timeout, force-cancel), and no run fails early when its batch script fails; "
                "run `python -m tol10m_assets.slurm sweep` periodically instead")

    def _fail(self, run, message: str) -> None:
        self._instance.report_engine_event(message, run, cls=self.__class__)
        self._instance.report_run_failed(run, message)

    # --- Slurm's word ------------------------------------------------------------------------

    def _job_id(self, run) -> str | None:
        return run.tags.get(JOB_ID_TAG) if run else None

    def job_state(self, job_id: str) -> JobState:
        return job_state(job_id, self.commands["squeue"], self.commands["scontrol"], self.commands["sacct"])

    def record(self, run, job_id: str, state: JobState, health: str) -> None:
        """Keep the run's status tags (visible in the UI and ``python -m tol10m_assets.slurm``) current;
        an engine event marks each change of Slurm state or health."""
        if state.verdict == Verdict.UNREACHABLE:
            tags = {HEALTH_TAG: health}  # what we knew last stays; the verdict says we do not know now
        else:
            tags = {STATE_TAG: state.state, NODE_TAG: state.node if state.node not in ("(null)", "None assigned") else "", REASON_TAG: state.reason if state.reason not in ("None", "(null)") else "", HEALTH_TAG: health}
        changed = {k: v for k, v in tags.items() if run.tags.get(k) != v}
        if not changed:
            return
        self._instance.add_run_tags(run.run_id, changed)
        if STATE_TAG in changed or HEALTH_TAG in changed:
            self._instance.report_engine_event(f"{state.describe(job_id)}; health: {health}", run, cls=self.__class__)

    def _log_text(self, run) -> str:
        path = run.tags.get(LOG_TAG)
        try:
            with open(path, errors="replace") as handle:
                return handle.read()[-200_000:]
        except (OSError, TypeError):
            return ""

    def why(self, run, job_id: str, state: JobState) -> str:
        """Why a failed job ended, naming the limit and the setting to change (accounting and the log)."""
        return why_it_ended(state, job_record(job_id, self.commands["sacct"]), self._log_text(run))

    def _log_tail(self, run) -> str:
        path = run.tags.get(LOG_TAG)
        if not path or not os.path.exists(path):
            return f"(no job log at {path})"
        with open(path, errors="replace") as handle:
            lines = handle.readlines()[-LOG_TAIL_LINES:]
        return f"Last lines of {path}:\n" + "".join(lines)

    # --- watching ---------------------------------------------------------------------------

    @property
    def supports_check_run_worker_health(self):
        return True

    def check_run_worker_health(self, run) -> CheckRunHealthResult:
        """Dagster 1.13 fails a STARTED run on any status but RUNNING and SUCCESS: while Slurm does not
        answer, the verdict (tag ``tol10m/slurm.health``) is UNKNOWN and RUNNING is returned, so the
        run keeps its status; only a job Slurm reports ended badly, or gone, fails the run."""
        job_id = self._job_id(run)
        if not job_id:
            return CheckRunHealthResult(WorkerStatus.NOT_FOUND, "no Slurm job id tag on the run")
        state = self.job_state(job_id)
        text = state.describe(job_id)
        if state.verdict == Verdict.UNREACHABLE:
            self.record(run, job_id, state, f"UNKNOWN: {state.detail}"[:500])
            return CheckRunHealthResult(WorkerStatus.RUNNING, f"UNKNOWN (the run keeps its status): {text}")
        if state.verdict == Verdict.ACTIVE:
            self.record(run, job_id, state, "RUNNING")
            return CheckRunHealthResult(WorkerStatus.RUNNING, text)
        if state.verdict == Verdict.SUCCEEDED:
            self.record(run, job_id, state, "SUCCESS")
            return CheckRunHealthResult(WorkerStatus.SUCCESS, text)
        if state.verdict == Verdict.FAILED:
            self.record(run, job_id, state, f"FAILED: {state.state} exit {state.exit_code}")
            return CheckRunHealthResult(WorkerStatus.FAILED, f"{text}: {self.why(run, job_id, state)}.\n{self._log_tail(run)}")
        self.record(run, job_id, state, "NOT_FOUND")
        return CheckRunHealthResult(WorkerStatus.NOT_FOUND, f"{text}.\n{self._log_tail(run)}")

    def get_run_worker_debug_info(self, run, include_container_logs: bool | None = True) -> str | None:
        job_id = self._job_id(run)
        if not job_id:
            return None
        out = run_slurm([*self.commands["scontrol"], "show", "job", job_id])
        return out.stdout or out.stderr

    # --- stopping ---------------------------------------------------------------------------

    def scancel(self, job_id: str) -> str | None:
        """Cancel a job; None when done (or the job already ended), else Slurm's error."""
        out = run_slurm([*self.commands["scancel"], job_id])
        text = (out.stderr + out.stdout).strip()
        if out.returncode == 0 or UNKNOWN_JOB in text or "already completing or completed" in text:
            return None
        return text or f"exit {out.returncode}"

    def terminate(self, run_id: str) -> bool:
        """Cancel the run's job, queued (PENDING) or running, and mark the run CANCELED once Slurm
        reports the job ended; until then the run stays CANCELING (``sweep`` finishes it)."""
        run = self._instance.get_run_by_id(run_id)
        if not run or run.is_finished:
            return False
        job_id = self._job_id(run)
        if not job_id:
            return False
        if run.status != DagsterRunStatus.CANCELING:
            self._instance.report_run_canceling(run, f"Cancelling Slurm job {job_id}")
        error = self.scancel(job_id)
        if error:
            self._instance.report_engine_event(f"scancel {job_id} failed: {error}; the job is cancelled when Slurm answers again", run, cls=self.__class__)
            return False
        deadline = time.monotonic() + self.cancel_wait_seconds
        while True:
            state = self.job_state(job_id)
            if state.verdict in (Verdict.SUCCEEDED, Verdict.FAILED, Verdict.GONE):
                self._finish_canceling(run_id, job_id, state)
                return True
            if time.monotonic() > deadline:
                self._instance.report_engine_event(f"Slurm job {job_id} has not ended yet ({state.describe(job_id)}); the run stays CANCELING until it has", run, cls=self.__class__)
                return True
            time.sleep(0.5)

    def _finish_canceling(self, run_id: str, job_id: str, state: JobState) -> None:
        run = self._instance.get_run_by_id(run_id)
        if run is None:
            return
        self.record(run, job_id, state, "CANCELED")
        if not run.is_finished:  # the worker may have reported the end itself on SIGTERM
            self._instance.report_run_canceled(run, f"Slurm job {job_id} cancelled: {state.describe(job_id)}")

    # --- the sweep ----------------------------------------------------------------------------

    def _finished_since(self, run_id: str) -> float:
        record = self._instance.get_run_record_by_id(run_id)
        end = record.end_time if record and record.end_time else (record.update_timestamp.timestamp() if record else 0)
        return time.time() - end

    def controller_reachable(self) -> bool:
        return controller_reachable(self.commands["scontrol"])[0]

    def user_job_count(self) -> int | None:
        jobs = user_jobs(self.commands["squeue"])
        return None if jobs is None else len(jobs)

    def sweep(self) -> dict[str, list[str]]:
        """One pass over Slurm and the runs, safe to repeat and a no-op while Slurm does not answer:

        - a job whose run (``--comment=dagster-run=<id>``) is finished is cancelled (no orphans after
          a start timeout, a force-cancel, a failure marked by anyone): at once when PENDING, after
          ``orphan_grace_seconds`` when RUNNING (a worker that reported its run's end is exiting);
        - a STARTING run whose job ended fails with the job's state and log (the batch script failed
          before the worker started: ``module load``, a missing interpreter);
        - a CANCELING run whose job ended becomes CANCELED; one whose job still runs is cancelled again;
        - queued and starting runs get their state, node and pending reason as tags.
        """
        done: dict[str, list[str]] = {"cancelled": [], "failed": [], "canceled": []}
        jobs = user_jobs(self.commands["squeue"])
        if jobs is None:
            return done
        queued = {job.job_id: job for job in jobs}
        for job in jobs:
            if not job.comment.startswith(RUN_COMMENT):
                continue
            run = self._instance.get_run_by_id(job.comment[len(RUN_COMMENT) :])
            if run is None or not run.is_finished or job.state in ("COMPLETING", "CANCELLED"):
                continue  # another instance's job, a live run's job, or one already ending
            if job.state != "PENDING" and self._finished_since(run.run_id) < self.orphan_grace_seconds:
                continue  # a worker that reported the end of its run is still exiting
            if self.scancel(job.job_id) is None:
                done["cancelled"].append(job.job_id)
                self._instance.report_engine_event(f"Cancelled Slurm job {job.job_id} ({job.state}): its run is {run.status.value}", run, cls=self.__class__)
        for run in self._instance.get_runs(RunsFilter(statuses=[DagsterRunStatus.STARTING, DagsterRunStatus.CANCELING])):
            job_id = self._job_id(run)
            if not job_id:
                continue
            if job_id in queued:
                job = queued[job_id]
                state = JobState(Verdict.ACTIVE, job.state, job.reason, job.node, source="squeue")
            else:
                state = self.job_state(job_id)
            if state.verdict == Verdict.UNREACHABLE:
                self.record(run, job_id, state, f"UNKNOWN: {state.detail}"[:500])
                continue
            if state.verdict == Verdict.ACTIVE:
                self.record(run, job_id, state, "CANCELING" if run.status == DagsterRunStatus.CANCELING else state.state)
                if run.status == DagsterRunStatus.CANCELING:
                    self.scancel(job_id)
                continue
            current = self._instance.get_run_by_id(run.run_id)
            if current is None or current.status != run.status:
                continue  # the worker or a user moved it meanwhile
            if run.status == DagsterRunStatus.CANCELING:
                self._finish_canceling(run.run_id, job_id, state)
                done["canceled"].append(run.run_id)
            else:
                when = "after the run worker started (before it reported the run's start)" if WORKER_STARTED in self._log_text(run) else "before the run worker started"
                why = f": {self.why(run, job_id, state)}" if state.verdict == Verdict.FAILED else ""
                self.record(run, job_id, state, f"FAILED: {state.state or 'gone'} {when}"[:500])
                self._instance.report_run_failed(run, f"{state.describe(job_id)} {when}{why}.\n{self._log_tail(run)}")
                done["failed"].append(run.run_id)
        done["settled"] = self.settle_finished(queued)
        return done

    def settle_finished(self, queued: dict) -> list[str]:
        """Finished runs get their job's final state in their tags once Slurm has it (a run whose
        worker reported its end has a job still exiting; its tags said RUNNING)."""
        settled = []
        since = datetime.now(timezone.utc) - timedelta(days=1)
        for run in self._instance.get_runs(RunsFilter(statuses=FINISHED, updated_after=since), limit=2000):
            job_id = self._job_id(run)
            if not job_id or job_id in queued or run.tags.get(STATE_TAG, "") not in UNSETTLED:
                continue
            state = self.job_state(job_id)
            if state.verdict == Verdict.SUCCEEDED:
                health = "CANCELED" if run.status == DagsterRunStatus.CANCELED else "SUCCESS"
            elif state.verdict == Verdict.FAILED:
                health = "CANCELED" if run.status == DagsterRunStatus.CANCELED else f"FAILED: {state.state} exit {state.exit_code}"
                if run.status == DagsterRunStatus.SUCCESS:
                    self._instance.report_engine_event(
                        f"{state.describe(job_id)} after the run had reported success: {self.why(run, job_id, state)}", run, cls=self.__class__)
            elif state.verdict == Verdict.GONE:
                health, state = "NOT_FOUND", dataclasses.replace(state, state="NOT_FOUND")
            else:
                continue  # still ending, or Slurm did not answer: the next sweep
            self.record(run, job_id, state, health)
            settled.append(run.run_id)
        return settled


def run_slurm(cmd: list[str]):
    return run(cmd)


def run_sbatch(cmd: list[str], env: dict[str, str] | None):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(cmd, 255, "", "sbatch timed out after 120 s")
    except OSError as exc:
        return subprocess.CompletedProcess(cmd, 255, "", f"sbatch could not run: {exc}")
