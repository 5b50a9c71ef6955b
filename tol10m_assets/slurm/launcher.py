"""``SlurmRunLauncher``: every run Dagster launches (UI, backfills, the daemon) becomes a Slurm job
that runs ``dagster api execute_run`` on a compute node.

    run_launcher:
      module: tol10m_assets.slurm
      class: SlurmRunLauncher
      config: {partition: cpu, time: "12:00:00", log_directory: /shared/dagster/slurm-logs, ...}

Run tags ``tol10m/slurm.<option>`` (partition, account, qos, time, cpus_per_task, mem, gres,
constraint) override the configured options for one run.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

from dagster import Array, Field, Noneable, Permissive, ScalarUnion, StringSource
from dagster._core.launcher import CheckRunHealthResult, LaunchRunContext, RunLauncher, WorkerStatus
from dagster._grpc.types import ExecuteRunArgs
from dagster._serdes import ConfigurableClass, ConfigurableClassData, serialize_value

from tol10m_assets.slurm.script import OPTIONS, BatchScript, SlurmOptions, UnsafeValue
from tol10m_assets.slurm.states import ACTIVE, FAILED, SUCCEEDED, job_state

JOB_ID_TAG = "tol10m/slurm.job_id"
SCRIPT_TAG = "tol10m/slurm.script"
LOG_TAG = "tol10m/slurm.log"
LOG_TAIL_LINES = 30
COMMAND = ScalarUnion(scalar_type=str, non_scalar_schema=Array(str))


def _command(value) -> list[str]:
    return shlex.split(value) if isinstance(value, str) else list(value)


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
        python_executable: str | None = None,
        sbatch: str | list[str] = "sbatch",
        squeue: str | list[str] = "squeue",
        scancel: str | list[str] = "scancel",
        scontrol: str | list[str] = "scontrol",
        sacct: str | list[str] = "sacct",
        per_job: dict | None = None,
        **options,
    ):
        self._inst_data = inst_data
        self.log_directory = os.path.abspath(log_directory)
        self.working_directory = working_directory
        self.job_name_template = job_name_template
        self.setup_lines = tuple(setup_lines or ())
        self.extra_sbatch_lines = tuple(extra_sbatch_lines or ())
        self.env_vars = list(env_vars or ())
        self.python_executable = python_executable
        self.commands = {name: _command(v) for name, v in (("sbatch", sbatch), ("squeue", squeue), ("scancel", scancel), ("scontrol", scontrol), ("sacct", sacct))}
        self.per_job = {job: SlurmOptions(**{k: str(v) for k, v in opts.items()}).validated() for job, opts in (per_job or {}).items()}
        self.options = SlurmOptions(**{k: (None if v is None else str(v)) for k, v in options.items() if k in OPTIONS}).validated()
        super().__init__()

    # --- configuration ----------------------------------------------------------------------

    @property
    def inst_data(self):
        return self._inst_data

    @classmethod
    def config_type(cls):
        option_fields = {name: Field(Noneable(StringSource), is_required=False, description=f"sbatch {flag}") for name, (flag, _) in OPTIONS.items()}
        return {
            **option_fields,
            "log_directory": Field(StringSource, default_value="slurm-logs", description="batch scripts and job logs, one folder per run (shared filesystem)"),
            "working_directory": Field(Noneable(StringSource), is_required=False, description="cd here before running"),
            "job_name_template": Field(str, default_value="dagster-{job_name}-{run_id_short}"),
            "setup_lines": Field(Array(str), is_required=False, description="shell lines run first (module load, venv activation)"),
            "extra_sbatch_lines": Field(Array(str), is_required=False, description="more '#SBATCH …' lines"),
            "env_vars": Field(Array(str), is_required=False, description="NAME (passed from the launching process) or NAME=value"),
            "python_executable": Field(Noneable(StringSource), is_required=False, description="python on the compute nodes (default: the code location's)"),
            "sbatch": Field(COMMAND, default_value="sbatch", description="the sbatch command: a path or command line ('ssh login1 sbatch'), or a list of words"),
            "squeue": Field(COMMAND, default_value="squeue", description="the squeue command: a path or command line ('ssh login1 squeue'), or a list of words"),
            "scancel": Field(COMMAND, default_value="scancel", description="the scancel command: a path or command line ('ssh login1 scancel'), or a list of words"),
            "scontrol": Field(COMMAND, default_value="scontrol", description="the scontrol command: a path or command line ('ssh login1 scontrol'), or a list of words"),
            "sacct": Field(COMMAND, default_value="sacct", description="the sacct command: a path or command line ('ssh login1 sacct'), or a list of words"),
            "per_job": Field(Permissive(), is_required=False, description="job name → options for that job's runs (e.g. write_shards: {cpus_per_task: '8', mem: 32G})"),
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
        """The compute node's python: configured, else the one the code location runs with."""
        return self.python_executable or run.job_code_origin.executable_path

    def run_command(self, run) -> list[str]:
        """``ExecuteRunArgs(...).get_command_args()``: ``<entry point> api execute_run <args>``.

        The recorded entry point is often a bare ``dagster`` that a batch job's PATH lacks (the
        daemon found it on its own PATH); then, and when ``python_executable`` is configured, the
        entry point becomes ``<python> -m dagster`` so the command always names its interpreter.
        """
        args = ExecuteRunArgs(job_origin=run.job_code_origin, run_id=run.run_id, instance_ref=self._instance.get_ref(), set_exit_code_on_failure=True)
        command = list(args.get_command_args())
        entry, rest = command[:-3], command[-3:]  # rest: api execute_run <serialized args>
        if self.python_executable or not entry or not os.path.isabs(entry[0]):
            entry = [self.python(run), "-m", "dagster"]
        return [*entry, *rest]

    def batch_script(self, run) -> tuple[BatchScript, Path]:
        command = self.run_command(run)
        run_dir = Path(self.log_directory) / run.run_id
        job_name = self.job_name_template.format(job_name=run.job_name, run_id=run.run_id, run_id_short=run.run_id[:8])
        script = BatchScript(
            job_name=job_name,
            output=str(run_dir / "slurm-%j.out"),
            command=command,
            options=self.options_for(run),
            working_directory=self.working_directory,
            setup_lines=self.setup_lines,
            extra_sbatch_lines=self.extra_sbatch_lines,
            env=self._env(),
            epilogue=[self.python_or_none(run), "-m", "tol10m_assets.slurm.epilogue", str(run_dir / "instance_ref.json"), run.run_id],
        )
        return script, run_dir / "job.sbatch"

    def python_or_none(self, run) -> str:
        try:
            return self.python(run)
        except AttributeError:
            return "python3"

    def options_for(self, run) -> SlurmOptions:
        """Configured options, then the job's ``per_job`` options, then the run's tags."""
        options = self.options
        job = self.per_job.get(run.job_name)
        if job is not None:
            options = SlurmOptions(**{**vars(options), **{k: v for k, v in vars(job).items() if v is not None}})
        return options.with_tags(run.tags)

    def launch_run(self, context: LaunchRunContext) -> None:
        run = context.dagster_run
        try:
            script, path = self.batch_script(run)
            text = script.render()
        except UnsafeValue as exc:
            self._fail(run, f"Slurm job not submitted: {exc}")
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        (path.parent / "instance_ref.json").write_text(serialize_value(self._instance.get_ref()))
        try:
            out = subprocess.run([*self.commands["sbatch"], "--parsable", str(path)], capture_output=True, text=True, timeout=120)
        except (OSError, subprocess.TimeoutExpired) as exc:
            self._fail(run, f"sbatch could not run: {exc}")
            return
        if out.returncode != 0:
            self._fail(run, f"sbatch refused the job (exit {out.returncode}): {out.stderr.strip() or out.stdout.strip()}")
            return
        job_id = out.stdout.strip().split(";")[0]
        log = script.output.replace("%j", job_id)
        self._instance.add_run_tags(run.run_id, {JOB_ID_TAG: job_id, SCRIPT_TAG: str(path), LOG_TAG: log})
        self._instance.report_engine_event(f"Submitted Slurm job {job_id} ({path}); log: {log}", run, cls=self.__class__)

    def _fail(self, run, message: str) -> None:
        self._instance.report_engine_event(message, run, cls=self.__class__)
        self._instance.report_run_failed(run, message)

    # --- watching and stopping ---------------------------------------------------------------

    def _job_id(self, run) -> str | None:
        return run.tags.get(JOB_ID_TAG) if run else None

    def terminate(self, run_id: str) -> bool:
        run = self._instance.get_run_by_id(run_id)
        job_id = self._job_id(run)
        if not run or run.is_finished or not job_id:
            return False
        self._instance.report_run_canceling(run)
        out = subprocess.run([*self.commands["scancel"], job_id], capture_output=True, text=True, timeout=60)
        if out.returncode != 0:
            self._instance.report_engine_event(f"scancel {job_id} failed: {out.stderr.strip()}", run, cls=self.__class__)
            return False
        run = self._instance.get_run_by_id(run_id)
        if not run.is_finished:
            self._instance.report_run_canceled(run, f"Slurm job {job_id} cancelled with scancel")
        return True

    @property
    def supports_check_run_worker_health(self):
        return True

    def check_run_worker_health(self, run) -> CheckRunHealthResult:
        job_id = self._job_id(run)
        if not job_id:
            return CheckRunHealthResult(WorkerStatus.NOT_FOUND, "no Slurm job id tag on the run")
        state = job_state(job_id, self.commands["squeue"], self.commands["scontrol"], self.commands["sacct"])
        base = state.state.split()[0].rstrip("+") if state.state else ""
        if base in ACTIVE:
            why = f" ({state.reason})" if state.reason and state.reason != "None" else ""
            return CheckRunHealthResult(WorkerStatus.RUNNING, f"Slurm job {job_id} is {base}{why}")
        if base in SUCCEEDED:
            return CheckRunHealthResult(WorkerStatus.SUCCESS, f"Slurm job {job_id} COMPLETED")
        if base in FAILED:
            return CheckRunHealthResult(WorkerStatus.FAILED, f"Slurm job {job_id} ended {base} ({state.reason}).\n{self._log_tail(run)}")
        if not base:
            return CheckRunHealthResult(WorkerStatus.NOT_FOUND, f"Slurm no longer knows job {job_id}.\n{self._log_tail(run)}")
        return CheckRunHealthResult(WorkerStatus.UNKNOWN, f"Slurm job {job_id} is in state {base}")

    def _log_tail(self, run) -> str:
        log = run.tags.get(LOG_TAG)
        if not log or not os.path.exists(log):
            return f"(no job log at {log})"
        with open(log, errors="replace") as handle:
            lines = handle.readlines()[-LOG_TAIL_LINES:]
        return f"Last lines of {log}:\n" + "".join(lines)

    def get_run_worker_debug_info(self, run, include_container_logs: bool | None = True) -> str | None:
        job_id = self._job_id(run)
        if not job_id:
            return None
        out = subprocess.run([*self.commands["scontrol"], "show", "job", job_id], capture_output=True, text=True, timeout=30)
        return out.stdout or out.stderr
