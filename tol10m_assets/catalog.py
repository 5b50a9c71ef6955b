"""``catalog.csv`` and the taxa figures (``check_taxa``), built without decoding a single image.

The catalog is read back from the shards themselves (tar headers and text members: the key, the
``taxonTag.txt`` and ``common_name.txt`` members) and joined with the mapping for the source ids.
No Dagster imports.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

from tol10m_assets.labels import RANK_COLUMNS
from tol10m_assets.splits import SPLITS

CATALOG_COLUMNS = [
    "split",
    "treeoflife_id",
    "eol_content_id",
    "eol_page_id",
    "bioscan_part",
    "bioscan_filename",
    "inat21_filename",
    "inat21_cls_name",
    "inat21_cls_num",
    *RANK_COLUMNS,
    "common",
]
ID_COLUMNS = CATALOG_COLUMNS[2:9]
TAG_PREFIX, TAG_SUFFIX = "a photo of ", "."
CATALOG_TEXTS = ("taxonTag.txt", "common_name.txt")  # all the catalog needs from a sample


def _order(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    df["_split"] = df["split"].map({s: i for i, s in enumerate(SPLITS)})
    df = df.sort_values(["_split", "treeoflife_id"], kind="stable").drop(columns="_split")
    return df[CATALOG_COLUMNS].reset_index(drop=True)


def predicted_catalog(mapping: pd.DataFrame, splits: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    """The catalog as predicted before shards are written (rare species still in; no_taxon rows too)."""
    base = mapping.merge(splits, on="treeoflife_id").merge(labels, on="treeoflife_id", how="left")
    frames = [
        base[~base["is_val"]].assign(split="train"),
        base[base["is_val"]].assign(split="val"),
        base[base["is_train_small"]].assign(split="train_small"),
    ]
    return _order(pd.concat(frames, ignore_index=True))


def _relation(source) -> str:
    """SQL for a catalog-like input: a Parquet or CSV path (CSV read as text, empty = NULL)."""
    path = str(source).replace("'", "''")
    if str(source).endswith(".csv"):
        return (f"read_csv('{path}', header = true, all_varchar = true, delim = ',', quote = '\"', escape = '\"',"
                " auto_detect = false, columns = {" + ", ".join(f"'{c}': 'VARCHAR'" for c in _csv_columns(source)) + "})")
    return f"read_parquet('{path}')"


def _csv_columns(path) -> list[str]:
    import csv

    with open(path, newline="", encoding="utf-8") as f:
        return next(csv.reader(f), [])


_CATALOG_KINDS = {c: ("int" if c in ("eol_content_id", "eol_page_id", "bioscan_part", "inat21_cls_num") else "text") for c in CATALOG_COLUMNS}


def write_predicted_catalog(mapping: Path, splits: Path, labels: Path, out: Path) -> dict[str, int]:
    """``predicted-catalog.csv`` from the three Parquet files in one DuckDB query (join, split rows,
    sort, CSV lines with pandas' quoting), streamed to disk; the bytes of :func:`predicted_catalog`
    written with ``write_frame_atomic``. Returns the rows per split."""
    from tol10m_assets.columns import BATCH, connect, csv_field_sql, csv_header, write_csv_lines

    q = lambda p: str(p).replace("'", "''")  # noqa: E731
    line = " || ',' || ".join(csv_field_sql(c, _CATALOG_KINDS[c]) for c in CATALOG_COLUMNS) + " || chr(10)"
    ranks = ", ".join(f'l."{c}"' for c in [*RANK_COLUMNS, "common"])
    sql = f"""
        WITH base AS (
            SELECT m.*, s.is_val, s.is_train_small, {ranks}
            FROM read_parquet('{q(mapping)}') m
            JOIN read_parquet('{q(splits)}') s USING (treeoflife_id)
            LEFT JOIN read_parquet('{q(labels)}') l USING (treeoflife_id)
        ), rows AS (
            SELECT t._s, ['train', 'val', 'train_small'][t._s + 1] AS split, base.*
            FROM base, (VALUES (0), (1), (2)) t(_s)
            WHERE (t._s = 0 AND NOT is_val) OR (t._s = 1 AND is_val) OR (t._s = 2 AND is_train_small)
        )
        SELECT {line} AS line, _s FROM rows ORDER BY _s, treeoflife_id
    """
    counts = [0, 0, 0]

    def batches(reader):
        for batch in reader:
            for s, n in zip(*np.unique(batch.column(1).to_numpy(), return_counts=True)):
                counts[int(s)] += int(n)
            yield batch

    con = connect()
    try:
        write_csv_lines(out, csv_header(CATALOG_COLUMNS), batches(con.sql(sql).to_arrow_reader(BATCH)))
    finally:
        con.close()
    return dict(zip(SPLITS, counts))


@functools.lru_cache(maxsize=1_000_000)
@functools.lru_cache(maxsize=1 << 20)  # a species' tag repeats in every one of its samples
def ranks_from_tag(text: str) -> tuple[str, ...]:
    """Ranks from a ``taxonTag.txt`` member (``a photo of kingdom Animalia … species domesticus.``)."""
    from tol10m_assets.taxonomy import Taxon

    if text.startswith(TAG_PREFIX):
        text = text[len(TAG_PREFIX) :]
    if text.endswith(TAG_SUFFIX):
        text = text[: -len(TAG_SUFFIX)]
    return Taxon.from_tagged(text).as_tuple()


def catalog_from_shards(dataset_dir: Path, mapping: pd.DataFrame) -> pd.DataFrame:
    """One row per sample actually written, read from shard headers and text members."""
    from tol10m_assets.shards import iter_shard_members, shard_paths

    rows = []
    for split in SPLITS:  # rows in catalog order: by split, then by id (as _order sorts)
        in_split = []
        for shard in shard_paths(dataset_dir, split=split):
            for sample in iter_shard_members(shard, texts=CATALOG_TEXTS):
                in_split.append(
                    (split, sample["__key__"], *ranks_from_tag(sample["taxonTag.txt"]), sample["common_name.txt"])
                )
        in_split.sort(key=lambda row: row[1])
        rows += in_split
    names = ["split", "treeoflife_id", *RANK_COLUMNS, "common"]
    columns = list(zip(*rows)) if rows else [()] * len(names)
    written = pd.DataFrame({name: pd.Series(col, dtype="string" if name == "treeoflife_id" else None) for name, col in zip(names, columns)})
    ids = mapping[["treeoflife_id", *ID_COLUMNS]]
    merged = written.merge(ids, on="treeoflife_id", how="left")  # a left merge keeps the order
    return merged[CATALOG_COLUMNS].reset_index(drop=True)


def write_frame_atomic(df: pd.DataFrame, path: Path) -> None:
    """CSV or Parquet by suffix, via a hidden temp file renamed into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    if path.suffix == ".parquet":
        df.to_parquet(tmp, index=False)
    else:
        df.to_csv(tmp, index=False)
    os.replace(tmp, path)


def write_json_atomic(obj, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


# --- check_taxa ------------------------------------------------------------------------------


def source_of(catalog: pd.DataFrame) -> pd.Series:
    src = pd.Series("eol", index=catalog.index, dtype="string")
    src[catalog["inat21_cls_num"].notna()] = "inat21"
    src[catalog["bioscan_part"].notna()] = "bioscan"
    return src


def taxa_figures(catalog: pd.DataFrame) -> dict:
    """The figures of the original ``check_taxa`` (spec section 6) on a catalog, train_small left out."""
    df = catalog[catalog["split"] != "train_small"].fillna({c: "" for c in RANK_COLUMNS + ["common"]})
    has = {c: df[c].astype(str) != "" for c in RANK_COLUMNS}
    above = lambda rank: [has[c] for c in RANK_COLUMNS[: RANK_COLUMNS.index(rank)]]  # noqa: E731

    def any_missing(cols):
        out = pd.Series(False, index=df.index)
        for c in cols:
            out |= ~c
        return out

    gap_genus = has["genus"] & any_missing(above("genus"))
    gap_family = ~has["genus"] & has["family"] & any_missing(above("family"))
    gap_order = ~has["genus"] & ~has["family"] & has["order"] & any_missing(above("order"))
    any_higher = has["kingdom"] | has["phylum"] | has["class"] | has["order"] | has["family"]
    species_no_genus = has["species"] & ~has["genus"] & any_higher
    complete = pd.Series(True, index=df.index)
    for c in RANK_COLUMNS:
        complete &= has[c]
    source = source_of(df)
    rows = len(df)
    figures = {
        "rows": rows,
        "kingdoms": sorted(k for k in df["kingdom"].astype(str).unique() if k),
        "gap_missing_above_genus": int(gap_genus.sum()),
        "gap_missing_above_family": int(gap_family.sum()),
        "gap_missing_above_order": int(gap_order.sum()),
        "species_without_genus": int(species_no_genus.sum()),
        "multiword_species": int(df["species"].astype(str).str.contains(" ").sum()),
        "unidentified_species": int((df["species"].astype(str) == "(unidentified)").sum()),
        "empty_common_by_source": {s: int(((df["common"].astype(str) == "") & (source == s)).sum()) for s in ("eol", "inat21", "bioscan")},
        "complete_rows": int(complete.sum()),
        "complete_share": round(float(complete.mean()), 4) if rows else 0.0,
        "unique_taxa": unique_taxa(df),
    }
    figures["kingdom_count"] = len(figures["kingdoms"])
    figures["hierarchy_gaps"] = (
        figures["gap_missing_above_genus"]
        + figures["gap_missing_above_family"]
        + figures["gap_missing_above_order"]
        + figures["species_without_genus"]
    )
    return figures


def unique_taxa(catalog: pd.DataFrame) -> dict[str, int]:
    """Unique seven-rank tuples in the whole dataset and per source (train_small excluded)."""
    df = catalog[catalog["split"] != "train_small"]
    source = source_of(df)
    ranks = df[RANK_COLUMNS].astype(str)  # distinct rows, hashed by pandas (no Python call per row)
    out = {"all": len(ranks.drop_duplicates())}
    for s in ("eol", "inat21", "bioscan"):
        out[s] = len(ranks[(source == s).to_numpy()].drop_duplicates())
    return out


def _register_catalog(con, source) -> str:
    """A view ``cat`` over a catalog-like input (Parquet/CSV path, DataFrame or Arrow table) with its
    row number ``_row``; returns the view name."""
    if isinstance(source, (str, Path)):
        rel = _relation(source)
        if str(source).endswith(".csv"):
            con.execute(f"CREATE TEMP VIEW cat AS SELECT *, row_number() OVER () AS _row FROM {rel}")
        else:
            path = str(source).replace("'", "''")
            con.execute(f"CREATE TEMP VIEW cat AS SELECT * EXCLUDE (file_row_number), file_row_number AS _row FROM read_parquet('{path}', file_row_number = true)")
    else:
        table = source if not isinstance(source, pd.DataFrame) else source.reset_index(drop=True)
        con.register("_cat_input", table)
        con.execute("CREATE TEMP VIEW cat AS SELECT *, row_number() OVER () AS _row FROM _cat_input")
    return "cat"


def _text(column: str) -> str:
    return f"""coalesce(CAST("{column}" AS VARCHAR), '')"""


_R = {"kingdom": "k", "phylum": "p", "class": "c", "order": "o", "family": "f", "genus": "g", "species": "s"}


def taxa_figures_from_parquet(source) -> dict:
    """:func:`taxa_figures` computed by DuckDB over a catalog Parquet or CSV file (or a frame / Arrow
    table) without loading it: one aggregate pass plus the distinct taxa; train_small left out."""
    from tol10m_assets.columns import connect

    con = connect()
    try:
        _register_catalog(con, source)
        ranks = ", ".join(f"{_text(c)} AS {a}" for c, a in _R.items())
        con.execute(
            f"""CREATE TEMP VIEW d AS SELECT {ranks}, coalesce(CAST(common AS VARCHAR), '') AS com,
                CASE WHEN bioscan_part IS NOT NULL THEN 'bioscan' WHEN inat21_cls_num IS NOT NULL THEN 'inat21' ELSE 'eol' END AS src,
                concat_ws(chr(31), {", ".join(_text(c) for c in RANK_COLUMNS)}) AS tup
                FROM cat WHERE split IS DISTINCT FROM 'train_small'"""
        )
        e = lambda a: f"{a} = ''"  # noqa: E731
        h = lambda a: f"{a} <> ''"  # noqa: E731
        (rows, gap_g, gap_f, gap_o, sp_ng, multi, unid, complete, empty_eol, empty_inat, empty_bio,
         u_all, u_eol, u_inat, u_bio) = con.execute(
            f"""SELECT count(*),
                count(*) FILTER ({h('g')} AND ({' OR '.join(e(a) for a in 'kpcof')})),
                count(*) FILTER ({e('g')} AND {h('f')} AND ({' OR '.join(e(a) for a in 'kpco')})),
                count(*) FILTER ({e('g')} AND {e('f')} AND {h('o')} AND ({' OR '.join(e(a) for a in 'kpc')})),
                count(*) FILTER ({h('s')} AND {e('g')} AND ({' OR '.join(h(a) for a in 'kpcof')})),
                count(*) FILTER (contains(s, ' ')),
                count(*) FILTER (s = '(unidentified)'),
                count(*) FILTER ({' AND '.join(h(a) for a in 'kpcofgs')}),
                count(*) FILTER (com = '' AND src = 'eol'),
                count(*) FILTER (com = '' AND src = 'inat21'),
                count(*) FILTER (com = '' AND src = 'bioscan'),
                count(DISTINCT tup), count(DISTINCT tup) FILTER (src = 'eol'),
                count(DISTINCT tup) FILTER (src = 'inat21'), count(DISTINCT tup) FILTER (src = 'bioscan')
                FROM d"""
        ).fetchall()[0]
        kingdoms = sorted(k for (k,) in con.execute("SELECT DISTINCT k FROM d WHERE k <> ''").fetchall())
    finally:
        con.close()
    figures = {
        "rows": int(rows),
        "kingdoms": kingdoms,
        "gap_missing_above_genus": int(gap_g),
        "gap_missing_above_family": int(gap_f),
        "gap_missing_above_order": int(gap_o),
        "species_without_genus": int(sp_ng),
        "multiword_species": int(multi),
        "unidentified_species": int(unid),
        "empty_common_by_source": {"eol": int(empty_eol), "inat21": int(empty_inat), "bioscan": int(empty_bio)},
        "complete_rows": int(complete),
        "complete_share": round(float(complete / rows), 4) if rows else 0.0,
        "unique_taxa": {"all": int(u_all), "eol": int(u_eol), "inat21": int(u_inat), "bioscan": int(u_bio)},
    }
    figures["kingdom_count"] = len(kingdoms)
    figures["hierarchy_gaps"] = gap_g + gap_f + gap_o + sp_ng
    return figures


taxa_figures_from_file = taxa_figures_from_parquet


def rare_leaks(source, rules, examples: int = 20) -> dict:
    """Rows of a catalog (Parquet/CSV path, frame or Arrow table) that the Rare Species rules exclude:
    the species rule runs once per distinct seven-rank tuple, EOL images match by (content id,
    page id), iNat21/BIOSCAN images by file name, all as joins in DuckDB.
    Returns ``{"rows", "leaks", "examples": ["split/id", ...]}`` (examples in catalog order)."""
    import pyarrow as pa

    from tol10m_assets.columns import connect
    from tol10m_assets.taxonomy import Taxon

    con = connect()
    try:
        _register_catalog(con, source)
        ranks = ", ".join(f"{_text(c)} AS {a}" for c, a in _R.items())
        con.execute(
            f"""CREATE TEMP VIEW r AS SELECT _row, split, treeoflife_id, {ranks},
                TRY_CAST(eol_content_id AS BIGINT) AS content, TRY_CAST(eol_page_id AS BIGINT) AS page,
                eol_content_id IS NULL AS not_eol,
                regexp_replace(coalesce(CAST(inat21_filename AS VARCHAR), CAST(bioscan_filename AS VARCHAR)), '^.*/', '') AS fname
                FROM cat"""
        )
        distinct = con.execute("SELECT DISTINCT k, p, c, o, f, g, s FROM r").fetchall()
        bad = [t for t in distinct if rules.excludes_species(Taxon(*t))]
        cols = list("kpcofgs")
        con.register("bad_species", pa.table({a: pa.array([t[i] for t in bad], pa.string()) for i, a in enumerate(cols)}))
        pairs = sorted(rules.eol_images)
        con.register("bad_eol", pa.table({"content": pa.array([p[0] for p in pairs], pa.int64()), "page": pa.array([p[1] for p in pairs], pa.int64())}))
        con.register("bad_files", pa.table({"fname": pa.array(sorted(rules.files), pa.string())}))
        # the three rule tables hold distinct keys: the left joins never repeat a catalog row
        con.execute(
            f"""CREATE TEMP VIEW flagged AS SELECT r._row, r.split, r.treeoflife_id,
                    (b.k IS NOT NULL OR e.content IS NOT NULL OR f.fname IS NOT NULL) AS leak
                FROM r
                LEFT JOIN bad_species b ON {" AND ".join(f"b.{a} = r.{a}" for a in cols)}
                LEFT JOIN bad_eol e ON NOT r.not_eol AND e.content = r.content AND e.page = r.page
                LEFT JOIN bad_files f ON r.not_eol AND f.fname = r.fname"""
        )
        rows, leaks = con.execute("SELECT count(*), count(*) FILTER (leak) FROM flagged").fetchall()[0]
        found = []
        if leaks:
            found = con.execute(f"SELECT split, treeoflife_id FROM flagged WHERE leak ORDER BY _row LIMIT {int(examples)}").fetchall()
    finally:
        con.close()
    return {"rows": int(rows), "leaks": int(leaks), "examples": [f"{s}/{i}" for s, i in found]}


from tol10m_assets.thresholds import DEFAULT_THRESHOLDS  # noqa: E402 (light: read when definitions load)
EXPECTED_KINGDOMS = ("Animalia", "Fungi", "Plantae")


def judge_taxa(figures: dict, thresholds: dict | None = None) -> tuple[str, list[str]]:
    """``("PASS" | "WARN" | "ERROR", reasons)`` from figures and (warn, error) thresholds."""
    limits = {**DEFAULT_THRESHOLDS, **(thresholds or {})}
    rows = max(figures["rows"], 1)
    values = {
        "hierarchy_gap_share": figures["hierarchy_gaps"] / rows,
        "multiword_species_share": figures["multiword_species"] / rows,
        "unidentified_species": figures["unidentified_species"],
        "incomplete_share": 1 - figures["complete_share"] if figures["rows"] else 0.0,
        "unexpected_kingdoms": len(set(figures["kingdoms"]) - set(EXPECTED_KINGDOMS)),
    }
    level, reasons = "PASS", []
    for name, value in values.items():
        warn, error = limits[name]
        if value > error:
            level = "ERROR"
            reasons.append(f"{name} = {value:.4g} > error threshold {error}")
        elif value > warn:
            level = "WARN" if level == "PASS" else level
            reasons.append(f"{name} = {value:.4g} > warn threshold {warn}")
    return level, reasons


def taxa_report_markdown(figures: dict, level: str = "", reasons: list[str] | None = None) -> str:
    lines = ["# Taxa report", "", "| figure | value |", "|---|---|"]
    for key in (
        "rows",
        "kingdom_count",
        "kingdoms",
        "complete_rows",
        "complete_share",
        "hierarchy_gaps",
        "gap_missing_above_genus",
        "gap_missing_above_family",
        "gap_missing_above_order",
        "species_without_genus",
        "multiword_species",
        "unidentified_species",
    ):
        value = figures[key]
        lines.append(f"| {key} | {', '.join(value) if isinstance(value, list) else value} |")
    lines += ["", "## Unique seven-rank taxa (train_small excluded)", "", "| source | unique taxa | empty common names |", "|---|---|---|"]
    for s in ("all", "eol", "inat21", "bioscan"):
        empty = figures["empty_common_by_source"].get(s, sum(figures["empty_common_by_source"].values()))
        lines.append(f"| {s} | {figures['unique_taxa'][s]} | {empty} |")
    if level:
        lines += ["", f"Verdict: **{level}**"] + [f"- {r}" for r in reasons or []]
    lines += ["", "Published figures (dataset card): over 10 million images, about 454 thousand taxa, 84% of images with all seven ranks."]
    return "\n".join(lines) + "\n"
