"""Every name-source reader names the file and the right 1-based line (issue 10's table: a Latin-1
byte in taxon.tab gave a bare UnicodeDecodeError, and "line 2414" for line 2500)."""

import json

import pytest

from tol10m_assets.errors import InputFormatError
from tol10m_assets.licenses import read_media_manifest
from tol10m_assets.taxonomy import (
    CommonNames,
    EolHierarchy,
    RareSpecies,
    Upgrader,
    read_bioscan_metadata,
)
from tol10m_assets.taxonomy.readers import iter_lines, iter_rows

TAB = "taxonID\tacceptedNameUsageID\tparentNameUsageID\tscientificName\ttaxonRank\tcanonicalName\teolID\n"
ITIS = "Kingdom,Phylum,Class,Order,Family,Genus,Species,terminal_vernacular,terminal_vernacular_lang\n"
TAXA = "id,taxonRank,scientificName,kingdom,phylum,class,order,family,genus,specificEpithet\n"
EOL_VERN = "page_id,canonical_form,vernacular_string,language_code,resource_name,is_preferred_by_resource,is_preferred_by_eol\n"
MANIFEST = "EOL content ID,EOL page ID,Medium Source URL,EOL Full-Size Copy URL,License Name,Copyright Owner\n"


def _csv(header, row, bad_row):
    """header + rows 2..2499 + ``bad_row`` on line 2500 (``{}`` is replaced by the line number)."""
    body = "".join(row.format(i) for i in range(2, 2500))
    return (header + body).encode() + bad_row


# name → (file name, how to write it, how to read it)
READERS = {
    "taxon.tab": ("taxon.tab", lambda bad: _csv(TAB, "t{0}\t\t\tX\tgenus\tX{0}\t{0}\n", bad(b"t2500\t\t\tCaf\xe9\tgenus\tCaf\xe9\t2500\n")),
                  lambda p: EolHierarchy.from_files(p)),
    "scraped_page_ids.csv": ("scraped_page_ids.csv", lambda bad: _csv("page_id,scientific_name\n", "{0},Passer x{0}\n", bad(b"2500,Caf\xe9 au lait\n")),
                             lambda p: EolHierarchy.from_files(_empty_tab(p), p)),
    "vernacularnames.csv": ("vernacularnames.csv", lambda bad: _csv(EOL_VERN, "{0},Passer x,Sparrow {0},eng,x,,\n", bad(b"2500,Passer y,Caf\xe9,eng,x,,\n")),
                            lambda p: CommonNames.from_files(eol_vernacular=p)),
    "itis chains (common names)": ("chains.csv", lambda bad: _csv(ITIS, "A,B,C,D,E,G{0},G{0} s,x,English\n", bad(b"A,B,C,D,E,G,G s,Caf\xe9,English\n")),
                                   lambda p: CommonNames.from_files(itis_chains=p)),
    "itis chains (upgrader)": ("chains.csv", lambda bad: _csv(ITIS, "A,B,C,D,E,G{0},G{0} s,x,English\n", bad(b"A,B,C,D,E,G,G s,Caf\xe9,English\n")),
                               lambda p: Upgrader.from_files(p)),
    "inat taxa.csv": ("taxa.csv", lambda bad: _csv(TAXA, "{0},species,G s,A,B,C,D,E,G,s\n", bad(b"2500,species,G s,A,B,C,D,E,Caf\xe9,s\n")),
                      lambda p: CommonNames.from_files(None, p, _vern(p))),
    "inat vernacular": ("VernacularNames-english.csv", lambda bad: _csv("id,vernacularName\n", "{0},Sparrow\n", bad(b"2500,Caf\xe9\n")),
                        lambda p: CommonNames.from_files(None, _taxa(p), p)),
    "resolved.jsonl": ("resolved.jsonl", lambda bad: _jsonl(bad(b'{"Caf\xe9 x": {}}\n')), lambda p: Upgrader.from_files(None, p)),
    "media manifest": ("media_manifest.csv", lambda bad: _csv(MANIFEST, "{0},1,u,v,cc-by-4.0,Someone\n", bad(b"2500,1,u,v,cc-by-4.0,Caf\xe9\n")),
                       lambda p: read_media_manifest(p)),
}


def _empty_tab(p):
    tab = p.parent / "taxon.tab"
    tab.write_text(TAB)
    return tab


def _vern(p):
    v = p.parent / "VernacularNames-english.csv"
    v.write_text("id,vernacularName\n1,x\n")
    return v


def _taxa(p):
    t = p.parent / "taxa.csv"
    t.write_text(TAXA + "1,species,G s,A,B,C,D,E,G,s\n")
    return t


def _jsonl(bad_line):
    return "".join(json.dumps({f"G{i} s": {}}) + "\n" for i in range(1, 2500)).encode() + bad_line


@pytest.mark.parametrize("name", READERS)
def test_a_latin1_byte_names_the_file_and_line_2500(tmp_path, name):
    filename, make, read = READERS[name]
    path = tmp_path / filename
    path.write_bytes(make(lambda row: row))
    with pytest.raises(InputFormatError) as info:
        read(path)
    err = info.value
    assert (err.path, err.line) == (str(path), 2500), str(err)
    assert "UTF-8" in err.message and "e9" in err.message
    assert str(err).startswith(f"{path}:2500: ")


@pytest.mark.parametrize("name", [n for n in READERS if n != "resolved.jsonl"])
def test_a_short_row_names_the_file_and_line(tmp_path, name):
    filename, make, read = READERS[name]
    path = tmp_path / filename
    path.write_bytes(make(lambda row: b"2500\n"))
    with pytest.raises(InputFormatError, match=r":2500: expected \d+ fields, found 1") as info:
        read(path)
    assert info.value.path == str(path)


def test_a_quoted_field_over_two_lines_is_numbered_by_its_first_line(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text('a,b\n1,"two\nlines"\n2,three\n3\n')
    rows = []
    with pytest.raises(InputFormatError, match=r"x\.csv:5: expected 2 fields, found 1"):
        for line, row in iter_rows(path, ["a", "b"]):
            rows.append((line, row["a"]))
    assert rows == [(2, "1"), (4, "2")]


def test_lines_cross_block_boundaries_and_multibyte_characters(tmp_path):
    path = tmp_path / "x.csv"
    text = "".join(f"{i},{'é' * (i % 7)}ü\r\n" for i in range(500))
    path.write_text(text, encoding="utf-8", newline="")
    assert "".join(iter_lines(path, block=5)) == text
    path.write_bytes(text.encode() + "last,no newline é".encode())
    assert "".join(iter_lines(path, block=3)).endswith("last,no newline é")


def test_a_bad_byte_in_the_rare_species_lists_names_the_line(tmp_path):
    path = tmp_path / "unseen_in_training.json"
    path.write_bytes(b'{\n  "A-B-C-D-E-F-g": [\n    "/x/Caf\xe9.jpg"\n  ]\n}\n')
    with pytest.raises(InputFormatError, match=r"unseen_in_training\.json:3: not UTF-8"):
        RareSpecies.from_files(None, path)


def test_bioscan_bad_bytes_and_malformed_json_name_the_file_and_line(tmp_path):
    path = tmp_path / "BIOSCAN_Insect_Dataset_metadata.jsonld"
    good = {"image_file": "a.jpg", "chunk_number": 1, "order": "Diptera", "family": "x", "genus": "y", "species": "z"}
    text = json.dumps([good] * 300, indent=1)  # 9 lines a record
    lines = text.split("\n")
    bad = "\n".join(lines[:1000]).encode() + b'\n  "image_file": "Caf\xe9.jpg",\n' + "\n".join(lines[1000:]).encode()
    path.write_bytes(bad)
    with pytest.raises(InputFormatError, match=r"metadata\.jsonld:1001: not UTF-8"):
        list(read_bioscan_metadata(path))
    path.write_text(text.replace('"order": "Diptera",', '"order": "Diptera"', 1))  # record 1: the comma of line 5 is missing
    with pytest.raises(InputFormatError, match=r"metadata\.jsonld:6: not JSON \(Expecting ',' delimiter.*record 1"):
        list(read_bioscan_metadata(path))
    path.write_text(text[: len(text) // 2])
    with pytest.raises(InputFormatError, match=r"metadata\.jsonld:\d+: not JSON"):
        list(read_bioscan_metadata(path))
    path.write_text(text[:-1] + ",]")
    with pytest.raises(InputFormatError, match=r"metadata\.jsonld:\d+: not JSON .*record 301"):
        list(read_bioscan_metadata(path))
    path.write_text('{"image_file": "a.jpg"}')
    with pytest.raises(InputFormatError, match=r"metadata\.jsonld:1: not JSON \(expected a list"):
        list(read_bioscan_metadata(path))
    path.write_text(json.dumps([good, 3]))
    with pytest.raises(InputFormatError, match=r"metadata\.jsonld:1: record 2 is not an object"):
        list(read_bioscan_metadata(path))
