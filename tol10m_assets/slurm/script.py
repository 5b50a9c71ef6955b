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

    def validated(self) -> "SlurmOptions":
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None and not OPTIONS[f.name][1].fullmatch(str(value)):
                raise UnsafeValue(f"Slurm option {f.name}={value!r} is not allowed (expected {OPTIONS[f.name][1].pattern})")
        return self

    def with_tags(self, tags: dict[str, str]) -> "SlurmOptions":
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


@dataclass(frozen=True)
class BatchScript:
    job_name: str
    output: str  # the log path, may contain %j
    command: list[str]
    options: SlurmOptions = field(default_factory=SlurmOptions)
    working_directory: str | None = None
    setup_lines: tuple[str, ...] = ()
    extra_sbatch_lines: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    epilogue: list[str] | None = None  # run with the run worker's exit status when it fails

    def render(self) -> str:
        if not JOB_NAME.fullmatch(self.job_name):
            raise UnsafeValue(f"job name {self.job_name!r} is not allowed")
        for line in (*self.setup_lines, *self.extra_sbatch_lines, self.output, self.working_directory or ""):
            if "\n" in line or "\r" in line:
                raise UnsafeValue(f"a newline in {line!r}")
        for line in self.extra_sbatch_lines:
            if not line.startswith("#SBATCH "):
                raise UnsafeValue(f"extra_sbatch_lines must start with '#SBATCH ': {line!r}")
        lines = ["#!/bin/bash", f"#SBATCH --job-name={self.job_name}", f"#SBATCH --output={shlex.quote(self.output)}"]
        lines += self.options.validated().directives()
        lines += list(self.extra_sbatch_lines)
        lines += ["", "# written by tol10m_assets.slurm.SlurmRunLauncher", "set -eo pipefail"]
        if self.working_directory:
            lines.append(f"cd {shlex.quote(self.working_directory)}")
        lines += list(self.setup_lines)
        for name, value in sorted(self.env.items()):
            if not ENV_NAME.fullmatch(name):
                raise UnsafeValue(f"environment variable name {name!r} is not allowed")
            lines.append(f"export {name}={shlex.quote(value)}")
        lines.append('echo "slurm job $SLURM_JOB_ID on $(hostname) at $(date -Is)"')
        command = " ".join(shlex.quote(a) for a in self.command)
        if not self.epilogue:
            lines += [f"exec {command}", ""]
        else:
            epilogue = " ".join(shlex.quote(a) for a in self.epilogue)
            lines += ["set +e", command, "status=$?", f'[ "$status" -eq 0 ] || {epilogue} "$status" || true', 'exit "$status"', ""]
        return "\n".join(lines)
