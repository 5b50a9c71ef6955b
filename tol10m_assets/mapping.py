"""The mapping: one ``treeoflife_id`` per source image, and ``mapping.sqlite`` in the original schema.

* ``generate`` mode: ids are UUID5 of the image's source identity in a fixed namespace, so a rebuild
  gives the same ids (the original used random uuid4s).
* ``reproduce`` mode: ids come from the published ``mapping.sqlite``; EOL members are named by id.
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from pathlib import Path

import pandas as pd

from tol10m_assets.errors import InputFormatError, MissingSourceError
from tol10m_assets.layout import SourceLayout
from tol10m_assets.sources import Chunking, SourceImage, list_source_images

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
    """The mapping frame (one row per source image, sorted) and figures about what was left out."""
    stats = {"bad_member_name": 0, "duplicate_source_image": 0, "not_in_published_mapping": 0}
    published = read_published_mapping(layout.published_mapping) if chunking.mode == "reproduce" else None
    if published is not None:
        eol_ids = {
            r.evobio10m_id: (int(r.content_id), int(r.page_id)) for r in published["eol"].itertuples(index=False)
        }
        inat_ids = {(int(r.cls_num), r.filename): r.evobio10m_id for r in published["inat21"].itertuples(index=False)}
        bio_ids = {(int(r.part), r.filename): r.evobio10m_id for r in published["bioscan"].itertuples(index=False)}
    rows: list[dict] = []
    seen: set[str] = set()
    for img in list_source_images(layout, chunking):
        if img.bad_name:
            stats["bad_member_name"] += 1
            continue
        if published is None:
            tid = generated_id(img)
        elif img.source == "eol":
            tid = img.published_id
            if tid not in eol_ids:
                tid = None
            else:
                content, page = eol_ids[tid]
                img = SourceImage("eol", img.partition, img.origin, content, page, published_id=tid)
        elif img.source == "inat21":
            tid = inat_ids.get((img.inat21_cls_num, img.inat21_filename))
        else:
            tid = bio_ids.get((img.bioscan_part, img.bioscan_filename))
        if tid is None:
            stats["not_in_published_mapping"] += 1
            continue
        if tid in seen:
            stats["duplicate_source_image"] += 1
            continue
        seen.add(tid)
        rows.append(_row(img, tid))
    df = _frame(rows).sort_values(["partition", "origin"], kind="stable").reset_index(drop=True)
    return df, stats


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


def source_identity_columns() -> list[str]:
    """The columns that together name one source image."""
    return ["source", "eol_content_id", "eol_page_id", "inat21_cls_num", "inat21_filename", "bioscan_part", "bioscan_filename"]
