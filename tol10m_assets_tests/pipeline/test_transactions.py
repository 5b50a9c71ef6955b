"""Publishing is a transaction: a SIGKILL at every named step of publishing a partition or a release
leaves the previous published state or the new one, never a mix, and the next run recovers.

Each case copies one built sample world, rebuilds a partition with other settings (JPEG quality 90,
so every shard changes) in a subprocess that kills itself at the step under test
(``TOL10M_FAULT``), and compares the published files before and after.
"""

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys

import pytest

from tol10m_assets.faults import FAULT_POINTS
from tol10m_assets.release import KEEP_RELEASES
from tol10m_assets.run import SAMPLE_SETTINGS
from tol10m_assets.store import sha256_file

from .conftest import make_world

PARTITION = "eol-01"
BEFORE_COMMIT = {"partition.written", "partition.checked", "partition.manifest-staged"}
RELEASE_BEFORE_COMMIT = {"release.linked", "release.catalog-written", "release.checked"}


def run(case, *args, fault=None, **config):
    env = {**os.environ, "DAGSTER_HOME": str(case / "home")}
    env.pop("TOL10M_FAULT", None)
    if fault:
        env["TOL10M_FAULT"] = fault
    settings = {"sources_root": str(case.parent / "world"), "data_root": str(case / "data"), "workers": 1,
                **SAMPLE_SETTINGS, **config}
    cmd = [sys.executable, "-m", "tol10m_assets_tests.pipeline.run_job", *args, "--config", json.dumps(settings)]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)


def published(case) -> dict[str, str]:
    root = (case / "data" / "published").resolve()
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}


def committed(case) -> dict:
    return json.loads((case / "data" / "store" / "224x224" / PARTITION / "manifest.json").read_text())


def assert_manifest_matches_files(case, manifest):
    gen = case / "data" / "store" / "224x224" / PARTITION / manifest["generation"]
    for shard in manifest["shards"]:
        size, digest = sha256_file(gen / shard["split"] / shard["name"])
        assert (size, digest) == (shard["bytes"], shard["sha256"]), shard["name"]


def assert_release_consistent(case):
    import pandas as pd

    root = case / "data" / "published"
    catalog = pd.read_csv(root / "metadata" / "catalog.csv", dtype=str, keep_default_na=False)
    release = json.loads((root / "release.json").read_text())
    for split, n in release["sizes"].items():
        sizes = json.loads((root / "224x224" / split / "sizes.json").read_text())
        assert sum(sizes.values()) == n == (catalog["split"] == split).sum(), split
        names = sorted(p.name for p in (root / "224x224" / split).glob("shard-*.tar"))
        assert names == [f"shard-{i:06d}.tar" for i in range(len(names))] == sorted(sizes), split


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    root = tmp_path_factory.mktemp("tx")
    make_world(root / "world", images=150, seed=3)
    case = root / "base"
    (case / "home").mkdir(parents=True)
    done = run(case, "build")
    assert done.returncode == 0, done.stderr[-3000:]
    return case


def copy_case(base, name):
    case = base.parent / name
    shutil.copytree(base, case, symlinks=True)
    return case


@pytest.mark.slow
@pytest.mark.parametrize("point", [p for p in FAULT_POINTS if p.startswith("partition.")])
def test_kill_while_publishing_a_partition(base, point):
    case = copy_case(base, point)
    before, old = published(case), committed(case)
    killed = run(case, "write_shards", PARTITION, fault=point, jpeg_quality=90)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert published(case) == before  # shards reach users only through a release
    now = committed(case)
    if point in BEFORE_COMMIT:
        assert now == old
    else:
        assert now["generation"] != old["generation"] and now["settings"]["image"]["quality"] == 90
    assert_manifest_matches_files(case, now)  # never a manifest naming files that are not there

    again = run(case, "write_shards", PARTITION, jpeg_quality=90)  # the lock died with the killed run
    assert again.returncode == 0, again.stderr[-2000:]
    store = case / "data" / "store" / "224x224" / PARTITION
    assert sorted(p.name for p in store.glob("gen-*")) == [committed(case)["generation"]]
    if point == "partition.committed":  # and the recovered partition publishes
        assert run(case, "publish").returncode == 0
        assert published(case) != before
        assert_release_consistent(case)


@pytest.mark.slow
@pytest.mark.parametrize("point", [p for p in FAULT_POINTS if p.startswith("release.")])
def test_kill_while_publishing_a_release(base, point):
    case = copy_case(base, point)
    assert run(case, "write_shards", PARTITION, jpeg_quality=90).returncode == 0
    before = published(case)
    killed = run(case, "publish", fault=point)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    if point in RELEASE_BEFORE_COMMIT:
        assert published(case) == before  # catalog, licences, taxa report, shards: all as they were
    else:
        assert published(case) != before
    assert_release_consistent(case)

    again = run(case, "publish")
    assert again.returncode == 0, again.stderr[-2000:]
    assert_release_consistent(case)
    releases = case / "data" / "releases"
    assert not list(releases.glob(".staging-*")), "a staged release was left behind"
    assert len([p for p in releases.iterdir() if p.is_dir()]) <= KEEP_RELEASES
