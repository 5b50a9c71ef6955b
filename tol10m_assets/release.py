"""A release: the published dataset, put together from the committed partitions, checked, and
switched into place in one atomic step.

    <data root>/releases/<name>/
        <W>x<H>/<split>/shard-000000.tar …   hard links to the partitions' committed shards,
                                               numbered without gaps per split
        <W>x<H>/<split>/sizes.json, shards.txt
        <W>x<H>/wids-<split>.json, open_clip.txt, README.md (dataset card with a config per split)
        metadata/catalog.csv, catalog.parquet, licenses.csv, taxa_report.md
        release.json                           partitions, generations, shard table, figures
    <data root>/published -> releases/<name>   replaced by one rename: the commit

A release is staged under ``releases/.staging-<token>``, checked there, and only then renamed and
linked; a failure anywhere leaves ``published`` (and every file it points at) exactly as it was.
Numbering: per split, the partitions in key order, each partition's shards in order; a partition
rebuilt with the same number of shards per split keeps its numbers. No Dagster imports.
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
from tol10m_assets.store import PartitionStore, fsync_dir, hash_files, write_json_durable

STAGING_PREFIX = ".staging-"
KEEP_RELEASES = 2  # the current one and the one before it (to roll back by relinking)


class ReleaseRefused(RuntimeError):
    """The release cannot be built from the partitions as they are; the message says why and how to fix it."""


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

    def discard(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def shard_file_name(number: int) -> str:
    return f"shard-{number:06d}.tar"


def brace_pattern(folder: Path, count: int) -> str:
    """``…/shard-{000000..000159}.tar`` (webdataset / open_clip brace expansion) for ``count`` shards."""
    if count == 1:
        return str(folder / shard_file_name(0))
    return str(folder / f"shard-{{{0:06d}..{count - 1:06d}}}.tar")


def _link(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError as exc:  # another file system, or one without hard links: copy
        if exc.errno not in (errno.EXDEV, errno.EPERM, errno.ENOTSUP, errno.EMLINK):
            raise
        shutil.copy2(source, target)


def stage_release(paths: BuildPaths, partitions: list[str], *, verify_hashes: bool = True, hash_workers: int = 4,
                  shard_samples: int = 0) -> StagedRelease:
    """Verify the committed partitions against their manifests and link their shards into a staged release.

    Refuses (``ReleaseRefused``) when there is no partition, when a partition has no committed
    manifest, or when a committed file differs from its manifest (size or sha256).
    """
    if not partitions:
        raise ReleaseRefused("no shard partition is registered: materialize `mapping` and the `shards` partitions first")
    store = PartitionStore(paths.store)
    manifests = {p: store.read_manifest(p) for p in sorted(partitions)}
    never = [p for p, m in manifests.items() if m is None]
    if never:
        raise ReleaseRefused(
            f"{len(never)} partition(s) have no committed shards: {', '.join(never)}; materialize them "
            "(UI: shards → Materialize → these partitions; CLI: dagster asset materialize --select shards --partition KEY)"
        )
    # verify every committed file against its manifest: one pool for all partitions
    start = time.monotonic()
    files = [(p, s, store.generation_dir(p, m) / s["split"] / s["name"]) for p, m in manifests.items() for s in m["shards"]]
    problems = []
    for p, m in manifests.items():
        table = store.generation_dir(p, m) / "samples.parquet"
        if not table.is_file():
            problems.append(f"{p}: {table} is missing")
    present = [(p, s, f) for p, s, f in files if f.is_file()]
    problems += [f"{p}: {f} named by the manifest is missing" for p, s, f in files if not f.is_file()]
    if verify_hashes:
        sums = hash_files([f for _, _, f in present], hash_workers)
    else:
        sums = [(f.stat().st_size, None) for _, _, f in present]
    total = 0
    for (p, s, f), (size, digest) in zip(present, sums):
        total += size
        if size != s["bytes"]:
            problems.append(f"{p}: {f} has {size} bytes, its manifest says {s['bytes']}")
        elif digest is not None and digest != s["sha256"]:
            problems.append(f"{p}: {f} does not match the sha256 in its manifest (changed after it was written)")
    seconds = time.monotonic() - start
    if problems:
        raise ReleaseRefused(
            f"{len(problems)} committed file(s) differ from their manifests; re-materialize the partitions named: "
            + "; ".join(problems[:20])
        )
    paths.releases.mkdir(parents=True, exist_ok=True)
    name = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + secrets.token_hex(3)
    staged = StagedRelease(paths, paths.releases / f"{STAGING_PREFIX}{name}", name, sorted(partitions), manifests=manifests)
    staged.verify = {
        "files": len(files),
        "bytes": total,
        "seconds": round(seconds, 3),
        "hashed": verify_hashes,
        "mb_per_s": round(total / 1e6 / seconds, 1) if seconds > 0 else None,
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
        staged.discard()
        raise
    return staged


def _link_shards(staged: StagedRelease, store: PartitionStore) -> None:
    numbers = {split: 0 for split in SPLITS}
    for partition, manifest in staged.manifests.items():
        gen = store.generation_dir(partition, manifest)
        for shard in manifest["shards"]:  # per split in the partition's own order
            split = shard["split"]
            number = numbers.setdefault(split, 0)
            numbers[split] += 1
            target = staged.dataset / split / shard_file_name(number)
            target.parent.mkdir(parents=True, exist_ok=True)
            _link(gen / split / shard["name"], target)
            staged.shards.append(
                {"split": split, "number": number, "name": target.name, "partition": partition, "source": shard["name"],
                 "generation": manifest["generation"], "samples": shard["samples"], "bytes": shard["bytes"],
                 "sha256": shard["sha256"]}
            )
    for split in sorted(numbers):
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
        shards = [s for s in staged.shards if s["split"] == split]
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
        counts[split] = len(shards)
        if shards:
            train_data[split] = brace_pattern(own / split, len(shards))
    (staged.dataset / "open_clip.txt").write_text(training.open_clip_text(staged.paths.size_name, counts, staged.sizes))
    staged.training = training.absolute_arguments(own, counts, staged.sizes)
    (staged.dataset / "README.md").write_text(
        card.dataset_card(staged.paths.size_name, card.split_figures(staged.shards), staged.catalog_parquet)
    )
    return train_data


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
        con.execute(f"COPY catalog TO '{_sql_path(staged.catalog_parquet)}' (FORMAT parquet)")
        con.execute(f"COPY catalog TO '{_sql_path(staged.catalog_csv)}' (FORMAT csv, HEADER)")
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
    figures["rows"] = int(sum(rows.values()))
    return figures


def publish(staged: StagedRelease, summary: dict | None = None) -> Path:
    """Commit: rename the staged release into place and switch ``published`` to it (one rename)."""
    paths = staged.paths
    record = {
        "name": staged.name,
        "size": paths.size_name,
        "partitions": {p: m["generation"] for p, m in staged.manifests.items()},
        "sizes": staged.sizes,
        "shards": staged.shards,
        "verify": staged.verify,
        **(summary or {}),
    }
    write_json_durable(record, staged.folder / "release.json")
    final = paths.releases / staged.name
    os.replace(staged.folder, final)
    fsync_dir(paths.releases)
    staged.folder = final
    link_tmp = paths.root / f".published.tmp-{os.getpid()}-{secrets.token_hex(3)}"
    os.symlink(Path("releases") / staged.name, link_tmp)
    os.replace(link_tmp, paths.published)
    fsync_dir(paths.root)
    fault_point("release.committed")
    remove_old_releases(paths)
    return final


def current_release(paths: BuildPaths) -> dict | None:
    try:
        return json.loads((paths.published / "release.json").read_text())
    except FileNotFoundError:
        return None


def remove_old_releases(paths: BuildPaths, keep: int = KEEP_RELEASES) -> list[str]:
    """Staging leftovers and all but the newest ``keep`` releases (never the published one)."""
    if not paths.releases.is_dir():
        return []
    current = os.readlink(paths.published) if paths.published.is_symlink() else ""
    current_name = Path(current).name
    removed = []
    finished = sorted(p for p in paths.releases.iterdir() if p.is_dir() and not p.name.startswith("."))
    for old in finished[:-keep] if keep else finished:
        if old.name != current_name:
            shutil.rmtree(old, ignore_errors=True)
            removed.append(old.name)
    for leftover in paths.releases.glob(f"{STAGING_PREFIX}*"):
        with contextlib.suppress(OSError):
            shutil.rmtree(leftover)
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
