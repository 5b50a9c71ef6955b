"""The EOL hierarchy walker: taxon.tab, scraped page names and the two hand corrections."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from tol10m_assets.taxonomy.names import clean_name
from tol10m_assets.taxonomy.readers import iter_rows, parse_int
from tol10m_assets.taxonomy.taxon import RANKS

TAXON_TAB_COLUMNS = ["taxonID", "parentNameUsageID", "taxonRank", "canonicalName", "scientificName", "eolID"]
# Two known errors of the hierarchy, corrected by hand in the original: page → (species, genus page).
HAND_CORRECTIONS = {331434: ("latouchii", 42333), 52338888: ("lateralis", 42333)}
_RANK_SET = set(RANKS)


@dataclass(frozen=True, slots=True)
class Node:
    rank: str  # one of RANKS, or "" for ranks we do not keep
    value: str
    parent: int  # parent page id, -1 for none
    source: str  # "taxon.tab:123"


class EolHierarchy:
    """page id → node, one compact record per accepted taxon; parent links are page ids."""

    def __init__(self, nodes: dict[int, Node], genus_pages: dict[str, int]):
        self.nodes = nodes
        self.genus_pages = genus_pages

    @classmethod
    def from_files(cls, taxon_tab: Path, scraped_page_ids: Path | None = None) -> "EolHierarchy":
        taxon_tab = Path(taxon_tab)
        name = taxon_tab.name
        page_of_taxon: dict[str, int] = {}
        raw: dict[int, tuple[str, str, str, int]] = {}
        intern: dict[str, str] = {}
        for line, row in iter_rows(taxon_tab, TAXON_TAB_COLUMNS, delimiter="\t", quoting=csv.QUOTE_NONE, names=TAXON_TAB_COLUMNS):
            eol_id = row["eolID"].strip()
            if not eol_id:
                continue  # not an accepted name
            page = parse_int(taxon_tab, line, "eolID", eol_id)
            page_of_taxon[row["taxonID"]] = page
            rank = row["taxonRank"].strip().lower()
            rank = intern.setdefault(rank, rank) if rank in _RANK_SET else ""
            value = row["canonicalName"].strip() or row["scientificName"].strip()
            if rank == "species":
                words = value.split()
                if len(words) == 2 and words[0][:1].isupper():
                    value = words[1]  # "Genus epithet": the stored value is the epithet
            if page not in raw:
                raw[page] = (rank, value, row["parentNameUsageID"], line)
        nodes: dict[int, Node] = {}
        genus_pages: dict[str, int] = {}
        for page, (rank, value, parent_taxon, line) in raw.items():
            nodes[page] = Node(rank, value, page_of_taxon.get(parent_taxon, -1), f"{name}:{line}")
            if rank == "genus":
                genus_pages[value.lower()] = page  # as the original: the last genus page of a name wins
        del raw, page_of_taxon
        hierarchy = cls(nodes, genus_pages)
        if scraped_page_ids is not None and Path(scraped_page_ids).exists():
            hierarchy._add_scraped(Path(scraped_page_ids))
        for page, (epithet, genus_page) in HAND_CORRECTIONS.items():
            hierarchy.nodes[page] = Node("species", epithet, genus_page, "hand correction")
        return hierarchy

    def _add_scraped(self, path: Path) -> None:
        """Low-quality names of pages the hierarchy lacks, cleaned first as the original does
        (``Passer montanus Linnaeus, 1758`` → ``passer montanus``): a two-word name is an epithet
        under the genus page found by its genus name; anything else is a species with no parent.
        Unlike the original, a genus that no page has is kept as a parentless genus node."""
        for line, row in iter_rows(path, ["page_id", "scientific_name"], names=["page_id", "scientific_name"]):
            page = parse_int(path, line, "page_id", row["page_id"])
            if page in self.nodes:
                continue
            name = clean_name(row["scientific_name"])
            words = name.split()
            source = f"{path.name}:{line}"
            if len(words) == 2:
                genus_page = self.genus_pages.get(words[0], -1)
                if genus_page == -1:
                    genus_page = -(len(self.nodes) + 2)  # a private genus node with no parent
                    self.nodes[genus_page] = Node("genus", words[0], -1, source)
                    self.genus_pages[words[0]] = genus_page
                self.nodes[page] = Node("species", words[1], genus_page, source)
            elif name:
                self.nodes[page] = Node("species", name, -1, source)

    def walk(self, page: int) -> tuple[dict[str, str], dict[str, str]]:
        """(rank → value, rank → provenance) collected from the page up to the root. As in the
        original, a rank seen twice on the way up takes the higher node's value."""
        values: dict[str, str] = {}
        provenance: dict[str, str] = {}
        seen = set()
        while page in self.nodes and page not in seen:
            seen.add(page)
            node = self.nodes[page]
            if node.rank:
                values[node.rank] = node.value
                provenance[node.rank] = node.source
            page = node.parent
        kept = {r: v for r, v in values.items() if v}
        return kept, {r: provenance[r] for r in kept}
