"""Staleness where the change is, and no false change (issue 22), read from Dagster's own stale status
(`CachingStaleStatusResolver`, what the UI shows) over one build of the sample world.

A name source reaches a shard partition only through `labels`: after a name change `labels` is Unsynced
and no partition is; once `labels` is rebuilt, exactly the partitions holding an image with a changed
name are. A setting that shapes shards stales all of them; an image file only its own partition. What
the build writes never changes an observed input's data version.

Every test puts back what it changed (data versions follow content, so the build is fresh again).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
from dagster import AssetKey, AssetRecordsFilter, instance_for_test, materialize_to_memory

from tol10m_assets.definitions import build_definitions
from tol10m_assets.defs.build import labels
from tol10m_assets.defs.raw import RAW_SOURCES, is_derived
from tol10m_assets.testing import materialize_build, metadata_values, shard_partitions

COMMON_NAME = ("Giant Manta Ray", "Oceanic Manta Ray")  # ITIS terminal vernacular: every source's labels
GENUS = ("Hylarana", "Hylaranix")  # a genus row of taxon.tab: EOL labels


@dataclass
class World:
    sources: Path
    tol: object
    instance: object
    before: dict  # raw asset -> data version observed before the build
    written: list  # files under the sources root the build wrote or changed
    make_tol: object = None  # settings → the `tol` resource over the same sources and data root

    def defs(self, tol=None):
        return build_definitions(tol=tol or self.tol)

    def observe(self, tol=None):
        result = self.defs(tol).resolve_job_def("observe_sources").execute_in_process(instance=self.instance)
        assert result.success
        return result

    def status(self, tol=None) -> dict:
        """Dagster's stale status: {asset: status} for the unpartitioned assets, {partition: status} for shards."""
        from dagster._core.definitions.data_version import CachingStaleStatusResolver
        from dagster._core.loader import LoadingContextForTest

        resolver = CachingStaleStatusResolver(self.instance, self.defs(tol).resolve_asset_graph(), LoadingContextForTest(self.instance))
        out = {name: resolver.get_status(AssetKey(name)) for name in ("mapping", "splits", "labels", "predicted_catalog")}
        out["shards"] = {p: resolver.get_status(AssetKey("shards"), p) for p in shard_partitions(self.instance)}
        return out

    def stale_partitions(self, tol=None) -> list[str]:
        from dagster._core.definitions.data_version import StaleStatus

        return sorted(p for p, s in self.status(tol)["shards"].items() if s == StaleStatus.STALE)


def latest_versions(instance) -> dict:
    from dagster._core.definitions.data_version import DATA_VERSION_TAG

    out = {}
    for name in RAW_SOURCES:
        record = instance.get_latest_data_version_record(AssetKey(name), is_source=True)
        out[name] = record.asset_observation.tags.get(DATA_VERSION_TAG) if record else None
    return out


def snapshot(root: Path) -> dict:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def world(tol10m_world, tmp_path_factory):
    """observe → prepare → every partition → publish → observe, on a copy of the sample world."""
    root = tmp_path_factory.mktemp("partition-staleness")
    sources = root / "sources"
    shutil.copytree(tol10m_world.sources, sources)
    for index in sources.rglob("*.tar.gz.index"):  # written by an earlier test's build: this build writes its own
        index.unlink()
    tol = tol10m_world.tol(root / "data", sources_root=str(sources))
    with instance_for_test(set_dagster_home=False) as instance:
        w = World(sources, tol, instance, {}, [], lambda **o: tol10m_world.tol(root / "data", sources_root=str(sources), **o))
        w.observe()
        w.before = latest_versions(instance)
        files = snapshot(sources)
        results = materialize_build(tol, instance)
        assert results["publish"].success
        after = snapshot(sources)
        w.written = sorted(k for k in after if files.get(k) != after[k])
        w.observe()
        yield w


def test_observing_twice_around_a_build_finds_nothing_unsynced(world):
    """No false change: the build's EOL indexes (and anything else it writes beside the sources) are left
    out of the fingerprints: no raw input has a new data version, mapping is fresh, no partition stale."""
    from dagster._core.definitions.data_version import StaleStatus

    assert any(name.endswith(".tar.gz.index") for name in world.written), world.written  # the indexes were written
    assert all(is_derived(name) for name in world.written), world.written  # and nothing but derived files
    assert latest_versions(world.instance) == world.before
    status = world.status()
    assert status["mapping"] == StaleStatus.FRESH and status["labels"] == StaleStatus.FRESH, status
    assert set(status["shards"].values()) == {StaleStatus.FRESH}, status["shards"]


def holding(world, names: dict[str, str]) -> list[str]:
    """The partitions whose committed samples tables hold an image with one of these (column → name), read
    from the build's own per-partition tables (not from the versions under test)."""
    from tol10m_assets.store import SAMPLES_TABLE, PartitionStore

    store = PartitionStore(world.tol.paths().store)
    out = []
    con = duckdb.connect()  # its own connection: a result left open on duckdb's default one breaks later tests
    try:
        for partition in shard_partitions(world.instance):
            table = store.generation_dir(partition, store.read_manifest(partition)) / SAMPLES_TABLE
            where = " OR ".join(f"{column} = ?" for column in names)
            [(n,)] = con.execute(f"SELECT count(*) FROM read_parquet(?) WHERE {where}", [str(table), *names.values()]).fetchall()
            if n:
                out.append(partition)
    finally:
        con.close()
    return out


def rename(path: Path, old: str, new: str, delimiter: str, column: str, rank: str | None = None) -> bytes:
    """Replace the name `old` by `new` in one column of a delimited file (a cell may list several names;
    only rows of `rank` when given); returns the original bytes."""
    import csv
    import io

    original = path.read_bytes()
    text = original.decode()
    rows = [line.split("\t") for line in text.split("\n")] if delimiter == "\t" else list(csv.reader(io.StringIO(text)))
    at, rank_at = rows[0].index(column), rows[0].index("taxonRank") if rank else None
    changed = 0
    for row in rows[1:]:
        if len(row) > at and old in [n.strip() for n in row[at].split(",")] and (rank is None or row[rank_at] == rank):
            row[at] = row[at].replace(old, new)
            changed += 1
    assert changed, f"{old!r} not found in {path}"
    if delimiter == "\t":  # taxon.tab: no quoting
        path.write_text("\n".join("\t".join(row) for row in rows))
    else:
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows(rows)
        path.write_text(out.getvalue())
    return original


def test_a_name_change_stales_exactly_the_partitions_that_hold_the_name(world):
    from dagster._core.definitions.data_version import StaleStatus

    layout = world.tol.layout()
    partitions = shard_partitions(world.instance)
    eol = [p for p in partitions if p.startswith("eol-")]
    expected = holding(world, {"common": COMMON_NAME[0], "genus": GENUS[0]})
    assert expected and set(expected) < set(eol), (expected, eol)  # a strict, non-empty subset of EOL's
    taxon_tab, itis = layout.taxon_tab.read_bytes(), layout.itis_chains.read_bytes()
    try:
        rename(layout.taxon_tab, *GENUS, "\t", "canonicalName", rank="genus")
        rename(layout.itis_chains, *COMMON_NAME, ",", "terminal_vernacular")
        world.observe()
        status = world.status()
        assert status["labels"] == StaleStatus.STALE and status["splits"] == StaleStatus.FRESH, status
        assert world.stale_partitions() == [], "a name source must reach a partition only through labels"
        result = materialize_to_memory([labels], resources={"tol": world.tol}, instance=world.instance)
        assert result.success
        assert world.stale_partitions() == expected
        assert not any(p.startswith(("inat21-", "bioscan-")) for p in world.stale_partitions())
        meta = metadata_values(result.asset_materializations_for_node("labels")[0])
        assert meta["unsynced_partitions"] == ", ".join(expected) and meta["unsynced_count"] == len(expected), meta
        assert meta["changed_partitions"] == ", ".join(expected), meta
        world.observe()  # observing again changes nothing: the same partitions, named on shard_sources
        assert world.stale_partitions() == expected
    finally:
        layout.taxon_tab.write_bytes(taxon_tab)
        layout.itis_chains.write_bytes(itis)
        world.observe()
        assert materialize_to_memory([labels], resources={"tol": world.tol}, instance=world.instance).success
    assert world.stale_partitions() == []  # the old names back: the partitions are what they were built from


def test_a_setting_that_shapes_the_shards_stales_every_partition(world):
    wider = world.make_tol(width=160)
    world.observe(wider)
    try:
        assert world.stale_partitions(wider) == shard_partitions(world.instance)
    finally:
        world.observe()
    assert world.stale_partitions() == []


def test_a_changed_image_file_stales_only_its_partition(world):
    from tol10m_assets.defs.raw import partition_inputs

    inputs = partition_inputs(world.tol)
    partition = next(p for p in shard_partitions(world.instance) if p.startswith("inat21-"))
    image = next(f for folder in inputs[partition] for f in sorted(Path(folder).rglob("*")) if f.is_file())
    st = image.stat()
    os.utime(image, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    try:
        world.observe()
        assert world.stale_partitions() == [partition]
    finally:
        os.utime(image, ns=(st.st_atime_ns, st.st_mtime_ns))
        world.observe()
    assert world.stale_partitions() == []


def test_labels_rebuilt_with_the_same_names_stales_nothing(world):
    """A rebuild of mapping, splits and labels from unchanged sources writes the same rows: no partition
    gets a new version (the slices, not the files' bytes or times, are what a partition's version holds)."""
    from tol10m_assets.testing import PREPARE

    result = materialize_to_memory(PREPARE, resources={"tol": world.tol}, instance=world.instance)
    assert result.success
    for node in ("mapping", "splits", "labels"):
        meta = metadata_values(result.asset_materializations_for_node(node)[0])
        assert meta["changed_partitions"] == "none" and meta["unsynced_partitions"] == "none", (node, meta)
    assert world.stale_partitions() == []
    records = world.instance.fetch_materializations(AssetRecordsFilter(asset_key=AssetKey("labels")), limit=1).records
    assert records


def test_one_partitions_digest_is_its_digest_among_all(world):
    """What a write_shards run observes (its partition only) equals what labels and observe_sources log."""
    from tol10m_assets.slices import partition_digests

    everything = partition_digests(world.tol.paths())
    assert sorted(everything) == shard_partitions(world.instance)
    for partition, digest in everything.items():
        assert partition_digests(world.tol.paths(), [partition]) == {partition: digest}


def test_the_slice_digest_follows_rows_not_order_and_names_takedowns(tmp_path):
    """Order-independent; NULL, empty and a moved separator are distinct; a takedown list (when the paths
    have one) changes only the partitions of the ids it names; absent tables: no digest (unbuilt)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from tol10m_assets.labels import RANK_COLUMNS
    from tol10m_assets.slices import partition_digests

    @dataclass
    class Paths:
        mapping: Path
        splits: Path
        labels: Path
        takedowns: Path | None = None

    ids = [f"id-{i}" for i in range(6)]
    mapping = {"treeoflife_id": ids, "source": ["eol"] * 6, "partition": ["eol-01"] * 3 + ["eol-02"] * 3, "origin": [f"m{i}" for i in range(6)]}
    splits = {"treeoflife_id": ids, "is_val": [False] * 6, "is_train_small": [True] * 6}
    labels = {"treeoflife_id": ids, **{r: ["x"] * 6 for r in RANK_COLUMNS}, "common": ["a b"] * 6, "provenance": ["p"] * 6}

    def write(name, columns, order=None):
        table = pa.table(columns)
        if order:
            table = table.take(order)
        pq.write_table(table, tmp_path / f"{name}.parquet")
        return tmp_path / f"{name}.parquet"

    paths = Paths(write("mapping", mapping), write("splits", splits), write("labels", labels))
    base = partition_digests(paths)
    assert sorted(base) == ["eol-01", "eol-02"] and base["eol-01"] != base["eol-02"]
    write("labels", labels, order=[5, 4, 3, 2, 1, 0])
    assert partition_digests(paths) == base  # row order is not content
    for change in ({"common": ["a b"] * 5 + ["a  b"]}, {"species": ["x"] * 5 + [None]}, {"provenance": ["q"] * 6}):
        write("labels", {**labels, **change})
        moved = sorted(k for k, v in partition_digests(paths).items() if v != base[k])
        assert moved == ([] if "provenance" in change else ["eol-02"]), change  # provenance is in no shard
    write("labels", labels)
    write("splits", {**splits, "is_val": [True] + [False] * 5})
    assert [k for k, v in partition_digests(paths).items() if v != base[k]] == ["eol-01"]
    write("splits", splits)
    paths.takedowns = tmp_path / "takedowns.parquet"
    assert partition_digests(paths) == base  # the paths name a list that is not there: as without one
    pq.write_table(pa.table({"treeoflife_id": ["id-4", "elsewhere"], "reason": ["request", "request"]}), paths.takedowns)
    assert sorted(k for k, v in partition_digests(paths).items() if v != base[k]) == ["eol-02"]
    (tmp_path / "labels.parquet").unlink()
    assert partition_digests(paths) == {}
