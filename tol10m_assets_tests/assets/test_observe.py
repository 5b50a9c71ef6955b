"""The observations of the raw inputs: a data version that follows content, not what the build writes
beside the sources, and per shard partition exactly the inputs it reads."""

from tol10m_assets.defs.raw import fingerprint, measure, partition_versions


def test_an_image_sets_index_changes_no_data_version(tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    (folder / "image_set_01.tar.gz").write_bytes(b"x" * 100)
    before = fingerprint(folder), measure(folder)
    for derived in ("image_set_01.tar.gz.index", "image_set_01.tar.gz.verified.json", "x.extracted.json"):
        (folder / derived).write_text("{}")
    assert (fingerprint(folder), measure(folder)) == before
    (folder / "image_set_02.tar.gz").write_bytes(b"y")
    assert fingerprint(folder) != before[0] and measure(folder) == (2, 101)


def test_a_changed_taxon_tab_changes_no_partition_until_labels_change(tol10m_world, tmp_path, tol10m_instance):
    """Changed on purpose (issue 22): a partition's version holds its rows of mapping, splits and labels, not
    the name source files. A new taxon.tab changes no partition's version; rebuilt labels change only the
    partitions whose rows changed: none, for a name no image has."""
    import shutil

    from dagster import materialize_to_memory

    from tol10m_assets.testing import PREPARE

    sources = tmp_path / "sources"
    shutil.copytree(tol10m_world.sources, sources)
    tol = tol10m_world.tol(tmp_path / "data", sources_root=str(sources))
    from tol10m_assets.defs.raw import partition_inputs

    keys = sorted(partition_inputs(tol))
    assert any(k.startswith("eol-") for k in keys) and any(not k.startswith("eol-") for k in keys)
    unbuilt = partition_versions(tol, keys)
    assert materialize_to_memory(PREPARE, resources={"tol": tol}, instance=tol10m_instance).success
    before = partition_versions(tol, keys)
    assert all(before[k] != unbuilt[k] for k in keys)  # the slices are part of the version once built
    taxon_tab = sources / "metadata" / "taxon.tab"
    columns = taxon_tab.read_text().splitlines()[0].split("\t")
    row = {"taxonID": "EOL-99999999", "scientificName": "Novus observatus", "taxonRank": "species",
           "canonicalName": "Novus observatus", "eolID": "99999999"}
    with open(taxon_tab, "a") as handle:
        handle.write("\t".join(row.get(c, "") for c in columns) + "\n")
    assert partition_versions(tol, keys) == before
    assert materialize_to_memory(PREPARE, resources={"tol": tol}, instance=tol10m_instance).success
    assert partition_versions(tol, keys) == before  # the new name is no image's: no partition changed


def test_observe_sources_reports_the_downloads_whose_files_are_present(tol10m_world, tmp_path, tol10m_instance):
    """A never-run download whose files are on disk is up to date (not Missing: "Materialize unsynced"
    leaves it out); one whose files are absent stays Missing."""
    import shutil

    from dagster import AssetKey
    from dagster._core.definitions.data_version import CachingStaleStatusResolver, StaleStatus
    from dagster._core.loader import LoadingContextForTest

    from tol10m_assets.definitions import build_definitions
    from tol10m_assets.defs.raw import downloads_observed_by

    sources = tmp_path / "sources"
    shutil.copytree(tol10m_world.sources, sources)
    shutil.rmtree(sources / "rarespecies")  # rare_species_download's files are absent
    defs = build_definitions(tol=tol10m_world.tol(tmp_path / "data", sources_root=str(sources)))
    observe = defs.resolve_job_def("observe_sources")
    assert observe.execute_in_process(instance=tol10m_instance).success
    assert observe.execute_in_process(instance=tol10m_instance).success  # reported once, not on every observation
    resolver = CachingStaleStatusResolver(tol10m_instance, defs.resolve_asset_graph(),
                                          LoadingContextForTest(tol10m_instance))
    reported = sorted(d for ds in downloads_observed_by().values() for d in ds)
    assert "tol_metadata_download" in reported and "eol_image_set_download" not in reported
    status = {d: resolver.get_status(AssetKey(d)) for d in reported}
    assert status.pop("rare_species_download") == StaleStatus.MISSING, status
    assert all(s == StaleStatus.FRESH for s in status.values()), status
    from dagster import AssetRecordsFilter

    records = tol10m_instance.fetch_materializations(AssetRecordsFilter(asset_key=AssetKey("tol_metadata_download")), limit=10)
    assert len(records.records) == 1
    assert "not downloaded by Dagster" in records.records[0].asset_materialization.metadata["reported_by"].value


def test_observe_sources_names_the_partitions_a_changed_taxon_tab_makes_unsynced(tol10m_world, tmp_path, tol10m_instance):
    """Changed on purpose (issue 22): the observation alone makes labels Unsynced and no partition; labels
    rebuilt observes the partitions again and names the built ones that hold a changed name (here a
    genus of EOL images in eol-01), and the next observe_sources names the same."""
    import shutil

    from dagster import materialize_to_memory

    from tol10m_assets.definitions import build_definitions
    from tol10m_assets.defs.build import labels
    from tol10m_assets.defs.shards import shards
    from tol10m_assets.testing import PREPARE

    sources = tmp_path / "sources"
    shutil.copytree(tol10m_world.sources, sources)
    tol = tol10m_world.tol(tmp_path / "data", sources_root=str(sources))
    observe = build_definitions(tol=tol).resolve_job_def("observe_sources")
    assert materialize_to_memory(PREPARE, resources={"tol": tol}, instance=tol10m_instance).success
    assert observe.execute_in_process(instance=tol10m_instance).success
    for key in ("eol-01", "inat21-000"):
        assert materialize_to_memory([shards], partition_key=key, resources={"tol": tol}, instance=tol10m_instance).success

    def unsynced():
        result = observe.execute_in_process(instance=tol10m_instance)
        (event,) = [e for e in result.asset_observations_for_node("observe_shard_sources") if e.partition is None]
        return event.metadata["unsynced_partitions"].value

    assert unsynced() == "none"
    taxon_tab = sources / "metadata" / "taxon.tab"
    rows = [line.split("\t") for line in taxon_tab.read_text().split("\n")]
    for row in rows:  # the genus Hylarana (EOL pages in eol-01 only) renamed
        if len(row) > 5 and row[4] == "genus" and row[5] == "Hylarana":
            row[5] = "Hylaranix"
    taxon_tab.write_text("\n".join("\t".join(row) for row in rows))
    assert unsynced() == "none"  # labels is Unsynced; no partition until labels is rebuilt
    result = materialize_to_memory([labels], resources={"tol": tol}, instance=tol10m_instance)
    (done,) = result.asset_materializations_for_node("labels")
    assert done.metadata["unsynced_partitions"].value == "eol-01", done.metadata
    assert unsynced() == "eol-01"  # built and holding the genus; inat21-000 is not, the others were never built
