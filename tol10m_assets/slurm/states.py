"""Reading Slurm's word on a job, and telling "the controller did not answer" from "the job is gone".

``squeue`` while a job is queued or running, ``scontrol show job`` for ``MinJobAge`` after it ends,
``sacct`` where accounting exists. A command that fails or times out without Slurm positively
saying "Invalid job id" means *unreachable*: the caller must not fail a run on it.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from enum import Enum

ACTIVE = {"PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "RESIZING", "SUSPENDED", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "SIGNALING", "STAGE_OUT", "STOPPED"}
SUCCEEDED = {"COMPLETED"}
FAILED = {"FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL", "PREEMPTED", "BOOT_FAIL", "DEADLINE", "REVOKED", "SPECIAL_EXIT"}
UNKNOWN_JOB = "Invalid job id"  # what squeue/scontrol/scancel say of a job the controller does not know
NO_ACCOUNTING = "accounting storage is disabled"
TIMEOUT = 30  # seconds for one Slurm command


class Verdict(str, Enum):
    ACTIVE = "ACTIVE"  # queued or running
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"  # ended badly (Slurm says so)
    GONE = "GONE"  # the controller answered and does not know the job; accounting has no record
    UNREACHABLE = "UNREACHABLE"  # no answer we can trust: the run keeps its status


@dataclass(frozen=True)
class JobState:
    verdict: Verdict
    state: str = ""  # Slurm's state word, "" when none
    reason: str = ""
    node: str = ""
    exit_code: str = ""
    source: str = ""  # which command said so
    detail: str = ""  # the error text when unreachable

    def describe(self, job_id: str) -> str:
        if self.verdict == Verdict.UNREACHABLE:
            return f"Slurm did not answer about job {job_id}: {self.detail}"
        if self.verdict == Verdict.GONE:
            return f"Slurm no longer knows job {job_id} ({self.detail})"
        words = [f"Slurm job {job_id} is {self.state}"]
        if self.reason and self.reason not in ("None", "(null)"):
            words.append(f"({self.reason})")
        if self.node and self.node not in ("(null)", "None assigned"):
            words.append(f"on {self.node}")
        if self.exit_code and self.verdict != Verdict.ACTIVE:
            words.append(f"exit code {self.exit_code}")
        return " ".join(words) + f" [{self.source}]"


def classify(state: str) -> Verdict:
    base = state.split()[0].rstrip("+") if state.strip() else ""
    if base in ACTIVE:
        return Verdict.ACTIVE
    if base in SUCCEEDED:
        return Verdict.SUCCEEDED
    if base in FAILED:
        return Verdict.FAILED
    return Verdict.UNREACHABLE  # a state word we do not know: never a reason to fail a run


def _known(state: str, reason: str = "", node: str = "", exit_code: str = "", source: str = "") -> JobState:
    verdict = classify(state)
    detail = f"state {state!r} ({source}) is not one this launcher knows" if verdict == Verdict.UNREACHABLE else ""
    return JobState(verdict, state.split()[0] if state.strip() else "", reason, node, exit_code, source, detail)


def run(cmd: list[str], timeout: float | None = None) -> subprocess.CompletedProcess:
    """Run a Slurm command; a missing binary or a timeout becomes exit code 255 with the error as stderr."""
    timeout = TIMEOUT if timeout is None else timeout
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(cmd, 255, "", f"{cmd[0]} timed out after {timeout} s")
    except OSError as exc:
        return subprocess.CompletedProcess(cmd, 255, "", f"{cmd[0]} could not run: {exc}")


def _error(out: subprocess.CompletedProcess) -> str:
    return (out.stderr.strip() or out.stdout.strip() or f"exit {out.returncode}").splitlines()[-1]


def parse_scontrol(text: str) -> dict[str, str]:
    """``scontrol show job -o`` output → its Key=Value pairs."""
    return dict(re.findall(r"(\w+)=(\S*)", text))


def controller_reachable(scontrol: list[str]) -> tuple[bool, str]:
    """``scontrol ping``: (True, "") when the primary (or a backup) controller is UP."""
    out = run([*scontrol, "ping"])
    text = (out.stdout + out.stderr).strip()
    return (out.returncode == 0 and " is UP" in text), text.splitlines()[0] if text else f"exit {out.returncode}"


def _unreachable(out: subprocess.CompletedProcess, scontrol: list[str]) -> JobState:
    up, ping = controller_reachable(scontrol)
    detail = _error(out) + ("" if up else f"; scontrol ping: {ping}")
    return JobState(Verdict.UNREACHABLE, detail=detail)


def job_state(job_id: str, squeue: list[str], scontrol: list[str], sacct: list[str]) -> JobState:
    """Slurm's word on one job; ``Verdict.UNREACHABLE`` unless Slurm positively answered."""
    out = run([*squeue, "-h", "-j", job_id, "-o", "%T|%r|%N"])
    if out.returncode == 0 and out.stdout.strip():
        state, reason, node = (out.stdout.strip().splitlines()[0].split("|") + ["", ""])[:3]
        return _known(state.strip(), reason.strip(), node.strip(), source="squeue")
    if out.returncode != 0 and UNKNOWN_JOB not in out.stderr:
        return _unreachable(out, scontrol)
    if out.returncode == 0:  # not queued or running any more: scontrol keeps it for MinJobAge
        out = run([*scontrol, "show", "job", "-o", job_id])
        if out.returncode == 0 and "JobState=" in out.stdout:
            f = parse_scontrol(out.stdout)
            state = f.get("JobState", "")
            return _known(state, f.get("Reason", ""), f.get("NodeList", ""), f.get("ExitCode", ""), "scontrol")
        if UNKNOWN_JOB not in out.stderr:
            return _unreachable(out, scontrol)
    # the controller does not know the job: accounting is the record of what happened
    out = run([*sacct, "-n", "-P", "-X", "-j", job_id, "-o", "State,Reason,NodeList,ExitCode"])
    if out.returncode == 0 and out.stdout.strip():
        state, reason, node, code = (out.stdout.strip().splitlines()[0].split("|") + ["", "", ""])[:4]
        verdict = classify(state)
        if verdict == Verdict.ACTIVE:  # accounting lags behind a controller that forgot the job
            return JobState(Verdict.GONE, state.split()[0], detail=f"the controller does not know it; accounting still says {state}")
        return _known(state, reason, node, code, "sacct")
    if out.returncode == 0:
        return JobState(Verdict.GONE, detail="the controller does not know it and accounting has no record")
    if NO_ACCOUNTING in out.stderr + out.stdout:
        return JobState(Verdict.GONE, detail="the controller does not know it; this cluster keeps no accounting")
    return JobState(Verdict.UNREACHABLE, detail=f"the controller does not know the job and sacct failed: {_error(out)}")


@dataclass(frozen=True)
class QueuedJob:
    job_id: str
    state: str
    reason: str
    node: str
    comment: str


def user_jobs(squeue: list[str]) -> list[QueuedJob] | None:
    """The submitting user's queued and running jobs (``squeue --me``); None when Slurm did not answer."""
    out = run([*squeue, "-h", "--me", "-o", "%i|%T|%r|%N|%k"])
    if out.returncode != 0:
        return None
    jobs = []
    for line in out.stdout.splitlines():
        parts = line.split("|", 4)
        if len(parts) == 5:
            jobs.append(QueuedJob(*(p.strip() for p in parts)))
    return jobs


@dataclass(frozen=True)
class JobRecord:
    """Accounting's view of an ended job: the figures a failure message names."""

    state: str = ""
    exit_code: str = ""
    elapsed: str = ""
    timelimit: str = ""
    req_mem: str = ""
    max_rss: str = ""
    step_states: tuple[str, ...] = ()


def job_record(job_id: str, sacct: list[str]) -> JobRecord:
    """``sacct`` of the job and its steps; an empty record when accounting does not answer."""
    out = run([*sacct, "-n", "-P", "-j", job_id, "-o", "JobID,State,ExitCode,Elapsed,Timelimit,ReqMem,MaxRSS"])
    if out.returncode != 0 or not out.stdout.strip():
        return JobRecord()
    rows = [(line.split("|") + [""] * 7)[:7] for line in out.stdout.strip().splitlines()]
    job = next((r for r in rows if r[0] == job_id), rows[0])
    rss = max((r[6] for r in rows if r[6]), key=_bytes, default="")
    return JobRecord(job[1].split()[0] if job[1] else "", job[2], job[3], job[4], job[5], rss, tuple(r[1].split()[0] for r in rows if r[1]))


def _bytes(size: str) -> float:
    m = re.fullmatch(r"([0-9.]+)([KMGTP]?)\w*", size.strip())
    return float(m.group(1)) * 1024 ** "BKMGTP".index(m.group(2) or "B") if m else 0.0


OVER_LIMIT = re.compile(r"exceeded memory limit \((\d+) > (\d+)\)")
SIZE = re.compile(r"[0-9.]+[KMGTP]?[nc]?")


def _human(size: int) -> str:
    return f"{size / 2**30:.1f}G" if size >= 2**30 else f"{size / 2**20:.0f}M"


MEMORY_WORDS = ("exceeded memory limit", "oom-kill", "oom_kill", "out of memory", "out_of_memory")
SETTING = "raise `{0}`: the run tag tol10m/slurm.{0} (e.g. on a re-execution), `per_job: {{<job>: {{{0}: …}}}}` or the launcher's `{0}`"


def memory_killed(state: str, record: JobRecord, log_text: str) -> bool:
    if state == "OUT_OF_MEMORY" or "OUT_OF_MEMORY" in record.step_states:
        return True
    return any(word in log_text.lower() for word in MEMORY_WORDS)


def why_it_ended(state: JobState, record: JobRecord, log_text: str) -> str:
    """What a failed job's end means and the setting to change, from its state, accounting and log."""
    name = state.state or record.state
    if memory_killed(name, record, log_text):
        seen = OVER_LIMIT.search(log_text)  # slurmstepd's own figures; accounting may lag behind the job's end
        req_mem = record.req_mem if SIZE.fullmatch(record.req_mem) else ""
        if seen:
            used = f" (used {_human(int(seen.group(1)))} of its {_human(int(seen.group(2)))} limit)"
        elif record.max_rss and req_mem:
            used = f" (used {record.max_rss} of its {req_mem} limit)"
        else:
            used = f" (limit {req_mem})" if req_mem else ""
        return f"killed for exceeding its memory limit{used}: {SETTING.format('mem')}"
    if name == "TIMEOUT":
        ran = f", after {record.elapsed}" if record.elapsed else ""
        return f"hit its time limit ({record.timelimit or 'the partition default'}{ran}): {SETTING.format('time')}"
    if name == "NODE_FAIL":
        return "its node failed and Slurm did not requeue it (the site's JobRequeue=0, or --no-requeue): re-execute the run"
    if name == "PREEMPTED":
        return ("preempted, and the partition's PreemptMode cancels instead of requeueing: re-execute the run, or choose "
                "a partition or QOS without preemption (`partition`, `qos`)")
    if name == "CANCELLED":
        return "cancelled outside Dagster (scancel by a user or an administrator)"
    if name == "DEADLINE":
        return "passed its deadline (--deadline)"
    if name == "BOOT_FAIL":
        return "its node failed to boot: re-execute the run"
    return f"ended {name} with exit code {state.exit_code or record.exit_code or '?'}"
