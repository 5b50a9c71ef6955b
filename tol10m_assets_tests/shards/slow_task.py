"""A task that takes a while and returns its worker's pid (for the process-lifetime tests)."""

import os
import time

from tol10m_assets.shards.writer import SampleJob
from tol10m_assets.shards.tarfiles import TEXT_SUFFIXES


def task(source, settings):
    time.sleep(0.05)
    return True, os.getpid()


def items(n: int):
    texts = {suffix: "x" for suffix in TEXT_SUFFIXES}
    return [(SampleJob(f"k{i}", ("train",), texts, f"item {i}"), b"") for i in range(n)]
