"""The gates of issue 10: every fault fails clearly, naming the culprit, and the published files stay
byte-identical to what they were before the fault."""

import hashlib
import json
import shutil
import subprocess
import sys
import time

import pytest
from dagster import instance_for_test

from tol10m_assets.definitions import build_definitions
from tol10m_assets.defs.partitions import SHARD_PARTITIONS
from tol10m_assets.run import build

from .conftest import config, make_world


def digest(root) -> dict[str, str]:
    root = root.resolve()
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}


def failure_text(result) -> str:
    from tol10m_assets.run import error_chain

    return "\n".join(error_chain(e.step_failure_data.error) for e in result.all_events if e.is_step_failure)


@pytest.fixture
def fresh(tmp_path):
    """A small world built end to end with its own instance: (tol, instance, defs, sources)."""
    sources = tmp_path / "world"
    make_world(sources, images=80, seed=11)
    with instance_for_test() as instance:
        tol = config(sources, tmp_path / "data")
        build(instance=instance, tol=tol, log=lambda *_: None)
        yield tol, instance, build_definitions(tol), sources


def run(defs, instance, job, partition=None):
    return defs.resolve_job_def(job).execute_in_process(instance=instance, partition_key=partition, raise_on_error=False)


def test_a_zeroed_image_in_a_published_shard_blocks_the_next_release(fresh):
    tol, instance, defs, _ = fresh
    paths = tol.paths()
    shard = sorted((paths.dataset / "train").glob("shard-*.tar"))[0]
    data = bytearray(shard.read_bytes())
    data[2048:6144] = bytes(4096)  # inside the first image, same size
    shard.write_bytes(bytes(data))
    before = digest(paths.published)
    result = run(defs, instance, "publish")
    assert not result.success
    text = failure_text(result)
    assert "does not match the sha256 in its manifest" in text
    assert digest(paths.published) == before  # catalog, licences, report, indexes: untouched
    release = json.loads((paths.published / "release.json").read_text())
    culprit = next(s["partition"] for s in release["shards"] if s["split"] == "train" and s["name"] == shard.name)
    assert culprit in text
    assert run(defs, instance, "write_shards", culprit).success  # the repair the message names
    assert run(defs, instance, "publish").success


def test_a_deleted_published_shard_comes_back_and_a_lost_committed_one_is_refused(fresh):
    tol, instance, defs, _ = fresh
    paths = tol.paths()
    before = digest(paths.published)
    shard = sorted((paths.dataset / "val").glob("shard-*.tar"))[0]
    shard.unlink()  # the published link: the committed file in the store still holds the bytes
    assert run(defs, instance, "publish").success
    after = digest(paths.published)
    assert {k: v for k, v in after.items() if k != "release.json"} == {k: v for k, v in before.items() if k != "release.json"}

    manifest = json.loads((paths.store / "eol-02" / "manifest.json").read_text())
    lost = paths.store / "eol-02" / manifest["generation"] / manifest["shards"][0]["split"] / manifest["shards"][0]["name"]
    lost.unlink()
    before = digest(paths.published)
    result = run(defs, instance, "publish")
    assert not result.success
    assert "eol-02" in failure_text(result) and "missing" in failure_text(result)
    assert digest(paths.published) == before


def test_a_second_writer_of_a_partition_fails_fast_naming_the_holder(fresh, tmp_path):
    tol, instance, defs, _ = fresh
    paths = tol.paths()
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from pathlib import Path; from tol10m_assets.store import PartitionStore\n"
         "with PartitionStore(Path(sys.argv[1])).lock('eol-01', {'run_id': 'run-that-holds-it'}):\n"
         "    print('held', flush=True); time.sleep(120)",
         str(paths.store)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        generations = sorted((paths.store / "eol-01").glob("gen-*"))
        start = time.monotonic()
        result = run(defs, instance, "write_shards", "eol-01")
        assert not result.success and time.monotonic() - start < 60
        assert "run-that-holds-it" in failure_text(result)
        assert sorted((paths.store / "eol-01").glob("gen-*")) == generations  # it touched nothing
    finally:
        holder.kill()
        holder.wait()
    assert run(defs, instance, "write_shards", "eol-01").success  # a dead holder's lock is gone


def test_sources_that_vanish_do_not_empty_the_mapping(fresh):
    tol, instance, defs, sources = fresh
    paths = tol.paths()
    mapping_before = paths.mapping.read_bytes()
    partitions = sorted(instance.get_dynamic_partitions(SHARD_PARTITIONS))
    for folder in ("eol/images", "inat21/train", "bioscan/cropped_256"):
        shutil.rmtree(sources / folder)
        (sources / folder).mkdir(parents=True)
    result = run(defs, instance, "prepare")
    assert not result.success
    assert "no image" in failure_text(result).lower()
    assert paths.mapping.read_bytes() == mapping_before
    assert sorted(instance.get_dynamic_partitions(SHARD_PARTITIONS)) == partitions


def test_a_partition_whose_source_is_gone_is_retired_from_the_release(fresh):
    tol, instance, defs, sources = fresh
    paths = tol.paths()
    (sources / "eol" / "images" / "image_set_02.tar.gz").unlink()
    assert run(defs, instance, "prepare").success
    assert "eol-02" not in instance.get_dynamic_partitions(SHARD_PARTITIONS)
    result = run(defs, instance, "publish")
    assert result.success
    catalog_meta = next(m for m in result.asset_materializations_for_node("publish_release") if m.asset_key.path == ["catalog"])
    assert catalog_meta.metadata["retired_partitions"].value == ["eol-02"]
    release = json.loads((paths.published / "release.json").read_text())
    assert "eol-02" not in release["partitions"] and release["retired"] == ["eol-02"]
    assert all(s["partition"] != "eol-02" for s in release["shards"])


def test_rare_species_lists_missing_with_the_exclusion_on_is_an_error(fresh):
    tol, instance, defs, sources = fresh
    for name in ("seen_in_training.json", "unseen_in_training.json"):
        for path in sources.rglob(name):
            path.unlink()
    result = run(defs, instance, "write_shards", "eol-01")
    assert not result.success
    assert "rare_seen" in failure_text(result) and "exclude_rare_species" in failure_text(result)


def test_a_partition_key_nobody_registered_fails(fresh):
    tol, instance, defs, _ = fresh
    instance.add_dynamic_partitions(SHARD_PARTITIONS, ["eol-99"])  # as the Materialize dialog can
    result = run(defs, instance, "write_shards", "eol-99")
    assert not result.success
    assert "eol-99 has no image in the mapping" in failure_text(result)
    assert not (tol.paths().store / "eol-99" / "manifest.json").exists()
    publish = run(defs, instance, "publish")  # and the release refuses to go on without it
    assert not publish.success and "eol-99" in failure_text(publish)
