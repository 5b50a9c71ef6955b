"""Name sources: the EOL walker, the upgrader, common names, BIOSCAN, rare species, bad input."""

import json

import pytest

from tol10m_assets.errors import InputFormatError, MissingSourceError
from tol10m_assets.layout import SourceLayout
from tol10m_assets.taxonomy import (
    CommonNames,
    EolHierarchy,
    RareSpecies,
    Taxon,
    Upgrader,
    parse_inat21_class_dir,
    read_bioscan_metadata,
    resolve_bioscan,
    resolve_eol,
    species_key,
)

TAB_HEADER = "taxonID\tacceptedNameUsageID\tparentNameUsageID\tscientificName\ttaxonRank\tcanonicalName\teolID\n"


def write_tab(path, rows):
    path.write_text(TAB_HEADER + "".join("\t".join(r) + "\n" for r in rows))
    return path


@pytest.fixture
def hierarchy_files(tmp_path):
    rows = [
        ("t1", "", "", "Metazoa", "kingdom", "Metazoa", "1"),
        ("t2", "", "t1", "Chordata", "phylum", "Chordata", "2"),
        ("t3", "", "t2", "Aves", "class", "Aves", "3"),
        ("t4", "", "t3", "Passeriformes", "order", "Passeriformes", "4"),
        ("t5", "", "t4", "Passeridae", "family", "Passeridae", "5"),
        ("t6", "", "t5", "Passer", "genus", "Passer", "6"),
        ("t7", "", "t6", "Passer domesticus (Linnaeus, 1758)", "species", "Passer domesticus", "7"),
        ("t8", "", "t6", "Passer x", "subspecies", "Passer x y", "8"),
        ("t9", "", "t7", "syn", "species", "Passer synonymus", ""),  # not accepted: no page
        ("t10", "", "t5", "Ranid genus", "genus", "Hylarana", "42333"),
        ("t11", "", "t10", "wrong", "species", "Hylarana wrong", "331434"),
    ]
    tab = write_tab(tmp_path / "taxon.tab", rows)
    scraped = tmp_path / "scraped_page_ids.csv"
    scraped.write_text("page_id,scientific_name\n100,Passer montanus\n101,Aphelocoma\n102,Nogenus known\n")
    return tab, scraped


def test_walker_collects_ranks_with_provenance(hierarchy_files):
    tab, scraped = hierarchy_files
    h = EolHierarchy.from_files(tab, scraped)
    values, provenance = h.walk(7)
    assert Taxon(*(values.get(r, "") for r in ("kingdom", "phylum", "class", "order", "family", "genus", "species"))).as_tuple() == (
        "Animalia", "Chordata", "Aves", "Passeriformes", "Passeridae", "Passer", "domesticus")
    assert provenance["species"] == "taxon.tab:8" and provenance["kingdom"] == "taxon.tab:2"
    assert h.walk(8)[0].get("species") is None  # subspecies rank is not kept
    assert h.walk(100)[0] == {"species": "montanus", "genus": "Passer", "family": "Passeridae", "order": "Passeriformes",
                              "class": "Aves", "phylum": "Chordata", "kingdom": "Metazoa"}
    assert h.walk(101)[0] == {"species": "aphelocoma"}  # scraped names are cleaned (lower-cased) as in the original
    assert h.walk(102)[0] == {"species": "known", "genus": "nogenus"}
    assert h.walk(331434)[0]["species"] == "latouchii" and h.walk(331434)[1]["species"] == "hand correction"
    assert h.walk(52338888)[0]["genus"] == "Hylarana"
    assert h.walk(999)[0] == {}


def test_bad_taxon_tab_names_file_and_line(tmp_path):
    tab = tmp_path / "taxon.tab"
    tab.write_text(TAB_HEADER + "t1\t\t\tX\tkingdom\tX\tnotanumber\n")
    with pytest.raises(InputFormatError, match=r"taxon\.tab:2: eolID is not an integer"):
        EolHierarchy.from_files(tab)
    tab.write_text("taxonID\ttaxonRank\n")
    with pytest.raises(InputFormatError, match=r"taxon\.tab:1: missing column"):
        EolHierarchy.from_files(tab)
    tab.write_text(TAB_HEADER + "t1\t\t\tX\tkingdom\n")
    with pytest.raises(InputFormatError, match=r"taxon\.tab:2: expected 7 fields, found 5"):
        EolHierarchy.from_files(tab)
    tab.write_bytes(TAB_HEADER.encode() + b"t1\t\t\t\xff\tkingdom\tX\t1\n")
    with pytest.raises(InputFormatError, match=r"taxon\.tab.*not UTF-8"):
        EolHierarchy.from_files(tab)


@pytest.fixture
def upgrader(tmp_path):
    itis = tmp_path / "chains.csv"
    itis.write_text(
        "Kingdom,Phylum,Class,Order,Family,Genus,Species,terminal_vernacular,terminal_vernacular_lang\n"
        "Animalia,Arthropoda,Collembola,Entomobryomorpha,Entomobryidae,Entomobrya,Entomobrya nivalis,,\n"
        "Animalia,Arthropoda,Entognatha,Collembola,Isotomidae,Folsomia,Folsomia candida,,\n"
        "Animalia,Arthropoda,Insecta,Lepidoptera,Nymphalidae,Danaus,Danaus plexippus,\"Monarch, monarca\",\"English, Spanish\"\n"
        "Animalia,Arthropoda,Insecta,Diptera,Asilidae,Efferia,Efferia aestuans,Robber Fly,English\n"
    )
    resolved = tmp_path / "resolved.jsonl"
    resolved.write_text(json.dumps({"Amanita muscaria": {"gbif": {"kingdom": "Fungi", "phylum": "Basidiomycota", "class": "Agaricomycetes", "order": "Agaricales", "family": "Amanitaceae"}}}) + "\n"
                        + json.dumps({"Danaus plexippus": {"x": {"kingdom": "Plantae", "family": "Wrongidae"}}}) + "\n")
    return Upgrader.from_files(itis, resolved)


def test_upgrade_fills_from_the_continuous_run(upgrader):
    t, prov = upgrader.upgrade(Taxon("Animalia", "Arthropoda", "", "Entomobryomorpha", "Entomobryidae", "Entomobrya", "nivalis"))
    assert t.class_ == "collembola"  # the homonym resolves to the class under Arthropoda
    assert prov["class"] == "chains.csv:2 (upgraded from ITIS)"
    t, _ = upgrader.upgrade(Taxon(genus="Danaus", species="plexippus"))
    assert t.as_tuple() == ("Animalia", "Arthropoda", "Insecta", "Lepidoptera", "Nymphalidae", "Danaus", "plexippus")  # ITIS wins over resolved
    t, prov = upgrader.upgrade(Taxon(genus="Amanita", species="muscaria"))
    assert t.kingdom == "fungi" and t.family == "amanitaceae" and prov["family"] == "resolved.jsonl:1 (upgraded from resolved.jsonl)"
    t, _ = upgrader.upgrade(Taxon("Animalia", "Arthropoda", "Insecta", "Diptera", "", "Leptogaster", "flavipes"))
    assert t.family == "asilidae"
    t, _ = upgrader.upgrade(Taxon("Animalia", "Chordata", "Reptilia", "Squamata", "Charinidae", "Charina", "bottae"))
    assert t.family == "boidae"
    unknown = Taxon("Animalia", genus="Nothing", species="known")
    assert upgrader.upgrade(unknown)[0] == unknown


def test_bad_resolved_line_names_the_line(tmp_path):
    bad = tmp_path / "resolved.jsonl"
    bad.write_text('{"A b": {}}\n{not json\n')
    with pytest.raises(InputFormatError, match=r"resolved\.jsonl:2: not JSON"):
        Upgrader.from_files(None, bad)


def test_common_names_priority(tmp_path):
    itis = tmp_path / "chains.csv"
    itis.write_text("Kingdom,Phylum,Class,Order,Family,Genus,Species,terminal_vernacular,terminal_vernacular_lang\n"
                    "Animalia,Chordata,Aves,Passeriformes,Passeridae,Passer,Passer domesticus,\"moineau, House Sparrow\",\"French, English\"\n")
    taxa = tmp_path / "taxa.csv"
    taxa.write_text("id,taxonRank,scientificName,kingdom,phylum,class,order,family,genus,specificEpithet\n"
                    "1,species,Passer domesticus,,,,,,Passer,domesticus\n2,species,Quercus robur,,,,,,Quercus,robur\n")
    vern = tmp_path / "VernacularNames-english.csv"
    vern.write_text("id,vernacularName\n1,iNat Sparrow\n2,Pedunculate Oak\n")
    eol = tmp_path / "vernacularnames.csv"
    eol.write_text("page_id,canonical_form,vernacular_string,language_code,is_preferred_by_eol\n"
                   "5,<i>Quercus robur</i>,EOL Oak,eng,preferred\n6,Amanita muscaria,Toadstool,eng,\n6,Amanita muscaria,Fly Agaric,eng,preferred\n7,Amanita muscaria,Fliegenpilz,deu,preferred\n")
    names = CommonNames.from_files(itis, taxa, vern, eol)
    assert names.lookup(Taxon(genus="Passer", species="domesticus")) == ("House Sparrow", "chains.csv:2")
    assert names.lookup(Taxon(genus="Quercus", species="robur"))[0] == "Pedunculate Oak"
    assert names.lookup(Taxon(genus="Amanita", species="muscaria"))[0] == "fly agaric"  # EOL names are cleaned
    assert names.lookup(Taxon(genus="Nobody", species="knows")) == ("", "")


def test_inat21_class_dir():
    num, name, t = parse_inat21_class_dir("00123_Animalia_Chordata_Aves_Passeriformes_Passeridae_Passer_domesticus")
    assert num == 123 and name.startswith("Animalia_") and t.scientific == "Passer domesticus"


def test_bioscan_reader_and_bad_records(tmp_path):
    path = tmp_path / "meta.jsonld"
    path.write_text(json.dumps([{"image_file": "a.jpg", "chunk_number": 3, "order": "Diptera", "family": "not_classified", "genus": "not_classified", "species": "not_classified"}]))
    [(part, name, taxon, _)] = list(read_bioscan_metadata(path))
    assert (part, name) == (3, "a.jpg") and taxon.as_tuple() == ("Animalia", "Arthropoda", "Insecta", "Diptera", "", "", "")
    path.write_text(json.dumps([{"image_file": "a.jpg"}]))
    with pytest.raises(InputFormatError, match=r"meta\.jsonld:1: record 1 lacks chunk_number"):
        list(read_bioscan_metadata(path))
    path.write_text("[{")
    with pytest.raises(InputFormatError, match=r"meta\.jsonld:1: not JSON"):
        list(read_bioscan_metadata(path))


def test_missing_required_name_source_names_the_setting(tmp_path):
    layout = SourceLayout.under(tmp_path)
    with pytest.raises(MissingSourceError, match="source_paths.taxon_tab"):
        resolve_eol(layout, [1])
    with pytest.raises(MissingSourceError, match="source_paths.bioscan_metadata"):
        resolve_bioscan(layout)


def test_rare_species_keys_in_both_formats():
    assert species_key("Animalia-Mollusca-Bivalvia-Unionida-Unionidae-Cyclonaias-tuberculata") == "cyclonaias tuberculata"
    assert species_key("Mobula birostris") == "mobula birostris"


def test_rare_species_from_the_real_lists(shared_rarespecies):
    rare = RareSpecies.from_files(shared_rarespecies / "seen_in_training.json", shared_rarespecies / "unseen_in_training.json")
    unseen = json.loads((shared_rarespecies / "unseen_in_training.json").read_text())
    assert len(rare.species) == len(unseen) == 400
    assert rare.excludes_species(Taxon("Animalia", "Mollusca", "Bivalvia", "Unionida", "Unionidae", "Cyclonaias", "tuberculata"))
    assert not rare.excludes_species(Taxon(genus="Mobula", species="birostris"))  # seen: only its listed files
    assert rare.excludes_eol(29442934, 333069)  # a file of the seen list, matched by (content, page)
    assert rare.excludes_eol(12853737, 449393)  # a file of the unseen list
    assert not rare.excludes_eol(1, 2)


def test_upgrade_continuity_cases(tmp_path):
    itis = tmp_path / "chains.csv"
    itis.write_text("Kingdom,Phylum,Class,Order,Family,Genus,Species,terminal_vernacular,terminal_vernacular_lang\n"
                    "Animalia,Chordata,Aves,Passeriformes,Passeridae,Passer,Passer domesticus,House Sparrow,English\n")
    up = Upgrader.from_files(itis)
    full = ("Animalia", "Chordata", "Aves", "Passeriformes", "Passeridae", "Passer", "domesticus")
    for gappy in [("Animalia", "Chordata", "", "Passeriformes", "Passeridae", "Passer", "domesticus"),  # K P _ O F G S
                  ("Animalia", "", "Aves", "", "Passeridae", "Passer", "domesticus"),  # K _ C _ F G S
                  ("", "", "", "", "", "Passer", "domesticus")]:  # nothing above
        t, prov = up.upgrade(Taxon(*gappy))
        assert t.as_tuple() == full
        filled = {r for r, v in zip(("kingdom", "phylum", "class", "order", "family"), gappy) if not v}
        assert {r for r, p in prov.items() if p.endswith("(upgraded from ITIS)")} == filled
