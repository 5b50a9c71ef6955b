"""Units of the columnar metadata path: Parquet written in batches, CSV quoting in SQL, UUID5 in SQL,
vectorised splits, the empty-mapping guard, figures and the rare check on odd inputs."""

from __future__ import annotations

import hashlib
import random
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from tol10m_assets import catalog as catalog_core
from tol10m_assets import columns
from tol10m_assets import mapping as mapping_core
from tol10m_assets import splits as splits_core
from tol10m_assets.catalog import CATALOG_COLUMNS
from tol10m_assets.labels import LABELS_SCHEMA, RANK_COLUMNS
from tol10m_assets.sources import SourceImage
from tol10m_assets.sources.listing import listing_from_images
from tol10m_assets.taxonomy import RareSpecies
from tol10m_assets_tests.core import reference_metadata as ref

ODD = ["plain", "a,b", 'say "hi"', "line\nbreak", "cr\rret", " lead", "trail ", "#hash", "ünï", "back\\slash", "x'y", "tab\tx"]


def digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.mark.parametrize("rows,batch", [(0, 10), (7, 3), (columns.ROW_GROUP + 5, 300_001)])
def test_parquet_sink_writes_the_bytes_of_to_parquet(tmp_path, rows, batch):
    rng = np.random.default_rng(rows)
    frame = pd.DataFrame(
        {
            "treeoflife_id": pd.array([f"id{i:09d}" for i in range(rows)], dtype="string"),
            "n": pd.array(np.where(rng.random(rows) < 0.1, None, rng.integers(0, 99, rows)).tolist(), dtype="Int64"),
            "flag": rng.random(rows) < 0.5,
        }
    )
    frame.to_parquet(tmp_path / "want.parquet", index=False)
    schema = columns.pandas_schema({"treeoflife_id": "string", "n": "Int64", "flag": "bool"})
    table = pa.Table.from_pandas(frame, preserve_index=False)
    columns.write_parquet(tmp_path / "got.parquet", schema, (table.slice(i, batch) for i in range(0, rows, batch)))
    assert digest(tmp_path / "got.parquet") == digest(tmp_path / "want.parquet")


def test_parquet_sink_leaves_nothing_on_error(tmp_path):
    schema = columns.pandas_schema({"a": "string"})
    with pytest.raises(RuntimeError):
        with columns.ParquetSink(tmp_path / "x.parquet", schema) as sink:
            sink.write(pa.table({"a": ["1"]}))
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def odd_world(n: int = 60):
    """Mapping, splits and labels frames with every CSV special character in names."""
    rnd = random.Random(5)
    imgs = []
    for i in range(n):
        name = f"{rnd.choice(ODD)}-{i}.jpg"
        kind = i % 3
        if kind == 0:
            imgs.append(SourceImage("eol", "eol-01", f"image_set_01.tar.gz:{i}_{i + 7}_eol.jpg", i, i + 7))
        elif kind == 1:
            imgs.append(SourceImage("inat21", "inat21-000", f"train/x/{name}", inat21_filename=name, inat21_cls_name=rnd.choice(ODD), inat21_cls_num=i))
        else:
            imgs.append(SourceImage("bioscan", "bioscan-000", f"part1/{name}", bioscan_part=1, bioscan_filename=name))
    return imgs


def test_odd_names_map_split_and_catalog_like_the_rowwise_code(tmp_path):
    imgs = odd_world()
    mapping = ref._frame([ref._row(img, ref.generated_id(img)) for img in imgs]).sort_values(["partition", "origin"], kind="stable").reset_index(drop=True)
    mapping.to_parquet(tmp_path / "want_mapping.parquet", index=False)
    mapping_core.write_mapping(list(listing_from_images(imgs, batch=7)), "generate", tmp_path / "mapping.parquet")
    assert digest(tmp_path / "mapping.parquet") == digest(tmp_path / "want_mapping.parquet")  # UUID5 in SQL == uuid.uuid5

    splits = ref.assign_splits(mapping["treeoflife_id"], seed=2, val_percent=30, train_small_percent=40)
    splits_core.write_splits(tmp_path / "mapping.parquet", tmp_path / "splits.parquet", seed=2, val_percent=30, train_small_percent=40)
    splits.to_parquet(tmp_path / "want_splits.parquet", index=False)
    assert digest(tmp_path / "splits.parquet") == digest(tmp_path / "want_splits.parquet")

    rnd = random.Random(9)
    labels = pd.DataFrame({"treeoflife_id": mapping["treeoflife_id"]})
    for c in RANK_COLUMNS:
        labels[c] = [rnd.choice(ODD + ["", ""]) for _ in range(len(labels))]
    labels["common"] = [rnd.choice(ODD + [""]) for _ in range(len(labels))]
    labels["common_looked_up"] = labels["common"] != ""
    labels["provenance"] = "{}"
    labels = labels.astype({c: "string" for c in [*RANK_COLUMNS, "common", "provenance"]}).drop(index=[3, 4])  # two without labels
    labels.sort_values("treeoflife_id").to_parquet(tmp_path / "labels.parquet", index=False)
    assert pa.parquet.read_schema(tmp_path / "labels.parquet").names == LABELS_SCHEMA.names
    want = ref.predicted_catalog(mapping, splits, labels.reset_index(drop=True))
    catalog_core.write_frame_atomic(want, tmp_path / "want.csv")
    counts = catalog_core.write_predicted_catalog(tmp_path / "mapping.parquet", tmp_path / "splits.parquet", tmp_path / "labels.parquet", tmp_path / "got.csv")
    assert digest(tmp_path / "got.csv") == digest(tmp_path / "want.csv")
    assert counts == want["split"].value_counts().reindex(list(counts), fill_value=0).to_dict()
    assert '"a,b' in (tmp_path / "got.csv").read_text() and '""hi""' in (tmp_path / "got.csv").read_text()


def test_split_flags_equal_unit_hash_at_the_thresholds():
    ids = [str(uuid.UUID(int=random.Random(1).getrandbits(128))) for _ in range(3000)]
    for percent in (0, 0.01, 5, 50, 99.99, 100):
        is_val, is_small = splits_core.split_flags(ids, seed=7, val_percent=percent, train_small_percent=100 - percent)
        want_val = [ref.unit_hash(7, "val", i) * 100 < percent for i in ids]
        want_small = [(not v) and ref.unit_hash(7, "train_small", i) * 100 < 100 - percent for i, v in zip(ids, want_val)]
        assert is_val.tolist() == want_val and is_small.tolist() == want_small
    with pytest.raises(ValueError):
        splits_core.split_flags(ids, val_percent=101)


def test_an_empty_listing_never_replaces_a_mapping(tmp_path):
    out = tmp_path / "mapping.parquet"
    imgs = odd_world(9)
    mapping_core.write_mapping(list(listing_from_images(imgs)), "generate", out)
    before = digest(out)
    roots = ["/data/eol/images", "/data/inat21/train", "/data/bioscan/cropped_256"]
    with pytest.raises(mapping_core.EmptyMappingError) as err:
        mapping_core.write_mapping([], "generate", out, roots=roots)
    for root in roots:
        assert root in str(err.value)
    assert "9 images" in str(err.value) and str(out) in str(err.value)
    assert digest(out) == before and sorted(p.name for p in tmp_path.iterdir()) == ["mapping.parquet"]
    # only bad names listed: as empty as no listing at all
    bad = [SourceImage("bioscan", "bioscan-000", "part1/x.txt", bad_name=True)]
    with pytest.raises(mapping_core.EmptyMappingError):
        mapping_core.write_mapping(list(listing_from_images(bad)), "generate", out, roots=roots)
    # with nothing there before, an empty mapping is written (an empty world is not an error)
    summary = mapping_core.write_mapping([], "generate", tmp_path / "fresh.parquet", roots=roots)
    assert summary.rows == 0 and pd.read_parquet(tmp_path / "fresh.parquet").empty


def test_duplicate_source_images_keep_the_first_listed(tmp_path):
    imgs = odd_world(6)
    dup = SourceImage("eol", "eol-02", "image_set_02.tar.gz:0_7_eol.jpg", 0, 7)  # same identity as imgs[0]
    summary = mapping_core.write_mapping(list(listing_from_images([*imgs, dup])), "generate", tmp_path / "m.parquet")
    frame = pd.read_parquet(tmp_path / "m.parquet")
    assert summary.left_out["duplicate_source_image"] == 1 and len(frame) == 6
    assert "eol-02" not in set(frame["partition"])
    assert ref.build_mapping.__doc__  # the reference keeps the first too (seen set in listing order)


def catalog_frame(rng: random.Random, n: int = 400) -> pd.DataFrame:
    pool = [
        ("Animalia", "Mollusca", "Bivalvia", "Unionida", "Unionidae", "Cyclonaias", "tuberculata"),
        ("Animalia", "Chordata", "Aves", "Passeriformes", "Passeridae", "Passer", "domesticus"),
        ("Plantae", "", "", "", "Fagaceae", "", ""),
        ("Fungi", "", "", "", "", "", "lupus familiaris"),
        ("Animalia", "", "", "", "", "", "(unidentified)"),
        ("", "", "", "", "", "", ""),
    ]
    rows = []
    for i in range(n):
        ranks = rng.choice(pool)
        kind = rng.randrange(3)
        row = dict.fromkeys(CATALOG_COLUMNS)
        row.update(split=rng.choice(["train", "val", "train_small"]), treeoflife_id=f"id{i:05d}", common=rng.choice(["", "x"]))
        row.update(dict(zip(RANK_COLUMNS, ranks)))
        if kind == 0:
            row.update(eol_content_id=rng.randrange(5), eol_page_id=rng.randrange(3))
        elif kind == 1:
            row.update(inat21_filename=rng.choice(["a.jpg", "rare.jpg", "dir/rare.jpg"]), inat21_cls_name="c", inat21_cls_num=1)
        else:
            row.update(bioscan_part=1, bioscan_filename=rng.choice(["b.jpg", "rareb.jpg"]))
        rows.append(row)
    frame = pd.DataFrame(rows, columns=CATALOG_COLUMNS)
    return frame.astype({c: "Int64" for c in ("eol_content_id", "eol_page_id", "bioscan_part", "inat21_cls_num")})


def test_rare_leaks_and_figures_match_the_rowwise_code(tmp_path):
    rules = RareSpecies(
        species={"cyclonaias tuberculata"}, eol_images={(1, 2), (4, 0)}, files={"rare.jpg", "rareb.jpg"}
    )
    for seed in range(3):
        frame = catalog_frame(random.Random(seed))
        frame.to_parquet(tmp_path / "c.parquet", index=False)
        want = ref.rare_leaks_rowwise(frame, rules)
        got = catalog_core.rare_leaks(tmp_path / "c.parquet", rules)
        assert got == {"rows": len(frame), "leaks": len(want), "examples": want[:20]} and want
        filled = frame.fillna({c: "" for c in RANK_COLUMNS + ["common"]})
        assert catalog_core.taxa_figures_from_parquet(tmp_path / "c.parquet") == ref.taxa_figures(filled)
        assert catalog_core.taxa_figures(filled) == ref.taxa_figures(filled)


def test_duplicate_counts_equal_pandas_duplicated(tmp_path):
    imgs = odd_world(12)
    frame = ref._frame([ref._row(img, ref.generated_id(img)) for img in imgs])
    frame = pd.concat([frame, frame.iloc[[0, 1]], frame.iloc[[2]].assign(treeoflife_id="other")], ignore_index=True)
    frame.to_parquet(tmp_path / "m.parquet", index=False)
    got = mapping_core.duplicate_counts(tmp_path / "m.parquet")
    assert got == {
        "images": len(frame),
        "duplicate_ids": int(frame["treeoflife_id"].duplicated().sum()),
        "duplicate_source_images": int(frame.duplicated(mapping_core.source_identity_columns()).sum()),
    } == {"images": 15, "duplicate_ids": 2, "duplicate_source_images": 3}
