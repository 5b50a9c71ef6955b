"""One call per source: the taxon, common name and provenance of every key a build needs."""

from __future__ import annotations

import logging
from array import array
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Iterable, Iterator

from tol10m_assets.errors import MissingSourceError
from tol10m_assets.taxonomy.bioscan import FIXED, read_bioscan_metadata
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


@dataclass(frozen=True)
class NameSources:
    """The upgrade table and the common names, read once for every resolver of a build (each is
    ~1M rows of name sources: reading them per resolver tripled the labels step's taxonomy cost)."""

    upgrader: Upgrader
    commons: CommonNames

    @classmethod
    def read(cls, layout) -> "NameSources":
        return cls(_upgrader(layout), _common_names(layout))


def _named(taxon: Taxon, provenance: dict[str, str], commons: CommonNames, page: int | None = None) -> NamedTaxon:
    common, source = commons.lookup(taxon, page)
    if source:
        provenance = {**provenance, "common": source}
    return NamedTaxon(taxon, common, provenance)


def resolve_eol(layout, page_ids: Iterable[int], names: NameSources | None = None) -> dict[int, NamedTaxon]:
    """EOL page id → NamedTaxon: hierarchy walk (+ scraped names, hand corrections), upgrade, common name
    (``names``: read here when not given)."""
    if not layout.taxon_tab.exists():
        raise MissingSourceError(layout.taxon_tab, "source_paths.taxon_tab", "EOL taxon.tab")
    (scraped,) = _optional(layout, "scraped_page_ids")
    hierarchy = EolHierarchy.from_files(layout.taxon_tab, scraped)
    names = names or NameSources.read(layout)
    upgrader, commons = names.upgrader, names.commons
    out = {}
    for page in page_ids:
        values, provenance = hierarchy.walk(int(page))
        taxon = Taxon(*(values.get(r, "") for r in RANKS))
        taxon, provenance = upgrader.upgrade(taxon, provenance)
        out[int(page)] = _named(taxon, provenance, commons, int(page))
    return out


def resolve_inat21(layout, class_dirs: Iterable[str], names: NameSources | None = None) -> dict[int, NamedTaxon]:
    """iNat21 cls_num → NamedTaxon from the class directory name, with a common name."""
    commons = names.commons if names else _common_names(layout)
    out = {}
    for name in class_dirs:
        cls_num, _, taxon = parse_inat21_class_dir(name)
        provenance = {r: f"class directory {name}" for r, v in zip(RANKS, taxon.values()) if v}
        out[cls_num] = _named(taxon, provenance, commons)
    return out


FIXED_PROVENANCE = f"fixed: every BIOSCAN-1M image is {', '.join(FIXED)}"
_FIXED_RANKS = RANKS[:3]


class BioscanLookup(Mapping):
    """(part, image_file) → NamedTaxon, every answer citing its own record (1-based) and line.

    One upgrade and common-name lookup per distinct taxon; per image only three integers are kept
    and the NamedTaxon is built when asked for, so the table stays small at 1.1 million images."""

    def __init__(self, source: str):
        self.source = source
        self._rows: dict[tuple[int, str], int] = {}
        self._answer, self._record, self._line = array("I"), array("I"), array("Q")
        self._answers: list[tuple[Taxon, tuple[str, ...], dict[str, str], str, str]] = []
        self._index: dict[Taxon, int] = {}

    def add(self, key: tuple[int, str], answer: int, record: int, line: int) -> None:
        row = self._rows.get(key)
        if row is None:  # a later record for the same image replaces an earlier one, as in the original
            self._rows[key] = len(self._answer)
            self._answer.append(answer), self._record.append(record), self._line.append(line)
        else:
            self._answer[row], self._record[row], self._line[row] = answer, record, line

    def __getitem__(self, key: tuple[int, str]) -> NamedTaxon:
        row = self._rows[key]
        taxon, own_ranks, upgraded, common, common_source = self._answers[self._answer[row]]
        where = f"{self.source}:{self._line[row]} (record {self._record[row]})"
        provenance = {r: FIXED_PROVENANCE for r in _FIXED_RANKS}
        provenance.update({r: where for r in own_ranks})
        provenance.update(upgraded)
        if common_source:
            provenance["common"] = common_source
        return NamedTaxon(taxon, common, provenance)

    def __iter__(self) -> Iterator[tuple[int, str]]:
        return iter(self._rows)

    def __len__(self) -> int:
        return len(self._rows)

    def __contains__(self, key) -> bool:
        return key in self._rows


def resolve_bioscan(layout, wanted: Iterable[tuple[int, str]] | None = None, names: NameSources | None = None) -> BioscanLookup:
    """(part, image_file) → NamedTaxon from the BIOSCAN metadata (streamed), upgraded, with a common
    name; ``wanted`` keeps only those images. Provenance: the image's own record and line, the fixed
    kingdom, phylum and class said to be fixed, upgraded ranks citing the upgrade table."""
    path = layout.bioscan_metadata
    if not path.exists():
        raise MissingSourceError(path, "source_paths.bioscan_metadata", "BIOSCAN metadata")
    names = names or NameSources.read(layout)
    upgrader, commons = names.upgrader, names.commons
    keep = None if wanted is None else set(wanted)
    table = BioscanLookup(path.name)
    for part, image_file, taxon, where in read_bioscan_metadata(path):
        key = (part, image_file)
        if keep is not None and key not in keep:
            continue
        answer = table._index.get(taxon)
        if answer is None:
            own = tuple(r for r, v in zip(RANKS, taxon.values()) if v and r not in _FIXED_RANKS)
            upgraded, provenance = upgrader.upgrade(taxon, {})
            common, common_source = commons.lookup(upgraded)
            answer = table._index[taxon] = len(table._answers)
            table._answers.append((upgraded, own, provenance, common, common_source))
        table.add(key, answer, where.record, where.line)
    return table
