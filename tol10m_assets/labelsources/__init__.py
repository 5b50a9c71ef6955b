"""Label sources: where the seven ranks and the common name of every image come from.

Every source yields, per image source present in the mapping, one lookup table (Arrow or pandas):
its key column(s) and the label columns of ``labels.parquet`` (seven ranks, ``common``,
``common_looked_up``, ``provenance``). ``labels.write_labels`` joins them onto the mapping, so
shards, the catalog and ``tol10m explain`` work the same for every source.

- ``computed``: the naming code over the raw name sources (generate mode's default);
- ``published``: the published name lookups ``metadata/naming/*.json`` (reproduce mode's default);
- ``table``: a Parquet or CSV keyed by ``treeoflife_id`` (for instance TaxonoPy's output).

No Dagster imports.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tol10m_assets.layout import SourceLayout

LABEL_SOURCES = ("computed", "published", "table")


def default_label_source(mode: str) -> str:
    """``published`` in reproduce mode (the original's reproduction reads no name source), else ``computed``."""
    return "published" if mode == "reproduce" else "computed"


def chosen_label_source(mode: str, setting: str = "") -> str:
    source = setting or default_label_source(mode)
    if source not in LABEL_SOURCES:
        raise ValueError(f"label_source must be one of {', '.join(LABEL_SOURCES)}, not {source!r}")
    return source


def label_inputs(source: str) -> tuple[str, ...]:
    """The layout fields a label source reads (the table source reads its own file, ``label_table``)."""
    if source == "published":
        from tol10m_assets.labelsources.published import LOOKUP_FIELDS

        return tuple(LOOKUP_FIELDS.values())
    if source == "computed":
        return ("taxon_tab", "scraped_page_ids", "eol_vernacular", "itis_chains", "resolved", "inat_taxa",
                "inat_vernacular", "bioscan_metadata")
    return ()


def resolve_labels(source: str, layout: SourceLayout, mapping: Path, *, table: str | Path = "", log: Callable = print) -> dict:
    """Lookup tables per image source of the mapping, from the chosen label source."""
    if source == "computed":
        from tol10m_assets.labelsources.computed import computed_lookups

        return computed_lookups(layout, mapping, log=log)
    if source == "published":
        from tol10m_assets.labelsources.published import published_lookups

        return published_lookups(layout, mapping, log=log)
    if source == "table":
        from tol10m_assets.labelsources.table import table_lookups

        if not table:
            raise ValueError("label_source `table` needs `label_table`: the path of a Parquet or CSV keyed by treeoflife_id")
        return table_lookups(Path(table), mapping, log=log)
    raise ValueError(f"label_source must be one of {', '.join(LABEL_SOURCES)}, not {source!r}")


__all__ = ["LABEL_SOURCES", "chosen_label_source", "default_label_source", "label_inputs", "resolve_labels"]
