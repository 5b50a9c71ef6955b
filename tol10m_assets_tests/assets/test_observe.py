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


def test_a_changed_taxon_tab_changes_exactly_the_eol_partitions(tol10m_world, tmp_path):
    import shutil

    sources = tmp_path / "sources"
    shutil.copytree(tol10m_world.sources, sources)
    tol = tol10m_world.tol(tmp_path / "data", sources_root=str(sources))
    from tol10m_assets.defs.raw import partition_inputs

    keys = sorted(partition_inputs(tol))
    assert any(k.startswith("eol-") for k in keys) and any(not k.startswith("eol-") for k in keys)
    before = partition_versions(tol, keys)
    with open(sources / "metadata" / "taxon.tab", "a") as handle:
        handle.write("EOL-99999999\t\tNovus observatus\tspecies\n")
    after = partition_versions(tol, keys)
    changed = sorted(k for k in keys if before[k] != after[k])
    assert changed == [k for k in keys if k.startswith("eol-")], changed
