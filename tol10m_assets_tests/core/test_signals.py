"""Signals are obeyed whatever a process inherited: `cmd &` in a non-interactive script starts it with
SIGINT ignored, and Dagster's in-process runs then give SIGTERM the same "ignore" (issue 25).

Each test starts its process the way a script does (`bash -c '... &'`), sends SIGTERM and asserts that it
ends within seconds, leaving no lock held and no staging behind."""

from __future__ import annotations

import fcntl
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PYTHON = sys.executable


def start_in_background(command: str, cwd: Path, env: dict | None = None) -> int:
    """`command &` from a non-interactive shell (no job control: SIGINT ignored); its pid."""
    done = subprocess.run(["bash", "-c", f"{command} & echo $!"], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL)
    return int(done.stdout.split()[-1])


def ignored_signals(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigIgn:"):
            return int(line.split()[1], 16)
    return 0


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def wait_gone(pid: int, seconds: float) -> float:
    start = time.monotonic()
    while alive(pid):
        if time.monotonic() - start > seconds:
            return float("inf")
        time.sleep(0.1)
    return time.monotonic() - start


def wait_for(predicate, seconds: float, what: str, pid: int):
    deadline = time.monotonic() + seconds
    while not predicate():
        assert alive(pid), f"the process ended before {what}"
        assert time.monotonic() < deadline, f"no {what} within {seconds} s"
        time.sleep(0.2)


def kill_tree(pid: int) -> None:
    """Clean-up after a failed assertion: the process and its children."""
    children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    for p in [pid, *map(int, children)]:
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_pool_workers_end_on_sigterm_whatever_they_inherited(tmp_path):
    """A pool whose parent ignores SIGTERM (as a Dagster run started with `&` does) and that loses a worker
    terminates the other worker and exits: before, the worker inherited the "ignore" and the interpreter
    waited for it forever (a suite that never exited after its last test)."""
    code = "from tol10m_assets_tests.core.signal_tasks import broken_pool_with_signals_ignored as f; f()"
    log = tmp_path / "pool.log"
    pid = start_in_background(f"{shlex.quote(PYTHON)} -c {shlex.quote(code)} > {log} 2>&1", REPO)
    try:
        took = wait_gone(pid, 60)
        assert took < 60, "the broken pool kept the process alive (a worker ignored SIGTERM)"
        assert "done" in log.read_text(), log.read_text()
    finally:
        kill_tree(pid)


def _locked(path: Path) -> bool:
    with open(path, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
    return False


def _staging(store: Path) -> list[Path]:
    """Generations no partition manifest names (a partition being written)."""
    import json

    out = []
    for folder in store.glob("*/"):
        manifest = folder / "manifest.json"
        keep = json.loads(manifest.read_text())["generation"] if manifest.is_file() else None
        out += [g for g in folder.glob("gen-*") if g.name != keep]
    return out


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_background_build_stops_on_sigterm_within_seconds(tmp_path):
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path / "home")}
    for name in ("TOL10M_SETTINGS", "TOL10M_SAMPLE", "TOL10M_DATA_ROOT", "TOL10M_SOURCES_ROOT"):
        env.pop(name, None)
    log = tmp_path / "build.log"
    pid = start_in_background(f"{shlex.quote(PYTHON)} -m tol10m_assets.cli build --sample --images 1500 > {log} 2>&1",
                              tmp_path, env)
    store = tmp_path / "data" / "sample" / "TreeOfLife-10M" / "store" / "224x224"
    try:
        wait_for(lambda: bool(_staging(store)), 400, "partition being written", pid)
        time.sleep(1.0)  # well inside the partition's step
        os.kill(pid, signal.SIGTERM)
        took = wait_gone(pid, 30)
        assert took < 30, f"the build went on after SIGTERM: {log.read_text()[-2000:]}"
    finally:
        kill_tree(pid)
    assert "stopped by" in log.read_text() or "interrupted" in log.read_text(), log.read_text()[-2000:]
    assert not _staging(store), "an interrupted partition left its staging generation behind"
    locks = list(store.glob("*/.lock"))
    assert locks and not any(_locked(lock) for lock in locks), "a partition lock is still held"


def _victim(test: str, tmp_path: Path) -> tuple[int, Path, Path]:
    log = tmp_path / "pytest.log"
    mark = tmp_path / "mark"
    env = {**os.environ, "TOL10M_VICTIM_MARK": str(mark)}
    target = f"tol10m_assets_tests/core/signal_victim.py::{test}"
    pid = start_in_background(f"{shlex.quote(PYTHON)} -m pytest -p no:cacheprovider -q {target} > {log} 2>&1",
                              REPO, env)
    return pid, log, mark


@pytest.mark.timeout(300)
def test_a_background_pytest_stops_on_sigterm(tmp_path):
    pid, log, mark = _victim("test_sleeps_after_a_dagster_run", tmp_path)
    try:
        wait_for(mark.exists, 200, "test in its sleep", pid)
        os.kill(pid, signal.SIGTERM)
        took = wait_gone(pid, 30)
        assert took < 30, f"pytest ignored SIGTERM: {log.read_text()[-2000:]}"
    finally:
        kill_tree(pid)
    assert "KeyboardInterrupt" in log.read_text() or "stopped by signal" in log.read_text(), log.read_text()[-2000:]


@pytest.mark.timeout(300)
def test_a_background_pytest_exits_after_its_last_test(tmp_path):
    """The suite's hang: started with `&`, a test breaks a worker pool after a Dagster run; pytest must end."""
    pid, log, _ = _victim("test_breaks_a_pool_after_a_dagster_run", tmp_path)
    try:
        took = wait_gone(pid, 240)
        assert took < 240, f"pytest did not exit after its last test: {log.read_text()[-2000:]}"
    finally:
        kill_tree(pid)
    assert "1 passed" in log.read_text(), log.read_text()[-2000:]


def test_a_process_started_with_ampersand_has_sigint_ignored(tmp_path):
    """The premise of these tests: `cmd &` in a script starts `cmd` with SIGINT ignored."""
    pid = start_in_background("sleep 30 > /dev/null 2>&1", tmp_path)
    try:
        deadline = time.monotonic() + 10
        while "sleep" not in Path(f"/proc/{pid}/cmdline").read_text() and time.monotonic() < deadline:
            time.sleep(0.05)  # until the background subshell has become `sleep`
        assert ignored_signals(pid) & (1 << (signal.SIGINT - 1))
    finally:
        kill_tree(pid)
