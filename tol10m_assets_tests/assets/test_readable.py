"""What the UI shows is readable: check_taxa's verdict in words beside its status, figures as tables."""

from dagster import AssetCheckSeverity

from tol10m_assets.testing import check_evaluation, metadata_values


def test_a_check_taxa_warning_says_it_is_only_a_warning(built):
    taxa = check_evaluation(built.results["prepare"], "check_taxa", "predicted_catalog")
    assert taxa.severity == AssetCheckSeverity.WARN and not taxa.passed
    assert taxa.description.startswith("WARNING only (publishes): multiword_species_share")
    rows = [r.data["figure above its threshold"] for r in metadata_values(taxa)["above_thresholds"].records]
    assert rows == metadata_values(taxa)["reasons"]


def test_check_taxa_verdicts_in_words():
    from tol10m_assets.defs.checks import taxa_verdict

    assert taxa_verdict("PASS", []).startswith("PASS")
    assert taxa_verdict("ERROR", ["a > error threshold 0"]) == "ERROR (blocks publishing): a > error threshold 0"


def test_the_last_shard_materialization_carries_the_totals_over_partitions(built):
    results = built.results["shards"]
    last = list(results.values())[-1]  # the last partition built: every other one is committed by then
    meta = metadata_values(last.asset_materializations_for_node("shards")[0])
    partitions = [metadata_values(r.asset_materializations_for_node("shards")[0]) for r in results.values()]
    assert meta["total_partitions"] == f"{len(results)} of {len(results)} committed"
    assert meta["total_images"] == sum(p["dagster/row_count"] for p in partitions)
    assert meta["total_bytes"] == sum(p["bytes"] for p in partitions)
    skipped = {r.data["reason"]: int(r.data["images"]) for r in meta["total_skipped"].records}
    expected: dict = {}
    for p in partitions:
        for reason, n in p["skipped"].items():
            expected[reason] = expected.get(reason, 0) + n
    assert skipped == expected
    assert meta["ms_per_image"] > 0 and meta["estimate_remaining"].startswith("0 min 00 s for 0 partition(s)")


def test_shard_totals_estimate_the_partitions_still_to_build():
    from tol10m_assets.defs.metadata import shard_totals

    manifests = {"a": {"samples": {"train": 90, "val": 10, "train_small": 9}, "bytes": 1000, "seconds": 100.0,
                       "skipped": {"corrupt_image": 2}},
                 "b": None}
    totals = {k: getattr(v, "value", v) for k, v in shard_totals(manifests, {"a": 100, "b": 300}).items()}
    assert totals["total_images"] == 100 and totals["total_partitions"] == "1 of 2 committed"
    assert totals["ms_per_image"] == 1000.0
    assert totals["estimate_remaining"] == "5 min 00 s for 1 partition(s) not built"
    assert totals["estimate_full_build"].startswith("6 min 40 s for 400 images")


def test_raw_assets_name_the_files_they_observe():
    from dagster import AssetKey

    from tol10m_assets.definitions import defs

    graph = defs.resolve_asset_graph()
    hierarchy = graph.get(AssetKey("eol_hierarchy"))
    assert "`metadata/taxon.tab` (source_paths.taxon_tab)" in hierarchy.description
    assert "taxon.tab" in hierarchy.metadata["observes"].value
    assert "`inat21/train` (source_paths.inat21_train)" in graph.get(AssetKey("inat21_images")).description


def test_the_catalogs_check_taxa_says_warning_only(built):
    taxa = check_evaluation(built.results["publish"], "check_taxa", "catalog")
    assert taxa.severity == AssetCheckSeverity.WARN and taxa.description.startswith("WARNING only (publishes)")
