"""The original's readers, re-implemented from the spec (section 8) as an oracle: how its
reproduction parses ``metadata/naming/*.json`` and queries ``mapping.sqlite`` for a split.
Deliberately independent of tol10m_assets (plain json and sqlite3)."""

from __future__ import annotations

import json
import sqlite3

RANKS = ("kingdom", "phylum", "class", "order", "family", "genus", "species")


def load_name_lookup(path, keytype=str) -> dict:
    """key → (seven ranks, common): every value must be [[7 ranks], common, [7 integer indexes]]."""
    with open(path, encoding="utf-8") as handle:
        lookup = json.load(handle)
    assert isinstance(lookup, dict), f"{path}: not one JSON object"
    out = {}
    for key, value in lookup.items():
        taxon, common, classes = value  # exactly three elements, as the original unpacks them
        assert len(taxon) == 7 and all(isinstance(r, str) for r in taxon), (path, key)
        assert isinstance(common, str), (path, key)
        assert len(classes) == 7 and all(isinstance(i, int) for i in classes), (path, key)
        out[keytype(key)] = (tuple(taxon), common)
    return out


def split_images(mapping_sqlite, split: str) -> dict[str, list[tuple]]:
    """The images of ``split`` per source, as the original's reproduction selects them."""
    where = {"val": "s.is_val = 1", "train": "s.is_val = 0", "train_small": "s.is_val = 0 AND s.is_train_small = 1"}[split]
    con = sqlite3.connect(mapping_sqlite)
    try:
        return {
            "eol": con.execute(f"SELECT e.content_id, e.page_id, e.evobio10m_id FROM eol e JOIN split s ON e.evobio10m_id = s.evobio10m_id WHERE {where}").fetchall(),
            "inat21": con.execute(f"SELECT i.filename, i.cls_name, i.cls_num, i.evobio10m_id FROM inat21 i JOIN split s ON i.evobio10m_id = s.evobio10m_id WHERE {where}").fetchall(),
            "bioscan": con.execute(f"SELECT b.part, b.filename, b.evobio10m_id FROM bioscan b JOIN split s ON b.evobio10m_id = s.evobio10m_id WHERE {where}").fetchall(),
        }
    finally:
        con.close()


def display_common(taxon: tuple, common: str) -> str:
    """Looked-up common, else ``Genus species``, else the taxonomic name (spec section 4)."""
    scientific = " ".join(x for x in taxon[5:] if x)
    return common or scientific[:1].upper() + scientific[1:] or " ".join(x for x in taxon if x)


def labels_by_id(naming_dir, mapping_sqlite) -> dict[str, tuple]:
    """treeoflife_id → (seven ranks, common) for every image of the mapping that the lookups label."""
    eol = load_name_lookup(naming_dir / "eol_name_lookup.json", int)
    inat = load_name_lookup(naming_dir / "inat21_name_lookup.json", int)
    bio = load_name_lookup(naming_dir / "bioscan_name_lookup.json")
    out = {}
    for split in ("train", "val"):
        images = split_images(mapping_sqlite, split)
        for _content, page, tid in images["eol"]:
            if page in eol:
                out[tid] = eol[page]
        for _f, _name, cls, tid in images["inat21"]:
            if cls in inat:
                out[tid] = inat[cls]
        for _p, _f, tid in images["bioscan"]:
            if tid in bio:
                out[tid] = bio[tid]
    return out
