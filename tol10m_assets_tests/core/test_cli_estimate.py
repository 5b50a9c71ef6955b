"""`tol10m partitions`' estimate of a full build and of a backfill, end to end: the real CLI builds the
sample world, then estimates; the figures are checked against what the runs took (within a factor), and
a backfill of one removed partition is run and timed against its estimate."""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

import pytest

from tol10m_assets_tests.ui.test_ui import env_for, run_ok

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

FULL = re.compile(r"full build\s+.*?\(([\d.]+) s\) for (\d+) partitions, ([\d,]+) images")
BACKFILL = re.compile(r"backfill\s+.*?\(([\d.]+) s\) for the (\d+) partition\(s\) not built")
COST = re.compile(r"at ([\d.]+) s per run \+ ([\d.]+) ms per image \(fitted on (\d+) committed run\(s\)\)")


def shard_runs(env: dict) -> list:
    """The write_shards / shards runs of the instance, oldest first."""
    import os

    from dagster import DagsterInstance, RunsFilter

    old = os.environ.get("DAGSTER_HOME")
    os.environ["DAGSTER_HOME"] = env["DAGSTER_HOME"]
    try:
        with DagsterInstance.get() as instance:
            records = instance.get_run_records(RunsFilter())
            runs = [r for r in records if r.dagster_run.tags.get("dagster/partition")]
            return sorted(((r.create_timestamp.timestamp(), r.end_time, r.dagster_run.tags["dagster/partition"]) for r in runs))
    finally:
        if old is None:
            os.environ.pop("DAGSTER_HOME", None)
        else:
            os.environ["DAGSTER_HOME"] = old


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    from tol10m_assets.sample import make_sample_world

    root = tmp_path_factory.mktemp("estimate")
    make_sample_world(root / "sources", images=120, seed=0, log=lambda *a, **k: None)
    settings = root / "settings.yaml"
    settings.write_text("sources_root: sources\ndata_root: data\nworkers: 1\nmax_corrupt_share: 0.25\n")
    env = {**env_for(root), "TOL10M_SETTINGS": str(settings)}
    built = run_ok([sys.executable, "-m", "tol10m_assets.cli", "build", "--config", str(settings)], env)
    return root, settings, env, built.stdout


def estimate(sample) -> str:
    root, settings, env, _ = sample
    return run_ok([sys.executable, "-m", "tol10m_assets.cli", "partitions", "--config", str(settings)], env).stderr  # the notes


def test_the_full_build_estimate_matches_the_measured_runs(sample):
    root, _, env, _ = sample
    out = estimate(sample)
    full, cost = FULL.search(out), COST.search(out)
    assert full and cost, out
    seconds, partitions = float(full.group(1)), int(full.group(2))
    manifests = {p.parent.name: json.loads(p.read_text()) for p in (root / "data" / "store").glob("*/*/manifest.json")}
    assert partitions == len(manifests) == int(cost.group(3)), out
    # what the build's shard partitions took, one run after another: first run created → last run ended
    runs = shard_runs(env)
    phase = runs[-1][1] - runs[0][0]
    assert 0.5 * phase <= seconds <= 2 * phase, (out, phase)
    # the writer's own per-image rate (the manifests' seconds) leaves out each run's fixed cost: the old
    # estimate was that rate times the images, far below what the runs took
    planned = sum(m["accounting"]["planned"] for m in manifests.values())
    writer = sum(m["seconds"] for m in manifests.values()) / planned * int(full.group(3).replace(",", ""))
    assert writer <= seconds, (out, writer)
    print(f"full build estimate {seconds:.1f} s; shard runs took {phase:.1f} s; writer-only estimate {writer:.2f} s")


def test_the_backfill_estimate_matches_the_backfill(sample):
    root, settings, env, _ = sample
    store = next((root / "data" / "store").iterdir())
    key = sorted(p.name for p in store.iterdir() if (p / "manifest.json").exists())[-1]
    shutil.rmtree(store / key)  # as if never built: one partition to backfill
    out = estimate(sample)
    backfill = BACKFILL.search(out)
    assert backfill and int(backfill.group(2)) == 1 and key in out, out
    expected = float(backfill.group(1))
    # the backfill the way the measured runs were made (`tol10m build`: runs in one process; a run in a
    # process of its own, e.g. `dagster asset materialize`, also pays the imports of its first step)
    run_ok([sys.executable, "-m", "tol10m_assets.cli", "build", "--config", str(settings)], env)
    created, ended, partition = [r for r in shard_runs(env) if r[2] == key][-1]
    assert (store / key / "manifest.json").exists()
    took = ended - created
    assert took / 3 <= expected <= took * 3, (out, took)
    print(f"backfill of {key}: estimated {expected:.1f} s, took {took:.1f} s")
    after = estimate(sample)
    assert BACKFILL.search(after) is None or int(BACKFILL.search(after).group(2)) == 0, after
