"""Ids, splits and partition keys: deterministic and stable."""

import sqlite3
import uuid

import pandas as pd
import pytest

from tol10m_assets.mapping import generated_id, read_published_mapping, write_mapping_sqlite
from tol10m_assets.errors import InputFormatError
from tol10m_assets.sources import SourceImage, bioscan_partitions, eol_partition, inat21_partitions, parse_partition
from tol10m_assets.splits import assign_splits, published_splits, split_counts, splits_of


def test_partition_keys():
    assert eol_partition("image_set_07.tar.gz") == "eol-07"
    # k classes (parts) per partition, counted, not their numbers: sparse numbers still fill partitions
    assert inat21_partitions([0, 250, 7, 9000], 2) == {0: "inat21-000", 7: "inat21-000", 250: "inat21-001", 9000: "inat21-001"}
    assert inat21_partitions(range(10_000), 100)[250] == "inat21-002"  # the full, contiguous iNat21: as before
    assert bioscan_partitions([1, 2, 11, 40], 2) == {1: "bioscan-000", 2: "bioscan-000", 11: "bioscan-001", 40: "bioscan-001"}
    # zero-padded to the widest key (at least 3 digits), so that keys sort in partition order
    wide = inat21_partitions(range(10_000), 1)
    assert (wide[95], wide[1008], wide[9999]) == ("inat21-0095", "inat21-1008", "inat21-9999")
    assert sorted(wide.values()) == [wide[n] for n in range(10_000)]
    assert parse_partition("inat21-1008") == ("inat21", 1008)
    assert parse_partition("inat21-002") == ("inat21", 2)
    for bad in ("eol-1; rm -rf /", "../eol-01", "eol-01\n", "EOL-01", "x-01"):
        with pytest.raises(ValueError):
            parse_partition(bad)
    with pytest.raises(ValueError):
        eol_partition("image_set_1.zip")


def test_generated_ids_are_uuid5_of_the_source_identity():
    a = SourceImage("eol", "eol-01", "x", eol_content_id=1, eol_page_id=2)
    same = SourceImage("eol", "eol-02", "elsewhere", eol_content_id=1, eol_page_id=2)
    other = SourceImage("eol", "eol-01", "x", eol_content_id=1, eol_page_id=3)
    assert generated_id(a) == generated_id(same) != generated_id(other)
    assert uuid.UUID(generated_id(a)).version == 5


def test_splits_are_stable_when_images_are_added():
    ids = [str(uuid.UUID(int=i)) for i in range(20000)]
    first = assign_splits(ids[:10000], seed=3).set_index("treeoflife_id")
    more = assign_splits(ids, seed=3).set_index("treeoflife_id")
    assert first.equals(more.loc[ids[:10000]])
    counts = split_counts(more.reset_index())
    assert 0.04 < counts["val"] / len(ids) < 0.06
    assert 0.08 < counts["train_small"] / counts["train"] < 0.12
    assert not (more["is_val"] & more["is_train_small"]).any()
    assert not assign_splits(ids[:1000], seed=4).equals(assign_splits(ids[:1000], seed=3))


def test_splits_of():
    assert splits_of(True, False) == ("val",)
    assert splits_of(False, True) == ("train", "train_small")
    assert splits_of(False, False) == ("train",)


def test_published_split_table_wins_in_reproduce_mode():
    ids = ["a", "b", "c"]
    table = pd.DataFrame({"evobio10m_id": ["a", "b"], "is_val": [1, 0], "is_train_small": [0, 1]})
    out = published_splits(ids, table, seed=0).set_index("treeoflife_id")
    assert bool(out.loc["a", "is_val"]) and not bool(out.loc["a", "is_train_small"])
    assert bool(out.loc["b", "is_train_small"]) and not bool(out.loc["b", "is_val"])
    assert "c" in out.index


def test_mapping_sqlite_roundtrip(tmp_path):
    mapping = pd.DataFrame(
        {
            "treeoflife_id": ["i1", "i2", "i3"],
            "source": ["eol", "inat21", "bioscan"],
            "eol_content_id": pd.array([10, None, None], dtype="Int64"),
            "eol_page_id": pd.array([20, None, None], dtype="Int64"),
            "inat21_filename": [None, "f.jpg", None],
            "inat21_cls_name": [None, "Animalia_x", None],
            "inat21_cls_num": pd.array([None, 5, None], dtype="Int64"),
            "bioscan_part": pd.array([None, None, 7], dtype="Int64"),
            "bioscan_filename": [None, None, "b.jpg"],
        }
    )
    splits = assign_splits(mapping["treeoflife_id"])
    path = tmp_path / "mapping.sqlite"
    write_mapping_sqlite(path, mapping, splits)
    tables = read_published_mapping(path)
    assert tables["eol"].values.tolist() == [[10, 20, "i1"]]
    assert tables["inat21"].values.tolist() == [["f.jpg", "Animalia_x", 5, "i2"]]
    assert tables["bioscan"].values.tolist() == [[7, "b.jpg", "i3"]]
    assert len(tables["split"]) == 3


def test_published_mapping_without_a_table_names_the_file(tmp_path):
    path = tmp_path / "mapping.sqlite"
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE eol (content_id, page_id, evobio10m_id)")
    with pytest.raises(InputFormatError, match=r"mapping\.sqlite: table 'inat21' is missing"):
        read_published_mapping(path)
