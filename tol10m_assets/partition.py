"""One shard partition end to end: its slice of the labels, its images streamed once, its shards.

Skips are decided in this order and counted by reason: ``bad_member_name``, ``not_in_mapping``,
``no_taxon``, ``rare_species``, then ``corrupt_image`` (by the shard writer). No Dagster imports.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import duckdb
import pandas as pd

from tol10m_assets.errors import (
    SKIP_BAD_MEMBER_NAME,
    SKIP_NO_TAXON,
    SKIP_NOT_IN_MAPPING,
    SKIP_RARE_SPECIES,
)
from tol10m_assets.labels import RANK_COLUMNS
from tol10m_assets.layout import SourceLayout
from tol10m_assets.paths import BuildPaths
from tol10m_assets.sources import Chunking, SourceImage, iter_partition_images, parse_partition
from tol10m_assets.splits import splits_of


def load_partition_rows(paths: BuildPaths, partition: str) -> pd.DataFrame:
    """Mapping ⋈ splits ⋈ labels for one partition only (the lookups are never loaded whole)."""
    parse_partition(partition)
    con = duckdb.connect()
    try:
        return con.execute(
            f"""
            SELECT m.*, s.is_val, s.is_train_small, {", ".join(f'l."{c}"' for c in RANK_COLUMNS)}, l.common
            FROM read_parquet(?) m
            JOIN read_parquet(?) s USING (treeoflife_id)
            LEFT JOIN read_parquet(?) l USING (treeoflife_id)
            WHERE m.partition = ?
            ORDER BY m.origin
            """,
            [str(paths.mapping), str(paths.splits), str(paths.labels), partition],
        ).df()
    finally:
        con.close()


def identity_key(img: SourceImage, mode: str):
    if img.source == "eol":
        return img.published_id if mode == "reproduce" else (img.eol_content_id, img.eol_page_id)
    if img.source == "inat21":
        return (img.inat21_cls_num, img.inat21_filename)
    return (img.bioscan_part, img.bioscan_filename)


def row_key(row: dict, source: str, mode: str):
    if source == "eol":
        return row["treeoflife_id"] if mode == "reproduce" else (int(row["eol_content_id"]), int(row["eol_page_id"]))
    if source == "inat21":
        return (int(row["inat21_cls_num"]), row["inat21_filename"])
    return (int(row["bioscan_part"]), row["bioscan_filename"])


@dataclass
class PlannedSample:
    treeoflife_id: str
    splits: tuple[str, ...]
    texts: dict[str, str] | None  # None: every rank empty (no_taxon)
    rare: bool


def _text(value) -> str:
    return "" if value is None or pd.isna(value) else str(value)


def plan_samples(rows: pd.DataFrame, mode: str, rare=None) -> dict:
    """identity → PlannedSample; captions and the species rule run once per distinct label."""
    from tol10m_assets.taxonomy import Taxon, captions

    per_label: dict[tuple, tuple[dict | None, bool]] = {}
    plan = {}
    for row in rows.to_dict("records"):
        label = tuple(_text(row[c]) for c in (*RANK_COLUMNS, "common"))
        if label not in per_label:
            taxon = Taxon(*label[:7])
            if taxon.is_empty:
                per_label[label] = (None, False)
            else:
                per_label[label] = (captions(taxon, label[7]), bool(rare is not None and rare.excludes_species(taxon)))
        texts, rare_species = per_label[label]
        source = row["source"]
        rare_file = False
        if rare is not None:
            if source == "eol":
                rare_file = rare.excludes_eol(int(row["eol_content_id"]), int(row["eol_page_id"]))
            else:
                rare_file = rare.excludes_file(_text(row["inat21_filename"] if source == "inat21" else row["bioscan_filename"]))
        plan[row_key(row, source, mode)] = PlannedSample(
            str(row["treeoflife_id"]),
            splits_of(bool(row["is_val"]), bool(row["is_train_small"])),
            texts,
            rare_species or rare_file,
        )
    return plan


def iter_jobs(layout: SourceLayout, chunking: Chunking, partition: str, plan: dict, skipped: dict, skipped_samples: list):
    """(SampleJob, image bytes) for every image of the partition that passes the rules; counts the rest."""
    from tol10m_assets.shards import SampleJob

    def skip(reason: str, img: SourceImage, detail: str, key: str = ""):
        skipped[reason] = skipped.get(reason, 0) + 1
        if len(skipped_samples) < 1000:
            skipped_samples.append({"origin": img.origin, "key": key, "reason": reason, "detail": detail})

    for img, data in iter_partition_images(layout, chunking, partition):
        if img.bad_name:
            skip(SKIP_BAD_MEMBER_NAME, img, "name does not fit the source layout")
            continue
        planned = plan.get(identity_key(img, chunking.mode))
        if planned is None:
            skip(SKIP_NOT_IN_MAPPING, img, "no mapping row for this image")
            continue
        if planned.texts is None:
            skip(SKIP_NO_TAXON, img, "every rank is empty after lookup", planned.treeoflife_id)
            continue
        if planned.rare:
            skip(SKIP_RARE_SPECIES, img, "excluded by the Rare Species lists", planned.treeoflife_id)
            continue
        yield SampleJob(planned.treeoflife_id, planned.splits, planned.texts, img.origin), data


def build_partition(
    layout: SourceLayout,
    chunking: Chunking,
    paths: BuildPaths,
    partition: str,
    settings,
    *,
    rare=None,
    workers: int = 1,
    max_samples: int = 100_000,
    max_bytes: int = 3_000_000_000,
    log=None,
):
    """Write one partition's shards; returns the shard writer's result with every skip reason merged."""
    from tol10m_assets.catalog import write_json_atomic
    from tol10m_assets.shards import write_partition

    rows = load_partition_rows(paths, partition)
    plan = plan_samples(rows, chunking.mode, rare)
    skipped: dict[str, int] = {}
    skipped_samples: list[dict] = []
    jobs = iter_jobs(layout, chunking, partition, plan, skipped, skipped_samples)
    result = write_partition(
        paths.dataset, partition, jobs, settings, workers=workers, max_samples=max_samples, max_bytes=max_bytes, log=log
    )
    for reason, n in skipped.items():
        result.skipped[reason] = result.skipped.get(reason, 0) + n
    result.skipped_samples[:0] = skipped_samples
    write_json_atomic(result.to_json(), paths.stats(partition))
    return result
