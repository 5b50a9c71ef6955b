"""The partitioned ``shards`` asset and its per-partition ``check_wds``, through ``materialize_to_memory``."""

import pytest
from dagster import AssetCheckSeverity, materialize_to_memory

import tol10m_assets.shards as shards_core
from tol10m_assets.defs.shards import shards
from tol10m_assets.testing import PREPARE, check_evaluation, metadata_values, shard_partitions

SOURCES = ("eol", "inat21", "bioscan")


def figures(meta: dict) -> dict[str, int]:
    """check_wds's counts (a table of figure, value: numbers would be plotted over all partitions as one series)."""
    return {r.data["figure"]: int(r.data["value"]) for r in meta["figures"].records}


def problem_texts(meta: dict) -> list[str]:
    """check_wds's problems (a table of #, problem; text when there is none)."""
    table = meta["problems"]
    return [] if isinstance(table, str) else [r.data["problem"] for r in table.records]


def test_every_partition_writes_what_the_sample_world_expects(built):
    results = built.results["shards"]
    assert sorted(results) == built.partitions
    written = {s: 0 for s in SOURCES}
    skipped = {s: {} for s in SOURCES}
    for partition, result in results.items():
        (mat,) = result.asset_materializations_for_node("shards")
        assert mat.partition == partition
        meta = metadata_values(mat)
        source = partition.split("-")[0]
        written[source] += meta["dagster/row_count"]
        for reason, n in meta["skipped"].items():
            skipped[source][reason] = skipped[source].get(reason, 0) + n
        samples = {split: meta.get(f"samples_{split}", 0) for split in ("train", "val", "train_small")}
        assert samples["train"] + samples["val"] == meta["dagster/row_count"] > 0  # train_small repeats train
        assert samples["train_small"] <= samples["train"]
    for source in SOURCES:
        assert written[source] == built.world.written(source)
        expected = {r: n for r, n in built.world.skipped(source).items() if n}
        assert {r: n for r, n in skipped[source].items() if n} == expected


def test_check_wds_passes_on_every_partition_with_its_accounting(built):
    for partition, result in built.results["shards"].items():
        check = check_evaluation(result, "check_wds")
        assert check.passed and check.partition == partition
        meta = metadata_values(check)
        assert figures(meta)["problem_count"] == 0 and meta["problems"] == "No problem."
        accounting = meta["accounting"]
        assert accounting["planned"] == accounting["written"] + sum(accounting["skipped_planned"].values())
        assert figures(meta)["images_checked"] == sum(meta["samples"].values())


@pytest.fixture
def prepared(tol10m_world, tmp_path, tol10m_instance):
    """A prepared data root (mapping registered the partitions in ``tol10m_instance``); returns a
    function giving the ``tol`` resource over it with other settings."""
    def tol(**overrides):
        return tol10m_world.tol(tmp_path / "data", **overrides)

    assert materialize_to_memory(PREPARE, resources={"tol": tol()}, instance=tol10m_instance).success
    return tol


def test_check_wds_fails_when_the_corrupt_share_is_over_its_limit(prepared, tol10m_instance):
    tol = prepared(max_corrupt_share=0.0)
    result = materialize_to_memory([shards], partition_key="eol-01", resources={"tol": tol}, instance=tol10m_instance,
                                   raise_on_error=False)
    assert not result.success  # the partition's run fails: a backfill's "Failed" selection picks it
    check = check_evaluation(result, "check_wds")
    assert not check.passed and check.severity == AssetCheckSeverity.ERROR and check.partition == "eol-01"
    meta = metadata_values(check)
    assert meta["accounting"]["corrupt_share"] > 0 == meta["accounting"]["max_corrupt_share"]
    assert any("max_corrupt_share" in p and p.startswith("eol-01:") for p in problem_texts(meta))
    assert result.asset_materializations_for_node("shards") == []
    assert not (tol.paths().store / "eol-01" / "manifest.json").exists()  # nothing published


def test_check_wds_fails_on_a_shard_damaged_between_writing_and_checking(prepared, tol10m_instance, monkeypatch):
    """A shard cut short after the writer finished (a disk or copy fault): the staged files are checked."""
    real = shards_core.write_partition
    damaged = []

    def write_then_truncate(out_dir, *args, **kwargs):
        result = real(out_dir, *args, **kwargs)
        shard = out_dir / "train" / result.shards["train"][0]
        shard.write_bytes(shard.read_bytes()[: shard.stat().st_size // 2])
        damaged.append(shard.name)
        return result

    monkeypatch.setattr(shards_core, "write_partition", write_then_truncate)
    tol = prepared()
    result = materialize_to_memory([shards], partition_key="inat21-000", resources={"tol": tol}, instance=tol10m_instance,
                                   raise_on_error=False)
    assert not result.success and damaged
    check = check_evaluation(result, "check_wds")
    assert not check.passed and check.severity == AssetCheckSeverity.ERROR
    meta = metadata_values(check)
    assert figures(meta)["problem_count"] >= 1
    assert any(damaged[0] in p for p in problem_texts(meta)), problem_texts(meta)
    assert not (tol.paths().store / "inat21-000" / "manifest.json").exists()


def test_check_wds_fails_when_the_checker_reports_a_problem(prepared, tol10m_instance, monkeypatch):
    real = shards_core.check_partition_shards

    def failing(*args, **kwargs):
        report = real(*args, **kwargs)
        report.problem("injected by the test")
        return report

    monkeypatch.setattr(shards_core, "check_partition_shards", failing)
    tol = prepared()
    result = materialize_to_memory([shards], partition_key="bioscan-000", resources={"tol": tol}, instance=tol10m_instance,
                                   raise_on_error=False)
    check = check_evaluation(result, "check_wds")
    assert not check.passed and check.severity == AssetCheckSeverity.ERROR
    assert problem_texts(metadata_values(check)) == ["injected by the test"]
    assert not result.success and result.asset_materializations_for_node("shards") == []


def test_a_shard_partition_needs_the_instance_that_ran_mapping(tol10m_tol, tol10m_instance):
    """Dynamic partitions live in the instance: a run on another instance does not know the key."""
    assert materialize_to_memory(PREPARE, resources={"tol": tol10m_tol}, instance=tol10m_instance).success
    assert "eol-01" in shard_partitions(tol10m_instance)
    from dagster import instance_for_test

    with instance_for_test() as other:
        with pytest.raises(Exception, match="eol-01"):
            materialize_to_memory([shards], partition_key="eol-01", resources={"tol": tol10m_tol}, instance=other)
    result = materialize_to_memory([shards], partition_key="eol-01", resources={"tol": tol10m_tol}, instance=tol10m_instance)
    assert result.success and check_evaluation(result, "check_wds").passed


def test_thumbnails_from_the_writers_first_samples_equal_those_read_back_from_the_shards(built, tmp_path):
    """The asset's thumbnails come from the writer; they are the entries the committed shards give."""
    from tol10m_assets.defs.metadata import thumbnail_entries, thumbnail_entries_from_samples
    from tol10m_assets.sample.images import encode, photo
    from tol10m_assets.shards import ImageSettings, SampleJob, TEXT_SUFFIXES, shard_paths, write_partition
    from tol10m_assets.store import PartitionStore

    import numpy as np

    store = PartitionStore(built.tol.paths().store)
    for partition, result in built.results["shards"].items():
        (mat,) = result.asset_materializations_for_node("shards")
        meta = {k: v.value for k, v in mat.metadata.items() if k.startswith("thumbnail_")}
        want = thumbnail_entries(store.shard_files(partition, store.read_manifest(partition)))
        assert meta == {k: v.value for k, v in want.items()} and "data:image/webp" in meta["thumbnail_1"]
    # a first shard of one sample, a split of two, labels with ']' and an empty common name
    rng = np.random.default_rng(3)
    jpeg = [encode(photo(rng, 300, 200 + 40 * i)) for i in range(6)]
    commons = ["a ]bird[", "", "  spaced  ", "x", "y", "z"]
    jobs = [(SampleJob(f"k{i}", ("val",) if i in (1, 4) else ("train",), {s: commons[i] if s == "common_name.txt" else "t"
             for s in TEXT_SUFFIXES}, f"o{i}"), jpeg[i]) for i in range(6)]
    for max_samples in (1, 2, 100):
        out = tmp_path / f"m{max_samples}"
        got = write_partition(out, "eol-01", jobs, ImageSettings(), max_samples=max_samples)
        files = [p for split in sorted(got.shards) for p in shard_paths(out, split=split)]
        want = thumbnail_entries(files)
        have = thumbnail_entries_from_samples(got.first_samples)
        assert {k: v.value for k, v in have.items()} == {k: v.value for k, v in want.items()} and len(want) == 4
        assert "first_samples" not in got.to_json()
