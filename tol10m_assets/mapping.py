"""The mapping: one ``treeoflife_id`` per source image, and ``mapping.sqlite`` in the original schema.

* ``generate`` mode: ids are UUID5 of the image's source identity in a fixed namespace, so a rebuild
  gives the same ids (the original used random uuid4s).
* ``reproduce`` mode: ids come from the published ``mapping.sqlite``; EOL members are named by id.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from tol10m_assets.columns import BATCH, ParquetSink, connect, pandas_schema
from tol10m_assets.errors import InputFormatError, MissingSourceError
from tol10m_assets.layout import SourceLayout
from tol10m_assets.sources import Chunking, SourceImage
from tol10m_assets.sources.images import eol_dir
from tol10m_assets.sources.listing import LISTING_SCHEMA, list_sources

NAMESPACE = uuid.uuid5(uuid.NAMESPACE_OID, "tol10m-assets/treeoflife_id")

COLUMNS = [
    "treeoflife_id",
    "source",
    "partition",
    "origin",
    "eol_content_id",
    "eol_page_id",
    "inat21_filename",
    "inat21_cls_name",
    "inat21_cls_num",
    "bioscan_part",
    "bioscan_filename",
]
INT_COLUMNS = ["eol_content_id", "eol_page_id", "inat21_cls_num", "bioscan_part"]
MAPPING_SCHEMA = pandas_schema({c: "Int64" if c in INT_COLUMNS else "string" for c in COLUMNS})
PUBLISHED_TABLES = {
    "eol": ["content_id", "page_id", "evobio10m_id"],
    "inat21": ["filename", "cls_name", "cls_num", "evobio10m_id"],
    "bioscan": ["part", "filename", "evobio10m_id"],
    "split": ["evobio10m_id", "is_val", "is_train_small"],
}


def source_identity(img: SourceImage) -> str:
    """The stable identity string of a source image (what the UUID5 is taken of)."""
    if img.source == "eol":
        return f"eol/{img.eol_content_id}/{img.eol_page_id}"
    if img.source == "inat21":
        return f"inat21/{img.inat21_cls_num}/{img.inat21_filename}"
    return f"bioscan/{img.bioscan_part}/{img.bioscan_filename}"


def generated_id(img: SourceImage) -> str:
    return str(uuid.uuid5(NAMESPACE, source_identity(img)))


def _frame(rows: list[dict]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=COLUMNS)
    for col in INT_COLUMNS:
        df[col] = df[col].astype("Int64")
    for col in set(COLUMNS) - set(INT_COLUMNS):
        df[col] = df[col].astype("string")
    return df


def _row(img: SourceImage, treeoflife_id: str) -> dict:
    return {
        "treeoflife_id": treeoflife_id,
        "source": img.source,
        "partition": img.partition,
        "origin": img.origin,
        "eol_content_id": img.eol_content_id,
        "eol_page_id": img.eol_page_id,
        "inat21_filename": img.inat21_filename,
        "inat21_cls_name": img.inat21_cls_name,
        "inat21_cls_num": img.inat21_cls_num,
        "bioscan_part": img.bioscan_part,
        "bioscan_filename": img.bioscan_filename,
    }


def read_published_mapping(path: Path) -> dict[str, pd.DataFrame]:
    """The four tables of a published ``mapping.sqlite``; a missing table or column names the file."""
    if not path.exists():
        raise MissingSourceError(path, "source_paths.published_mapping", "published mapping.sqlite")
    out = {}
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as con:
        for table, cols in PUBLISHED_TABLES.items():
            try:
                have = [r[1] for r in con.execute(f"PRAGMA table_info({table})")]
            except sqlite3.DatabaseError as exc:
                raise InputFormatError(path, f"not a readable SQLite database ({exc})") from exc
            missing = [c for c in cols if c not in have]
            if not have:
                raise InputFormatError(path, f"table {table!r} is missing")
            if missing:
                raise InputFormatError(path, f"table {table!r} lacks column(s) {', '.join(missing)}")
            out[table] = pd.read_sql_query(f"SELECT {', '.join(cols)} FROM {table}", con)
    return out


def build_mapping(layout: SourceLayout, chunking: Chunking) -> tuple[pd.DataFrame, dict]:
    """The mapping frame (one row per source image, sorted) and figures about what was left out.

    Small worlds and tests; the asset streams the same rows to Parquet with :func:`write_mapping`."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "mapping.parquet"
        summary = write_mapping(list_mapping_sources(layout, chunking), chunking.mode, out, published_for(layout, chunking))
        frame = pd.read_parquet(out)
    return frame, summary.left_out


class EmptyMappingError(RuntimeError):
    """A listing found no image where a non-empty mapping exists (sources unmounted or moved?)."""


@dataclass
class MappingSummary:
    rows: int
    per_source: dict[str, int]
    partitions: list[str]
    left_out: dict[str, int] = field(default_factory=dict)


def published_for(layout: SourceLayout, chunking: Chunking) -> dict[str, pd.DataFrame] | None:
    """The published tables in reproduce mode, else None."""
    return read_published_mapping(layout.published_mapping) if chunking.mode == "reproduce" else None


def list_mapping_sources(layout: SourceLayout, chunking: Chunking) -> list[pa.Table]:
    """The listing of every source (Arrow tables in source order) the mapping is built from."""
    return list(iter_mapping_sources(layout, chunking))


def iter_mapping_sources(layout: SourceLayout, chunking: Chunking, workers: int = 1) -> Iterator[pa.Table]:
    """The same tables, one at a time (the asset's path: ``write_mapping`` spills them to Parquet as
    they come). The EOL sets are indexed (where their index is missing or stale) and listed
    ``workers`` at a time, each index read once."""
    return (t for t in list_sources(layout, chunking, workers) if t.num_rows)


def source_roots(layout: SourceLayout, chunking: Chunking) -> list[str]:
    """The folders the images are listed from (named by the empty-mapping error)."""
    return [str(eol_dir(layout, chunking.mode)[0]), str(layout.inat21_train), str(layout.bioscan_images)]


def _uuid5_sql(h: str) -> str:
    """SQL for ``str(uuid.uuid5(NAMESPACE, name))`` from ``h``, the hex SHA-1 of namespace + UTF-8
    name (:func:`_sha1_sql`): version 5, RFC 4122 variant."""
    return (
        f"substr({h}, 1, 8) || '-' || substr({h}, 9, 4) || '-5' || substr({h}, 14, 3) || '-'"
        f" || substr('89ab89ab89ab89ab', instr('0123456789abcdef', substr({h}, 17, 1)), 1) || substr({h}, 18, 3)"
        f" || '-' || substr({h}, 21, 12)"
    )


def _sha1_sql(name: str) -> str:
    return f"sha1(unhex('{NAMESPACE.hex}') || encode({name}))"


_IDENTITY_SQL = (
    "CASE source WHEN 'eol' THEN 'eol/' || eol_content_id || '/' || eol_page_id"
    " WHEN 'inat21' THEN 'inat21/' || inat21_cls_num || '/' || inat21_filename"
    " ELSE 'bioscan/' || bioscan_part || '/' || bioscan_filename END"
)


def _register_listing(con, listing: Iterable[pa.Table | Path | str], spill: Path) -> None:
    """View ``listing``: the listing tables (or Parquet files of them) with ``_ord``, the row's place.
    Consecutive Arrow tables are streamed into one Parquet file in the folder ``spill`` as they come
    (the listing is never held whole in memory: at 10.4M images it was ~2 GB beside DuckDB's sort)."""
    parts: list[str] = []
    offset = 0
    writer: pq.ParquetWriter | None = None
    written: list[Path] = []
    pending: list[pa.Table] = []  # small tables (one per iNat21 class) gathered into row groups of ~BATCH rows

    def write_pending() -> None:
        if pending:
            writer.write_table(pa.concat_tables(pending), row_group_size=max(BATCH, sum(t.num_rows for t in pending)))
            pending.clear()

    def add_file(path, n: int) -> None:
        nonlocal offset
        name = f"_l{len(parts)}"
        con.execute(
            f"CREATE TEMP VIEW {name} AS SELECT * EXCLUDE (file_row_number), file_row_number + {offset} AS _ord"
            f" FROM read_parquet('{_quote(path)}', file_row_number = true)"
        )
        parts.append(name)
        offset += n

    def spill_file() -> Path:
        spill.mkdir(parents=True, exist_ok=True)
        return spill / f"{len(parts)}.parquet"

    def close_spill() -> None:
        nonlocal writer
        if writer is not None:
            write_pending()
            writer.close()
            writer = None
            path = written[-1]
            add_file(path, pq.read_metadata(path).num_rows)

    for item in listing:
        if isinstance(item, (str, Path)):
            close_spill()
            add_file(item, pq.read_metadata(item).num_rows)
        else:
            if writer is None:
                written.append(spill_file())
                writer = pq.ParquetWriter(written[-1], LISTING_SCHEMA)
            pending.append(item.select(LISTING_SCHEMA.names).cast(LISTING_SCHEMA))
            if sum(t.num_rows for t in pending) >= BATCH:
                write_pending()
    close_spill()
    if not parts:
        empty = spill_file()
        pq.write_table(LISTING_SCHEMA.empty_table(), empty)
        add_file(empty, 0)
    cols = ", ".join(LISTING_SCHEMA.names)
    con.execute("CREATE TEMP VIEW listing AS " + " UNION ALL ".join(f"SELECT {cols}, _ord FROM {p}" for p in parts))


def _quote(path) -> str:
    return str(path).replace("'", "''")


def _register_published(con, published: dict[str, pd.DataFrame]) -> None:
    """The published tables, one row per key (the last, as a dict built row by row keeps)."""
    for table, key in (("eol", "evobio10m_id"), ("inat21", "cls_num, filename"), ("bioscan", "part, filename")):
        frame = published[table].reset_index(drop=True).assign(_ord=lambda f: range(len(f)))
        con.register(f"_pub_{table}_raw", frame)
        con.execute(
            f"CREATE TEMP VIEW pub_{table} AS SELECT * FROM _pub_{table}_raw"
            f" QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY _ord DESC) = 1"
        )


_CANDIDATES = {
    "generate": f"""
        SELECT {_uuid5_sql("_h")} AS treeoflife_id, source, partition, origin, eol_content_id, eol_page_id,
               inat21_filename, inat21_cls_name, inat21_cls_num, bioscan_part, bioscan_filename, _ord
        FROM (SELECT *, {_sha1_sql(_IDENTITY_SQL)} AS _h FROM listing WHERE NOT bad_name)""",
    "reproduce": """
        SELECT CASE g.source WHEN 'eol' THEN pe.evobio10m_id WHEN 'inat21' THEN pi.evobio10m_id ELSE pb.evobio10m_id END
                   AS treeoflife_id,
               g.source, g.partition, g.origin,
               CASE WHEN g.source = 'eol' THEN CAST(pe.content_id AS BIGINT) ELSE g.eol_content_id END AS eol_content_id,
               CASE WHEN g.source = 'eol' THEN CAST(pe.page_id AS BIGINT) ELSE g.eol_page_id END AS eol_page_id,
               g.inat21_filename, g.inat21_cls_name, g.inat21_cls_num, g.bioscan_part, g.bioscan_filename, g._ord
        FROM listing g
        LEFT JOIN pub_eol pe ON g.source = 'eol' AND g.published_id = pe.evobio10m_id
        LEFT JOIN pub_inat21 pi ON g.source = 'inat21' AND g.inat21_cls_num = CAST(pi.cls_num AS BIGINT)
                                AND g.inat21_filename = pi.filename
        LEFT JOIN pub_bioscan pb ON g.source NOT IN ('eol', 'inat21') AND g.bioscan_part = CAST(pb.part AS BIGINT)
                                 AND g.bioscan_filename = pb.filename
        WHERE NOT g.bad_name""",
}


def write_mapping(
    listing: Iterable[pa.Table | Path | str],
    mode: str,
    out: Path,
    published: dict[str, pd.DataFrame] | None = None,
    roots: Iterable[str] = (),
) -> MappingSummary:
    """The mapping, streamed from the listing to ``out`` (Parquet, the bytes ``to_parquet`` of the
    sorted frame gives) by DuckDB: ids (UUID5 in SQL, or the published ones), first listing of an
    id kept, rows sorted by partition and origin. Refuses to replace a non-empty mapping by an empty
    one (:class:`EmptyMappingError`, naming ``roots``)."""
    if mode not in _CANDIDATES:
        raise ValueError(f"mode must be generate or reproduce, not {mode!r}")
    out = Path(out)
    spill = out.with_name(f".{out.name}.listing-{os.getpid()}")
    con = connect()
    try:
        _register_listing(con, listing, spill)
        if mode == "reproduce":
            if published is None:
                raise ValueError("reproduce mode needs the published mapping tables")
            _register_published(con, published)
        con.execute(f"CREATE TEMP VIEW cand AS {_CANDIDATES[mode]}")
        bad, good = con.execute("SELECT count(*) FILTER (bad_name), count(*) FILTER (NOT bad_name) FROM listing").fetchall()[0]
        unknown = 0
        if mode == "reproduce":
            unknown = con.execute("SELECT count(*) FROM cand WHERE treeoflife_id IS NULL").fetchall()[0][0]
        cols = ", ".join(f"c.{c}" for c in COLUMNS)
        reader = con.sql(
            f"""
            WITH dup AS (SELECT treeoflife_id, min(_ord) AS keep FROM cand WHERE treeoflife_id IS NOT NULL
                         GROUP BY treeoflife_id HAVING count(*) > 1)
            SELECT {cols} FROM cand c LEFT JOIN dup d USING (treeoflife_id)
            WHERE c.treeoflife_id IS NOT NULL AND (d.keep IS NULL OR c._ord = d.keep)
            ORDER BY c.partition, c.origin, c._ord
            """
        ).to_arrow_reader(BATCH)
        sink = ParquetSink(out, MAPPING_SCHEMA)
        try:
            for batch in reader:
                sink.write(batch)
            rows = sink.rows + sink.pending_rows
            if rows == 0:
                refuse_empty_mapping(out, list(roots))
        except BaseException:
            sink.abort()
            raise
        sink.close()
        per_source = dict(
            con.execute(f"SELECT source, count(*) FROM read_parquet('{_quote(out)}') GROUP BY source ORDER BY source").fetchall()
        )
        partitions = sorted(r[0] for r in con.execute(f"SELECT DISTINCT partition FROM read_parquet('{_quote(out)}')").fetchall())
    finally:
        con.close()
        shutil.rmtree(spill, ignore_errors=True)
    left_out = {"bad_member_name": int(bad), "duplicate_source_image": int(good - unknown - rows), "not_in_published_mapping": int(unknown)}
    return MappingSummary(rows, {k: int(v) for k, v in per_source.items()}, partitions, left_out)


def refuse_empty_mapping(existing: Path, roots: list[str]) -> None:
    """Raise :class:`EmptyMappingError` when ``existing`` is a mapping with rows (an empty listing
    must not replace it)."""
    existing = Path(existing)
    if not existing.exists():
        return
    try:
        have = pq.read_metadata(existing).num_rows
    except (OSError, pa.ArrowException):  # an unreadable old file is no mapping to keep
        return
    if have:
        where = ", ".join(roots) or "(no source roots given)"
        raise EmptyMappingError(
            f"{existing}: refusing to replace a mapping of {have} images by an empty one: no source image was "
            f"listed under {where} (are the sources mounted? remove {existing.name} to start from nothing)"
        )


def mapping_summary(path: Path) -> MappingSummary:
    """Rows, rows per source and partitions of a written mapping (read by column)."""
    con = connect()
    try:
        rel = f"read_parquet('{_quote(path)}')"
        per_source = dict(con.execute(f"SELECT source, count(*) FROM {rel} GROUP BY source").fetchall())
        partitions = sorted(r[0] for r in con.execute(f"SELECT DISTINCT partition FROM {rel}").fetchall())
    finally:
        con.close()
    return MappingSummary(sum(per_source.values()), {k: int(v) for k, v in sorted(per_source.items())}, partitions)


def write_mapping_sqlite_from_parquet(path: Path, mapping: Path, splits: Path) -> None:
    """``mapping.sqlite`` (the original four tables) from the mapping and splits Parquet files, read
    batch by batch; the same bytes as :func:`write_mapping_sqlite` of the frames."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    con = connect()
    try:
        with sqlite3.connect(tmp) as db:
            db.execute("CREATE TABLE eol (content_id INTEGER, page_id INTEGER, evobio10m_id TEXT)")
            db.execute("CREATE TABLE inat21 (filename TEXT, cls_name TEXT, cls_num INTEGER, evobio10m_id TEXT)")
            db.execute("CREATE TABLE bioscan (part INTEGER, filename TEXT, evobio10m_id TEXT)")
            db.execute("CREATE TABLE split (evobio10m_id TEXT, is_val INTEGER, is_train_small INTEGER)")
            rel = f"read_parquet('{_quote(mapping)}')"
            for table, cols, where in (
                ("eol", "eol_content_id, eol_page_id, treeoflife_id", "source = 'eol'"),
                ("inat21", "inat21_filename, inat21_cls_name, inat21_cls_num, treeoflife_id", "source = 'inat21'"),
                ("bioscan", "bioscan_part, bioscan_filename, treeoflife_id", "source = 'bioscan'"),
                ("split", "treeoflife_id, is_val::INTEGER, is_train_small::INTEGER", None),
            ):
                source = f"read_parquet('{_quote(splits)}')" if where is None else rel
                sql = f"SELECT {cols} FROM {source}" + (f" WHERE {where}" if where else "")
                marks = ", ".join("?" * len(cols.split(",")))
                for batch in con.sql(sql).to_arrow_reader(BATCH):
                    db.executemany(f"INSERT INTO {table} VALUES ({marks})", zip(*(c.to_pylist() for c in batch.columns)))
            for table in ("eol", "inat21", "bioscan", "split"):
                db.execute(f"CREATE INDEX {table}_id ON {table} (evobio10m_id)")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        con.close()


def write_mapping_sqlite(path: Path, mapping: pd.DataFrame, splits: pd.DataFrame | None = None) -> None:
    """Write ``mapping.sqlite`` with the original four tables (atomically: temp file, then rename)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    by = {s: mapping[mapping["source"] == s] for s in ("eol", "inat21", "bioscan")}
    with sqlite3.connect(tmp) as con:
        con.execute("CREATE TABLE eol (content_id INTEGER, page_id INTEGER, evobio10m_id TEXT)")
        con.execute("CREATE TABLE inat21 (filename TEXT, cls_name TEXT, cls_num INTEGER, evobio10m_id TEXT)")
        con.execute("CREATE TABLE bioscan (part INTEGER, filename TEXT, evobio10m_id TEXT)")
        con.execute("CREATE TABLE split (evobio10m_id TEXT, is_val INTEGER, is_train_small INTEGER)")
        con.executemany(
            "INSERT INTO eol VALUES (?, ?, ?)",
            by["eol"][["eol_content_id", "eol_page_id", "treeoflife_id"]].astype(object).itertuples(index=False),
        )
        con.executemany(
            "INSERT INTO inat21 VALUES (?, ?, ?, ?)",
            by["inat21"][["inat21_filename", "inat21_cls_name", "inat21_cls_num", "treeoflife_id"]]
            .astype(object)
            .itertuples(index=False),
        )
        con.executemany(
            "INSERT INTO bioscan VALUES (?, ?, ?)",
            by["bioscan"][["bioscan_part", "bioscan_filename", "treeoflife_id"]].astype(object).itertuples(index=False),
        )
        if splits is not None:
            con.executemany(
                "INSERT INTO split VALUES (?, ?, ?)",
                (
                    (r.treeoflife_id, int(r.is_val), int(r.is_train_small))
                    for r in splits[["treeoflife_id", "is_val", "is_train_small"]].itertuples(index=False)
                ),
            )
        for table, key in (("eol", "evobio10m_id"), ("inat21", "evobio10m_id"), ("bioscan", "evobio10m_id"), ("split", "evobio10m_id")):
            con.execute(f"CREATE INDEX {table}_id ON {table} ({key})")
    os.replace(tmp, path)


def duplicate_counts(path: Path) -> dict[str, int]:
    """For the ``mapping_ids_unique`` check, by column in DuckDB: images, repeated ids, repeated
    source identities (NULLs equal, as ``DataFrame.duplicated``)."""
    con = connect()
    try:
        rel = f"read_parquet('{_quote(path)}')"
        ident = ", ".join(source_identity_columns())
        images, ids = con.execute(f"SELECT count(*), count(DISTINCT treeoflife_id) FROM {rel}").fetchall()[0]
        sources = con.execute(f"SELECT count(*) FROM (SELECT DISTINCT {ident} FROM {rel})").fetchall()[0][0]
    finally:
        con.close()
    return {"images": int(images), "duplicate_ids": int(images - ids), "duplicate_source_images": int(images - sources)}


def source_identity_columns() -> list[str]:
    """The columns that together name one source image."""
    return ["source", "eol_content_id", "eol_page_id", "inat21_cls_num", "inat21_filename", "bioscan_part", "bioscan_filename"]
