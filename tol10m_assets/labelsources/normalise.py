"""Shared by the lookup-based label sources: normalise each distinct seven-rank tuple once (spec
section 4) and derive the display common name, as a DuckDB join (never a Python object per image)."""

from __future__ import annotations

import pyarrow as pa

from tol10m_assets.labels import RANK_COLUMNS

RAW = [f"r{i}" for i in range(7)]


def labelled(con, view: str, keys: list[str]) -> pa.Table:
    """``view`` has the key columns, raw ranks ``r0`` … ``r6`` (no NULLs), ``looked`` (the looked-up common
    name, '' for none) and ``prov`` (the provenance JSON). Returns the key columns and the label columns
    (ranks normalised and rendered, common = looked up, else scientific, else taxonomic), sorted by key."""
    from tol10m_assets.taxonomy import Taxon

    distinct = con.execute(f"SELECT DISTINCT {', '.join(RAW)} FROM {view}").fetchall()
    taxa = [Taxon(*t) for t in distinct]
    columns = {r: pa.array([t[i] for t in distinct], pa.string()) for i, r in enumerate(RAW)}
    rendered = [t.as_tuple() for t in taxa]
    columns.update({c: pa.array([t[i] for t in rendered], pa.string()) for i, c in enumerate(RANK_COLUMNS)})
    columns["fallback"] = pa.array([t.scientific or t.taxonomic for t in taxa], pa.string())
    con.register("_normalised", pa.table(columns))
    on = " AND ".join(f"v.{r} = n.{r}" for r in RAW)
    key_list = ", ".join(f"v.{k}" for k in keys)
    try:
        return con.sql(
            f"""SELECT {key_list}, {", ".join(f'n."{c}"' for c in RANK_COLUMNS)},
                       CASE WHEN v.looked <> '' THEN v.looked ELSE n.fallback END AS common,
                       v.looked <> '' AS common_looked_up, v.prov AS provenance
                FROM {view} v JOIN _normalised n ON {on}
                ORDER BY {key_list}"""
        ).to_arrow_table()
    finally:
        con.unregister("_normalised")
