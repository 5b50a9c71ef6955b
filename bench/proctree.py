"""CPU seconds of a whole process tree (this process, its pool workers and their forkserver), read
from ``/proc``: worker processes are not children this process waits for, so ``getrusage`` does
not see them. A background thread samples every descendant's utime + stime; a process that has
exited keeps its last sample (at most one interval short)."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds) of a process, or None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / TICK


class TreeCPU:
    """``with TreeCPU() as cpu: … cpu.seconds()``: CPU of this process and every descendant."""

    def __init__(self, interval: float = 0.05):
        self.interval, self.root = interval, os.getpid()
        self.last: dict[int, float] = {}
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.sampler_cpu = 0.0

    def sample(self) -> None:
        parents, cpu = {}, {}
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                got = _stat(int(entry.name))
                if got:
                    parents[int(entry.name)], cpu[int(entry.name)] = got
        tree, frontier = set(), {self.root}
        while frontier:
            tree |= frontier
            frontier = {p for p, parent in parents.items() if parent in frontier and p not in tree}
        with self.lock:
            for pid in tree - {self.root}:
                self.last[pid] = cpu[pid]

    def _run(self) -> None:
        while not self.stop.wait(self.interval):
            self.sample()
        self.sampler_cpu = time.thread_time()

    def __enter__(self) -> "TreeCPU":
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join()

    def descendants(self) -> float:
        self.sample()
        with self.lock:
            return sum(self.last.values())

    def seconds(self) -> tuple[float, float]:
        """(this process, its descendants), CPU seconds so far (the sampler thread included in the first)."""
        return time.process_time(), self.descendants()
