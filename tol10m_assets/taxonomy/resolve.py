"""One call per source: the taxon, common name and provenance of every key a build needs."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Iterable

from tol10m_assets.errors import MissingSourceError
from tol10m_assets.taxonomy.bioscan import read_bioscan_metadata
from tol10m_assets.taxonomy.common import CommonNames
from tol10m_assets.taxonomy.eol import EolHierarchy
from tol10m_assets.taxonomy.inat import parse_inat21_class_dir
from tol10m_assets.taxonomy.taxon import RANKS, Taxon
from tol10m_assets.taxonomy.upgrade import Upgrader

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NamedTaxon:
    """A lookup answer: the taxon, the looked-up common name ("" if none) and where each came from."""

    taxon: Taxon
    common: str = ""
    provenance: dict[str, str] = field(default_factory=dict)


def _optional(layout, *fields: str) -> list:
    paths = []
    for name in fields:
        path = getattr(layout, name)
        if not path.exists():
            log.warning("optional name source %s (%s) is absent", name, path)
            paths.append(None)
        else:
            paths.append(path)
    return paths


def _common_names(layout) -> CommonNames:
    itis, taxa, vern, eol = _optional(layout, "itis_chains", "inat_taxa", "inat_vernacular", "eol_vernacular")
    return CommonNames.from_files(itis, taxa, vern, eol)


def _upgrader(layout) -> Upgrader:
    itis, resolved = _optional(layout, "itis_chains", "resolved")
    return Upgrader.from_files(itis, resolved)


def _named(taxon: Taxon, provenance: dict[str, str], commons: CommonNames, page: int | None = None) -> NamedTaxon:
    common, source = commons.lookup(taxon, page)
    if source:
        provenance = {**provenance, "common": source}
    return NamedTaxon(taxon, common, provenance)


def resolve_eol(layout, page_ids: Iterable[int]) -> dict[int, NamedTaxon]:
    """EOL page id → NamedTaxon: hierarchy walk (+ scraped names, hand corrections), upgrade, common name."""
    if not layout.taxon_tab.exists():
        raise MissingSourceError(layout.taxon_tab, "source_paths.taxon_tab", "EOL taxon.tab")
    (scraped,) = _optional(layout, "scraped_page_ids")
    hierarchy = EolHierarchy.from_files(layout.taxon_tab, scraped)
    upgrader, commons = _upgrader(layout), _common_names(layout)
    out = {}
    for page in page_ids:
        values, provenance = hierarchy.walk(int(page))
        taxon = Taxon(*(values.get(r, "") for r in RANKS))
        taxon, provenance = upgrader.upgrade(taxon, provenance)
        out[int(page)] = _named(taxon, provenance, commons, int(page))
    return out


def resolve_inat21(layout, class_dirs: Iterable[str]) -> dict[int, NamedTaxon]:
    """iNat21 cls_num → NamedTaxon from the class directory name, with a common name."""
    commons = _common_names(layout)
    out = {}
    for name in class_dirs:
        cls_num, _, taxon = parse_inat21_class_dir(name)
        provenance = {r: f"class directory {name}" for r, v in zip(RANKS, taxon.values()) if v}
        out[cls_num] = _named(taxon, provenance, commons)
    return out


def resolve_bioscan(layout) -> dict[tuple[int, str], NamedTaxon]:
    """(part, image_file) → NamedTaxon from the BIOSCAN metadata, upgraded, with a common name."""
    path = layout.bioscan_metadata
    if not path.exists():
        raise MissingSourceError(path, "source_paths.bioscan_metadata", "BIOSCAN metadata")
    upgrader, commons = _upgrader(layout), _common_names(layout)
    cache: dict[Taxon, tuple[Taxon, dict]] = {}
    out = {}
    for part, image_file, taxon, index in read_bioscan_metadata(path):
        if taxon not in cache:
            provenance = {r: f"{path.name}:record {index}" for r, v in zip(RANKS, taxon.values()) if v}
            cache[taxon] = upgrader.upgrade(taxon, provenance)
        upgraded, provenance = cache[taxon]
        out[(part, image_file)] = _named(upgraded, provenance, commons)
    return out
