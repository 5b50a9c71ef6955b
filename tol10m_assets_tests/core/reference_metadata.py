"""The metadata path as it was before the columnar rewrite (row by row, pandas), kept verbatim as the
reference the columnar functions must match byte for byte (tests only)."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import uuid
from pathlib import Path

import pandas as pd

from tol10m_assets.catalog import CATALOG_COLUMNS, write_frame_atomic
from tol10m_assets.labels import LABEL_COLUMNS, RANK_COLUMNS
from tol10m_assets.layout import SourceLayout
from tol10m_assets.mapping import read_published_mapping
from tol10m_assets.sources import Chunking, SourceImage, list_source_images
from tol10m_assets.splits import SPLITS

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


def unit_hash(seed: int, salt: str, treeoflife_id: str) -> float:
    """A number in [0, 1) that depends only on the seed, the salt and the id."""
    digest = hashlib.blake2b(f"{seed}/{salt}/{treeoflife_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def assign_splits(ids, seed: int = 0, val_percent: float = 5.0, train_small_percent: float = 10.0) -> pd.DataFrame:
    """``treeoflife_id, is_val, is_train_small`` for each id (in the given order)."""
    if not (0 <= val_percent <= 100 and 0 <= train_small_percent <= 100):
        raise ValueError("split percentages must be between 0 and 100")
    ids = list(ids)
    is_val = [unit_hash(seed, "val", i) * 100 < val_percent for i in ids]
    is_small = [
        (not v) and unit_hash(seed, "train_small", i) * 100 < train_small_percent for i, v in zip(ids, is_val)
    ]
    return pd.DataFrame({"treeoflife_id": pd.array(ids, dtype="string"), "is_val": is_val, "is_train_small": is_small})


def published_splits(mapping_ids, published_split: pd.DataFrame, **hash_args) -> pd.DataFrame:
    """Reproduce mode: the published ``split`` table where it has the id, the seeded hash elsewhere."""
    table = published_split.rename(columns={"evobio10m_id": "treeoflife_id"})
    table = table.drop_duplicates("treeoflife_id").set_index("treeoflife_id")
    ids = list(mapping_ids)
    hashed = assign_splits(ids, **hash_args).set_index("treeoflife_id")
    known = [i for i in ids if i in table.index]
    hashed.loc[known, "is_val"] = table.loc[known, "is_val"].astype(bool).to_numpy()
    hashed.loc[known, "is_train_small"] = table.loc[known, "is_train_small"].astype(bool).to_numpy()
    return hashed.reset_index()


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
    rows = []
    for key, named in table.items():
        row = dict(zip(keys, key if isinstance(key, tuple) else (key,)))
        row.update(_named_rows(named))
        rows.append(row)
    return pd.DataFrame(rows, columns=[*keys, *LABEL_COLUMNS[1:]])


def resolve_lookups(layout: SourceLayout, mapping: pd.DataFrame, log=print) -> dict[str, pd.DataFrame]:
    """One lookup table per source present in the mapping, keyed as the source names its images."""
    from tol10m_assets.taxonomy import resolve_bioscan, resolve_eol, resolve_inat21

    out: dict[str, pd.DataFrame] = {}
    eol = mapping[mapping["source"] == "eol"]
    if len(eol):
        pages = sorted(set(int(p) for p in eol["eol_page_id"].dropna()))
        log(f"resolving {len(pages)} EOL pages")
        out["eol"] = _lookup_frame(["eol_page_id"], resolve_eol(layout, pages))
    inat = mapping[mapping["source"] == "inat21"]
    if len(inat):
        classes = inat[["inat21_cls_num", "inat21_cls_name"]].drop_duplicates()
        dirs = sorted(f"{int(n):05d}_{name}" for n, name in classes.itertuples(index=False))
        log(f"resolving {len(dirs)} iNat21 classes")
        out["inat21"] = _lookup_frame(["inat21_cls_num"], resolve_inat21(layout, dirs))
    bio = mapping[mapping["source"] == "bioscan"]
    if len(bio):
        log("resolving BIOSCAN records")
        table = resolve_bioscan(layout)
        wanted = set(zip(bio["bioscan_part"].astype(int), bio["bioscan_filename"].astype(str)))
        out["bioscan"] = _lookup_frame(["bioscan_part", "bioscan_filename"], {k: v for k, v in table.items() if k in wanted})
    for frame in out.values():
        for col in frame.columns:
            if col in ("eol_page_id", "inat21_cls_num", "bioscan_part"):
                frame[col] = frame[col].astype("Int64")
    return out


def join_labels(mapping: pd.DataFrame, lookups: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One label row per mapped image; images no lookup knows get empty ranks (skipped as no_taxon)."""
    keys = {"eol": ["eol_page_id"], "inat21": ["inat21_cls_num"], "bioscan": ["bioscan_part", "bioscan_filename"]}
    parts = []
    for source, key in keys.items():
        sub = mapping.loc[mapping["source"] == source, ["treeoflife_id", *key]]
        if not len(sub):
            continue
        table = lookups.get(source)
        if table is None:
            table = pd.DataFrame(columns=[*key, *LABEL_COLUMNS[1:]])
        if "bioscan_filename" in key:
            table = table.astype({"bioscan_filename": "string"})
            sub = sub.astype({"bioscan_filename": "string"})
        parts.append(sub.merge(table, on=key, how="left")[LABEL_COLUMNS])
    labels = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=LABEL_COLUMNS)
    for col in [*RANK_COLUMNS, "common", "provenance"]:
        labels[col] = labels[col].fillna("").astype("string")
    labels["common_looked_up"] = labels["common_looked_up"].fillna(False).astype(bool)
    return labels.sort_values("treeoflife_id", kind="stable").reset_index(drop=True)


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
    tuples = df[RANK_COLUMNS].astype(str).agg("\x1f".join, axis=1) if len(df) else pd.Series(dtype=str)
    out = {"all": int(tuples.nunique())}
    for s in ("eol", "inat21", "bioscan"):
        out[s] = int(tuples[source == s].nunique())
    return out


def rare_leaks_rowwise(frame: pd.DataFrame, rules) -> list[str]:
    """The loop of the original ``rare_species_excluded`` check."""
    from tol10m_assets.taxonomy import Taxon

    leaks = []
    species_cache: dict[tuple, bool] = {}
    for row in frame.to_dict("records"):
        ranks = tuple("" if pd.isna(row[c]) else str(row[c]) for c in RANK_COLUMNS)
        if ranks not in species_cache:
            species_cache[ranks] = rules.excludes_species(Taxon(*ranks))
        by_file = False
        if not pd.isna(row["eol_content_id"]):
            by_file = rules.excludes_eol(int(row["eol_content_id"]), int(row["eol_page_id"]))
        else:
            name = row["inat21_filename"] if not pd.isna(row["inat21_filename"]) else row["bioscan_filename"]
            by_file = rules.excludes_file(str(name))
        if species_cache[ranks] or by_file:
            leaks.append(f"{row['split']}/{row['treeoflife_id']}")
    return leaks


def build_reference(layout, chunking, paths, seed=0, val_percent=5.0, train_small_percent=10.0) -> None:
    """The four metadata assets as they were (mapping → splits → labels → predicted catalog)."""
    frame, _ = build_mapping(layout, chunking)
    write_frame_atomic(frame, paths.mapping)
    hash_args = dict(seed=seed, val_percent=val_percent, train_small_percent=train_small_percent)
    if chunking.mode == "reproduce":
        table = published_splits(frame["treeoflife_id"], read_published_mapping(layout.published_mapping)["split"], **hash_args)
    else:
        table = assign_splits(frame["treeoflife_id"], **hash_args)
    write_frame_atomic(table, paths.splits)
    write_mapping_sqlite(paths.mapping_sqlite, frame, table)
    lookups = resolve_lookups(layout, frame, log=lambda *a: None)
    for source, lk in lookups.items():
        write_frame_atomic(lk, paths.lookup(source))
    labels = join_labels(frame, lookups)
    write_frame_atomic(labels, paths.labels)
    write_frame_atomic(predicted_catalog(frame, table, labels), paths.predicted_catalog)
