"""check_wds as the UI reads it: a per-partition status that counts passes (the evaluation targets the
partition's latest materialization), and a rejected attempt that lists its skipped images."""

from dagster import AssetCheckKey, AssetKey, materialize_to_memory
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionResolvedStatus
from dagster._core.storage.asset_check_state import AssetCheckState, bulk_update_asset_check_state

from tol10m_assets.defs.shards import shards
from tol10m_assets.defs.partitions import shard_partitions as partitions_def
from tol10m_assets.testing import PREPARE, check_evaluation, metadata_values

CHECK = AssetCheckKey(AssetKey("shards"), "check_wds")


def grid(instance) -> dict[str, set[str]]:
    """The check's partition statuses as the UI's partition grid computes them (AssetCheckState)."""
    with partitions_def_context(instance):
        state = bulk_update_asset_check_state(instance, [(CHECK, partitions_def)], {CHECK: AssetCheckState.empty()})[CHECK]
        return {status.value: set(subset.subset_value.get_partition_keys()) for status, subset in state.subsets.items()}


def partitions_def_context(instance):
    from dagster._core.definitions.partitions.context import partition_loading_context

    return partition_loading_context(dynamic_partitions_store=instance)


def test_the_partition_grid_shows_passed_and_failed(tol10m_world, tmp_path, tol10m_instance):
    tol = tol10m_world.tol(tmp_path / "data")
    assert materialize_to_memory(PREPARE, resources={"tol": tol}, instance=tol10m_instance).success
    for key in ("inat21-000", "eol-01"):
        assert materialize_to_memory([shards], partition_key=key, resources={"tol": tol}, instance=tol10m_instance).success
    statuses = grid(tol10m_instance)
    assert statuses[AssetCheckExecutionResolvedStatus.SUCCEEDED.value] == {"inat21-000", "eol-01"}, statuses
    assert not statuses[AssetCheckExecutionResolvedStatus.FAILED.value]

    strict = tol10m_world.tol(tmp_path / "data", max_corrupt_share=0.0)  # eol-01 has corrupt images
    failed = materialize_to_memory([shards], partition_key="eol-01", resources={"tol": strict}, instance=tol10m_instance,
                                   raise_on_error=False)
    assert not failed.success
    statuses = grid(tol10m_instance)
    assert statuses[AssetCheckExecutionResolvedStatus.SUCCEEDED.value] == {"inat21-000"}, statuses
    assert statuses[AssetCheckExecutionResolvedStatus.FAILED.value] == {"eol-01"}, statuses

    assert materialize_to_memory([shards], partition_key="eol-01", resources={"tol": tol}, instance=tol10m_instance).success
    statuses = grid(tol10m_instance)  # repaired: passes again
    assert statuses[AssetCheckExecutionResolvedStatus.SUCCEEDED.value] == {"inat21-000", "eol-01"}, statuses
    assert not statuses[AssetCheckExecutionResolvedStatus.FAILED.value]


def test_a_rejected_attempt_lists_its_skipped_images(tol10m_world, tmp_path, tol10m_instance):
    tol = tol10m_world.tol(tmp_path / "data", max_corrupt_share=0.0)
    assert materialize_to_memory(PREPARE, resources={"tol": tol}, instance=tol10m_instance).success
    result = materialize_to_memory([shards], partition_key="eol-01", resources={"tol": tol}, instance=tol10m_instance,
                                   raise_on_error=False)
    meta = metadata_values(check_evaluation(result, "check_wds"))
    by_reason = {r.data["reason"]: int(r.data["images"]) for r in meta["skipped_by_reason"].records}
    total = {r.data["figure"]: int(r.data["value"]) for r in meta["figures"].records}["skipped_total"]
    assert by_reason["corrupt_image"] > 0 and total == sum(by_reason.values())
    assert not [k for k, v in check_evaluation(result, "check_wds").metadata.items()
                if type(v).__name__ in ("IntMetadataValue", "FloatMetadataValue")]  # nothing Dagster would plot
    rows = [r.data for r in meta["skipped_images"].records]
    listed = [r for r in rows if r["reason"]]
    assert len(listed) == min(total, 50)
    assert sum(r["reason"] == "corrupt_image" for r in listed) == min(by_reason["corrupt_image"], 50)
    assert all(r["origin"] and r["detail"] for r in listed), rows
    assert "REJECTED" in meta["attempt"] and result.run_id in meta["attempt"]


def test_skipped_table_counts_beyond_its_first_rows():
    from tol10m_assets.defs.shards import skipped_table

    samples = [{"origin": f"a|{i}.jpg", "reason": "corrupt_image", "detail": "cannot identify\nimage"} for i in range(60)]
    text = skipped_table(samples, limit=50, total=75)
    assert text.startswith("75 image(s) skipped; the first 50")
    assert "a\\|0.jpg" in text and "a\\|50.jpg" not in text and "cannot identify image" in text
    assert "… 25 more (of 75 skipped)" in text
    assert skipped_table([]) == "No image was skipped."
