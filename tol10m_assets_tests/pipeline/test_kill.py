"""A shard materialization killed with SIGKILL mid-write commits nothing and leaves nothing behind."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import make_world

DAGSTER = str(Path(sys.executable).with_name("dagster"))


def dagster(args, env, **kwargs):
    return subprocess.Popen([DAGSTER, *args], env=env, start_new_session=True, **kwargs)


@pytest.mark.slow
def test_sigkill_mid_write_leaves_no_partial_shard(tmp_path):
    sources = tmp_path / "sources"
    make_world(sources, images=1500, seed=5)
    env = {
        **os.environ,
        "DAGSTER_HOME": str(tmp_path / "home"),
        "TOL10M_SOURCES_ROOT": str(sources),
        "TOL10M_DATA_ROOT": str(tmp_path / "data"),
    }
    (tmp_path / "home").mkdir()
    config = tmp_path / "run.yaml"  # the sample world's corrupt share is above the 1 % default
    config.write_text("resources:\n  tol:\n    config:\n      max_corrupt_share: 0.25\n")
    module = ["-m", "tol10m_assets.definitions", "-a", "defs"]
    prep = dagster(["job", "execute", *module, "-j", "prepare"], env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert prep.wait(timeout=600) == 0, prep.stderr.read().decode()[-3000:]

    store = tmp_path / "data" / "store" / "224x224"
    partition = "eol-01"
    materialize = ["asset", "materialize", *module, "--select", "shards", "--partition", partition, "-c", str(config)]
    proc = dagster(materialize, env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    caught = False
    while time.monotonic() < deadline and proc.poll() is None:
        if any(p.name.startswith(f".shard-{partition}-") for p in store.rglob(".shard-*")):
            time.sleep(0.3)  # well inside the first shard: bytes written, not yet renamed
            os.killpg(proc.pid, signal.SIGKILL)
            caught = True
            break
        time.sleep(0.01)
    proc.wait(timeout=60)
    assert caught, "the partition finished before it could be killed: make the world bigger"
    assert not (store / partition / "manifest.json").exists(), "a killed run committed its partition"
    assert not (tmp_path / "data" / "published").exists()

    again = dagster(materialize, env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert again.wait(timeout=600) == 0, again.stderr.read().decode()[-3000:]
    manifest = json.loads((store / partition / "manifest.json").read_text())
    generations = sorted(p.name for p in (store / partition).glob("gen-*"))
    assert generations == [manifest["generation"]], "the killed run's generation was left behind"
    assert not list(store.rglob(f".shard-{partition}-*")), "stale temporary files were left behind"
