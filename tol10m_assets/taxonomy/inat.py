"""The iNat21 class directory: ``NNNNN_Kingdom_Phylum_Class_Order_Family_Genus_species``."""

from __future__ import annotations

from tol10m_assets.taxonomy.taxon import Taxon


def parse_inat21_class_dir(name: str) -> tuple[int, str, Taxon]:
    """(cls_num, cls_name, taxon); a name with fewer than eight fields keeps what it has."""
    number, _, cls_name = name.partition("_")
    if not number.isdigit():
        raise ValueError(f"not an iNat21 class directory name: {name!r}")
    parts = cls_name.split("_")
    ranks = parts[:6] + [" ".join(parts[6:])] if len(parts) >= 7 else parts + [""] * (7 - len(parts))
    return int(number), cls_name, Taxon(*ranks)
