"""Common names, first source wins for a scientific name: ITIS English vernaculars, then
iNaturalist English, then EOL English names preferred by EOL, then any other EOL English name."""

from __future__ import annotations

from pathlib import Path

from tol10m_assets.taxonomy.names import clean_name, strip_html
from tol10m_assets.taxonomy.readers import iter_rows
from tol10m_assets.taxonomy.taxon import Taxon

_ENGLISH = {"english", "en", "eng"}


class CommonNames:
    def __init__(self):
        self.by_name: dict[str, tuple[str, str]] = {}  # lower scientific name → (common, source)
        self.by_page: dict[int, tuple[str, str]] = {}  # EOL page id → (common, source)

    def _put(self, table: dict, key, common: str, source: str) -> None:
        common = " ".join(strip_html(common).split())
        if key and common and key not in table:
            table[key] = (common, source)

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
        cols = ["Genus", "Species", "terminal_vernacular", "terminal_vernacular_lang"]
        for line, row in iter_rows(path, cols):
            commons = [c.strip() for c in row["terminal_vernacular"].split(", ")] if row["terminal_vernacular"] else []
            langs = [x.strip().lower() for x in row["terminal_vernacular_lang"].split(", ")] if row["terminal_vernacular_lang"] else []
            english = [c for c, lang in zip(commons, langs) if lang in _ENGLISH]
            if not english and commons and not langs:
                english = commons[:1]
            if english:
                key = Taxon(genus=row["Genus"], species=row["Species"]).scientific.lower()
                self._put(self.by_name, key, english[0], f"{path.name}:{line}")

    def _add_inat(self, taxa: Path, vernacular: Path) -> None:
        first: dict[str, tuple[str, int]] = {}
        for line, row in iter_rows(vernacular, ["id", "vernacularName"]):
            first.setdefault(row["id"].strip(), (row["vernacularName"], line))
        cols = ["id", "scientificName", "genus", "specificEpithet"]
        for _line, row in iter_rows(taxa, cols):
            hit = first.get(row["id"].strip())
            if not hit:
                continue
            source = f"{vernacular.name}:{hit[1]}"
            self._put(self.by_name, clean_name(row["scientificName"]), hit[0], source)
            if row["genus"] and row["specificEpithet"]:
                key = Taxon(genus=row["genus"], species=row["specificEpithet"]).scientific.lower()
                self._put(self.by_name, key, hit[0], source)

    def _add_eol(self, path: Path) -> None:
        cols = ["page_id", "canonical_form", "vernacular_string", "language_code", "is_preferred_by_eol"]
        later: list[tuple[str, int, str, int]] = []
        for line, row in iter_rows(path, cols):
            if row["language_code"].strip().lower() not in _ENGLISH:
                continue
            name = clean_name(row["canonical_form"])
            page = int(row["page_id"]) if row["page_id"].strip().isdigit() else -1
            if row["is_preferred_by_eol"].strip().lower() in ("1", "true", "t", "yes", "preferred"):
                self._put(self.by_name, name, row["vernacular_string"], f"{path.name}:{line}")
                self._put(self.by_page, page, row["vernacular_string"], f"{path.name}:{line}")
            else:
                later.append((name, page, row["vernacular_string"], line))
        for name, page, common, line in later:
            self._put(self.by_name, name, common, f"{path.name}:{line}")
            self._put(self.by_page, page, common, f"{path.name}:{line}")

    def lookup(self, taxon: Taxon, page_id: int | None = None) -> tuple[str, str]:
        """(common name, provenance), or ("", "") when no source knows one."""
        hit = self.by_name.get(taxon.scientific.lower()) if taxon.scientific else None
        if hit is None and page_id is not None:
            hit = self.by_page.get(page_id)
        return hit or ("", "")
