"""Takedowns over the sample world: a remove list (by id and by source file) removes exactly the listed
images from the next release, counted as `removed`; the blocking check `no_takedown_published` refuses a
release whose partitions were built before the list named their images, and passes once they are rebuilt."""

import json
import uuid

import pandas as pd
import pytest
from dagster import AssetCheckSeverity, instance_for_test, materialize_to_memory

from tol10m_assets.defs.build import mapping
from tol10m_assets.defs.takedowns import takedowns
from tol10m_assets.errors import InputFormatError
from tol10m_assets.store import PartitionStore
from tol10m_assets.testing import PUBLISH, SHARDS, check_evaluation, materialize_build, metadata_values


def catalog(tol) -> pd.DataFrame:
    return pd.read_csv(tol.paths().catalog_csv, dtype=str, keep_default_na=False)


def takedowns_metadata(result) -> dict:
    (mat,) = [m for m in result.get_asset_materialization_events() if m.asset_key.to_user_string() == "takedowns"]
    return metadata_values(mat.step_materialization_data.materialization)


@pytest.fixture(scope="module")
def base(tol10m_world, tmp_path_factory):
    """The sample world built and published without a takedown list: (world, data root, instance)."""
    data = tmp_path_factory.mktemp("takedowns-build")
    tol = tol10m_world.tol(data)
    with instance_for_test(set_dagster_home=False) as instance:
        results = materialize_build(tol, instance)
        assert results["publish"].success
        yield tol10m_world, data, instance


def pick(tol) -> dict:
    """Images of the published catalog to take down: one EOL by id, one EOL by its image-set member, one
    iNat21 and one BIOSCAN by source file (their origins in the mapping)."""
    cat = catalog(tol)
    mp = pd.read_parquet(tol.paths().mapping).set_index("treeoflife_id")
    by_source = {s: [i for i in cat.loc[cat["split"] != "train_small", "treeoflife_id"] if mp.loc[i, "source"] == s]
                 for s in ("eol", "inat21", "bioscan")}
    eol_by_id, eol_by_file = by_source["eol"][0], by_source["eol"][-1]
    inat, bioscan = by_source["inat21"][0], by_source["bioscan"][0]
    files = {i: mp.loc[i, "origin"].replace(".tar.gz:", ".tar.gz/") for i in (eol_by_file, inat, bioscan)}
    assert files[inat].startswith("train/") and files[bioscan].startswith("part")
    return {"by_id": {eol_by_id: "licence withdrawn"}, "by_file": {i: (f, "owner request") for i, f in files.items()},
            "partitions": {i: mp.loc[i, "partition"] for i in (eol_by_id, *files)}}


def write_list(path, chosen: dict, unknown: str) -> None:
    lines = ["treeoflife_id,source_file,reason,requested_by"]
    lines += [f"{i},,{reason},ticket 1" for i, reason in chosen["by_id"].items()]
    lines += [f",{f},{reason},ticket 2" for f, reason in chosen["by_file"].values()]
    lines += [f"{unknown},,not ours,ticket 3"]
    path.write_text("\n".join(lines) + "\n")


def test_without_a_list_the_takedowns_table_is_written_empty(base):
    world, data, _ = base
    table = pd.read_parquet(world.tol(data).paths().takedowns)
    assert table.empty and list(table.columns) == ["treeoflife_id", "reason"]


def test_a_takedown_is_refused_until_its_partitions_are_rebuilt_then_removes_exactly_the_listed_images(base, tmp_path):
    world, data, instance = base
    tol = world.tol(data)
    before = catalog(tol)
    chosen = pick(tol)
    listed = set(chosen["partitions"])
    partitions = sorted(set(chosen["partitions"].values()))
    untouched = {p: PartitionStore(tol.paths().store).read_manifest(p)["generation"]
                 for p in PartitionStore(tol.paths().store).committed_partitions() if p not in partitions}
    remove = tmp_path / "remove.csv"
    unknown = str(uuid.uuid4())
    write_list(remove, chosen, unknown)
    tol = world.tol(data, remove_list=str(remove))

    # the list resolved: by id and by source file; the unknown entry reported, not ignored
    result = materialize_to_memory([takedowns], resources={"tol": tol}, instance=instance)
    meta = takedowns_metadata(result)
    assert (meta["entries"], meta["by_id"], meta["by_source_file"], meta["unknown"]) == (5, 2, 3, 1)
    assert meta["dagster/row_count"] == 4 and sum(meta["partitions"].values()) == 4
    assert set(meta["partitions"]) == set(partitions)
    table = pd.read_parquet(tol.paths().takedowns)
    assert list(table.columns) == ["treeoflife_id", "reason"] and set(table["treeoflife_id"]) == listed
    assert json.loads(tol.paths().takedowns_summary.read_text())["unknown_entries"][0]["value"] == unknown

    # publishing before the partitions are rebuilt: refused, naming the ids, their partitions and the fix
    published = tol.paths().published.resolve()
    refused = materialize_to_memory(PUBLISH, resources={"tol": tol}, instance=instance, raise_on_error=False)
    assert not refused.success
    check = check_evaluation(refused, "no_takedown_published", "catalog")
    assert not check.passed and check.severity == AssetCheckSeverity.ERROR
    assert check.blocking
    found = metadata_values(check)
    assert found["leaks"] == 4 and sorted(found["rebuild_partitions"]) == partitions
    for i in listed:
        assert i in check.description and chosen["partitions"][i] in check.description
    assert "rebuild" in check.description
    assert tol.paths().published.resolve() == published  # the previous release stands

    # rebuild only the partitions that hold listed ids: each counts its removed images, as planned skips
    for p in partitions:
        shard = materialize_to_memory(SHARDS, partition_key=p, resources={"tol": tol}, instance=instance)
        manifest = PartitionStore(tol.paths().store).read_manifest(p)
        n = sum(1 for i in listed if chosen["partitions"][i] == p)
        assert manifest["skipped"]["removed"] == n
        assert manifest["accounting"]["skipped_planned"]["removed"] == n
        (mat,) = shard.get_asset_materialization_events()
        assert metadata_values(mat.step_materialization_data.materialization)["skipped"]["removed"] == n
        removed = [s for s in manifest["skipped_samples"] if s["reason"] == "removed"]
        assert {s["key"] for s in removed} == {i for i in listed if chosen["partitions"][i] == p}
    store = PartitionStore(tol.paths().store)
    assert {p: store.read_manifest(p)["generation"] for p in untouched} == untouched  # the others untouched

    # the release: the check passes, exactly the listed ids are gone, every other row as it was
    ok = materialize_to_memory(PUBLISH, resources={"tol": tol}, instance=instance)
    check = check_evaluation(ok, "no_takedown_published", "catalog")
    assert check.passed and metadata_values(check)["leaks"] == 0
    after = catalog(tol)
    assert not set(after["treeoflife_id"]) & listed
    expected = before[~before["treeoflife_id"].isin(listed)].reset_index(drop=True)
    pd.testing.assert_frame_equal(after.reset_index(drop=True), expected)
    assert len(before) - len(after) == before["treeoflife_id"].isin(listed).sum() >= len(listed)
    # the release says what changed: exactly the listed ids, removed by the takedown, and nothing else
    changes = json.loads((tol.paths().published / "release.json").read_text())["changes"]
    assert changes["removed_ids_by_reason"] == {"removed": len(listed)}, changes
    assert not any(changes.get("added", {}).values()) and not changes.get("relabelled", {}).get("ids"), changes
    assert "CHANGELOG" in (tol.paths().published / tol.paths().size_name / "README.md").read_text()

    # withdrawn takedowns: the list emptied, the partitions rebuilt, the images come back
    empty = tmp_path / "empty.csv"
    empty.write_text("treeoflife_id,reason\n")
    tol = world.tol(data, remove_list=str(empty))
    materialize_to_memory([takedowns], resources={"tol": tol}, instance=instance)
    assert pd.read_parquet(tol.paths().takedowns).empty
    for p in partitions:
        materialize_to_memory(SHARDS, partition_key=p, resources={"tol": tol}, instance=instance)
    materialize_to_memory(PUBLISH, resources={"tol": tol}, instance=instance)
    pd.testing.assert_frame_equal(catalog(tol), before)


def test_a_malformed_list_stops_the_takedowns_naming_its_file_and_line(tol10m_world, tol10m_instance, tmp_path):
    remove = tmp_path / "remove.csv"
    remove.write_text(f"treeoflife_id,reason\n{uuid.uuid4()},licence\n{uuid.uuid4()},\n")
    tol = tol10m_world.tol(tmp_path / "TreeOfLife-10M", remove_list=str(remove))
    result = materialize_to_memory([mapping, takedowns], resources={"tol": tol}, instance=tol10m_instance, raise_on_error=False)
    assert not result.success
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    error = failure.step_failure_data.error
    while error.cause is not None:
        error = error.cause
    assert InputFormatError.__name__ in error.cls_name
    assert f"{remove}:3: `reason` is empty" in error.message


def test_the_remove_list_is_observed_only_when_set_and_its_version_follows_its_content(tol10m_world, tmp_path):
    import logging

    from tol10m_assets.defs.raw import _observe, used_inputs

    log = logging.getLogger("test")
    unset = tol10m_world.tol(tmp_path / "data")
    assert not used_inputs(unset)["remove_list"]
    assert _observe("remove_list", unset, log).metadata["used"] is False
    remove = tmp_path / "remove.csv"
    remove.write_text(f"treeoflife_id,reason\n{uuid.uuid4()},licence\n")
    world_tol = tol10m_world.tol(tmp_path / "data", remove_list=str(remove))
    assert used_inputs(world_tol)["remove_list"]
    first = _observe("remove_list", world_tol, log).data_version
    assert first == _observe("remove_list", world_tol, log).data_version
    remove.write_text(remove.read_text() + f"{uuid.uuid4()},privacy\n")
    assert _observe("remove_list", world_tol, log).data_version != first


def test_the_prepare_job_writes_the_takedowns_and_the_release_has_the_blocking_check():
    from dagster import AssetKey

    from tol10m_assets.definitions import build_definitions

    defs = build_definitions()
    prepare = defs.resolve_job_def("prepare")
    assert AssetKey("takedowns") in prepare.asset_layer.executable_asset_keys
    graph = defs.resolve_asset_graph()
    assert {AssetKey("mapping"), AssetKey("remove_list")} <= set(graph.get(AssetKey("takedowns")).parent_keys)
    from dagster import AssetCheckKey

    assert graph.get_check_spec(AssetCheckKey(AssetKey("catalog"), "no_takedown_published")).blocking
