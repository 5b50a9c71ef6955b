"""``publish_release`` (catalog, taxa_report, eol_licenses) and the catalog's checks, through
``materialize_to_memory``. A check that fails with ERROR stops the whole release in the same run:
none of the three assets is materialized and the published files stay as they were."""

import hashlib

import pandas as pd
import pytest
from dagster import AssetCheckSeverity, materialize_to_memory

from tol10m_assets.defs.shards import shards
from tol10m_assets.testing import PREPARE, PUBLISH, check_evaluation, materialize_build, metadata_values, shard_partitions

SOURCES = ("eol", "inat21", "bioscan")


def digest(root) -> dict[str, str]:
    root = root.resolve()
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}


def materialized(result) -> list[str]:
    return sorted(m.asset_key.to_user_string() for m in result.get_asset_materialization_events())


def node_metadata(result, asset: str) -> dict:
    (mat,) = [m for m in result.asset_materializations_for_node("publish_release") if m.asset_key.to_user_string() == asset]
    return metadata_values(mat)


def assert_refused(result, check_name: str) -> dict:
    """The release was refused because of ``check_name`` (ERROR); returns the check's metadata."""
    assert not result.success
    check = check_evaluation(result, check_name, "catalog")
    assert not check.passed and check.severity == AssetCheckSeverity.ERROR
    assert materialized(result) == []  # catalog, taxa_report and eol_licenses: none of them
    return metadata_values(check)


def test_the_release_holds_every_written_sample_with_its_licences_and_report(built):
    result = built.results["publish"]
    assert materialized(result) == ["catalog", "eol_licenses", "taxa_report"]
    catalog = node_metadata(result, "catalog")
    written = sum(built.world.written(s) for s in SOURCES)
    rows = catalog["rows_per_split"]
    assert rows["train"] + rows["val"] == written
    assert catalog["dagster/row_count"] == written + rows["train_small"]
    assert catalog["shard_partitions"] == len(built.partitions) and catalog["retired_partitions"] == []
    frame = pd.read_csv(catalog["csv"], dtype=str, keep_default_na=False)
    assert len(frame) == catalog["dagster/row_count"]
    licences = node_metadata(result, "eol_licenses")
    eol_images = frame.loc[frame["eol_content_id"] != "", "treeoflife_id"].nunique()
    assert licences["dagster/row_count"] == eol_images == built.world.written("eol")  # one row per image
    report = node_metadata(result, "taxa_report")
    assert report["verdict"] == "WARN"
    assert report["unique_taxa"]["all"] >= max(report["unique_taxa"][s] for s in SOURCES) > 0


def test_the_catalog_checks_pass_on_the_sample_world(built):
    result = built.results["publish"]
    consistency = metadata_values(check_evaluation(result, "catalog_consistency"))
    assert check_evaluation(result, "catalog_consistency").passed
    assert {k: v for k, v in consistency.items() if k not in ("rows", "rows_vs_shards_mismatch")} == {
        "duplicates_within_split": 0, "train_small_not_in_train": 0, "in_train_and_val": 0, "ids_without_mapping_row": 0,
        "shard_files_differ": [], "captions_differ_from_catalog": [],
    }
    assert consistency["rows_vs_shards_mismatch"] == {}
    rare = check_evaluation(result, "rare_species_excluded")
    assert rare.passed and metadata_values(rare)["leaks"] == 0
    assert metadata_values(rare)["rows"] == consistency["rows"]
    taxa = check_evaluation(result, "check_taxa", "catalog")
    assert not taxa.passed and taxa.severity == AssetCheckSeverity.WARN  # the trinomial, as in the README


def test_check_taxa_on_the_catalog_is_an_error_above_its_threshold_and_nothing_is_published(built):
    paths = built.tol.paths()
    before = digest(paths.published)
    tol = built.world.tol(built.tol.data_root, taxa_thresholds={"multiword_species_share": [0.0, 0.0]})
    result = materialize_to_memory(PUBLISH, resources={"tol": tol}, instance=built.instance, raise_on_error=False)
    meta = assert_refused(result, "check_taxa")
    assert meta["verdict"] == "ERROR"
    assert meta["thresholds"]["multiword_species_share"] == [0.0, 0.0]
    assert any("multiword_species_share" in r and "error threshold 0.0" in r for r in meta["reasons"])
    assert check_evaluation(result, "catalog_consistency").passed and check_evaluation(result, "rare_species_excluded").passed
    assert digest(paths.published) == before


def test_catalog_consistency_fails_when_the_mapping_lost_an_id_the_shards_hold(tol10m_tol, tol10m_instance):
    """The mapping rewritten after the shards were built (a source changed): published ids must keep a row."""
    materialize_build(tol10m_tol, tol10m_instance)
    paths = tol10m_tol.paths()
    before = digest(paths.published)
    mapping = pd.read_parquet(paths.mapping)
    catalog = pd.read_csv(paths.catalog_csv, dtype=str, keep_default_na=False)
    lost = catalog.loc[catalog["split"] == "train", "treeoflife_id"].iloc[0]
    mapping[mapping["treeoflife_id"] != lost].to_parquet(paths.mapping)

    result = materialize_to_memory(PUBLISH, resources={"tol": tol10m_tol}, instance=tol10m_instance, raise_on_error=False)
    meta = assert_refused(result, "catalog_consistency")
    in_splits = int((catalog["treeoflife_id"] == lost).sum())  # train, and train_small when it is there
    assert meta["ids_without_mapping_row"] == in_splits >= 1
    assert digest(paths.published) == before


def test_rare_species_excluded_fails_on_shards_built_without_the_exclusion(tol10m_world, tmp_path, tol10m_instance):
    """Partitions built with ``exclude_rare_species: false``, then a release with it on: the check finds them."""
    data = tmp_path / "data"
    without = tol10m_world.tol(data, exclude_rare_species=False)
    assert materialize_to_memory(PREPARE, resources={"tol": without}, instance=tol10m_instance).success
    for key in shard_partitions(tol10m_instance):
        assert materialize_to_memory([shards], partition_key=key, resources={"tol": without}, instance=tol10m_instance).success

    result = materialize_to_memory(PUBLISH, resources={"tol": tol10m_world.tol(data)}, instance=tol10m_instance, raise_on_error=False)
    meta = assert_refused(result, "rare_species_excluded")
    rare_images = sum(tol10m_world.skipped(s)["rare_species"] for s in SOURCES)
    assert meta["leaks"] >= rare_images > 0  # train_small repeats some of them
    assert meta["examples"] and all(e.split("/")[0] in ("train", "val", "train_small") for e in meta["examples"])
    assert check_evaluation(result, "catalog_consistency").passed
    assert not without.paths().published.exists()  # never published


@pytest.mark.parametrize("check_name", ["catalog_consistency", "rare_species_excluded"])
def test_the_blocking_catalog_checks_are_declared_blocking(check_name):
    from tol10m_assets.defs.publish import publish_release

    (spec,) = [s for s in publish_release.check_specs if s.name == check_name]
    assert spec.blocking
