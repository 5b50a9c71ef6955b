"""The label sources and the published check, as pure core (no Dagster): small hand-made inputs."""

import json

import pandas as pd
import pytest

from tol10m_assets.errors import InputFormatError, MissingSourceError
from tol10m_assets.labels import write_labels
from tol10m_assets.labelsources import chosen_label_source, resolve_labels
from tol10m_assets.labelsources.original_format import write_name_lookups
from tol10m_assets.layout import SourceLayout
from tol10m_assets.published_check import compare_catalogs

from . import oracle

IDS = [f"00000000-0000-4000-8000-00000000000{i}" for i in range(6)]


def mapping(tmp_path):
    rows = [
        ("eol", IDS[0], 11, None), ("eol", IDS[1], 11, None), ("eol", IDS[2], 12, None),
        ("inat21", IDS[3], None, 7), ("bioscan", IDS[4], None, None), ("bioscan", IDS[5], None, None),
    ]
    frame = pd.DataFrame(rows, columns=["source", "treeoflife_id", "eol_page_id", "inat21_cls_num"])
    frame = frame.astype({"eol_page_id": "Int64", "inat21_cls_num": "Int64"})
    for col in ("eol_content_id", "bioscan_part"):
        frame[col] = pd.array([None] * len(frame), dtype="Int64")
    frame["inat21_filename"] = frame["bioscan_filename"] = None
    path = tmp_path / "mapping.parquet"
    frame.to_parquet(path, index=False)
    return path


def lookups(tmp_path, eol=None, inat=None, bioscan=None):
    layout = SourceLayout.under(tmp_path / "sources")
    layout.eol_name_lookup.parent.mkdir(parents=True)
    animal = ["Animalia", "Chordata", "Aves", "Passeriformes", "Passeridae", "Passer", "domesticus"]
    eol = eol if eol is not None else {"11": [animal, "House Sparrow", [0] * 7], "12": [["Metazoa", "", "", "", "", "", "geospiza fuliginosa fuliginosa"], "", [0] * 7]}
    inat = inat if inat is not None else {"7": [animal[:6] + ["montanus"], "", [0] * 7]}
    bioscan = bioscan if bioscan is not None else {IDS[4]: [["Animalia", "Arthropoda", "Insecta", "Diptera", "Asilidae", "", ""], "", [0] * 7]}
    for path, table in ((layout.eol_name_lookup, eol), (layout.inat21_name_lookup, inat), (layout.bioscan_name_lookup, bioscan)):
        path.write_text(json.dumps(table))
    return layout


def test_defaults_per_mode():
    assert chosen_label_source("reproduce") == "published" and chosen_label_source("generate") == "computed"
    assert chosen_label_source("reproduce", "table") == "table"
    with pytest.raises(ValueError, match="label_source"):
        chosen_label_source("generate", "guess")


def test_published_labels_normalise_fall_back_and_skip_absent_keys(tmp_path):
    m = mapping(tmp_path)
    layout = lookups(tmp_path)
    out = resolve_labels("published", layout, m, log=lambda *a: None)
    write_labels(m, out, tmp_path / "labels.parquet")
    labels = pd.read_parquet(tmp_path / "labels.parquet").set_index("treeoflife_id")
    assert labels.loc[IDS[0], "common"] == labels.loc[IDS[1], "common"] == "House Sparrow"
    assert bool(labels.loc[IDS[0], "common_looked_up"])
    # normalised (section 4): Metazoa → Animalia, genus from the species words, repeated epithet collapsed
    assert tuple(labels.loc[IDS[2], ["kingdom", "genus", "species"]]) == ("Animalia", "Geospiza", "fuliginosa")
    assert labels.loc[IDS[2], "common"] == "Geospiza fuliginosa" and not labels.loc[IDS[2], "common_looked_up"]
    assert labels.loc[IDS[3], "common"] == "Passer montanus"
    assert labels.loc[IDS[4], "common"] == "Animalia Arthropoda Insecta Diptera Asilidae"  # no genus: the taxonomic name
    assert (labels.loc[IDS[5], ["kingdom", "genus", "species"]] == "").all()  # no entry: no_taxon downstream
    assert json.loads(labels.loc[IDS[0], "provenance"]) == {"lookup": "eol_name_lookup.json", "key": "11"}


@pytest.mark.parametrize("content, message", [
    ('["not", "an object"]', "expected one JSON object"),
    ('{"11": [["A", "B"], "x", []]}', "entry '11'"),
    ('{"eleven": [["A", "", "", "", "", "", ""], "", [0, 0, 0, 0, 0, 0, 0]]}', "entry 'eleven': the key must be an EOL page id"),
    ('{"11": [["A", "", "", "", "", "", ""], "",', "not valid JSON"),
])
def test_a_malformed_lookup_names_the_file_and_the_entry(tmp_path, content, message):
    m = mapping(tmp_path)
    layout = lookups(tmp_path)
    layout.eol_name_lookup.write_text(content)
    with pytest.raises(InputFormatError, match=message) as err:
        resolve_labels("published", layout, m, log=lambda *a: None)
    assert "eol_name_lookup.json" in str(err.value)


def test_a_missing_lookup_names_the_setting(tmp_path):
    m = mapping(tmp_path)
    layout = lookups(tmp_path)
    layout.bioscan_name_lookup.unlink()
    with pytest.raises(MissingSourceError, match="source_paths.bioscan_name_lookup"):
        resolve_labels("published", layout, m, log=lambda *a: None)


def test_table_source_reads_csv_and_refuses_duplicate_ids(tmp_path):
    m = mapping(tmp_path)
    table = tmp_path / "labels.csv"
    table.write_text("treeoflife_id,kingdom,phylum,class,order,family,genus,species,common_name\n"
                     f"{IDS[3]},Animalia,Chordata,Aves,Passeriformes,Passeridae,Passer,Passer montanus,Tree Sparrow\n"
                     "ffffffff-0000-4000-8000-000000000000,Plantae,,,,,,,\n")
    out = resolve_labels("table", None, m, table=table, log=lambda *a: None)
    assert set(out) == {"inat21"}
    row = out["inat21"].to_pylist()[0]
    assert (row["genus"], row["species"], row["common"]) == ("Passer", "montanus", "Tree Sparrow")
    assert json.loads(row["provenance"]) == {"table": "labels.csv", "row": 1}
    table.write_text(table.read_text() + f"{IDS[3]},Animalia,,,,,,,\n")
    with pytest.raises(InputFormatError, match=f"{IDS[3]} appears more than once"):
        resolve_labels("table", None, m, table=table, log=lambda *a: None)
    table.write_text("uuid,kingdom\nx,Animalia\n")
    with pytest.raises(InputFormatError, match="phylum"):
        resolve_labels("table", None, m, table=table, log=lambda *a: None)


def test_name_lookups_round_trip_through_the_original_reader(tmp_path):
    m = mapping(tmp_path)
    layout = lookups(tmp_path)
    write_labels(m, resolve_labels("published", layout, m, log=lambda *a: None), tmp_path / "labels.parquet")
    counts = write_name_lookups(m, tmp_path / "labels.parquet", tmp_path / "naming")
    assert counts == {"eol": 2, "inat21": 1, "bioscan": 1}  # the image without an entry is left out
    eol = oracle.load_name_lookup(tmp_path / "naming" / "eol_name_lookup.json", int)
    assert eol[11] == (("Animalia", "Chordata", "Aves", "Passeriformes", "Passeridae", "Passer", "domesticus"), "House Sparrow")
    assert eol[12][1] == ""  # a fallback common name is not a looked-up one
    bio = json.loads((tmp_path / "naming" / "bioscan_name_lookup.json").read_text())
    inat = json.loads((tmp_path / "naming" / "inat21_name_lookup.json").read_text())
    # class indexes: per rank, the index of the rank prefix among the distinct prefixes (sorted)
    eol_raw = json.loads((tmp_path / "naming" / "eol_name_lookup.json").read_text())
    values = [*eol_raw.values(), *inat.values(), *bio.values()]
    for i in range(7):
        prefixes = sorted({tuple(v[0][: i + 1]) for v in values})
        assert all(v[2][i] == prefixes.index(tuple(v[0][: i + 1])) for v in values), i
    assert eol_raw["11"][2][:3] == [0, 2, 2]  # (Animalia, '') < (Animalia, Arthropoda) < (Animalia, Chordata)
    again = tmp_path / "again"
    write_name_lookups(m, tmp_path / "labels.parquet", again)
    for name in ("eol", "inat21", "bioscan"):
        assert (again / f"{name}_name_lookup.json").read_bytes() == (tmp_path / "naming" / f"{name}_name_lookup.json").read_bytes()


COLUMNS = ["split", "treeoflife_id", "eol_content_id", "eol_page_id", "bioscan_part", "bioscan_filename", "inat21_filename",
           "inat21_cls_name", "inat21_cls_num", "kingdom", "phylum", "class", "order", "family", "genus", "species", "common"]


def _row(split, tid, genus="Passer", common="House Sparrow", content="5", page="11"):
    return [split, tid, content, page, "", "", "", "", "", "Animalia", "Chordata", "Aves", "Passeriformes", "Passeridae", genus, "domesticus", common]


def test_compare_catalogs_counts_each_cause_and_names_label_differences(tmp_path):
    from tol10m_assets.taxonomy import RareSpecies

    published = [_row("train", IDS[0]), _row("train_small", IDS[0]), _row("val", IDS[1]), _row("train", IDS[2]),
                 _row("train", IDS[3], content="99", page="98"), _row("train", IDS[4])]
    ours = [_row("train", IDS[0]), _row("train_small", IDS[0]), _row("train", IDS[1]), _row("train", IDS[2], common="Sparrow"),
            _row("train", IDS[5])]
    pd.DataFrame(published, columns=COLUMNS).to_csv(tmp_path / "pub.csv", index=False)
    pd.DataFrame(ours, columns=COLUMNS).to_csv(tmp_path / "ours.csv", index=False)
    seen = tmp_path / "seen.json"
    seen.write_text(json.dumps({"Other species": ["/x/99_98_eol-full-size-copy.jpg"]}))
    unseen = tmp_path / "unseen.json"
    unseen.write_text("{}")
    result = compare_catalogs(tmp_path / "ours.csv", tmp_path / "pub.csv", RareSpecies.from_files(seen, unseen))
    assert result["by_cause"] == {"rare_species_excluded": 1, "missing_from_sources": 1, "not_in_published": 1,
                                  "split_differences": 2, "label_differences": 1}
    assert not result["passed"] and result["failing"] == ["split_differences", "label_differences"]
    assert result["examples"]["label_differences"] == [{"treeoflife_id": IDS[2], "common": {"published": "House Sparrow", "build": "Sparrow"}}]
    assert result["label_differences_per_column"]["common"] == 1
    assert result["rows_per_split"]["published"] == {"train": 4, "train_small": 1, "val": 1}
    same = compare_catalogs(tmp_path / "pub.csv", tmp_path / "pub.csv")
    assert same["passed"] and not any(same["by_cause"].values())
