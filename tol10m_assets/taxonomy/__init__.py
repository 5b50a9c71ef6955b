"""Taxonomy core: names, the seven-rank taxon, captions and every name source (no Dagster).

In a notebook::

    from tol10m_assets.taxonomy import Taxon, captions, clean_name
    t = Taxon("Animalia", "Chordata", "Aves", "Passeriformes", "Passeridae", "Passer", "domesticus")
    t.scientific                      # 'Passer domesticus'
    captions(t, "House Sparrow")["taxonTag_com.txt"]

    from tol10m_assets.layout import SourceLayout
    from tol10m_assets.taxonomy import resolve_eol
    answer = resolve_eol(SourceLayout.under("data/sample/sources"), [42333])[42333]
    answer.taxon, answer.common, answer.provenance   # provenance: rank → "taxon.tab:LINE" …
"""

from tol10m_assets.taxonomy.bioscan import read_bioscan_metadata
from tol10m_assets.taxonomy.common import CommonNames
from tol10m_assets.taxonomy.eol import HAND_CORRECTIONS, EolHierarchy
from tol10m_assets.taxonomy.inat import parse_inat21_class_dir
from tol10m_assets.taxonomy.names import clean_name, strip_html
from tol10m_assets.taxonomy.rare import RareSpecies, species_key
from tol10m_assets.taxonomy.resolve import NamedTaxon, resolve_bioscan, resolve_eol, resolve_inat21
from tol10m_assets.taxonomy.taxon import RANKS, Taxon, captions, display_common
from tol10m_assets.taxonomy.upgrade import Upgrader

__all__ = [
    "HAND_CORRECTIONS",
    "RANKS",
    "CommonNames",
    "EolHierarchy",
    "NamedTaxon",
    "RareSpecies",
    "Taxon",
    "Upgrader",
    "captions",
    "clean_name",
    "display_common",
    "parse_inat21_class_dir",
    "read_bioscan_metadata",
    "resolve_bioscan",
    "resolve_eol",
    "resolve_inat21",
    "species_key",
    "strip_html",
]
