"""Labels: the seven ranks and the common name of every image, with provenance.

Runs the taxonomy façades once per source over the keys the mapping needs (EOL page ids, iNat21
classes, BIOSCAN images) and joins the answers onto the mapping. No Dagster imports.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from tol10m_assets.columns import BATCH, ParquetSink, connect, pandas_schema
from tol10m_assets.layout import SourceLayout

RANK_COLUMNS = ["kingdom", "phylum", "class", "order", "family", "genus", "species"]
LABEL_COLUMNS = ["treeoflife_id", *RANK_COLUMNS, "common", "common_looked_up", "provenance"]


LABELS_SCHEMA = pandas_schema(
    {"treeoflife_id": "string", **{c: "string" for c in RANK_COLUMNS}, "common": "string", "common_looked_up": "bool", "provenance": "string"}
)
LOOKUP_KEYS = {"eol": ["eol_page_id"], "inat21": ["inat21_cls_num"], "bioscan": ["bioscan_part", "bioscan_filename"]}


def _named_rows(named) -> dict:
    from tol10m_assets.taxonomy import display_common

    ranks = named.taxon.as_tuple()
    return {
        **dict(zip(RANK_COLUMNS, ranks)),
        "common": display_common(named.taxon, named.common),
        "common_looked_up": bool(named.common),
        "provenance": json.dumps(named.provenance, sort_keys=True, ensure_ascii=False),
    }


def _lookup_frame(keys: list[str], table: dict) -> pd.DataFrame:
    """One row per lookup key, built column by column; ranks, the display common name (looked up,
    else scientific, else taxonomic: ``display_common``) and the provenance JSON once per distinct
    taxon / provenance object."""
    columns = [*keys, *LABEL_COLUMNS[1:]]
    if not table:
        return pd.DataFrame([], columns=columns)
    out: dict[str, list] = {c: [] for c in columns}
    key_lists = [out[k] for k in keys]
    rank_lists = [out[c] for c in RANK_COLUMNS]
    common, looked_up, provenance = out["common"], out["common_looked_up"], out["provenance"]
    by_taxon: dict[int, tuple] = {}
    by_provenance: dict[int, str] = {}
    for key, named in table.items():
        for lst, value in zip(key_lists, key if isinstance(key, tuple) else (key,)):
            lst.append(value)
        taxon = named.taxon
        ranks = by_taxon.get(id(taxon))
        if ranks is None:
            ranks = by_taxon[id(taxon)] = (taxon.as_tuple(), taxon.scientific or taxon.taxonomic)
        for lst, value in zip(rank_lists, ranks[0]):
            lst.append(value)
        common.append(named.common or ranks[1])
        looked_up.append(bool(named.common))
        prov = by_provenance.get(id(named.provenance))
        if prov is None:
            prov = by_provenance[id(named.provenance)] = json.dumps(named.provenance, sort_keys=True, ensure_ascii=False)
        provenance.append(prov)
    return pd.DataFrame(out, columns=columns)


def lookup_keys(mapping) -> dict:
    """The keys the mapping needs per source: EOL pages (sorted), iNat21 class folders (sorted),
    BIOSCAN (part, file) pairs; a source without images is absent. ``mapping``: a frame or a Parquet path."""
    con = connect()
    try:
        if isinstance(mapping, pd.DataFrame):
            con.register("m", mapping[["source", "eol_page_id", "inat21_cls_num", "inat21_cls_name", "bioscan_part", "bioscan_filename"]])
        else:
            con.execute(f"CREATE TEMP VIEW m AS SELECT * FROM read_parquet('{_quote(mapping)}')")
        present = {s for (s,) in con.execute("SELECT DISTINCT source FROM m").fetchall()}
        out: dict = {}
        if "eol" in present:
            rows = con.execute("SELECT DISTINCT eol_page_id FROM m WHERE source = 'eol' AND eol_page_id IS NOT NULL ORDER BY 1").fetchall()
            out["eol"] = [int(p) for (p,) in rows]
        if "inat21" in present:
            rows = con.execute("SELECT DISTINCT inat21_cls_num, inat21_cls_name FROM m WHERE source = 'inat21'").fetchall()
            out["inat21"] = sorted(f"{int(n):05d}_{name}" for n, name in rows)
        if "bioscan" in present:
            rows = con.execute("SELECT DISTINCT bioscan_part, bioscan_filename FROM m WHERE source = 'bioscan'").fetchall()
            out["bioscan"] = {(int(p), str(f)) for p, f in rows}
    finally:
        con.close()
    return out


def resolve_lookups(layout: SourceLayout, mapping, log=print) -> dict[str, pd.DataFrame]:
    """One lookup table per source present in the mapping (a frame or a Parquet path), keyed as the
    source names its images; the taxonomy runs once per distinct key."""
    from tol10m_assets.taxonomy import resolve_bioscan, resolve_eol, resolve_inat21
    from tol10m_assets.taxonomy.resolve import NameSources

    keys = lookup_keys(mapping)
    out: dict[str, pd.DataFrame] = {}
    names = NameSources.read(layout) if keys else None  # once for the three sources
    if "eol" in keys:
        log(f"resolving {len(keys['eol'])} EOL pages")
        out["eol"] = _lookup_frame(["eol_page_id"], resolve_eol(layout, keys["eol"], names))
    if "inat21" in keys:
        log(f"resolving {len(keys['inat21'])} iNat21 classes")
        out["inat21"] = _lookup_frame(["inat21_cls_num"], resolve_inat21(layout, keys["inat21"], names))
    if "bioscan" in keys:
        log("resolving BIOSCAN records")
        table = resolve_bioscan(layout, names=names)
        wanted = keys["bioscan"]
        out["bioscan"] = _lookup_frame(["bioscan_part", "bioscan_filename"], {k: v for k, v in table.items() if k in wanted})
        del table
    for frame in out.values():
        for col in frame.columns:
            if col in ("eol_page_id", "inat21_cls_num", "bioscan_part"):
                frame[col] = frame[col].astype("Int64")
    return out


def write_lookup_atomic(table, out: Path) -> None:
    """``lookups/<source>.parquet``: a pandas frame (computed) or an Arrow table (lookup label sources)."""
    if isinstance(table, pd.DataFrame):
        from tol10m_assets.catalog import write_frame_atomic

        write_frame_atomic(table, out)
        return
    import os

    import pyarrow.parquet as pq

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, out)


def _quote(path) -> str:
    return str(path).replace("'", "''")


def _label_sql(con, lookups: dict[str, pd.DataFrame]) -> tuple[str, pa.Table]:
    """SQL of (treeoflife_id, _li) per mapped image, and the label rows ``_li`` points into."""
    label_cols = LABEL_COLUMNS[1:]
    parts, labels, offset = [], [], 0
    for source in LOOKUP_KEYS:
        table = lookups.get(source)
        if table is None or not len(table):
            parts.append(f"SELECT treeoflife_id, NULL::BIGINT AS _li FROM m WHERE source = '{source}'")
            continue
        key = [c for c in (table.column_names if isinstance(table, pa.Table) else table.columns) if c not in label_cols]
        rows = np.arange(offset, offset + len(table), dtype=np.int64)
        if isinstance(table, pa.Table):  # a label source's Arrow table (any key columns: page, class, id)
            keys = table.select(key).append_column("_li", pa.array(rows))
            labels.append(table.select(label_cols).replace_schema_metadata(None))
        else:
            keys = table[key].reset_index(drop=True).assign(_li=rows)
            labels.append(pa.Table.from_pandas(table[label_cols], preserve_index=False).replace_schema_metadata(None))
        con.register(f"lk_{source}", keys)
        on = " AND ".join(f"m.{k} = l.{k}" for k in key)
        parts.append(f"SELECT m.treeoflife_id, l._li FROM m LEFT JOIN lk_{source} l ON {on} WHERE m.source = '{source}'")
        offset += len(table)
    target = pa.schema([LABELS_SCHEMA.field(c) for c in label_cols])
    labels = [t.cast(target) for t in labels]
    combined = pa.concat_tables(labels).combine_chunks() if labels else target.empty_table()
    return " UNION ALL ".join(parts) + " ORDER BY treeoflife_id", combined


def write_labels(mapping: Path, lookups: dict[str, pd.DataFrame], out: Path) -> int:
    """``labels.parquet``: the mapping's ids joined by key to the lookups (DuckDB joins row numbers;
    the label columns are gathered per batch), sorted by id; images no lookup knows get empty ranks."""
    con = connect()
    try:
        con.execute(f"CREATE TEMP VIEW m AS SELECT * FROM read_parquet('{_quote(mapping)}')")
        sql, labels = _label_sql(con, lookups)
        fill = {c: "" for c in [*RANK_COLUMNS, "common", "provenance"]}
        with ParquetSink(out, LABELS_SCHEMA) as sink:
            for batch in con.sql(sql).to_arrow_reader(BATCH):
                rows = labels.take(batch.column(1))
                cols = {"treeoflife_id": batch.column(0)}
                for name in LABEL_COLUMNS[1:]:
                    col = rows.column(name)
                    cols[name] = pc.fill_null(col, False if name == "common_looked_up" else fill[name])
                sink.write(pa.table(cols))
        return sink.rows
    finally:
        con.close()


def join_labels(mapping: pd.DataFrame, lookups: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One label row per mapped image; images no lookup knows get empty ranks (skipped as no_taxon)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "mapping.parquet"
        mapping.to_parquet(path, index=False)
        write_labels(path, lookups, Path(tmp) / "labels.parquet")
        return pd.read_parquet(Path(tmp) / "labels.parquet")


def complete_share_from_parquet(labels: Path, mapping: Path) -> dict[str, float]:
    """Per source, the share of images with all seven ranks (by column, in DuckDB)."""
    con = connect()
    try:
        full = " AND ".join(f'l."{c}" <> \'\'' for c in RANK_COLUMNS)
        rows = con.execute(
            f"""SELECT m.source, count(*), count(*) FILTER ({full})
                FROM read_parquet('{_quote(labels)}') l JOIN read_parquet('{_quote(mapping)}') m USING (treeoflife_id)
                GROUP BY m.source"""
        ).fetchall()
    finally:
        con.close()
    return {s: round(float(c / n), 4) for s, n, c in sorted(rows)}


def complete_share(labels: pd.DataFrame, mapping: pd.DataFrame) -> dict[str, float]:
    """Per source, the share of images with all seven ranks."""
    merged = labels.merge(mapping[["treeoflife_id", "source"]], on="treeoflife_id")
    complete = (merged[RANK_COLUMNS] != "").all(axis=1)
    return {s: round(float(complete[merged["source"] == s].mean()), 4) for s in sorted(merged["source"].unique())}
