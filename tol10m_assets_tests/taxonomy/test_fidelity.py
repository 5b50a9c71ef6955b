"""Labels as the original (BioCLIP's naming.py / eol.py) makes them: the defects of issue 11."""

import json

from tol10m_assets.layout import SourceLayout
from tol10m_assets.taxonomy import (
    CommonNames,
    EolHierarchy,
    Taxon,
    resolve_bioscan,
    resolve_eol,
)
from tol10m_assets.taxonomy.resolve import FIXED_PROVENANCE

TAB_HEADER = "taxonID\tacceptedNameUsageID\tparentNameUsageID\tscientificName\ttaxonRank\tcanonicalName\teolID\n"
CHAIN = [
    ("t1", "", "", "Metazoa", "kingdom", "Metazoa", "1"),
    ("t2", "", "t1", "Chordata", "phylum", "Chordata", "2"),
    ("t3", "", "t2", "Aves", "class", "Aves", "3"),
    ("t4", "", "t3", "Passeriformes", "order", "Passeriformes", "4"),
    ("t5", "", "t4", "Passeridae", "family", "Passeridae", "5"),
    ("t6", "", "t5", "Passer", "genus", "Passer", "6"),
]
ITIS_HEADER = "Kingdom,Phylum,Class,Order,Family,Genus,Species,terminal_vernacular,terminal_vernacular_lang\n"
INAT_TAXA_HEADER = "id,taxonRank,scientificName,kingdom,phylum,class,order,family,genus,specificEpithet\n"
EOL_VERN_HEADER = "page_id,canonical_form,vernacular_string,language_code,resource_name,is_preferred_by_resource,is_preferred_by_eol\n"


def write_tab(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(TAB_HEADER + "".join("\t".join(r) + "\n" for r in rows))
    return path


def test_eol_common_names_are_cleaned_itis_and_inat_names_kept(tmp_path):
    eol = tmp_path / "vernacularnames.csv"
    eol.write_text(EOL_VERN_HEADER
                   + "10,Presbytis thomasi,North Sumatran Leaf Monkey,eng,x,preferred,preferred\n"
                   + "11,<i>Quercus robur</i>,English Oak (UK),eng,x,,\n")
    itis = tmp_path / "chains.csv"
    itis.write_text(ITIS_HEADER + "Animalia,Chordata,Aves,Passeriformes,Passeridae,Passer,Passer domesticus,House Sparrow,English\n")
    taxa = tmp_path / "taxa.csv"
    taxa.write_text(INAT_TAXA_HEADER + "1,species,Danaus plexippus,Animalia,Arthropoda,Insecta,Lepidoptera,Nymphalidae,Danaus,plexippus\n")
    vern = tmp_path / "VernacularNames-english.csv"
    vern.write_text("id,vernacularName\n1,Monarch Butterfly\n")
    names = CommonNames.from_files(itis, taxa, vern, eol)
    assert names.lookup(Taxon(genus="Presbytis", species="thomasi")) == ("north sumatran leaf monkey", "vernacularnames.csv:2")
    assert names.lookup(Taxon(genus="Quercus", species="robur"))[0] == "english oak"  # cut at the parenthesis too
    assert names.lookup(Taxon(genus="Passer", species="domesticus"))[0] == "House Sparrow"
    assert names.lookup(Taxon(genus="Danaus", species="plexippus"))[0] == "Monarch Butterfly"


def test_itis_takes_the_first_english_name_and_a_later_row_replaces_it(tmp_path):
    itis = tmp_path / "chains.csv"
    itis.write_text(ITIS_HEADER
                    + "Animalia,Chordata,Aves,Passeriformes,Passeridae,Passer,Passer domesticus,\"moineau, House Sparrow, Sparrow\",\"French, English, English\"\n"
                    + "Animalia,Chordata,Aves,Passeriformes,Passeridae,Passer,Passer domesticus,English Sparrow,English\n"
                    + "Animalia,Chordata,Mammalia,Carnivora,Canidae,Canis,Canis lupus,Gray Wolf,english\n"  # not exactly "English"
                    + "Animalia,Chordata,Mammalia,Carnivora,Felidae,Felis,Felis catus,\"Cat, gato\",English\n")  # zip stops at the shorter list
    names = CommonNames.from_files(itis)
    assert names.lookup(Taxon(genus="Passer", species="domesticus")) == ("English Sparrow", "chains.csv:3")
    assert names.lookup(Taxon(genus="Canis", species="lupus")) == ("", "")
    assert names.lookup(Taxon(genus="Felis", species="catus"))[0] == "Cat"


def test_inat_vernacular_skips_an_empty_first_row(tmp_path):
    taxa = tmp_path / "taxa.csv"
    taxa.write_text(INAT_TAXA_HEADER
                    + "1,species,Passer montanus,Animalia,Chordata,Aves,Passeriformes,Passeridae,Passer,montanus\n"
                    + "2,genus,Passer,Animalia,Chordata,Aves,Passeriformes,Passeridae,Passer,\n"
                    + "3,variety,Quercus robur pedunculata,Plantae,Tracheophyta,Magnoliopsida,Fagales,Fagaceae,Quercus,robur\n")
    vern = tmp_path / "VernacularNames-english.csv"
    vern.write_text("id,vernacularName\n1,\n2,Sparrows\n1,Eurasian Tree Sparrow\n1,Tree Sparrow\n3,Oak\n")
    names = CommonNames.from_files(None, taxa, vern)
    assert names.lookup(Taxon(genus="Passer", species="montanus")) == ("Eurasian Tree Sparrow", "VernacularNames-english.csv:4")
    assert names.lookup(Taxon(genus="Passer")) == ("", "")  # only species and varieties count
    assert names.lookup(Taxon(genus="Quercus", species="robur"))[0] == "Oak"
    assert names.by_name["Quercus robur pedunculata"][0] == "Oak"  # also under iNaturalist's own name


def test_eol_preferred_rows_first_and_exact_scientific_keys(tmp_path):
    eol = tmp_path / "vernacularnames.csv"
    eol.write_text(EOL_VERN_HEADER
                   + "6,Amanita muscaria,Toadstool,eng,x,,\n"
                   + "6,Amanita muscaria,Fly Agaric,eng,x,preferred,preferred\n"
                   + "7,Amanita muscaria,Fliegenpilz,deu,x,preferred,preferred\n"
                   + "8,amanita pantherina,Panther Cap,eng,x,,preferred\n")
    names = CommonNames.from_files(eol_vernacular=eol)
    assert names.lookup(Taxon(genus="Amanita", species="muscaria")) == ("fly agaric", "vernacularnames.csv:3")
    # the original keys EOL names by the canonical form as written: a lower-case genus matches nothing
    assert names.lookup(Taxon(genus="Amanita", species="pantherina")) == ("", "")
    assert names.lookup(Taxon(genus="Amanita", species="muscaria"), page_id=8)[0] == "fly agaric"  # no lookup by page


def test_scraped_name_with_an_authority_gets_seven_ranks_without_itis(tmp_path):
    layout = SourceLayout.under(tmp_path)
    write_tab(layout.taxon_tab, CHAIN)
    layout.scraped_page_ids.parent.mkdir(parents=True, exist_ok=True)
    layout.scraped_page_ids.write_text("page_id,scientific_name\n100,Passer montanus (Linnaeus 1758)\n101,<i>Passer</i> italiae Vieillot\n"
                                       "102,Aphelocoma\n")
    answers = resolve_eol(layout, [100, 101, 102])
    assert answers[100].taxon.as_tuple() == ("Animalia", "Chordata", "Aves", "Passeriformes", "Passeridae", "Passer", "montanus")
    assert answers[100].provenance["species"] == "scraped_page_ids.csv:2"
    assert answers[100].provenance["family"] == "taxon.tab:6"
    # "passer italiae vieillot": three words, no initial or year to cut at, so a species without parent
    assert answers[101].taxon.as_tuple()[5:] == ("Passer", "italiae vieillot")
    assert answers[102].taxon.scientific == "Aphelocoma"  # the original capitalises a species-only name


def test_a_genus_name_on_two_pages_takes_the_last_as_the_original(tmp_path):
    rows = [*CHAIN, ("t7", "", "", "Passer", "genus", "Passer", "60")]  # a homonym genus without parents
    tab = write_tab(tmp_path / "taxon.tab", rows)
    scraped = tmp_path / "scraped_page_ids.csv"
    scraped.write_text("page_id,scientific_name\n100,Passer montanus\n")
    values, _ = EolHierarchy.from_files(tab, scraped).walk(100)
    assert values == {"genus": "Passer", "species": "montanus"}


def test_a_rank_seen_twice_takes_the_higher_value(tmp_path):
    rows = [*CHAIN, ("t7", "", "t6", "Passer", "genus", "Passerella", "7"), ("t8", "", "t7", "x", "species", "Passerella iliaca", "8")]
    values, provenance = EolHierarchy.from_files(write_tab(tmp_path / "taxon.tab", rows)).walk(8)
    assert values["genus"] == "Passer" and provenance["genus"] == "taxon.tab:7"


def bioscan_record(name, part, order="Diptera", family="Asilidae", genus="Efferia", species="Efferia aestuans"):
    return {"image_file": name, "chunk_number": part, "order": order, "family": family, "genus": genus, "species": species}


def test_bioscan_provenance_cites_the_images_own_record(tmp_path):
    layout = SourceLayout.under(tmp_path)
    records = [bioscan_record("a.jpg", 1), bioscan_record("b.jpg", 1), bioscan_record("c.jpg", 2, family="not_classified", genus="not_classified",
                                                                                       species="not_classified")]
    layout.bioscan_metadata.parent.mkdir(parents=True)
    layout.bioscan_metadata.write_text(json.dumps(records, indent=1))
    table = resolve_bioscan(layout)
    a, b, c = table[(1, "a.jpg")], table[(1, "b.jpg")], table[(2, "c.jpg")]
    assert a.taxon == b.taxon
    name = layout.bioscan_metadata.name
    assert a.provenance["species"] == f"{name}:2 (record 1)" and b.provenance["species"] == f"{name}:10 (record 2)"
    assert {r: a.provenance[r] for r in ("kingdom", "phylum", "class")} == dict.fromkeys(("kingdom", "phylum", "class"), FIXED_PROVENANCE)
    assert c.provenance["order"] == f"{name}:18 (record 3)" and "family" not in c.provenance and "species" not in c.provenance
    assert len(table) == 3 and set(table) == {(1, "a.jpg"), (1, "b.jpg"), (2, "c.jpg")}
    only = resolve_bioscan(layout, wanted=[(1, "b.jpg")])
    assert list(only) == [(1, "b.jpg")] and only[(1, "b.jpg")] == b


def test_bioscan_a_later_record_for_the_same_image_wins(tmp_path):
    layout = SourceLayout.under(tmp_path)
    layout.bioscan_metadata.parent.mkdir(parents=True)
    layout.bioscan_metadata.write_text(json.dumps([bioscan_record("a.jpg", 1), bioscan_record("a.jpg", 1, order="Hemiptera", family="", genus="",
                                                                                                species="")]))
    table = resolve_bioscan(layout)
    assert len(table) == 1 and table[(1, "a.jpg")].taxon.order == "hemiptera"
    assert table[(1, "a.jpg")].provenance["order"].endswith("(record 2)")


def test_resolved_names_use_the_first_answer_of_a_line_only(tmp_path):
    from tol10m_assets.taxonomy import Upgrader

    resolved = tmp_path / "resolved.jsonl"
    resolved.write_text(json.dumps({"Amanita muscaria": {"gbif": {"kingdom": "Fungi", "family": "Amanitaceae"},
                                                         "col": {"kingdom": "Fungi", "phylum": "Basidiomycota", "family": "Amanitaceae"}},
                                    "Boletus edulis": {"gbif": {"kingdom": "Fungi", "family": "Boletaceae"}}}) + "\n")
    up = Upgrader.from_files(None, resolved)
    t, _ = up.upgrade(Taxon(genus="Amanita", species="muscaria"))
    assert (t.kingdom, t.phylum, t.family) == ("fungi", "", "amanitaceae")  # the second answer's phylum is not used
    assert up.upgrade(Taxon(genus="Boletus", species="edulis"))[0].family == ""  # nor the line's second name
