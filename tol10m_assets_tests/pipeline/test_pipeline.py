"""The whole asset graph over the sample world: counts, checks, determinism, reproduce mode."""

import hashlib
import json

import pandas as pd
import pytest
import webdataset as wds
from dagster import AssetKey

from tol10m_assets.catalog import CATALOG_COLUMNS
from tol10m_assets.shards import shard_paths

from .conftest import run_build

SOURCES = ("eol", "inat21", "bioscan")


def stats_by_source(paths) -> dict:
    """Samples and skips per source, from the committed partitions' manifests."""
    out = {s: {"written": 0, "skipped": {}} for s in SOURCES}
    for f in sorted(paths.store.glob("*/manifest.json")):
        stats = json.loads(f.read_text())
        source = f.parent.name.split("-")[0]
        out[source]["written"] += stats["samples"].get("train", 0) + stats["samples"].get("val", 0)
        for reason, n in stats["skipped"].items():
            if n:
                out[source]["skipped"][reason] = out[source]["skipped"].get(reason, 0) + n
    return out


def digest_tree(root) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.suffix in (".tar", ".csv", ".json") and p.name != "release.json"
    }


def test_every_check_passes(built):
    tol, instance, where, summary = built
    checks = instance.event_log_storage.get_asset_check_summary_records
    from dagster import AssetCheckKey

    keys = [
        AssetCheckKey(AssetKey("mapping"), "mapping_ids_unique"),
        AssetCheckKey(AssetKey("catalog"), "check_taxa"),
        AssetCheckKey(AssetKey("catalog"), "rare_species_excluded"),
        AssetCheckKey(AssetKey("catalog"), "catalog_consistency"),
        AssetCheckKey(AssetKey("predicted_catalog"), "check_taxa"),
    ]
    records = checks(keys)
    for key in keys:
        record = records[key].last_check_execution_record
        assert record is not None, key
        evaluation = record.event.dagster_event.event_specific_data if record.event else None
        assert evaluation is not None and (evaluation.passed or evaluation.severity.value == "WARN"), key
    for key in ("mapping_ids_unique", "rare_species_excluded", "catalog_consistency"):
        rec = records[AssetCheckKey(AssetKey("mapping" if key == "mapping_ids_unique" else "catalog"), key)]
        assert rec.last_check_execution_record.status.value == "SUCCEEDED", key


def test_counts_match_the_sample_summary(built):
    tol, instance, where, summary = built
    got = stats_by_source(tol.paths())
    for source in SOURCES:
        expected = summary["expected"][source]
        assert got[source]["written"] == expected["written"], source
        want_skips = {r: n for r, n in expected["skipped"].items() if n}
        assert got[source]["skipped"] == want_skips, source


def test_catalog_matches_shards_and_splits(built):
    tol, instance, where, summary = built
    paths = tol.paths()
    catalog = pd.read_csv(paths.catalog_csv, dtype=str, keep_default_na=False)
    assert list(catalog.columns) == CATALOG_COLUMNS
    sizes = {s: json.loads((paths.dataset / s / "sizes.json").read_text()) for s in ("train", "val", "train_small")}
    for split, table in sizes.items():
        assert sum(table.values()) == (catalog["split"] == split).sum()
    train = set(catalog.loc[catalog["split"] == "train", "treeoflife_id"])
    small = set(catalog.loc[catalog["split"] == "train_small", "treeoflife_id"])
    val = set(catalog.loc[catalog["split"] == "val", "treeoflife_id"])
    assert small <= train and not (train & val) and val and small
    written = sum(summary["expected"][s]["written"] for s in SOURCES)
    assert len(train) + len(val) == written
    assert paths.taxa_report.read_text().startswith("# Taxa report")
    assert paths.licenses.exists()


def test_webdataset_reader_gets_images_and_bioclip_captions(built):
    tol, *_ = built
    urls = [str(p) for p in shard_paths(tol.paths().dataset, split="train")]
    dataset = wds.WebDataset(urls, shardshuffle=False, empty_check=False).decode("pil")
    n = 0
    for sample in dataset:
        assert sample["jpg"].size == (224, 224)
        for member in ("sci.txt", "com.txt", "taxon.txt", "sci_com.txt", "taxon_com.txt"):
            text = sample[member]
            assert isinstance(text, str) and text.startswith("a photo of ") and text.endswith(".")
        n += 1
    assert n > 0


def test_rematerializing_a_partition_gives_identical_shards(built):
    tol, instance, where, summary = built
    from tol10m_assets.definitions import build_definitions

    paths = tol.paths()
    partition = where["partitions"][0]
    before = digest_tree(paths.dataset)
    generation = json.loads((paths.store / partition / "manifest.json").read_text())["generation"]
    defs = build_definitions(tol)
    assert defs.resolve_job_def("write_shards").execute_in_process(instance=instance, partition_key=partition).success
    manifest = json.loads((paths.store / partition / "manifest.json").read_text())
    assert manifest["generation"] != generation  # a new generation was committed ...
    assert digest_tree(paths.dataset) == before  # ... and nothing published changed before `publish`
    assert defs.resolve_job_def("publish").execute_in_process(instance=instance).success
    assert digest_tree(paths.dataset) == before  # same bytes, same shard numbers


def test_two_builds_in_two_directories_are_identical(built, tmp_path):
    tol, instance, where, summary = built
    other, _ = run_build(tol.resolved_sources_root(), tmp_path / "again", workers=2)
    first = digest_tree(tol.paths().dataset) | {"catalog.csv": digest_tree(tol.paths().catalog_dir)["catalog.csv"]}
    second = digest_tree(other.paths().dataset) | {"catalog.csv": digest_tree(other.paths().catalog_dir)["catalog.csv"]}
    assert first == second


def test_reproduce_mode_keeps_the_published_ids(built, tmp_path):
    tol, instance, where, summary = built
    sources = tol.resolved_sources_root()
    repro, _ = run_build(sources, tmp_path / "repro", mode="reproduce")
    published = pd.read_csv(sources / summary["layout"]["published_catalog"], dtype=str, keep_default_na=False)
    ours = pd.read_csv(repro.paths().catalog_csv, dtype=str, keep_default_na=False)
    eol = ours[ours["eol_content_id"] != ""]
    assert len(eol) > 0
    assert set(ours["treeoflife_id"]) <= set(published["treeoflife_id"])
    pub = dict(zip(published["treeoflife_id"], published["eol_content_id"]))
    assert all(pub[row.treeoflife_id] == row.eol_content_id for row in eol.itertuples(index=False))
    stats = stats_by_source(repro.paths())
    assert stats["eol"]["skipped"].get("not_in_mapping", 0) == summary["expected"]["eol_published"]["skipped"]["not_in_mapping"]


@pytest.mark.parametrize("missing", ["inat21_train"])
def test_missing_source_names_the_setting(world, tmp_path, missing):
    sources, summary = world
    from tol10m_assets.run import BuildFailed

    with pytest.raises(BuildFailed, match=f"source_paths.{missing}"):
        run_build(sources, tmp_path / "x", source_paths={missing: str(tmp_path / "nowhere")})
