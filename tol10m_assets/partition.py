"""One shard partition end to end: its slice of the labels, its images streamed once, its shards.

Skips are decided in this order and counted by reason: ``bad_member_name``, ``not_in_mapping``,
``removed`` (the takedown list, ``metadata/takedowns.parquet``), ``no_taxon``, ``rare_species``, then
``corrupt_image`` (by the shard writer). No Dagster imports.
"""

from __future__ import annotations

import collections
import contextlib
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb
import pandas as pd

from tol10m_assets.errors import (
    SKIP_BAD_MEMBER_NAME,
    SKIP_CORRUPT_IMAGE,
    SKIP_DUPLICATE,
    SKIP_NO_TAXON,
    SKIP_NOT_IN_MAPPING,
    SKIP_RARE_SPECIES,
    SKIP_REMOVED,
)
from tol10m_assets.faults import fault_point
from tol10m_assets.labels import RANK_COLUMNS
from tol10m_assets.layout import SourceLayout
from tol10m_assets.paths import BuildPaths
from tol10m_assets.shards.reuse import (
    REUSE_TABLE,
    Recorder,
    ReuseMismatch,
    all_reusable,
    compressed_eol,
    eol_fingerprints,
    load_previous,
    names_only,
    reuse_jobs,
    reuse_key,
)
from tol10m_assets.sources import Chunking, SourceImage, iter_partition_images, parse_partition
from tol10m_assets.splits import splits_of


def load_partition_rows(paths: BuildPaths, partition: str) -> pd.DataFrame:
    """Mapping ⋈ splits ⋈ labels ⟕ takedowns for one partition only (the lookups are never loaded whole);
    ``removed`` is the takedown reason of a listed id, else NULL (no takedowns table: nothing removed)."""
    from tol10m_assets.takedowns import removed_reasons_sql

    parse_partition(partition)
    con = duckdb.connect()
    try:
        return con.execute(
            f"""
            SELECT m.*, s.is_val, s.is_train_small, {", ".join(f'l."{c}"' for c in RANK_COLUMNS)}, l.common,
                   t.reason AS removed
            FROM read_parquet(?) m
            JOIN read_parquet(?) s USING (treeoflife_id)
            LEFT JOIN read_parquet(?) l USING (treeoflife_id)
            LEFT JOIN {removed_reasons_sql(paths.takedowns)} t USING (treeoflife_id)
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


@dataclass
class PlannedSample:
    treeoflife_id: str
    splits: tuple[str, ...]
    texts: dict[str, str] | None  # None: every rank empty (no_taxon)
    rare: bool
    ranks: tuple[str, ...] = ()  # the seven values the captions were made of (the catalog's)
    removed: str = ""  # the takedown reason when the remove list names it (skipped as `removed`)


def _text(value) -> str:
    return "" if value is None or pd.isna(value) else str(value)


def _texts(column: pd.Series) -> list[str]:
    """A column as :func:`_text` gives each value (NULL and NaN as ""), column-wise."""
    values = column.astype(object).where(column.notna(), "")
    return [v if type(v) is str else str(v) for v in values.tolist()]


def _ints(column: pd.Series) -> list[int]:
    return column.astype("int64").tolist()


def _row_keys(rows: pd.DataFrame, mode: str) -> list:
    """The identity of each row's image (as :func:`identity_key` gives it), column-wise per source;
    ``rows`` indexed 0 … n-1."""
    keys: list = [None] * len(rows)
    for source, part in rows.groupby("source", sort=False):
        if source == "eol":
            got = part["treeoflife_id"].astype(str).tolist() if mode == "reproduce" else \
                list(zip(_ints(part["eol_content_id"]), _ints(part["eol_page_id"])))
        elif source == "inat21":
            got = list(zip(_ints(part["inat21_cls_num"]), part["inat21_filename"].tolist()))
        else:
            got = list(zip(_ints(part["bioscan_part"]), part["bioscan_filename"].tolist()))
        for i, key in zip(part.index, got):
            keys[i] = key
    return keys


def plan_samples(rows: pd.DataFrame, mode: str, rare=None) -> dict:
    """identity → PlannedSample, column by column: captions and the species rule run once per
    distinct label, the rare-file rule once per row in a comprehension (no per-row dict)."""
    from tol10m_assets.taxonomy import Taxon, captions

    if rows.empty:
        return {}
    rows = rows.reset_index(drop=True)
    labels = list(zip(*(_texts(rows[c]) for c in (*RANK_COLUMNS, "common"))))
    per_label: dict[tuple, tuple[dict | None, bool, tuple]] = {}
    for label in set(labels):
        taxon = Taxon(*label[:7])
        if taxon.is_empty:
            per_label[label] = (None, False, ())
        else:
            per_label[label] = (captions(taxon, label[7]), bool(rare is not None and rare.excludes_species(taxon)),
                                taxon.as_tuple())
    rare_file = [False] * len(rows)
    if rare is not None:
        sources = rows["source"].tolist()
        cids = rows["eol_content_id"].tolist() if "eol_content_id" in rows else [None] * len(rows)
        pids = rows["eol_page_id"].tolist() if "eol_page_id" in rows else [None] * len(rows)
        inat = rows["inat21_filename"].tolist() if "inat21_filename" in rows else [None] * len(rows)
        bio = rows["bioscan_filename"].tolist() if "bioscan_filename" in rows else [None] * len(rows)
        rare_file = [rare.excludes_eol(int(c), int(p)) if s == "eol" else rare.excludes_file(_text(i if s == "inat21" else b))
                     for s, c, p, i, b in zip(sources, cids, pids, inat, bio)]
    split_of = {(v, t): splits_of(v, t) for v in (False, True) for t in (False, True)}
    splits = [split_of[(bool(v), bool(t))] for v, t in zip(rows["is_val"].tolist(), rows["is_train_small"].tolist())]
    removed = _texts(rows["removed"]) if "removed" in rows else [""] * len(rows)
    ids = rows["treeoflife_id"].astype(str).tolist()
    plan = {}
    for key, tid, split, label, file_rare, why in zip(_row_keys(rows, mode), ids, splits, labels, rare_file, removed):
        texts, rare_species, ranks = per_label[label]
        plan[key] = PlannedSample(tid, split, texts, rare_species or file_rare, ranks, why)
    return plan


def iter_jobs(
    layout: SourceLayout,
    chunking: Chunking,
    partition: str,
    plan: dict,
    skipped: dict,
    skipped_samples: list,
    seen: set | None = None,
    images=None,
):
    """(SampleJob, image source) for every image of the partition that passes the rules; counts the
    rest. ``seen`` collects the identities of the planned images found in the source. ``images``:
    the stream to use instead of ``iter_partition_images`` (e.g. names only, for a full reuse)."""
    from tol10m_assets.shards import SampleJob

    def skip(reason: str, img: SourceImage, detail: str, key: str = ""):
        skipped[reason] = skipped.get(reason, 0) + 1
        if len(skipped_samples) < 1000:
            skipped_samples.append({"origin": img.origin, "key": key, "reason": reason, "detail": detail})

    for img, data in iter_partition_images(layout, chunking, partition) if images is None else images:
        reason = getattr(img, "skip_reason", None)
        if reason:
            skip(reason, img, getattr(img, "skip_detail", "") or reason)
            continue
        if img.bad_name:
            skip(SKIP_BAD_MEMBER_NAME, img, "name does not fit the source layout")
            continue
        identity = identity_key(img, chunking.mode)
        planned = plan.get(identity)
        if planned is None:
            skip(SKIP_NOT_IN_MAPPING, img, "no mapping row for this image")
            continue
        if seen is not None:
            if identity in seen:
                skip(SKIP_DUPLICATE, img, "the same source image again in this partition", planned.treeoflife_id)
                continue
            seen.add(identity)
        if planned.removed:
            skip(SKIP_REMOVED, img, f"taken down: {planned.removed}", planned.treeoflife_id)
            continue
        if planned.texts is None:
            skip(SKIP_NO_TAXON, img, "every rank is empty after lookup", planned.treeoflife_id)
            continue
        if planned.rare:
            skip(SKIP_RARE_SPECIES, img, "excluded by the Rare Species lists", planned.treeoflife_id)
            continue
        yield SampleJob(planned.treeoflife_id, planned.splits, planned.texts, img.origin), data


class UnknownPartition(ValueError):
    """A partition key the mapping has no image for (never registered, or its source is gone)."""


# skips of images the mapping planned: with the written ones they must add up to the plan
PLANNED_SKIPS = (SKIP_REMOVED, SKIP_NO_TAXON, SKIP_RARE_SPECIES, SKIP_CORRUPT_IMAGE)


@dataclass
class PartitionBuild:
    """What one run of a partition did: written, checked, and committed or rejected."""

    partition: str
    result: object  # shards.PartitionResult
    report: object  # shards.CheckReport (check_wds and the accounting)
    accounting: dict
    generation: Path
    manifest: dict | None  # the committed manifest; None when the check failed (nothing published)
    healed: str | None = None  # why the partition was damaged before this build (a fresh generation heals it)
    reuse: dict | None = None  # images reused / decoded, bytes copied (shards/reuse.py)

    @property
    def committed(self) -> bool:
        return self.manifest is not None


def account(planned: int, written: int, skipped: dict, missing: list, max_corrupt_share: float) -> tuple[dict, list[str]]:
    """planned = written + skips of planned images, and the corrupt share under its limit."""
    planned_skips = {r: skipped.get(r, 0) for r in PLANNED_SKIPS}
    extra = {r: n for r, n in sorted(skipped.items()) if r not in PLANNED_SKIPS}
    accounted = written + sum(planned_skips.values())
    corrupt_share = skipped.get(SKIP_CORRUPT_IMAGE, 0) / planned if planned else 0.0
    figures = {
        "planned": planned,
        "written": written,
        "skipped_planned": planned_skips,
        "not_planned": extra,
        "missing": len(missing),
        "corrupt_share": round(corrupt_share, 6),
        "max_corrupt_share": max_corrupt_share,
    }
    problems = []
    if missing:
        problems.append(
            f"{len(missing)} of {planned} planned images were not found in the source (e.g. {', '.join(missing[:5])}): "
            "the source changed since the mapping was built, or an archive is incomplete; re-materialize `mapping`"
        )
    elif accounted != planned:
        problems.append(f"planned {planned} images, written {written} + skipped {sum(planned_skips.values())} = {accounted}")
    if corrupt_share > max_corrupt_share:
        problems.append(
            f"{skipped.get(SKIP_CORRUPT_IMAGE, 0)} of {planned} images are corrupt ({corrupt_share:.2%} > "
            f"max_corrupt_share {max_corrupt_share:.2%}): look at the skipped samples; raise the setting if expected"
        )
    return figures, problems


def _samples_table(records: dict, ranks_of: dict[str, tuple[str, ...]]):
    """One row per written sample: its ranks exactly as its captions were made of them (never parsed
    back from a caption: a name may hold a rank word, quotes, commas or any other text)."""
    import pyarrow as pa

    columns = {"split": records["split"], "treeoflife_id": records["treeoflife_id"], "shard": records["shard"]}
    for i, rank in enumerate(RANK_COLUMNS):
        columns[rank] = [ranks_of[key][i] for key in records["treeoflife_id"]]
    columns["common"] = records["common"]
    return pa.table({k: pa.array(v, type=pa.string()) for k, v in columns.items()})


DISK_MARGIN = 1.25  # free space asked beyond the estimate (JPEG sizes vary)


def estimated_bytes(store, partition: str, images: int, settings) -> int:
    """What a partition's new generation will take: its last generation's bytes per image, or a
    generous guess (a JPEG of the configured size at 1 byte per pixel), for ``images`` images."""
    per_image = settings.width * settings.height
    try:
        last = store.read_manifest(partition)
        written = sum(last["samples"].values()) if last else 0
        if written:
            per_image = last["bytes"] / written
    except Exception:  # an unreadable manifest is healed later; the guess stands
        pass
    return int(images * per_image * DISK_MARGIN) + (1 << 20)


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
    max_corrupt_share: float = 0.01,
    owner: dict | None = None,
    log=None,
    reuse: bool = True,
) -> PartitionBuild:
    """Write one partition into a new generation, check it, and commit it only if every check passes.

    Holds the partition's writer lock throughout (a second writer gets ``PartitionLocked`` at once).
    A rejected generation stays on disk for inspection until the next run of the partition.
    Images whose source bytes and settings are unchanged are copied from the last committed
    generation, not decoded (``reuse``; shards/reuse.py): the same bytes as a build from scratch.
    With ``workers`` > 1 the writer and ``check_wds`` share one pool of worker processes.
    """
    from tol10m_assets.shards.pool import SharedPool

    with SharedPool(workers) if workers > 1 else contextlib.nullcontext() as pool:
        return _build_partition(layout, chunking, paths, partition, settings, rare=rare, workers=workers, pool=pool,
                                max_samples=max_samples, max_bytes=max_bytes, max_corrupt_share=max_corrupt_share,
                                owner=owner, log=log, reuse=reuse)


def _build_partition(layout, chunking, paths, partition, settings, *, rare, workers, pool, max_samples, max_bytes,
                     max_corrupt_share, owner, log, reuse) -> PartitionBuild:
    import pyarrow.parquet as pq

    from tol10m_assets.shards import check_partition_shards
    from tol10m_assets.store import SAMPLES_TABLE, PartitionStore, disk_full, ensure_free, hash_files, is_enospc

    store = PartitionStore(paths.store)
    with store.lock(partition, owner or {}):
        status = store.status(partition)
        healed = status.removeprefix("damaged: ") if status.startswith("damaged") else None
        if log and healed:
            log(f"{partition}: damaged ({healed}); building a fresh generation")
        removed = store.remove_uncommitted(partition)
        if log and removed:
            log(f"{partition}: removed {len(removed)} uncommitted generation(s) of earlier runs")
        rows = load_partition_rows(paths, partition)
        if rows.empty:
            raise UnknownPartition(
                f"partition {partition} has no image in the mapping ({paths.mapping}): partition keys come from "
                "the `mapping` asset; materialize it, and pick one of the partitions it registers"
            )
        plan = plan_samples(rows, chunking.mode, rare)
        ensure_free(store.root, estimated_bytes(store, partition, len(plan), settings), f"partition {partition}")
        key = reuse_key(settings, chunking.mode)
        previous, why_not = (None, "reuse is off") if not reuse else (None, "the partition was damaged") if healed else \
            load_previous(store, partition, key)
        eol = eol_fingerprints(layout, chunking, partition)  # origin → CRC-32 and size, from the set index
        names = None  # every planned image reusable from a .tar.gz set: the set is not inflated at all
        if previous is not None and compressed_eol(layout, chunking, partition):
            names = list(names_only(layout, chunking, partition))
            if not all_reusable(iter_jobs(layout, chunking, partition, plan, {}, [], set(), images=names), previous, eol):
                names = None
        try:
            attempt = _write_attempt(store, layout, chunking, partition, plan, settings, previous, eol, names,
                                     workers=workers, pool=pool, max_samples=max_samples, max_bytes=max_bytes, log=log)
        except ReuseMismatch as exc:  # a damaged old shard, and no source bytes read to decode instead
            if log:
                log(f"{partition}: {exc}; building again with the source read")
            attempt = _write_attempt(store, layout, chunking, partition, plan, settings, previous, eol, None,
                                     workers=workers, pool=pool, max_samples=max_samples, max_bytes=max_bytes, log=log)
            names = None
        generation, result, recorder, records, seen = attempt
        reuse_figures = {**recorder.figures(), "source_stream": "skipped" if names is not None else "read",
                         "from": previous.generation.name if previous is not None else None,
                         **({"not_reused": why_not} if previous is None else {})}
        if log:
            log(f"{partition}: {recorder.reused} images reused, {recorder.decoded} decoded, {recorder.bytes_copied} bytes "
                f"copied, {recorder.fallbacks} fallback(s) to decoding; source stream {reuse_figures['source_stream']}"
                + (f" (nothing reused: {why_not})" if previous is None else ""))
        fault_point("partition.written")

        report = check_partition_shards(generation, partition, settings, expected=dict(result.samples), workers=workers,
                                        known=recorder.known, image_offsets=recorder.image_offsets, pool=pool)
        written = len(set(records["treeoflife_id"]))
        missing = [plan[k].treeoflife_id for k in plan.keys() - seen]
        figures, problems = account(len(plan), written, result.skipped, sorted(missing), max_corrupt_share)
        for problem in problems:
            report.problem(f"{partition}: {problem}")
        if not report.passed:
            return PartitionBuild(partition, result, report, figures, generation, None, healed, reuse_figures)
        fault_point("partition.checked")

        ranks_of = {p.treeoflife_id: p.ranks for p in plan.values()}
        table = generation / SAMPLES_TABLE
        try:
            pq.write_table(_samples_table(records, ranks_of), table)
            pq.write_table(recorder.table(), generation / REUSE_TABLE)
        except OSError as exc:
            if is_enospc(exc):
                shutil.rmtree(generation, ignore_errors=True)
                raise disk_full(generation, str(table)) from exc
            raise
        shard_files = [generation / split / name for split, names in sorted(result.shards.items()) for name in names]
        sums = hash_files([*shard_files, table, generation / REUSE_TABLE], max(2, workers))
        reuse_sum = sums.pop()
        table_sum = sums.pop()
        per_shard = collections.Counter(zip(records["split"], records["shard"]))
        manifest = {
            "run": owner or {},
            "settings": {"image": asdict(settings), "max_samples": max_samples, "max_bytes": max_bytes, "mode": chunking.mode},
            "accounting": figures,
            "samples": dict(sorted(result.samples.items())),
            "skipped": dict(sorted(result.skipped.items())),
            "skipped_samples": result.skipped_samples,
            "shards": [
                {"split": f.parent.name, "name": f.name, "bytes": size, "sha256": digest, "samples": per_shard[(f.parent.name, f.name)]}
                for f, (size, digest) in zip(shard_files, sums)
            ],
            "files": {SAMPLES_TABLE: {"bytes": table_sum[0], "sha256": table_sum[1]},
                      REUSE_TABLE: {"bytes": reuse_sum[0], "sha256": reuse_sum[1]}},
            "reuse": {"table": REUSE_TABLE, "key": key, **reuse_figures},
            "bytes": result.bytes,
            "seconds": round(result.seconds, 3),
            "check": {"name": "check_wds", "passed": report.passed, "images_checked": report.images_checked,
                      "images_verified": report.images_verified, "shards": report.shards},
        }
        committed = store.commit(partition, generation, manifest)
        return PartitionBuild(partition, result, report, figures, generation, committed, healed, reuse_figures)


def _write_attempt(store, layout, chunking, partition, plan, settings, previous, eol, names, *, workers, pool, max_samples,
                   max_bytes, log):
    """One pass of the writer into a fresh generation: (generation, result, reuse recorder, sample
    records, identities seen). ``names``: the names-only stream (every image reused), else the source is read."""
    from tol10m_assets.shards import write_partition
    from tol10m_assets.store import disk_full, is_enospc

    skipped: dict[str, int] = {}
    skipped_samples: list[dict] = []
    seen: set = set()
    records: dict[str, list] = {k: [] for k in ("split", "treeoflife_id", "shard", "common")}

    def on_sample(split, job, shard):
        records["split"].append(split)
        records["treeoflife_id"].append(job.key)
        records["shard"].append(shard)
        records["common"].append(job.texts["common_name.txt"])

    fingerprints: dict = {}
    recorder = Recorder(fingerprints)
    generation = store.new_generation(partition)
    jobs = iter_jobs(layout, chunking, partition, plan, skipped, skipped_samples, seen, images=names)
    jobs = reuse_jobs(jobs, previous, fingerprints, eol, stream=names is None)
    try:
        result = write_partition(
            generation, partition, jobs, settings, workers=workers, max_samples=max_samples, max_bytes=max_bytes,
            log=log, on_sample=on_sample, on_image=recorder.on_image, pool=pool,
        )
    except ReuseMismatch:
        shutil.rmtree(generation, ignore_errors=True)
        raise
    except OSError as exc:
        if is_enospc(exc):
            shutil.rmtree(generation, ignore_errors=True)  # give the space back now; the next run would
            raise disk_full(generation, f"the shards of partition {partition}") from exc
        raise
    for reason, n in skipped.items():
        result.skipped[reason] = result.skipped.get(reason, 0) + n
    result.skipped_samples[:0] = skipped_samples
    return generation, result, recorder, records, seen
