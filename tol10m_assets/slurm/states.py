"""Reading Slurm's word on a job: ``squeue`` while it is queued or running, ``scontrol`` for a
while after, ``sacct`` where accounting exists."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass

ACTIVE = {"PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "RESIZING", "SUSPENDED", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "SIGNALING", "STAGE_OUT", "STOPPED"}
SUCCEEDED = {"COMPLETED"}
FAILED = {"FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL", "PREEMPTED", "BOOT_FAIL", "DEADLINE", "REVOKED", "SPECIAL_EXIT"}


@dataclass(frozen=True)
class JobState:
    state: str  # "" when Slurm no longer knows the job
    reason: str = ""
    source: str = ""  # which command said so


def _run(cmd: list[str], timeout: int = 30) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def parse_scontrol(text: str) -> dict[str, str]:
    """``scontrol show job -o`` output → its Key=Value pairs."""
    return dict(re.findall(r"(\w+)=(\S*)", text))


def job_state(job_id: str, squeue: list[str], scontrol: list[str], sacct: list[str]) -> JobState:
    out = _run([*squeue, "-h", "-j", job_id, "-o", "%T|%r"])
    if out.returncode == 0 and out.stdout.strip():
        state, _, reason = out.stdout.strip().splitlines()[0].partition("|")
        return JobState(state.strip(), reason.strip(), "squeue")
    out = _run([*scontrol, "show", "job", "-o", job_id])
    if out.returncode == 0 and "JobState=" in out.stdout:
        fields = parse_scontrol(out.stdout)
        return JobState(fields.get("JobState", ""), fields.get("Reason", ""), "scontrol")
    try:
        out = _run([*sacct, "-n", "-P", "-X", "-j", job_id, "-o", "State,Reason"])
    except (OSError, subprocess.TimeoutExpired):
        return JobState("")
    if out.returncode == 0 and out.stdout.strip():
        state, _, reason = out.stdout.strip().splitlines()[0].partition("|")
        return JobState(state.split()[0], reason, "sacct")
    return JobState("")
