"""The takedown list: parsing (errors name file:line), resolution against the mapping, the release check."""

import uuid

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tol10m_assets.errors import InputFormatError, MissingSourceError
from tol10m_assets.takedowns import (
    TAKEDOWNS_SCHEMA,
    leak_message,
    published_takedowns,
    read_remove_list,
    removed_reasons_sql,
    write_takedowns,
)

IDS = [str(uuid.uuid5(uuid.NAMESPACE_OID, f"img{i}")) for i in range(6)]
INAT_DIR = "00042_Animalia_Chordata_Aves_Passeriformes_Passeridae_Passer_domesticus"


def mapping_table() -> pa.Table:
    rows = [
        dict(treeoflife_id=IDS[0], source="eol", partition="eol-03", origin="image_set_03.tar.gz:11_22_eol-full-size-copy.jpg",
             eol_content_id=11, eol_page_id=22),
        dict(treeoflife_id=IDS[1], source="eol", partition="eol-03", origin="image_set_03.tar.gz:12_22_eol-full-size-copy.jpg",
             eol_content_id=12, eol_page_id=22),
        dict(treeoflife_id=IDS[2], source="inat21", partition="inat21-000", origin=f"train/{INAT_DIR}/a.jpg",
             inat21_filename="a.jpg", inat21_cls_name=INAT_DIR[6:], inat21_cls_num=42),
        dict(treeoflife_id=IDS[3], source="inat21", partition="inat21-000", origin=f"train/{INAT_DIR}/b.jpg",
             inat21_filename="b.jpg", inat21_cls_name=INAT_DIR[6:], inat21_cls_num=42),
        dict(treeoflife_id=IDS[4], source="bioscan", partition="bioscan-001", origin="part12/x.jpg", bioscan_part=12,
             bioscan_filename="x.jpg"),
        dict(treeoflife_id=IDS[5], source="bioscan", partition="bioscan-001", origin="part12/y.jpg", bioscan_part=12,
             bioscan_filename="y.jpg"),
    ]
    schema = pa.schema([(c, pa.int64() if c in ("eol_content_id", "eol_page_id", "inat21_cls_num", "bioscan_part") else pa.string())
                        for c in ("treeoflife_id", "source", "partition", "origin", "eol_content_id", "eol_page_id",
                                  "inat21_filename", "inat21_cls_name", "inat21_cls_num", "bioscan_part", "bioscan_filename")])
    return pa.Table.from_pylist(rows, schema=schema)


@pytest.fixture
def mapping(tmp_path):
    path = tmp_path / "mapping.parquet"
    pq.write_table(mapping_table(), path)
    return path


def write_list(tmp_path, text: str, name: str = "remove.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_an_id_or_a_source_file_of_each_source_is_resolved(tmp_path, mapping):
    path = write_list(tmp_path, "treeoflife_id,source_file,reason,requested_by\n"
                                f"{IDS[0].upper()},,licence withdrawn,owner A\n"
                                f",image_set_03.tar.gz/12_22_eol-full-size-copy.jpg,licence withdrawn,owner A\n"
                                f",train/{INAT_DIR}/a.jpg,privacy,\n"
                                "\n"
                                ",part12/x.jpg,privacy,\n"
                                f"{uuid.uuid4()},,never existed,\n"
                                ",part99/nope.jpg,never existed,\n")
    remove = read_remove_list(path)
    assert len(remove) == 6
    out, summary_path = tmp_path / "takedowns.parquet", tmp_path / "takedowns.json"
    summary = write_takedowns(remove, mapping, out, summary_path)
    table = pq.read_table(out)
    assert table.schema.names == ["treeoflife_id", "reason"]
    assert table.schema.field("treeoflife_id").type == pa.string()
    got = dict(zip(table.column("treeoflife_id").to_pylist(), table.column("reason").to_pylist()))
    assert got == {IDS[0]: "licence withdrawn", IDS[1]: "licence withdrawn", IDS[2]: "privacy", IDS[4]: "privacy"}
    assert table.column("treeoflife_id").to_pylist() == sorted(got)  # sorted: the same list gives the same bytes
    assert (summary.entries, summary.by_id, summary.by_source_file, summary.ids) == (6, 2, 4, 4)
    assert summary.unknown == 2 and [e["line"] for e in summary.unknown_entries] == [7, 8]  # the blank line 5 counts
    assert summary.partitions == {"eol-03": 2, "inat21-000": 1, "bioscan-001": 1}
    assert summary.reasons == {"licence withdrawn": 2, "privacy": 2}
    assert '"unknown": 2' in summary_path.read_text()


def test_other_spellings_of_a_source_file(tmp_path, mapping):
    path = write_list(tmp_path, "source_file,reason\n"
                                "image_set_03.tar.gz:./11_22_eol-full-size-copy.jpg,a\n"  # the mapping's origin form
                                f"{INAT_DIR}/b.jpg,b\n"  # without train/
                                "cropped_256/part12/y.jpg,c\n"
                                f"image_set_03.tar.gz/{IDS[3]}.jpg,d\n")  # a published member: by id
    summary = write_takedowns(read_remove_list(path), mapping, tmp_path / "t.parquet")
    assert summary.unknown == 0 and summary.ids == 3 and summary.by_source_file == 4  # b.jpg twice
    assert set(pq.read_table(tmp_path / "t.parquet").column("treeoflife_id").to_pylist()) == {IDS[0], IDS[3], IDS[5]}


def test_several_reasons_of_one_image_are_joined_in_list_order(tmp_path, mapping):
    path = write_list(tmp_path, "treeoflife_id,source_file,reason\n"
                                f"{IDS[4]},,second request\n,part12/x.jpg,first request\n{IDS[4]},,second request\n")
    write_takedowns(read_remove_list(path), mapping, tmp_path / "t.parquet")
    assert pq.read_table(tmp_path / "t.parquet").to_pylist() == [{"treeoflife_id": IDS[4], "reason": "second request; first request"}]


def test_no_list_writes_an_empty_table(tmp_path, mapping):
    summary = write_takedowns(read_remove_list(None), mapping, tmp_path / "t.parquet")
    table = pq.read_table(tmp_path / "t.parquet")
    assert table.num_rows == 0 and table.schema.equals(TAKEDOWNS_SCHEMA)
    assert summary.ids == summary.entries == summary.unknown == 0


@pytest.mark.parametrize("text, line, words", [
    ("treeoflife_id,source_file\n", 1, "reason"),
    ("reason,comment\n", 1, "treeoflife_id"),
    ("", 1, "header"),
    (f"treeoflife_id,reason\n{IDS[0]},ok\n{IDS[1]},\n", 3, "reason"),
    (f"treeoflife_id,reason\n{IDS[0]},ok,extra\n", 2, "3 fields"),
    ("treeoflife_id,reason\nnot-a-uuid,ok\n", 2, "not a UUID"),
    (f"treeoflife_id,source_file,reason\n{IDS[0]},part12/x.jpg,ok\n", 2, "exactly one"),
    ("treeoflife_id,source_file,reason\n,,ok\n", 2, "exactly one"),
    ("source_file,reason\npart12/x.jpg,ok\nsomewhere/else/file.png,ok\n", 3, "names no image"),
])
def test_a_malformed_list_names_the_file_and_line(tmp_path, text, line, words):
    path = write_list(tmp_path, text)
    with pytest.raises(InputFormatError) as err:
        read_remove_list(path)
    assert err.value.line == line and str(err.value).startswith(f"{path}:{line}: ")
    assert words in str(err.value)


def test_a_configured_list_that_is_missing_is_an_error(tmp_path):
    with pytest.raises(MissingSourceError, match="remove_list"):
        read_remove_list(tmp_path / "absent.csv")


def test_no_takedowns_table_removes_nothing(tmp_path):
    import duckdb

    con = duckdb.connect()
    assert con.execute(f"SELECT count(*) FROM {removed_reasons_sql(tmp_path / 'absent.parquet')}").fetchall() == [(0,)]
    assert con.execute(f"SELECT count(*) FROM {removed_reasons_sql(None)}").fetchall() == [(0,)]


def _release(tmp_path, ids_by_partition: dict[str, list[int]]):
    """A staged catalog (the mapping's columns per id) and the partitions' samples tables."""
    table = mapping_table().to_pylist()
    tables = {}
    catalog = []
    for partition, idx in ids_by_partition.items():
        path = tmp_path / f"{partition}.parquet"
        pq.write_table(pa.table({"split": ["train"] * len(idx), "treeoflife_id": [IDS[i] for i in idx]}), path)
        tables[partition] = path
        catalog += [{"split": "train", **{k: v for k, v in table[i].items() if k not in ("source", "partition", "origin")}} for i in idx]
    pq.write_table(pa.Table.from_pylist(catalog), tmp_path / "catalog.parquet")
    return tmp_path / "catalog.parquet", tables


def test_the_release_check_finds_listed_ids_and_files_and_names_their_partitions(tmp_path, mapping):
    catalog, tables = _release(tmp_path, {"eol-03": [0, 1], "inat21-000": [2, 3], "bioscan-001": [4, 5]})
    path = write_list(tmp_path, "treeoflife_id,source_file,reason\n"
                                f"{IDS[0]},,licence\n,train/{INAT_DIR}/b.jpg,privacy\n,part12/y.jpg,privacy\n")
    found = published_takedowns(catalog, tables, read_remove_list(path), None)  # no resolved table: the list itself
    assert found["leaks"] == 3 and found["listed_ids"] == 1 and found["listed_files"] == 2
    assert {r["treeoflife_id"]: r["partition"] for r in found["leaked"]} == {IDS[0]: "eol-03", IDS[3]: "inat21-000", IDS[5]: "bioscan-001"}
    assert found["partitions"] == ["bioscan-001", "eol-03", "inat21-000"]
    message = leak_message(found)
    assert IDS[0] in message and "eol-03" in message and "rebuild" in message


def test_the_release_check_passes_when_no_listed_image_is_published(tmp_path, mapping):
    catalog, tables = _release(tmp_path, {"eol-03": [1], "inat21-000": [2], "bioscan-001": [4]})
    path = write_list(tmp_path, f"treeoflife_id,source_file,reason\n{IDS[0]},,licence\n,part12/y.jpg,privacy\n")
    write_takedowns(read_remove_list(path), mapping, tmp_path / "t.parquet")
    found = published_takedowns(catalog, tables, read_remove_list(path), tmp_path / "t.parquet")
    assert found["leaks"] == 0 and found["listed_ids"] == 2, found
    assert "no listed image" in leak_message(found)


def test_the_release_check_reads_the_resolved_ids_too(tmp_path, mapping):
    """An id resolved from a source file (takedowns.parquet) is found by id in a samples table."""
    catalog, tables = _release(tmp_path, {"eol-03": [0, 1]})
    path = write_list(tmp_path, "source_file,reason\nimage_set_03.tar.gz/12_22_eol-full-size-copy.jpg,licence\n")
    write_takedowns(read_remove_list(path), mapping, tmp_path / "t.parquet")
    found = published_takedowns(catalog, tables, read_remove_list(None), tmp_path / "t.parquet")
    assert [(r["treeoflife_id"], r["partition"]) for r in found["leaked"]] == [(IDS[1], "eol-03")]
