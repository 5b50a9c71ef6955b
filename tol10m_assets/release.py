"""A release: the published dataset, put together from the committed partitions, checked, and
switched into place in one atomic step.

    <data root>/releases/<name>/
        <W>x<H>/<split>/shard-000000.tar …   hard links to the partitions' committed shards,
                                               numbered per split (stable across releases)
        <W>x<H>/<split>/sizes.json, shards.txt
        <W>x<H>/wids-<split>.json, open_clip.txt, README.md (dataset card with a config per split)
        metadata/catalog.csv, catalog.parquet, licenses.csv, taxa_report.md
        metadata/changes.parquet               every id added, removed (with its reason) or relabelled
        release.json                           partitions, generations, shard table, figures, changes
    <data root>/published -> releases/<name>   replaced by one rename: the commit

A release is staged under ``releases/.staging-<token>``, checked there, and only then renamed and
linked; a failure anywhere leaves ``published`` (and every file it points at) exactly as it was.
Numbering (``shard_numbers``), per split: a partition the published release held with the same
number of shards keeps their numbers; the shards of a new partition, or of one whose shard count
changed, get numbers after the highest the published release used; numbers freed by a retired or
changed partition stay unused (gaps). So adding, retiring or rebuilding a partition changes only
the names of the shards holding its samples. Without a published release (or after an equal-shards
one) the numbering is dense: the partitions in key order, each partition's shards in order. The
per-split ``shards.txt``/``sizes.json``/wids index list the shards; ``open_clip.txt`` gives one
brace group per run of numbers, joined by ``::``. ``record_changes`` compares the staged catalog with
the published release's (``tol10m_assets.changelog``): ``release.json`` → ``changes`` and the card's
CHANGELOG. No Dagster imports.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import secrets
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from tol10m_assets.catalog import ID_COLUMNS
from tol10m_assets.columns import connect
from tol10m_assets.faults import fault_point
from tol10m_assets.labels import RANK_COLUMNS
from tol10m_assets.paths import BuildPaths
from tol10m_assets.splits import SPLITS
from tol10m_assets import releases_index
from tol10m_assets.store import (
    SAMPLES_TABLE,
    ManifestError,
    PartitionStore,
    disk_full,
    ensure_free,
    fsync_dir,
    hash_files,
    write_json_durable,
)

STAGING_PREFIX = ".staging-"
KEEP_RELEASES = 2  # the current one and the one before it (to roll back by relinking)
REPAIR_COMMAND = "dagster asset materialize -m tol10m_assets.definitions --select shards --partition {partition}"
METADATA_BYTES_PER_ROW = 2000  # catalog.csv + catalog.parquet + licences, generously


class ReleaseRefused(RuntimeError):
    """The release cannot be built from the partitions as they are; the message says why and how to fix it."""

    def __init__(self, message: str, damaged: dict[str, str] | None = None):
        super().__init__(message)
        self.damaged = damaged or {}


def repair(partition: str) -> str:
    return f"repair: {REPAIR_COMMAND.format(partition=partition)} (or UI: shards → Materialize {partition})"


@dataclass
class StagedRelease:
    paths: BuildPaths
    folder: Path  # releases/.staging-<token>
    name: str
    partitions: list[str]
    shards: list[dict] = field(default_factory=list)  # split, number, name, partition, source, samples, bytes, sha256
    sizes: dict[str, int] = field(default_factory=dict)
    verify: dict = field(default_factory=dict)
    training: dict = field(default_factory=dict)  # split -> open_clip arguments (absolute, releases/<name>)
    changes: dict | None = None  # the difference from the published release (record_changes)
    changelog: dict | None = None  # what the card's CHANGELOG shows: ``changes``, or the last change if none

    @property
    def dataset(self) -> Path:
        return self.folder / self.paths.size_name

    @property
    def metadata(self) -> Path:
        return self.folder / "metadata"

    @property
    def catalog_parquet(self) -> Path:
        return self.metadata / "catalog.parquet"

    @property
    def catalog_csv(self) -> Path:
        return self.metadata / "catalog.csv"

    @property
    def licenses(self) -> Path:
        return self.metadata / "licenses.csv"

    @property
    def taxa_report(self) -> Path:
        return self.metadata / "taxa_report.md"

    def samples_tables(self) -> list[Path]:
        store = PartitionStore(self.paths.store)
        return [store.generation_dir(p, m) / "samples.parquet" for p, m in self.manifests.items()]

    manifests: dict = field(default_factory=dict)
    caption_check: float = 1.0  # share of the shards whose every caption member is compared with the catalog
    keep_releases: int = KEEP_RELEASES
    holds: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)  # shared locks on the partitions read

    def discard(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
        self.holds.close()


def shard_file_name(number: int) -> str:
    return f"shard-{number:06d}.tar"


def brace_pattern(folder: Path, numbers) -> str:
    """``…/shard-{000000..000159}.tar`` (webdataset / open_clip brace expansion) for the shards ``numbers``
    (several groups joined by ``::`` where the numbers have gaps)."""
    from tol10m_assets.training import shard_pattern

    return shard_pattern(str(folder), numbers)


def shard_numbers(previous: list[dict], counts: list[tuple[str, str, int]]) -> dict[tuple[str, str], list[int]]:
    """The number of every shard, per (split, partition), for ``counts`` (split, partition, shards; in
    key order). ``previous``: the published release's shard table (split, partition, number), or []."""
    before: dict[tuple[str, str], list[int]] = {}
    for s in previous:
        before.setdefault((s["split"], s["partition"]), []).append(int(s["number"]))
    following: dict[str, int] = {}
    for (split, _), numbers in before.items():
        following[split] = max(following.get(split, 0), max(numbers) + 1)
    numbers = {}
    for split, partition, count in counts:
        kept = sorted(before.get((split, partition), []))
        if len(kept) == count:
            numbers[(split, partition)] = kept
        else:
            start = following.get(split, 0)
            numbers[(split, partition)] = list(range(start, start + count))
            following[split] = start + count
    return numbers


def renamed_shards(old: list[dict], new: list[dict]) -> dict[str, int]:
    """Two releases' shard tables compared by name per split: names in both, those holding other
    bytes (sha256) in the new one, names only in the new one, names only in the old one."""
    a = {(s["split"], s["name"]): s["sha256"] for s in old}
    b = {(s["split"], s["name"]): s["sha256"] for s in new}
    both = a.keys() & b.keys()
    return {"in_both": len(both), "other_bytes": sum(a[k] != b[k] for k in both),
            "new_names": len(b.keys() - a.keys()), "gone_names": len(a.keys() - b.keys())}


def previous_shards(paths: BuildPaths) -> list[dict]:
    """The published release's shard table when it was linked per partition at this size, else []."""
    try:
        record = current_release(paths)
    except (OSError, ValueError):
        return []
    shards = (record or {}).get("shards") if isinstance(record, dict) and record.get("size") == paths.size_name else None
    if not isinstance(shards, list) or not all(
        isinstance(s, dict) and isinstance(s.get("partition"), str) and isinstance(s.get("number"), int)
        and isinstance(s.get("split"), str) for s in shards
    ):
        return []  # none, or an equal-shards release (shards of several partitions): dense numbering
    if len({(s["split"], s["number"]) for s in shards}) != len(shards) or any(s["number"] < 0 for s in shards):
        return []  # a damaged table (a number twice): numbering afresh is safe, reusing it is not
    return shards


def _link(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError as exc:  # another file system, or one without hard links: copy
        if exc.errno not in (errno.EXDEV, errno.EPERM, errno.ENOTSUP, errno.EMLINK):
            raise
        shutil.copy2(source, target)


def stage_release(
    paths: BuildPaths,
    partitions: list[str],
    *,
    verify_hashes: bool = True,
    hash_workers: int = 4,
    caption_check: float = 1.0,
    keep_releases: int = KEEP_RELEASES,
    shard_samples: int = 0,
) -> StagedRelease:
    """Verify the committed partitions against their manifests and link their shards into a staged release.

    Holds a shared lock on every partition until the release is published or discarded: a rebuild
    commits after it. Refuses (``ReleaseRefused``) when there is no partition, when a partition has
    no committed manifest, or when a committed file differs from its manifest (size or sha256; the
    sample table always hashed, the shards when ``verify_hashes``); a partition found so is marked
    damaged (its next build heals it).
    """
    if not partitions:
        raise ReleaseRefused("no shard partition is registered: materialize `mapping` and the `shards` partitions first")
    if not 0 <= caption_check <= 1:
        raise ValueError(f"caption_check_fraction must be between 0 and 1, not {caption_check}")
    store = PartitionStore(paths.store)
    holds = contextlib.ExitStack()
    try:
        for p in sorted(partitions):
            holds.enter_context(store.reading(p))
        return _stage_held(paths, store, sorted(partitions), holds, verify_hashes, hash_workers, caption_check, keep_releases,
                           shard_samples)
    except BaseException:
        holds.close()
        raise


def _read_manifests(store: PartitionStore, partitions: list[str]) -> tuple[dict, dict[str, str]]:
    manifests, damaged = {}, {}
    for p in partitions:
        try:
            manifests[p] = store.read_manifest(p)
            if manifests[p] is not None:
                store.generation_dir(p, manifests[p]), manifests[p]["shards"]  # noqa: B018 - the keys must be there
        except ManifestError as exc:
            damaged[p] = str(exc)
        except (KeyError, TypeError) as exc:
            damaged[p] = f"{store.manifest_path(p)}: manifest without {exc}"
    return manifests, damaged


def _refuse_damaged(store: PartitionStore, damaged: dict[str, list[str]]) -> None:
    for p, problems in damaged.items():
        store.mark_damaged(p, problems[0])
    lines = [f"{p}: {'; '.join(problems[:3])}; {repair(p)}" for p, problems in sorted(damaged.items())]
    raise ReleaseRefused(
        f"{len(damaged)} partition(s) are damaged (their committed files differ from their manifests; "
        "marked damaged: the next build of each builds a fresh generation): " + " | ".join(lines[:20]),
        damaged={p: problems[0] for p, problems in damaged.items()},
    )


def _stage_held(paths, store, partitions, holds, verify_hashes, hash_workers, caption_check, keep_releases,
                shard_samples=0) -> StagedRelease:
    manifests, unreadable = _read_manifests(store, partitions)
    if unreadable:
        _refuse_damaged(store, {p: [why] for p, why in unreadable.items()})
    never = [p for p, m in manifests.items() if m is None]
    if never:
        raise ReleaseRefused(
            f"{len(never)} partition(s) have no committed shards: {', '.join(never)}; materialize them "
            "(UI: shards → Materialize → these partitions; CLI: dagster asset materialize --select shards --partition KEY)"
        )
    # verify every committed file against its manifest: one pool for all partitions
    start = time.monotonic()
    files = [(p, s, store.generation_dir(p, m) / s["split"] / s["name"]) for p, m in manifests.items() for s in m["shards"]]
    small = [(p, rec, store.generation_dir(p, m) / name) for p, m in manifests.items() for name, rec in sorted(m.get("files", {}).items())]
    problems: dict[str, list[str]] = {}
    unhashed = []
    for p, m in manifests.items():
        table = store.generation_dir(p, m) / SAMPLES_TABLE
        if not table.is_file():
            problems.setdefault(p, []).append(f"{table} is missing")
        elif SAMPLES_TABLE not in m.get("files", {}):
            unhashed.append(p)  # a manifest from before the sample table was hashed: the caption check covers it
    for p, s, f in files + small:
        if not f.is_file() and f.name != SAMPLES_TABLE:
            problems.setdefault(p, []).append(f"{f} named by the manifest is missing")
    present = [(p, s, f) for p, s, f in files if f.is_file()]
    small_present = [(p, s, f) for p, s, f in small if f.is_file()]
    if verify_hashes:
        sums = hash_files([f for _, _, f in present + small_present], hash_workers)
    else:  # sizes only for the shards; the small files are always hashed
        sums = [(f.stat().st_size, None) for _, _, f in present] + hash_files([f for _, _, f in small_present], hash_workers)
    total = 0
    for (p, s, f), (size, digest) in zip(present + small_present, sums):
        total += size
        if size != s["bytes"]:
            problems.setdefault(p, []).append(f"{f} has {size} bytes, its manifest says {s['bytes']}")
        elif digest is not None and digest != s["sha256"]:
            problems.setdefault(p, []).append(f"{f} does not match the sha256 in its manifest (changed after it was written)")
    seconds = time.monotonic() - start
    if problems:
        _refuse_damaged(store, problems)
    paths.releases.mkdir(parents=True, exist_ok=True)
    rows = sum(n for m in manifests.values() for n in m["samples"].values())
    ensure_free(paths.releases, rows * METADATA_BYTES_PER_ROW + (1 << 20), "the release's catalog, licences and indexes")
    name = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + secrets.token_hex(3)
    staged = StagedRelease(paths, paths.releases / f"{STAGING_PREFIX}{name}", name, sorted(partitions), manifests=manifests,
                           caption_check=caption_check, keep_releases=keep_releases, holds=holds)
    staged.verify = {
        "files": len(files) + len(small),
        "bytes": total,
        "seconds": round(seconds, 3),
        "hashed": verify_hashes,
        "mb_per_s": round(total / 1e6 / seconds, 1) if seconds > 0 else None,
        "sample_tables_unhashed": unhashed,
    }
    staged.folder.mkdir()
    try:
        if shard_samples > 0:  # equal shards: samples copied into shards of shard_samples (tol10m_assets.shards.reshard)
            from tol10m_assets.shards.reshard import lay_equal_shards

            lay_equal_shards(staged, store, shard_samples)
        else:
            _link_shards(staged, store)
        fault_point("release.linked")
    except BaseException:
        shutil.rmtree(staged.folder, ignore_errors=True)
        raise
    return staged


def _link_shards(staged: StagedRelease, store: PartitionStore) -> None:
    counts: dict[tuple[str, str], int] = {}
    for partition, manifest in staged.manifests.items():
        for shard in manifest["shards"]:
            counts[(shard["split"], partition)] = counts.get((shard["split"], partition), 0) + 1
    numbers = shard_numbers(previous_shards(staged.paths), [(s, p, n) for (s, p), n in counts.items()])
    splits = set(SPLITS)
    for partition, manifest in staged.manifests.items():
        gen = store.generation_dir(partition, manifest)
        for shard in manifest["shards"]:  # per split in the partition's own order
            split = shard["split"]
            splits.add(split)
            number = numbers[(split, partition)].pop(0)
            target = staged.dataset / split / shard_file_name(number)
            target.parent.mkdir(parents=True, exist_ok=True)
            _link(gen / split / shard["name"], target)
            staged.shards.append(
                {"split": split, "number": number, "name": target.name, "partition": partition, "source": shard["name"],
                 "generation": manifest["generation"], "samples": shard["samples"], "bytes": shard["bytes"],
                 "sha256": shard["sha256"]}
            )
    for split in sorted(splits):
        (staged.dataset / split).mkdir(parents=True, exist_ok=True)
        staged.sizes[split] = sum(s["samples"] for s in staged.shards if s["split"] == split)


def write_split_indexes(staged: StagedRelease) -> dict[str, str]:
    """``sizes.json`` and ``shards.txt`` per split, a wids index per split, ``open_clip.txt`` and the
    dataset card; returns the ``--train-data`` string per split (absolute, through ``releases/<name>``,
    never the moving ``published`` link)."""
    from tol10m_assets import card, training

    own = staged.paths.releases / staged.name / staged.paths.size_name  # the release's folder once published
    train_data, counts = {}, {}
    for split in sorted(staged.sizes, key=lambda s: SPLITS.index(s) if s in SPLITS else len(SPLITS)):
        shards = sorted((s for s in staged.shards if s["split"] == split), key=lambda s: s["number"])
        folder = staged.dataset / split
        (folder / "sizes.json").write_text(json.dumps({s["name"]: s["samples"] for s in shards}, indent=2) + "\n")
        (folder / "shards.txt").write_text("".join(f"{s['name']}\n" for s in shards))
        wids = {
            "__kind__": "wids-shard-index-v1",
            "wids_version": 1,
            "name": split,
            "shardlist": [{"url": f"{split}/{s['name']}", "nsamples": s["samples"], "filesize": s["bytes"]} for s in shards],
        }
        (staged.dataset / f"wids-{split}.json").write_text(json.dumps(wids, indent=2) + "\n")
        counts[split] = [s["number"] for s in shards]
        if shards:
            train_data[split] = brace_pattern(own / split, counts[split])
    (staged.dataset / "open_clip.txt").write_text(training.open_clip_text(staged.paths.size_name, counts, staged.sizes))
    staged.training = training.absolute_arguments(own, counts, staged.sizes)
    if staged.changes is None and staged.catalog_parquet.is_file():
        record_changes(staged)
    (staged.dataset / "README.md").write_text(
        card.dataset_card(staged.paths.size_name, card.split_figures(staged.shards), staged.catalog_parquet,
                          changes=staged.changelog if staged.changelog is not None else staged.changes)
    )
    return train_data


def previous_release(paths: BuildPaths) -> Path | None:
    """The folder ``published`` points at (the release a new one replaces), or None."""
    try:
        folder = paths.published.resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    return folder if (folder / "release.json").is_file() else None


def record_changes(staged: StagedRelease) -> dict:
    """The staged release's difference from the published one (``changelog.compare`` over the two
    catalogs; removal reasons from the takedown list, the mapping, the partitions' recorded skips and
    the labels): the summary in ``staged.changes`` (``release.json`` → ``changes``), every changed id
    in ``metadata/changes.parquet``. Without a published release: ``first release``. A release that
    changes nothing (a republish) keeps the previous release's CHANGELOG and changes table
    (``staged.changelog``; the card's bytes stay the same). A previous release that cannot be read
    is recorded as an error, never a refusal."""
    from tol10m_assets import changelog

    partitions = {p: m["generation"] for p, m in staged.manifests.items()}
    before = previous_release(staged.paths)
    if before is None:
        staged.changes = changelog.first_release(partitions)
        return staged.changes
    name = changelog.read_record(before).get("name") or before.name
    paths = staged.paths
    why = changelog.Why(takedowns=paths.metadata / changelog.TAKEDOWNS, mapping=paths.mapping, labels=paths.labels,
                        skipped=changelog.skipped_of(staged.manifests.values()))
    try:
        changes = changelog.compare(changelog.catalog_of(before), staged.catalog_parquet,
                                    old_partitions=changelog.read_record(before).get("partitions"), new_partitions=partitions,
                                    why=why, table=staged.folder / changelog.TABLE, previous=name)
    except Exception as exc:  # noqa: BLE001 - a damaged previous release must not block this one
        if "No space left" in str(exc):
            raise disk_full(staged.metadata, str(staged.folder / changelog.TABLE)) from exc
        staged.changes = {"previous": name, "first_release": False, "error": f"{type(exc).__name__}: {exc}",
                          "summary": f"not computed: {exc}", "partitions": changelog.partition_changes({}, partitions)}
        return staged.changes
    changes["table"] = changelog.TABLE  # relative to the release folder
    staged.changes = changes
    staged.changelog = changes
    if changelog.nothing_changed(changes):
        record = changelog.read_record(before)
        staged.changelog = record.get("changelog") or record.get("changes") or changelog.first_release()
        table = staged.folder / changelog.TABLE
        table.unlink()
        changes["table"] = None
        if staged.changelog.get("table") and (before / changelog.TABLE).is_file():
            _link(before / changelog.TABLE, table)  # the table the carried CHANGELOG names
    return changes


def write_catalog(staged: StagedRelease, mapping_path: Path) -> dict[str, int]:
    """``catalog.csv`` and ``catalog.parquet`` from the partitions' sample tables ⋈ the mapping (DuckDB).

    One row per sample written, ordered by split (train, val, train_small) and then by id.
    """
    staged.metadata.mkdir(parents=True, exist_ok=True)
    tables = [str(p) for p in staged.samples_tables()]
    ids = ", ".join(f'm."{c}"' for c in ID_COLUMNS)
    ranks = ", ".join(f'nullif(s."{c}", \'\') AS "{c}"' for c in RANK_COLUMNS)  # an empty rank is NULL, as catalog.csv reads
    order = " ".join(f"WHEN '{s}' THEN {i}" for i, s in enumerate(SPLITS))
    con = connect()
    try:
        con.execute("SET preserve_insertion_order = true")
        con.read_parquet(tables).create_view("samples")
        con.read_parquet(str(mapping_path)).create_view("mapping")
        con.execute(
            f"""
            CREATE VIEW catalog AS
            SELECT s.split, s.treeoflife_id, {ids}, {ranks}, s.common
            FROM samples s
            LEFT JOIN mapping m USING (treeoflife_id)
            ORDER BY CASE s.split {order} ELSE {len(SPLITS)} END, s.split, s.treeoflife_id
            """
        )
        for target, form in ((staged.catalog_parquet, "parquet"), (staged.catalog_csv, "csv, HEADER")):
            try:
                con.execute(f"COPY catalog TO '{_sql_path(target)}' (FORMAT {form})")
            except Exception as exc:  # DuckDB reports a full disk as an IOException
                if "No space left" in str(exc):
                    raise disk_full(target.parent, str(target)) from exc
                raise
        counts = dict(con.execute("SELECT split, count(*) FROM read_parquet(?) GROUP BY split", [str(staged.catalog_parquet)]).fetchall())
    finally:
        con.close()
    return {s: int(counts.get(s, 0)) for s in staged.sizes}


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")


def consistency_problems(staged: StagedRelease) -> dict:
    """The catalog against itself and against the shards it was made from (DuckDB over the parquet)."""
    con = connect()
    try:
        con.read_parquet(str(staged.catalog_parquet)).create_view("c")
        one = lambda sql: int(con.execute(sql).fetchone()[0])  # noqa: E731
        figures = {
            "duplicates_within_split": one("SELECT count(*) - count(DISTINCT (split, treeoflife_id)) FROM c"),
            "train_small_not_in_train": one(
                "SELECT count(*) FROM c a WHERE split = 'train_small' AND NOT EXISTS "
                "(SELECT 1 FROM c b WHERE b.split = 'train' AND b.treeoflife_id = a.treeoflife_id)"
            ),
            "in_train_and_val": one(
                "SELECT count(*) FROM (SELECT treeoflife_id FROM c WHERE split = 'train' "
                "INTERSECT SELECT treeoflife_id FROM c WHERE split = 'val')"
            ),
            "ids_without_mapping_row": one(
                "SELECT count(*) FROM c WHERE eol_content_id IS NULL AND inat21_cls_num IS NULL AND bioscan_part IS NULL"
            ),
        }
        rows = dict(con.execute("SELECT split, count(*) FROM c GROUP BY split").fetchall())
    finally:
        con.close()
    mismatch = {s: [int(rows.get(s, 0)), n] for s, n in staged.sizes.items() if int(rows.get(s, 0)) != n}
    figures["rows_vs_shards_mismatch"] = mismatch
    figures["shard_files_differ"] = [
        f"{s['split']}/{s['name']}" for s in staged.shards
        if (staged.dataset / s["split"] / s["name"]).stat().st_size != s["bytes"]
    ][:20]
    captions = check_captions(staged)
    staged.verify["captions"] = {k: v for k, v in captions.items() if k != "examples"}
    figures["captions_differ_from_catalog"] = captions["examples"]
    figures["rows"] = int(sum(rows.values()))
    return figures


def check_captions(staged: StagedRelease) -> dict:
    """Every caption member of every sample of the checked shards (``caption_check``: all, or that
    share of the shards, chosen by their sha256) against the captions the catalog row makes.

    The expected captions are made once per distinct label (Python), hashed per catalog row in
    DuckDB (one table, spilled if large); each shard's text members are read (no image payload) and
    compared by hash in one query per shard: memory stays that of one shard. Returns the figures,
    the cost and up to 20 examples naming the members that differ.
    """
    import pyarrow as pa

    from tol10m_assets.shards import iter_shard_members
    from tol10m_assets.taxonomy.taxon import caption_texts

    start = time.monotonic()
    chosen = [s for s in staged.shards if staged.caption_check >= 1 or int(s["sha256"][:8], 16) < staged.caption_check * 2**32]
    if not chosen and staged.caption_check > 0 and staged.shards:
        chosen = staged.shards[:1]
    if not chosen:  # caption_check 0: no shard is read, and no expected caption is needed
        return {"share": staged.caption_check, "shards": 0, "of_shards": len(staged.shards), "samples": 0, "mismatches": 0,
                "bytes_of_shards": 0, "seconds": round(time.monotonic() - start, 3), "samples_per_s": None, "examples": []}
    members = list(caption_texts(("",) * 7, "x"))
    label = [*RANK_COLUMNS, "common"]
    digest = lambda alias: "md5(concat_ws(chr(31), " + ", ".join(f'coalesce({alias}."{m}", chr(30))' for m in members) + "))"  # noqa: E731
    got_cols = ", ".join(f'g."{m}"' for m in members)
    want_cols = ", ".join(f'e."{m}"' for m in members)
    samples, read, bad = 0, 0, []
    con = connect()
    try:
        con.read_parquet(str(staged.catalog_parquet)).create_view("c")
        distinct = con.execute("SELECT DISTINCT " + ", ".join(f'"{c}"' for c in label) + " FROM c").fetchall()
        expected = {c: [] for c in [*label, *members]}
        for row in distinct:
            texts = caption_texts(tuple(v or "" for v in row[:7]), row[7] or "")
            for c, v in zip(label, row):
                expected[c].append(v)
            for m in members:
                expected[m].append(texts[m])
        con.register("e", pa.table({k: pa.array(v, type=pa.string()) for k, v in expected.items()}))
        on = " AND ".join(f'e."{c}" IS NOT DISTINCT FROM c."{c}"' for c in label)
        con.execute(f"CREATE TEMP TABLE want AS SELECT c.split, c.treeoflife_id, {digest('e')} AS h FROM c JOIN e ON {on}")
        for shard in chosen:
            path = staged.dataset / shard["split"] / shard["name"]
            read += shard["bytes"]
            got: dict[str, list] = {"treeoflife_id": [], **{m: [] for m in members}}
            for sample in iter_shard_members(path):
                got["treeoflife_id"].append(sample["__key__"])
                for m in members:
                    got[m].append(sample.get(m))
            samples += len(got["treeoflife_id"])
            con.register("got", pa.table({k: pa.array(v, type=pa.string()) for k, v in got.items()}))
            bad += [
                (shard["split"], shard["name"], key, no_row, dict(zip(members, texts)) if len(bad) < 20 else None)
                for key, no_row, *texts in con.execute(
                    f"""SELECT g.treeoflife_id, w.h IS NULL, {got_cols}
                        FROM got g LEFT JOIN (SELECT * FROM want WHERE split = ?) w USING (treeoflife_id)
                        WHERE w.h IS NULL OR {digest('g')} <> w.h ORDER BY g.treeoflife_id""",
                    [shard["split"]],
                ).fetchall()
            ]
            con.unregister("got")
        examples = []
        for split, shard_name, key, no_row, texts in bad[:20]:
            if no_row:
                examples.append(f"{split}/{shard_name} {key}: no catalog row")
                continue
            want = con.execute(
                f"SELECT {want_cols} FROM c JOIN e ON {on} WHERE c.split = ? AND c.treeoflife_id = ?",
                [split, key],
            ).fetchone()
            differ = [m for m, w in zip(members, want) if texts[m] != w]
            examples.append(f"{split}/{shard_name} {key}: {','.join(differ)} differ from the catalog row")
    finally:
        con.close()
    seconds = time.monotonic() - start
    return {"share": staged.caption_check, "shards": len(chosen), "of_shards": len(staged.shards), "samples": samples,
            "mismatches": len(bad), "bytes_of_shards": read, "seconds": round(seconds, 3),
            "samples_per_s": round(samples / seconds) if seconds > 0 else None, "examples": examples}
def rebuilt_during(staged: StagedRelease) -> list[str]:
    """Partitions whose committed generation is no longer the one this release read."""
    store = PartitionStore(staged.paths.store)
    changed = []
    for p, m in staged.manifests.items():
        try:
            now = store.read_manifest(p)
        except ManifestError:
            now = None
        if not now or now.get("generation") != m["generation"]:
            changed.append(p)
    return changed


def publish(staged: StagedRelease, summary: dict | None = None) -> Path:
    """Commit: rename the staged release into place and switch ``published`` to it (one rename).

    Refuses if a partition it read was rebuilt meanwhile (possible only where locks do not work);
    records the release in ``releases/index.json`` before switching; then removes the recorded
    releases beyond ``keep_releases`` (never a folder it did not make) and releases its locks."""
    paths = staged.paths
    changed = rebuilt_during(staged)
    if changed:
        raise ReleaseRefused(
            "; ".join(f"partition {p} was rebuilt during the release" for p in changed) + ": run publish again"
        )
    record = {
        "name": staged.name,
        "size": paths.size_name,
        "partitions": {p: m["generation"] for p, m in staged.manifests.items()},
        "sizes": staged.sizes,
        "shards": staged.shards,
        "verify": staged.verify,
        "changes": staged.changes if staged.changes is not None else record_changes(staged),
        "changelog": staged.changelog if staged.changelog is not None else staged.changes,
        **(summary or {}),
    }
    write_json_durable(record, staged.folder / "release.json")
    releases_index.record(paths.releases, staged.name)
    final = paths.releases / staged.name
    os.replace(staged.folder, final)
    fsync_dir(paths.releases)
    staged.folder = final
    link_tmp = paths.root / f".published.tmp-{os.getpid()}-{secrets.token_hex(3)}"
    os.symlink(Path("releases") / staged.name, link_tmp)
    os.replace(link_tmp, paths.published)
    fsync_dir(paths.root)
    staged.holds.close()
    fault_point("release.committed")
    remove_old_releases(paths, staged.keep_releases)
    return final


def current_release(paths: BuildPaths) -> dict | None:
    try:
        return json.loads((paths.published / "release.json").read_text())
    except FileNotFoundError:
        return None


def remove_old_releases(paths: BuildPaths, keep: int = KEEP_RELEASES) -> list[str]:
    """Leftovers of killed releases (staging folders, temporary links and index files) and the
    releases of ``releases/index.json`` beyond the newest ``keep`` (never the published one nor the
    one before it). Folders the build did not make are never touched."""
    if not paths.releases.is_dir():
        return []
    current = os.readlink(paths.published) if paths.published.is_symlink() else ""
    removed = releases_index.prune(paths.releases, Path(current).name, keep)
    for leftover in paths.releases.glob(f"{STAGING_PREFIX}*"):
        with contextlib.suppress(OSError):
            shutil.rmtree(leftover)
            removed.append(leftover.name)
    for leftover in [*paths.releases.glob(f".{releases_index.INDEX}.tmp-*"), *paths.root.glob(".published.tmp-*")]:
        with contextlib.suppress(OSError):
            leftover.unlink()
            removed.append(leftover.name)
    return removed


def eol_rows(staged: StagedRelease):
    """The catalog's EOL images, once each (``treeoflife_id``, content and page ids) for the licences."""
    con = connect()
    try:
        return con.execute(
            f"""SELECT DISTINCT treeoflife_id, eol_content_id, eol_page_id FROM read_parquet('{_sql_path(staged.catalog_parquet)}')
                WHERE eol_content_id IS NOT NULL ORDER BY treeoflife_id"""
        ).df()
    finally:
        con.close()
