"""The columnar metadata path (mapping → splits → labels → predicted catalog, taxa figures, rare
check) gives the same bytes and figures as the row-by-row code it replaced (``reference_metadata``),
on sample worlds of 300 and 2,000 images with two seeds, in both modes."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest

from tol10m_assets import catalog as catalog_core
from tol10m_assets import labels as labels_core
from tol10m_assets import mapping as mapping_core
from tol10m_assets import splits as splits_core
from tol10m_assets.layout import SourceLayout
from tol10m_assets.paths import BuildPaths
from tol10m_assets.sources import Chunking, list_source_images
from tol10m_assets.sources.listing import list_sources, listing_from_images
from tol10m_assets.taxonomy import RareSpecies
from tol10m_assets_tests.core import reference_metadata as ref

WORLDS = [(300, 0), (300, 1), (2000, 0), (2000, 1)]
OUTPUTS = [
    "metadata/mapping.parquet",
    "metadata/splits.parquet",
    "metadata/mapping.sqlite",
    "metadata/labels.parquet",
    "metadata/predicted-catalog.csv",
]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def worlds(tmp_path_factory) -> dict[tuple[int, int], Path]:
    from tol10m_assets.sample import make_sample_world

    out = {}
    for images, seed in WORLDS:
        root = tmp_path_factory.mktemp(f"world{images}_{seed}")
        make_sample_world(root, images=images, seed=seed, log=lambda *a, **k: None)
        out[(images, seed)] = root
    return out


def build_columnar(layout: SourceLayout, chunking: Chunking, paths: BuildPaths) -> None:
    """What the four assets do now."""
    mapping_core.write_mapping(
        mapping_core.list_mapping_sources(layout, chunking), chunking.mode, paths.mapping,
        mapping_core.published_for(layout, chunking), mapping_core.source_roots(layout, chunking),
    )
    published = mapping_core.published_for(layout, chunking)
    splits_core.write_splits(paths.mapping, paths.splits, published_split=published["split"] if published else None)
    mapping_core.write_mapping_sqlite_from_parquet(paths.mapping_sqlite, paths.mapping, paths.splits)
    lookups = labels_core.resolve_lookups(layout, paths.mapping, log=lambda *a: None)
    for source, table in lookups.items():
        catalog_core.write_frame_atomic(table, paths.lookup(source))
    labels_core.write_labels(paths.mapping, lookups, paths.labels)
    catalog_core.write_predicted_catalog(paths.mapping, paths.splits, paths.labels, paths.predicted_catalog)


@pytest.mark.parametrize("mode", ["generate", "reproduce"])
@pytest.mark.parametrize("world", WORLDS, ids=[f"{n}img-seed{s}" for n, s in WORLDS])
def test_metadata_bytes_match_the_rowwise_code(worlds, tmp_path, world, mode):
    layout, chunking = SourceLayout.under(worlds[world]), Chunking(mode=mode)
    old, new = BuildPaths(tmp_path / "old"), BuildPaths(tmp_path / "new")
    ref.build_reference(layout, chunking, old)
    build_columnar(layout, chunking, new)
    lookups = sorted(p.name for p in (old.metadata / "lookups").iterdir())
    assert lookups == sorted(p.name for p in (new.metadata / "lookups").iterdir()) and lookups
    for name in OUTPUTS + [f"metadata/lookups/{n}" for n in lookups]:
        assert digest(new.root / name) == digest(old.root / name), name
    # the figures and the rare-species check, on the predicted catalog (rare species are still in it)
    frame = pd.read_csv(new.predicted_catalog, dtype=str, keep_default_na=False).replace({"": None})
    frame = frame.fillna({c: "" for c in ref.RANK_COLUMNS + ["common"]})
    assert catalog_core.taxa_figures_from_parquet(new.predicted_catalog) == ref.taxa_figures(frame)
    assert catalog_core.taxa_figures(frame) == ref.taxa_figures(frame)
    rules = RareSpecies.from_files(layout.rare_seen, layout.rare_unseen)
    want = ref.rare_leaks_rowwise(frame, rules)
    got = catalog_core.rare_leaks(new.predicted_catalog, rules)
    assert want, "the sample world's predicted catalog holds rare species"
    assert got == {"rows": len(frame), "leaks": len(want), "examples": want[:20]}


def test_mapping_left_out_figures_match(worlds, tmp_path):
    layout = SourceLayout.under(worlds[(300, 0)])
    for mode in ("generate", "reproduce"):
        chunking = Chunking(mode=mode)
        _, want = ref.build_mapping(layout, chunking)
        summary = mapping_core.write_mapping(
            mapping_core.list_mapping_sources(layout, chunking), mode, tmp_path / f"{mode}.parquet",
            mapping_core.published_for(layout, chunking),
        )
        assert summary.left_out == want
        assert sum(want.values()) > 0  # the sample world has bad names (and an unknown published id)


def test_listing_equals_the_image_readers(worlds):
    layout, chunking = SourceLayout.under(worlds[(300, 1)]), Chunking()
    got = pd.concat([t.to_pandas() for t in list_sources(layout, chunking)], ignore_index=True)
    want = pd.concat([t.to_pandas() for t in listing_from_images(list_source_images(layout, chunking))], ignore_index=True)
    pd.testing.assert_frame_equal(got, want)
    assert got["bad_name"].any()


def test_parquet_rows_are_also_read_from_listing_files(worlds, tmp_path):
    """A listing given as Parquet files (as the benchmark and a member index give it) maps the same."""
    import pyarrow.parquet as pq

    layout, chunking = SourceLayout.under(worlds[(300, 0)]), Chunking()
    tables = mapping_core.list_mapping_sources(layout, chunking)
    files = []
    for i, table in enumerate(tables):
        files.append(tmp_path / f"listing{i}.parquet")
        pq.write_table(table, files[-1])
    mapping_core.write_mapping(tables, "generate", tmp_path / "a.parquet")
    mapping_core.write_mapping(files, "generate", tmp_path / "b.parquet")
    assert digest(tmp_path / "a.parquet") == digest(tmp_path / "b.parquet")


def test_figures_of_a_catalog_parquet_match(worlds, tmp_path):
    """taxa_figures_from_parquet on a Parquet catalog (Int64 ids, None ranks) as the catalog asset writes it."""
    paths = BuildPaths(tmp_path)
    build_columnar(SourceLayout.under(worlds[(300, 0)]), Chunking(), paths)
    frame = pd.read_csv(paths.predicted_catalog, keep_default_na=True)
    frame = frame.astype({c: "Int64" for c in ("eol_content_id", "eol_page_id", "bioscan_part", "inat21_cls_num")})
    frame.loc[frame.index[:5], "genus"] = None  # gaps and missing values
    frame.loc[frame.index[5:8], "kingdom"] = ""
    catalog_core.write_frame_atomic(frame, tmp_path / "catalog.parquet")
    expected = ref.taxa_figures(frame)
    assert catalog_core.taxa_figures_from_parquet(tmp_path / "catalog.parquet") == expected
    assert catalog_core.taxa_figures_from_parquet(frame) == expected
    assert json.dumps(catalog_core.taxa_figures(frame), sort_keys=True) == json.dumps(expected, sort_keys=True)


def test_frame_functions_keep_their_signatures_and_results(worlds):
    """build_mapping, resolve_lookups(frame), join_labels, assign_splits: the old calls, same frames."""
    layout, chunking = SourceLayout.under(worlds[(300, 1)]), Chunking()
    frame, left_out = mapping_core.build_mapping(layout, chunking)
    want_frame, want_left_out = ref.build_mapping(layout, chunking)
    pd.testing.assert_frame_equal(frame, want_frame)
    assert left_out == want_left_out
    pd.testing.assert_frame_equal(splits_core.assign_splits(frame["treeoflife_id"]), ref.assign_splits(frame["treeoflife_id"]))
    lookups = labels_core.resolve_lookups(layout, frame, log=lambda *a: None)
    want_lookups = ref.resolve_lookups(layout, want_frame, log=lambda *a: None)
    assert lookups.keys() == want_lookups.keys()
    for source in lookups:
        pd.testing.assert_frame_equal(lookups[source], want_lookups[source])
    pd.testing.assert_frame_equal(labels_core.join_labels(frame, lookups), ref.join_labels(want_frame, want_lookups))


def test_the_asset_path_streams_the_listing_and_maps_the_same_bytes(worlds, tmp_path, monkeypatch):
    """``iter_mapping_sources`` (the asset's path: tables spilled to Parquet as they come, EOL sets
    indexed and listed in parallel) gives the mapping of the in-memory listing, byte for byte; tables,
    files and tables again also; nothing of the spill is left."""
    import shutil

    import pyarrow.parquet as pq

    from tol10m_assets.sources import listing as listing_mod

    src = tmp_path / "src"
    shutil.copytree(worlds[(300, 0)], src)
    for index in src.rglob("*.index"):
        index.unlink()  # the sets are indexed again, by two workers
    layout, chunking = SourceLayout.under(src), Chunking()
    built: list = []
    real = listing_mod.list_eol_sets
    monkeypatch.setattr(listing_mod, "list_eol_sets", lambda sets, mode, workers=1: built.append(workers) or real(sets, mode, workers))
    mapping_core.write_mapping(mapping_core.iter_mapping_sources(layout, chunking, workers=2), "generate", tmp_path / "a.parquet")
    assert built == [2] and list(src.rglob("*.index"))
    tables = mapping_core.list_mapping_sources(layout, chunking)
    mapping_core.write_mapping(tables, "generate", tmp_path / "b.parquet")
    pq.write_table(tables[1], tmp_path / "one.parquet")
    mixed = [tables[0], tmp_path / "one.parquet", *tables[2:]]
    mapping_core.write_mapping(mixed, "generate", tmp_path / "c.parquet")
    assert digest(tmp_path / "a.parquet") == digest(tmp_path / "b.parquet") == digest(tmp_path / "c.parquet")
    reference, _ = ref.build_mapping(layout, chunking)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "a.parquet"), reference)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.parquet", "b.parquet", "c.parquet", "one.parquet", "src"]
