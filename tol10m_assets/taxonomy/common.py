"""Common names, as the original's ``CommonNameLookup`` builds them: one table from a scientific
name (exactly as written, e.g. ``Passer domesticus``) to a common name, filled in this order:

1. ITIS chains: per row, the first non-empty name whose language is exactly ``English``, under
   the row's ``Genus species``; a later ITIS row for the same name replaces an earlier one (the
   original's ``id not in self`` test is always true). Names are kept as written.
2. iNaturalist: ``taxa.csv`` rows of rank species or variety; English vernaculars in file order,
   empty ones skipped; the first name wins, under both the taxon's ``Genus epithet`` and
   iNaturalist's own ``scientificName``. Names are kept as written.
3. EOL ``vernacularnames.csv``, ``language_code`` exactly ``eng``: first the rows preferred by EOL
   (any non-empty ``is_preferred_by_eol``; EOL writes ``preferred``), then every row; the first
   name wins, under ``strip_html(canonical_form)``. Names are cleaned like every other name
   (``clean_name``: ``North Sumatran Leaf Monkey`` → ``north sumatran leaf monkey``).

A taxon's common name is the entry for its scientific name; there is no other fallback.
"""

from __future__ import annotations

from pathlib import Path

from tol10m_assets.taxonomy.names import clean_name, strip_html
from tol10m_assets.taxonomy.readers import iter_rows, parse_int
from tol10m_assets.taxonomy.taxon import Taxon

ITIS_COLUMNS = ["Kingdom", "Phylum", "Class", "Order", "Family", "Genus", "Species", "terminal_vernacular", "terminal_vernacular_lang"]
INAT_TAXA_COLUMNS = ["id", "taxonRank", "scientificName", "kingdom", "phylum", "class", "order", "family", "genus", "specificEpithet"]
EOL_COLUMNS = ["page_id", "canonical_form", "vernacular_string", "language_code", "is_preferred_by_eol"]


class CommonNames:
    def __init__(self):
        self.by_name: dict[str, tuple[str, str]] = {}  # scientific name → (common, "file:line")

    def _first(self, key: str, common: str, source: str) -> None:
        if key and common and key not in self.by_name:
            self.by_name[key] = (common, source)

    @classmethod
    def from_files(cls, itis_chains=None, inat_taxa=None, inat_vernacular=None, eol_vernacular=None) -> "CommonNames":
        names = cls()
        if itis_chains and Path(itis_chains).exists():
            names._add_itis(Path(itis_chains))
        if inat_taxa and inat_vernacular and Path(inat_taxa).exists() and Path(inat_vernacular).exists():
            names._add_inat(Path(inat_taxa), Path(inat_vernacular))
        if eol_vernacular and Path(eol_vernacular).exists():
            names._add_eol(Path(eol_vernacular))
        return names

    def _add_itis(self, path: Path) -> None:
        for line, row in iter_rows(path, ITIS_COLUMNS, names=ITIS_COLUMNS):
            commons = row["terminal_vernacular"].split(", ")
            langs = row["terminal_vernacular_lang"].split(", ")
            for common, lang in zip(commons, langs):  # lists of unequal length: zip stops at the shorter
                if common and lang == "English":
                    taxon = Taxon(*(row[c] for c in ITIS_COLUMNS[:7]))
                    if taxon.scientific:
                        self.by_name[taxon.scientific] = (common, f"{path.name}:{line}")  # the last row wins
                    break

    def _add_inat(self, taxa: Path, vernacular: Path) -> None:
        by_id: dict[int, tuple[str, str]] = {}
        for line, row in iter_rows(taxa, INAT_TAXA_COLUMNS, names=INAT_TAXA_COLUMNS):
            if row["taxonRank"] in ("species", "variety"):
                taxon = Taxon(*(row[c] for c in INAT_TAXA_COLUMNS[3:]))
                by_id[parse_int(taxa, line, "id", row["id"])] = (taxon.scientific, row["scientificName"])
        for line, row in iter_rows(vernacular, ["id", "vernacularName"], names=["id", "vernacularName"]):
            name = row["vernacularName"]
            if not name:
                continue  # an empty name never hides a later real one
            scientific, raw = by_id.get(parse_int(vernacular, line, "id", row["id"]), ("", ""))
            source = f"{vernacular.name}:{line}"
            self._first(scientific, name, source)
            self._first(raw, name, source)

    def _add_eol(self, path: Path) -> None:
        later: list[tuple[str, str, int]] = []
        for line, row in iter_rows(path, EOL_COLUMNS, names=EOL_COLUMNS):
            if row["language_code"] != "eng":
                continue
            scientific, common = strip_html(row["canonical_form"]), clean_name(row["vernacular_string"])
            if row["is_preferred_by_eol"]:
                self._first(scientific, common, f"{path.name}:{line}")
            later.append((scientific, common, line))
        for scientific, common, line in later:
            self._first(scientific, common, f"{path.name}:{line}")

    def lookup(self, taxon: Taxon, page_id: int | None = None) -> tuple[str, str]:
        """(common name, provenance), or ("", "") when no source knows one. ``page_id`` is
        accepted for callers of the old signature and not used: the original looked names up by
        scientific name only."""
        return self.by_name.get(taxon.scientific, ("", "")) if taxon.scientific else ("", "")
