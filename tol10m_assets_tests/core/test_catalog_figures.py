"""check_taxa figures and verdicts, the licence join."""

import pandas as pd
import pytest

from tol10m_assets.catalog import CATALOG_COLUMNS, judge_taxa, taxa_figures, taxa_report_markdown
from tol10m_assets.errors import InputFormatError
from tol10m_assets.licenses import eol_licenses, read_media_manifest


def row(split="train", tid="a", ranks=("Animalia", "Chordata", "Aves", "Passeriformes", "Passeridae", "Passer", "domesticus"), common="House Sparrow", eol=(1, 2), inat=None, bio=None):
    base = dict.fromkeys(CATALOG_COLUMNS)
    base.update(split=split, treeoflife_id=tid, common=common)
    base.update(dict(zip(["kingdom", "phylum", "class", "order", "family", "genus", "species"], ranks)))
    if eol:
        base.update(eol_content_id=eol[0], eol_page_id=eol[1])
    if inat:
        base.update(inat21_filename="x.jpg", inat21_cls_name="c", inat21_cls_num=inat)
    if bio:
        base.update(bioscan_part=bio, bioscan_filename="b.jpg")
    return base


def frame(*rows):
    return pd.DataFrame(list(rows), columns=CATALOG_COLUMNS)


def test_figures_count_gaps_and_oddities():
    df = frame(
        row(tid="a"),
        row(tid="b", ranks=("Animalia", "", "Aves", "", "Passeridae", "Passer", "domesticus")),
        row(tid="c", ranks=("Plantae", "Tracheophyta", "", "", "Fagaceae", "", "")),
        row(tid="d", ranks=("Fungi", "", "", "", "", "", "lupus familiaris"), common="", eol=None, inat=3),
        row(tid="e", ranks=("Animalia", "", "", "", "", "", "(unidentified)"), eol=None, bio=1),
        row(split="train_small", tid="a"),
    )
    f = taxa_figures(df)
    assert f["rows"] == 5
    assert f["kingdoms"] == ["Animalia", "Fungi", "Plantae"]
    assert f["gap_missing_above_genus"] == 1
    assert f["gap_missing_above_family"] == 1
    assert f["species_without_genus"] == 2
    assert f["multiword_species"] == 1
    assert f["unidentified_species"] == 1
    assert f["empty_common_by_source"] == {"eol": 0, "inat21": 1, "bioscan": 0}
    assert f["complete_rows"] == 1
    assert f["unique_taxa"]["all"] == 5 and f["unique_taxa"]["eol"] == 3
    level, reasons = judge_taxa(f)
    assert level == "ERROR" and any("unidentified" in r for r in reasons)
    assert "| rows | 5 |" in taxa_report_markdown(f, level, reasons)


def test_clean_catalog_passes_and_thresholds_can_warn():
    df = frame(row(tid="a"), row(tid="b", split="val"))
    f = taxa_figures(df)
    assert judge_taxa(f) == ("PASS", [])
    level, _ = judge_taxa(f, {"incomplete_share": (-1.0, 0.5)})
    assert level == "WARN"


def test_licences_join_the_manifest(tmp_path):
    manifest = tmp_path / "media_manifest.csv"
    manifest.write_text(
        "EOL content ID,EOL page ID,Medium Source URL,EOL Full-Size Copy URL,License Name,Copyright Owner\n"
        "1,2,u,v,cc-by-4.0,Someone\n"
    )
    df = frame(row(tid="a"), row(tid="a", split="train_small"), row(tid="z", eol=(9, 9)))
    out = eol_licenses(df, read_media_manifest(manifest))
    # the published columns (issue 11): md5 empty without image hashes, the licence link derived
    assert out.values.tolist() == [["a", 1, 2, "", "u", "v", "cc-by-4.0", "Someone", "https://creativecommons.org/licenses/by/4.0/", "not provided"],
                                   ["z", 9, 9, "", "", "", "", "", "", ""]]


def test_bad_manifest_names_file_and_line(tmp_path):
    manifest = tmp_path / "media_manifest.csv"
    manifest.write_text("EOL content ID,EOL page ID,License Name,Copyright Owner\n1,2,a,b\nx,2,a,b\n")
    with pytest.raises(InputFormatError, match=r"media_manifest\.csv:3: eol_content_id is not an integer"):
        read_media_manifest(manifest)
    manifest.write_text("EOL content ID,License Name\n1,a\n")
    with pytest.raises(InputFormatError, match=r"media_manifest\.csv:1: missing column"):
        read_media_manifest(manifest)
