"""Batch scripts for Slurm: every value that reaches the script is validated and quoted.

A run tag or a partition key is untrusted: a value with a newline, a quote or a ``$`` must never
become a command, so each option has a whitelist pattern and everything shell-bound goes through
``shlex.quote``.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field, fields, replace

# option → (sbatch flag, allowed value pattern)
OPTIONS: dict[str, tuple[str, re.Pattern]] = {
    "partition": ("--partition", re.compile(r"[A-Za-z0-9_.,-]{1,128}")),
    "account": ("--account", re.compile(r"[A-Za-z0-9_.-]{1,128}")),
    "qos": ("--qos", re.compile(r"[A-Za-z0-9_.,-]{1,128}")),
    "time": ("--time", re.compile(r"(UNLIMITED|[0-9]{1,6}(-[0-9]{1,2})?(:[0-9]{1,2}){0,2})")),
    "cpus_per_task": ("--cpus-per-task", re.compile(r"[0-9]{1,4}")),
    "mem": ("--mem", re.compile(r"[0-9]{1,9}[KMGT]?")),
    "gres": ("--gres", re.compile(r"[A-Za-z0-9_:,.-]{1,128}")),
    "constraint": ("--constraint", re.compile(r"[A-Za-z0-9_.,:&|()\[\]*!-]{1,256}")),
    "begin": ("--begin", re.compile(r"[A-Za-z0-9:+-]{1,64}")),  # e.g. now+3600, 2026-01-01T20:00
}
TAG_PREFIX = "tol10m/slurm."
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
JOB_NAME = re.compile(r"[A-Za-z0-9_.-]{1,128}")


class UnsafeValue(ValueError):
    """A value that would not stay data in a batch script."""


@dataclass(frozen=True)
class SlurmOptions:
    partition: str | None = None
    account: str | None = None
    qos: str | None = None
    time: str | None = None
    cpus_per_task: str | None = None
    mem: str | None = None
    gres: str | None = None
    constraint: str | None = None
    begin: str | None = None

    def validated(self) -> SlurmOptions:
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None and not OPTIONS[f.name][1].fullmatch(str(value)):
                raise UnsafeValue(f"Slurm option {f.name}={value!r} is not allowed (expected {OPTIONS[f.name][1].pattern})")
        return self

    def with_tags(self, tags: dict[str, str]) -> SlurmOptions:
        """Run tags ``tol10m/slurm.<option>`` override the configured options."""
        changes = {}
        for key, value in tags.items():
            if key.startswith(TAG_PREFIX):
                name = key[len(TAG_PREFIX) :]
                if name in OPTIONS:
                    changes[name] = str(value)
        return replace(self, **changes).validated()

    def directives(self) -> list[str]:
        return [f"#SBATCH {OPTIONS[f.name][0]}={getattr(self, f.name)}" for f in fields(self) if getattr(self, f.name) is not None]


WORKER_STARTED = "tol10m-slurm: starting the run worker"  # in the log: the failure came after this line
RUN_COMMENT = "dagster-run="  # --comment=dagster-run=<run id>: how a sweep finds the run of a job


@dataclass(frozen=True)
class BatchScript:
    """The job's script. The run worker runs in its own process group (``setsid``), which the script
    kills when the worker ends, so no child of the worker outlives it. A failure before the worker
    starts (a setup line, a missing interpreter) ends the job with that command's status and a
    ``tol10m-slurm:`` line in the log: the launcher reads both from Slurm, no Python is needed.
    Secrets never appear here: values come from the environment Slurm passes, or ``env_file``.
    """

    job_name: str
    output: str  # the log path, may contain %j
    command: list[str]  # command[0] is the interpreter
    comment: str = ""
    options: SlurmOptions = field(default_factory=SlurmOptions)
    working_directory: str | None = None
    setup_lines: tuple[str, ...] = ()
    extra_sbatch_lines: tuple[str, ...] = ()
    env_file: str | None = None  # a user-only file of `export NAME=value` lines, sourced first
    requeue: bool = True  # Slurm may requeue the job (node failure, preemption): the worker resumes its run

    def render(self) -> str:
        if not JOB_NAME.fullmatch(self.job_name):
            raise UnsafeValue(f"job name {self.job_name!r} is not allowed")
        if self.comment and not JOB_NAME.fullmatch(self.comment.replace("=", "")):
            raise UnsafeValue(f"job comment {self.comment!r} is not allowed")
        for line in (*self.setup_lines, *self.extra_sbatch_lines, self.output, self.working_directory or "", self.env_file or ""):
            if "\n" in line or "\r" in line:
                raise UnsafeValue(f"a newline in {line!r}")
        for line in self.extra_sbatch_lines:
            if not line.startswith("#SBATCH "):
                raise UnsafeValue(f"extra_sbatch_lines must start with '#SBATCH ': {line!r}")
        lines = ["#!/bin/bash", f"#SBATCH --job-name={self.job_name}", f"#SBATCH --output={shlex.quote(self.output)}",
                 "#SBATCH --open-mode=append", "#SBATCH --requeue" if self.requeue else "#SBATCH --no-requeue"]
        if self.comment:
            lines.append(f"#SBATCH --comment={self.comment}")
        lines += self.options.validated().directives()
        lines += list(self.extra_sbatch_lines)
        interpreter = shlex.quote(self.command[0])
        lines += [
            "",
            "# written by tol10m_assets.slurm.SlurmRunLauncher",
            "job_start=$(date +%s.%N)",
            "umask 077",
            "set -eE -o pipefail",
            "trap 'status=$?; echo \"tol10m-slurm: the batch script failed before the run worker started: line $LINENO: $BASH_COMMAND (exit $status)\" >&2; exit $status' ERR",
            'echo "tol10m-slurm: job $SLURM_JOB_ID on $(hostname) at $(date -Is) (restart ${SLURM_RESTART_COUNT:-0})"',
        ]
        if self.working_directory:
            lines.append(f"cd {shlex.quote(self.working_directory)}")
        if self.env_file:
            lines.append(f". {shlex.quote(self.env_file)}")
        lines += list(self.setup_lines)
        lines += [
            f"command -v {interpreter} >/dev/null || {{ echo \"tol10m-slurm: the interpreter {self.command[0]} is missing on $(hostname) (exit 127)\" >&2; exit 127; }}",
            "trap - ERR",
            "set +e",
            "# the worker leads its own process group; everything it starts dies with it",
            f'echo "{WORKER_STARTED} at $(date -Is)"',
            f"TOL10M_SLURM_T0=$job_start setsid {' '.join(shlex.quote(a) for a in self.command)} &",
            "worker=$!",
            "trap 'kill -TERM -- -$worker 2>/dev/null' TERM INT",
            'wait "$worker"; status=$?',
            'while kill -0 "$worker" 2>/dev/null; do wait "$worker"; status=$?; done',
            'kill -KILL -- -"$worker" 2>/dev/null',
            'for _ in $(seq 100); do kill -0 -- -"$worker" 2>/dev/null || break; sleep 0.1; done',
            'echo "tol10m-slurm: the run worker exited with status $status at $(date -Is)"',
            'exit "$status"',
            "",
        ]
        return "\n".join(lines)


def env_file_text(env: dict[str, str]) -> str:
    """``export NAME=value`` lines for a user-only file (``env_passing: file``)."""
    lines = []
    for name, value in sorted(env.items()):
        if not ENV_NAME.fullmatch(name):
            raise UnsafeValue(f"environment variable name {name!r} is not allowed")
        lines.append(f"export {name}={shlex.quote(value)}")
    return "\n".join(lines) + "\n"
