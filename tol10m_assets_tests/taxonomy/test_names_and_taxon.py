"""Spec sections 3 and 4: every example, plus properties."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tol10m_assets.taxonomy import RANKS, Taxon, captions, clean_name, display_common, strip_html


@pytest.mark.parametrize(
    "raw, cleaned",
    [
        ("Atrypanius cinerascens (Bates 1864)", "atrypanius cinerascens"),
        ("Huperzia dacrydioides (Baker) Pic.Serm.", "huperzia dacrydioides"),
        ("Lagocheirus araneiformis subsp. parvulus Casey 1913", "lagocheirus araneiformis"),
        ("Partula subangulata Pease, 1870", "partula subangulata"),
        ("Collotheca orchidacea Meksuwan, Pholpunthin & Segers, 2013", "collotheca orchidacea"),
        ("Agosia yarrowi Jordan & Evermann", "agosia yarrowi"),
        ("Stylidium spinulosum r.br.", "stylidium spinulosum"),
        ("Canis lupus familiaris", "canis lupus familiaris"),
        ("Rosa canina var. dumalis", "rosa canina"),
        ("Felis silvestris ssp. lybica", "felis silvestris"),
        ("Zygodon <i>viridissimus</i><br> x", "zygodon viridissimus"),
    ],
)
def test_clean_name_examples(raw, cleaned):
    assert clean_name(raw) == cleaned


def test_strip_html_keeps_text_of_paired_and_nested_tags():
    assert strip_html("Zygodon <i>viridissimus</i> viridissimus") == "Zygodon viridissimus viridissimus"
    assert strip_html("<b><i>Passer</i> domesticus</b>") == "Passer domesticus"
    assert strip_html("a < b") == "a < b"


def test_normalisation_rules():
    t = Taxon("Metazoa", "Chordata", "Aves", "", "", "", "geospiza fuliginosa fuliginosa")
    assert t.as_tuple() == ("Animalia", "Chordata", "Aves", "", "", "Geospiza", "fuliginosa")
    # fixed: any run of the same word collapses (the original left the triple)
    assert Taxon(species="geospiza fuliginosa fuliginosa fuliginosa").as_tuple()[5:] == ("Geospiza", "fuliginosa")
    assert Taxon(genus="Passer", species="Passer domesticus").species == "domesticus"
    assert Taxon(genus="Canis", species="lupus familiaris").species == "lupus familiaris"
    for empty in ("(unidentified)", "unknown", "pleasehelp", "<i>unknown</i>"):
        assert Taxon("Plantae", species=empty).species == ""
    assert Taxon("Archaeplastida").kingdom == "plantae" and Taxon("chloroplastida").kingdom == "plantae"
    assert Taxon(genus="<i>Quercus</i>", species="Quercus robur L.").as_tuple()[5:] == ("Quercus", "robur")


def test_renderings():
    t = Taxon("Animalia", "Chordata", "Aves", "Passeriformes", "Passeridae", "Passer", "domesticus")
    assert t.scientific == "Passer domesticus"
    assert t.taxonomic == "Animalia Chordata Aves Passeriformes Passeridae Passer domesticus"
    assert t.tagged == "kingdom Animalia phylum Chordata class Aves order Passeriformes family Passeridae genus Passer species domesticus"
    assert t.is_complete and not t.is_empty
    only_genus = Taxon("Animalia", genus="Passer")
    assert only_genus.scientific == "Passer" and only_genus.tagged == "kingdom Animalia genus Passer"
    assert Taxon("Fungi").scientific == "" and Taxon().is_empty
    texts = captions(t, "House Sparrow")
    assert texts["taxonTag_com.txt"] == (
        "a photo of kingdom Animalia phylum Chordata class Aves order Passeriformes family Passeridae "
        "genus Passer species domesticus with common name House Sparrow."
    )
    assert sorted(texts) == sorted(
        ["scientific_name.txt", "taxonomic_name.txt", "common_name.txt", "sci.txt", "com.txt", "taxon.txt",
         "taxonTag.txt", "sci_com.txt", "taxon_com.txt", "taxonTag_com.txt"]
    )


def test_common_name_fallback():
    t = Taxon("Animalia", genus="Passer", species="domesticus")
    assert display_common(t, "") == "Passer domesticus"
    assert captions(t, "")["com.txt"] == "a photo of Passer domesticus."
    assert display_common(Taxon("Fungi", "Basidiomycota"), "") == "Fungi Basidiomycota"


def test_from_tagged_handles_missing_ranks_and_multiword_species():
    t = Taxon("Animalia", "", "Aves", "", "", "Canis", "lupus familiaris")
    assert Taxon.from_tagged(t.tagged) == t


words = st.text(alphabet="abcdefgh ", min_size=0, max_size=12)
names = st.text(alphabet=st.characters(codec="utf-8", categories=("L", "N", "P", "Zs")), max_size=40)
taxa = st.builds(Taxon, words, words, words, words, words, words, st.text(alphabet="abcd ()&,.1", max_size=30))


@settings(max_examples=300, deadline=None)
@given(taxa)
def test_normalisation_is_idempotent(t):
    assert Taxon(*t.as_tuple()) == t
    assert Taxon.from_tagged(t.tagged) == t


@settings(max_examples=300, deadline=None)
@given(names)
def test_clean_name_never_lengthens(name):
    assert len(clean_name(name)) <= len(name)


@settings(max_examples=300, deadline=None)
@given(taxa, st.text(alphabet="abc XY", max_size=10))
def test_captions_end_with_a_full_stop_and_carry_the_scientific_name(t, common):
    texts = captions(t, common.strip())
    for suffix in ("sci.txt", "com.txt", "taxon.txt", "taxonTag.txt", "sci_com.txt", "taxon_com.txt", "taxonTag_com.txt"):
        assert texts[suffix].endswith(".")
    if t.scientific:
        assert t.scientific in texts["sci.txt"] and t.scientific in texts["sci_com.txt"]
    assert set(RANKS) >= {w for w in texts["taxonTag.txt"].split() if w in RANKS}
