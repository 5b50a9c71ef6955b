"""The upgrader: fill missing higher ranks from the ITIS chains, then from resolved names.

The table maps a name to its rank and parent (``genus species`` → family → order → class →
phylum → kingdom). A name can sit at two ranks (homonyms such as ``collembola``, class or order
under Arthropoda; ``protozoa``, kingdom or phylum); each name keeps every (rank, parent) it was
seen with, and the walk always takes the closest rank above the one it comes from.
"""

from __future__ import annotations

import json
from pathlib import Path

from tol10m_assets.errors import InputFormatError
from tol10m_assets.taxonomy.readers import iter_lines, iter_rows
from tol10m_assets.taxonomy.taxon import RANKS, Taxon

ITIS_COLUMNS = ["Kingdom", "Phylum", "Class", "Order", "Family", "Genus", "Species"]
_LEVEL = {r: i for i, r in enumerate(RANKS)}
# Special cases the data gets wrong: name → (rank, parent).
SPECIAL_PARENTS = {"leptogaster flavipes": ("species", "asilidae")}


def fix_known_errors(values: list[str]) -> None:
    """One known data error: family charinidae under order squamata is boidae."""
    if values[3] == "squamata" and values[4] == "charinidae":
        values[4] = "boidae"


class Upgrader:
    def __init__(self):
        self.table: dict[str, dict[str, tuple[str | None, str]]] = {}  # name → rank → (parent, source)
        self.itis_name = "species_level_taxonomy_chains"  # file-name prefix of ITIS provenance

    def _add(self, name: str, rank: str, parent: str | None, source: str, override: bool) -> None:
        if not name:
            return
        entries = self.table.setdefault(name, {})
        if not override and entries:
            return
        entries.setdefault(rank, (parent, source))

    def add_chain(self, ranks: dict[str, str], source: str, override: bool = True) -> None:
        """A chain kingdom … family plus ``genus species``; empty ranks are skipped over."""
        chain = [(r, ranks.get(r, "")) for r in ("species", "family", "order", "class", "phylum", "kingdom")]
        chain = [(r, v) for r, v in chain if v]
        for i, (rank, name) in enumerate(chain):
            parent = chain[i + 1][1] if i + 1 < len(chain) else None
            self._add(name, rank, parent, source, override)

    @classmethod
    def from_files(cls, itis_chains: Path | None, resolved: Path | None = None) -> "Upgrader":
        up = cls()
        if itis_chains is not None and Path(itis_chains).exists():
            path = Path(itis_chains)
            up.itis_name = path.name
            for line, row in iter_rows(path, ITIS_COLUMNS, names=ITIS_COLUMNS):
                t = Taxon(*(row[c] for c in ITIS_COLUMNS))
                k, p, c, o, f, g, s = t.values()
                species = f"{g} {s}" if g and s else ""
                up.add_chain(dict(kingdom=k, phylum=p, **{"class": c}, order=o, family=f, species=species), f"{path.name}:{line}")
        if resolved is not None and Path(resolved).exists():
            up._add_resolved(Path(resolved))
        for name, (rank, parent) in SPECIAL_PARENTS.items():
            up.table.setdefault(name, {})[rank] = (parent, "special case")
        return up

    def _add_resolved(self, path: Path) -> None:
        for line, text in enumerate(iter_lines(path), start=1):
            if not text.strip():
                continue
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as exc:
                raise InputFormatError(path, f"not JSON ({exc.msg})", line=line) from None
            if not isinstance(obj, dict):
                raise InputFormatError(path, "expected a JSON object", line=line)
            # as the original: the line's first name and that name's first answer only
            for name, answers in list(obj.items())[:1]:
                if not isinstance(answers, dict):
                    raise InputFormatError(path, f"answers for {name!r} are not an object", line=line)
                for answer in list(answers.values())[:1]:
                    if not isinstance(answer, dict):
                        raise InputFormatError(path, f"the answer for {name!r} is not an object", line=line)
                    t = Taxon(answer.get("kingdom"), answer.get("phylum"), answer.get("class"), answer.get("order"), answer.get("family"), "", name)
                    k, p, c, o, f, g, s = t.values()
                    species = f"{g} {s}" if g and s else ""
                    self.add_chain(dict(kingdom=k, phylum=p, **{"class": c}, order=o, family=f, species=species), f"{path.name}:{line}", override=False)

    def _parent(self, name: str, rank: str) -> tuple[str, str, str] | None:
        """(parent name, parent rank, source) of ``name`` seen at ``rank``."""
        entries = self.table.get(name)
        if not entries:
            return None
        entry = entries.get(rank)
        if entry is None:
            # the closest rank at or above the one asked for (homonyms)
            above = sorted((r for r in entries if _LEVEL[r] <= _LEVEL[rank]), key=lambda r: -_LEVEL[r])
            if not above:
                return None
            entry = entries[above[0]]
        parent, source = entry
        if parent is None:
            return None
        level = _LEVEL[rank] - 1 if rank != "species" else _LEVEL["family"]
        candidates = self.table.get(parent, {})
        ranks_above = sorted((r for r in candidates if _LEVEL[r] <= level), key=lambda r: -_LEVEL[r])
        parent_rank = ranks_above[0] if ranks_above else None
        if parent_rank is None:
            return None
        return parent, parent_rank, source

    def _fill(self, values: list[str], begin: int, trace: list[str] | None = None) -> tuple[list[str], dict[str, str]]:
        trial = list(values)
        filled: dict[str, str] = {}
        if begin >= 5:
            name, rank = f"{values[5]} {values[6]}", "species"
        else:
            name, rank = values[begin], RANKS[begin]
        if trace is not None:
            trace.append(f"start from {rank} '{name}'")
        for _ in range(len(RANKS)):
            step = self._parent(name, rank)
            if step is None:
                if trace is not None:
                    trace.append(f"  '{name}' ({rank}): no parent in the upgrade table")
                break
            parent, parent_rank, source = step
            i = _LEVEL[parent_rank]
            was_empty = not trial[i]
            if was_empty:
                trial[i] = parent
                origin = "ITIS" if source.startswith(self.itis_name) else source.split(":", 1)[0]
                filled[parent_rank] = f"{source} (upgraded from {origin})"
            if trace is not None:
                done = "filled" if was_empty else f"already '{trial[i]}'"
                trace.append(f"  '{name}' ({rank}) → {parent_rank} '{parent}' [{source}]: {done}")
            name, rank = parent, parent_rank
        fix_known_errors(trial)
        return trial, filled

    def upgrade(self, taxon: Taxon, provenance: dict[str, str] | None = None, trace: list[str] | None = None) -> tuple[Taxon, dict[str, str]]:
        """Fill empty ranks from the highest rank that is continuous down to the species; if the result
        is still incomplete, start one step lower and try again (spec section 4). ``trace`` (a list)
        receives one line per step, for ``tol10m_assets.explain``."""
        values = list(taxon.values())
        fix_known_errors(values)
        provenance = dict(provenance or {})
        if all(values) or not values[5] or not values[6]:
            if trace is not None:
                trace.append("complete: nothing to upgrade" if all(values) else "no genus and species: not upgraded")
            return Taxon(*values), provenance
        start = 6
        while start > 0 and values[start - 1]:
            start -= 1
        best: tuple[list[str], dict[str, str]] | None = None
        for begin in range(min(start, 5), 6):
            trial, filled = self._fill(values, begin, trace)
            if all(trial):
                best = (trial, filled)
                break
            if filled and (best is None or len(filled) > len(best[1])):
                best = (trial, filled)
        if best is not None:
            values = best[0]
            provenance.update(best[1])
        if trace is not None:
            trace.append("result: " + ("complete" if all(values) else "still incomplete") + (f", ranks filled: {', '.join(best[1])}" if best else ", nothing filled"))
        return Taxon(*values), provenance
