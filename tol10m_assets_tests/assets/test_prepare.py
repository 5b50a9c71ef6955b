"""mapping → splits → labels → predicted_catalog and their checks, through ``materialize_to_memory``."""

import pandas as pd
from dagster import AssetCheckSeverity, materialize_to_memory

import tol10m_assets.mapping as mapping_core
from tol10m_assets.defs.build import labels, mapping, predicted_catalog, splits
from tol10m_assets.defs.checks import check_taxa_predicted, mapping_ids_unique
from tol10m_assets.testing import PREPARE, check_evaluation, metadata_values, shard_partitions


def materialized(result) -> list[str]:
    return sorted(m.asset_key.to_user_string() for m in result.get_asset_materialization_events())


def only(result, node: str) -> dict:
    (mat,) = result.asset_materializations_for_node(node)
    return metadata_values(mat)


def test_mapping_names_every_image_once_and_registers_the_shard_partitions(built):
    meta = only(built.results["prepare"], "mapping")
    counts = built.world.summary["counts"]
    assert meta["images_per_source"] == {s: counts[s]["images"] for s in ("bioscan", "eol", "inat21")}
    assert meta["images"] == sum(meta["images_per_source"].values())
    bad_names = sum(built.world.skipped(s)["bad_member_name"] for s in ("eol", "inat21", "bioscan"))
    assert meta["left_out"]["bad_member_name"] == bad_names > 0
    assert meta["shard_partitions"] == built.partitions
    assert {p.split("-")[0] for p in built.partitions} == {"eol", "inat21", "bioscan"}
    frame = pd.read_parquet(meta["path"])
    assert len(frame) == meta["images"] and frame["treeoflife_id"].is_unique


def test_splits_labels_and_predicted_catalog_metadata_agree(built):
    result = built.results["prepare"]
    images = only(result, "mapping")["images"]
    split_meta = only(result, "splits")
    assert split_meta["train_images"] + split_meta["val_images"] == images
    assert 0 < split_meta["val_images"] < images * 0.2
    assert 0 < split_meta["train_small_images"] < split_meta["train_images"]
    label_meta = only(result, "labels")
    assert label_meta["images"] == images
    assert set(label_meta["complete_share_per_source"]) == {"eol", "inat21", "bioscan"}
    assert all(0 < share <= 1 for share in label_meta["complete_share_per_source"].values())
    catalog_meta = only(result, "predicted_catalog")
    assert catalog_meta["rows_per_split"]["train_small"] == split_meta["train_small_images"]
    assert catalog_meta["rows"] == sum(catalog_meta["rows_per_split"].values())


def test_the_prepare_checks_pass_or_warn_on_the_sample_world(built):
    result = built.results["prepare"]
    unique = check_evaluation(result, "mapping_ids_unique")
    assert unique.passed and metadata_values(unique)["duplicate_ids"] == 0
    taxa = check_evaluation(result, "check_taxa", "predicted_catalog")
    # the sample world holds a trinomial (Canis lupus familiaris) on purpose: a WARN, not an ERROR
    assert not taxa.passed and taxa.severity == AssetCheckSeverity.WARN
    meta = metadata_values(taxa)
    assert meta["verdict"] == "WARN"
    assert any(r.startswith("multiword_species_share") for r in meta["reasons"])


def test_mapping_ids_unique_fails_and_blocks_splits_and_labels_in_the_same_run(tol10m_tol, tol10m_instance, monkeypatch):
    """A bug in the mapping core that emits one image twice: the blocking check stops its downstream."""
    real = mapping_core.write_mapping

    def twice(listing, mode, out, *args, **kwargs):
        summary = real(listing, mode, out, *args, **kwargs)
        frame = pd.read_parquet(out)
        pd.concat([frame, frame.iloc[:1]], ignore_index=True).to_parquet(out, index=False)
        return summary

    monkeypatch.setattr(mapping_core, "write_mapping", twice)
    result = materialize_to_memory(
        [mapping, mapping_ids_unique, splits, labels], resources={"tol": tol10m_tol}, instance=tol10m_instance,
        raise_on_error=False,
    )
    check = check_evaluation(result, "mapping_ids_unique")
    assert not check.passed
    assert check.severity == AssetCheckSeverity.ERROR
    meta = metadata_values(check)
    assert meta["duplicate_ids"] == 1 and meta["duplicate_source_images"] == 1
    assert materialized(result) == ["mapping"]  # splits and labels did not run
    assert not tol10m_tol.paths().splits.exists() and not tol10m_tol.paths().labels.exists()


def test_check_taxa_on_the_predicted_catalog_is_an_error_above_its_error_threshold(tol10m_world, tmp_path, tol10m_instance):
    tol = tol10m_world.tol(tmp_path / "data", taxa_thresholds={"multiword_species_share": [0.0, 0.0]})
    result = materialize_to_memory(PREPARE, resources={"tol": tol}, instance=tol10m_instance)
    assert result.success  # not blocking: the predicted catalog is written, the check reports
    check = check_evaluation(result, "check_taxa", "predicted_catalog")
    assert not check.passed and check.severity == AssetCheckSeverity.ERROR
    meta = metadata_values(check)
    assert meta["verdict"] == "ERROR"
    assert [r for r in meta["reasons"] if "multiword_species_share" in r and "error threshold 0.0" in r]
    assert meta["figures"]["multiword_species"] >= 1
    assert shard_partitions(tol10m_instance)  # mapping registered the partitions in the shared instance


def test_a_change_to_the_labels_shows_in_the_predicted_catalog(tol10m_tol, tol10m_instance, monkeypatch):
    """How a user tests a change: patch one step, materialize the stage, read the result."""
    import tol10m_assets.labels as labels_core

    real = labels_core.write_labels

    def no_common_names(mapping_path, lookups, out):
        rows = real(mapping_path, lookups, out)
        table = pd.read_parquet(out)
        table["common"] = ""
        table.to_parquet(out, index=False)
        return rows

    monkeypatch.setattr(labels_core, "write_labels", no_common_names)
    result = materialize_to_memory(
        [mapping, splits, labels, predicted_catalog, check_taxa_predicted], resources={"tol": tol10m_tol}, instance=tol10m_instance
    )
    catalog = pd.read_csv(tol10m_tol.paths().predicted_catalog, dtype=str, keep_default_na=False)
    assert len(catalog) == metadata_values(result.asset_materializations_for_node("predicted_catalog")[0])["rows"]
    assert (catalog["common"] == "").all()
    figures = metadata_values(check_evaluation(result, "check_taxa"))["figures"]
    assert sum(figures["empty_common_by_source"].values()) == len(catalog[catalog["split"] != "train_small"])
