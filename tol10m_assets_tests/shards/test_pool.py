"""Shard worker processes end with their parent, and a pool that cannot start is an error of the run."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split()[2] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def _ppid(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as handle:
        return int(handle.read().rsplit(")", 1)[1].split()[1])


def test_kill_9_of_the_writer_ends_its_workers_and_the_forkserver(tmp_path):
    script = tmp_path / "writer.py"
    script.write_text(textwrap.dedent(
        """
        import sys
        from tol10m_assets.shards.writer import ordered_results
        from tol10m_assets_tests.shards.slow_task import task, items

        if __name__ == "__main__":
            for job, ok, pid in ordered_results(items(1000), None, workers=2, task=task):
                print(pid, flush=True)
        """
    ))
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True, cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": ROOT})
    workers: set[int] = set()
    deadline = time.monotonic() + 60
    while len(workers) < 2 and time.monotonic() < deadline:
        workers.add(int(proc.stdout.readline()))
    assert len(workers) == 2, "the workers did not start"
    servers = {_ppid(pid) for pid in workers} - {proc.pid}
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(p) for p in workers | servers):
        time.sleep(0.1)
    left = [p for p in workers | servers if _alive(p)]
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert not left, f"processes outlived the killed writer: {left}"


def test_a_pool_that_cannot_start_is_an_error_not_corrupt_images(tmp_path):
    script = tmp_path / "unguarded.py"  # no __main__ guard: every worker start re-runs the script
    script.write_text(textwrap.dedent(
        """
        from tol10m_assets.shards.writer import ordered_results
        from tol10m_assets_tests.shards.slow_task import task, items

        results = list(ordered_results(items(8), None, workers=2, task=task))
        print("finished with", len(results), "results")
        """
    ))
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=ROOT, timeout=300,
                          env={**os.environ, "PYTHONPATH": ROOT})
    assert proc.returncode != 0, proc.stdout
    assert "finished with" not in proc.stdout
    assert "WorkerPoolError: worker processes cannot start" in proc.stderr
    assert "__main__" in proc.stderr  # the message says what to fix


@pytest.mark.parametrize("workers", [1, 2])
def test_pool_starts_in_a_normal_process(workers):
    from tol10m_assets.shards.pool import check_pool_starts

    check_pool_starts()  # no exception
