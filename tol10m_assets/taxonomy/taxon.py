"""The seven-rank taxon (spec section 4) and its renderings."""

from __future__ import annotations

from dataclasses import dataclass

from tol10m_assets.taxonomy.names import clean_name, lower, strip_html

RANKS = ("kingdom", "phylum", "class", "order", "family", "genus", "species")
_EMPTY_VALUES = {"(unidentified)", "unknown", "pleasehelp"}
_KINGDOM_SYNONYMS = {"metazoa": "animalia", "archaeplastida": "plantae", "chloroplastida": "plantae"}


def _basic(value: str | None) -> str:
    if not value:
        return ""
    value = " ".join(lower(strip_html(str(value))).split())
    return "" if value in _EMPTY_VALUES else value


def _collapse_runs(words: list[str]) -> list[str]:
    out: list[str] = []
    for w in words:
        if not out or out[-1] != w:
            out.append(w)
    return out


def normalise(kingdom, phylum, class_, order, family, genus, species) -> tuple[str, ...]:
    """The seven normalised (lower-case) values, following spec section 4 steps 1-5."""
    k, p, c, o, f, g, s = (_basic(v) for v in (kingdom, phylum, class_, order, family, genus, species))
    s = clean_name(s) if s else ""
    k = _KINGDOM_SYNONYMS.get(k, k)
    words = s.split()
    if len(words) > 1:
        if g and words[0] == g:
            words = words[1:]
        elif not g:
            g, words = words[0], words[1:]
        # Fixed: the original collapsed only an exact pair ("a a"); any run of one word collapses.
        words = _collapse_runs(words)
        s = " ".join(words)
    values = [clean_name(v) if v else "" for v in (k, p, c, o, f, g, s)]
    values[0] = _KINGDOM_SYNONYMS.get(values[0], values[0])
    return tuple(values)


def _cap(value: str) -> str:
    return value[:1].upper() + value[1:]


@dataclass(frozen=True, init=False)
class Taxon:
    """A seven-rank taxon, normalised on construction.

    >>> Taxon("Animalia", "", "", "", "", "", "geospiza fuliginosa fuliginosa fuliginosa").as_tuple()
    ('Animalia', '', '', '', '', 'Geospiza', 'fuliginosa')
    """

    kingdom: str
    phylum: str
    class_: str
    order: str
    family: str
    genus: str
    species: str

    def __init__(self, kingdom="", phylum="", class_="", order="", family="", genus="", species=""):
        for name, value in zip(("kingdom", "phylum", "class_", "order", "family", "genus", "species"),
                               normalise(kingdom, phylum, class_, order, family, genus, species)):
            object.__setattr__(self, name, value)

    @classmethod
    def from_tagged(cls, text: str) -> "Taxon":
        """Parse ``kingdom Animalia phylum Chordata … species domesticus`` (missing ranks allowed)."""
        values: dict[str, list[str]] = {}
        current = -1
        for token in text.split():
            idx = RANKS.index(token) if token in RANKS else -1
            if idx > current:
                current = idx
                values[RANKS[idx]] = []
            elif current >= 0:
                values[RANKS[current]].append(token)
        return cls(*(" ".join(values.get(r, [])) for r in RANKS))

    def values(self) -> tuple[str, ...]:
        return (self.kingdom, self.phylum, self.class_, self.order, self.family, self.genus, self.species)

    def as_tuple(self) -> tuple[str, ...]:
        """The seven output values: kingdom … genus capitalised, species lower-case."""
        v = self.values()
        return (*(_cap(x) for x in v[:6]), v[6])

    @property
    def is_empty(self) -> bool:
        return not any(self.values())

    @property
    def is_complete(self) -> bool:
        return all(self.values())

    @property
    def scientific(self) -> str:
        """``Genus species``; ``Genus`` without species; without genus, the species capitalised as
        the original's ``str.capitalize`` does (``aphelocoma`` → ``Aphelocoma``)."""
        out = self.as_tuple()
        return _cap(" ".join(x for x in (out[5], out[6]) if x))

    @property
    def taxonomic(self) -> str:
        return " ".join(x for x in self.as_tuple() if x)

    @property
    def tagged(self) -> str:
        return " ".join(f"{rank} {value}" for rank, value in zip(RANKS, self.as_tuple()) if value)


def display_common(taxon: Taxon, common: str) -> str:
    """The common name for captions and the catalog: looked up, else scientific, else taxonomic."""
    return common or taxon.scientific or taxon.taxonomic


def captions(taxon: Taxon, common: str) -> dict[str, str]:
    """The ten text members of a sample, keyed by member suffix (spec section 2)."""
    return caption_texts(taxon.as_tuple(), common)


def caption_texts(values: tuple[str, ...], common: str) -> dict[str, str]:
    """The ten text members made of the seven output values (``Taxon.as_tuple``, as the catalog has
    them) and a common name; what :func:`captions` writes, and what the release checks against."""
    sci = _cap(" ".join(x for x in (values[5], values[6]) if x))
    tax = " ".join(x for x in values if x)
    tag = " ".join(f"{rank} {value}" for rank, value in zip(RANKS, values) if value)
    com = common or sci or tax
    return {
        "scientific_name.txt": sci,
        "taxonomic_name.txt": tax,
        "common_name.txt": com,
        "sci.txt": f"a photo of {sci}.",
        "com.txt": f"a photo of {com}.",
        "taxon.txt": f"a photo of {tax}.",
        "taxonTag.txt": f"a photo of {tag}.",
        "sci_com.txt": f"a photo of {sci} with common name {com}.",
        "taxon_com.txt": f"a photo of {tax} with common name {com}.",
        "taxonTag_com.txt": f"a photo of {tag} with common name {com}.",
    }
