"""What the UI shows about each asset: owners and code versions, table metadata (row count, column
schema with descriptions, a preview of the first rows, human sizes), charts, thumbnails, examples.

Every helper reads files cheaply (Parquet footers, the first rows, the first shard's first images)
so that it costs nothing next to the asset it describes, whatever the size of the dataset.
"""

from __future__ import annotations

import base64
import io
import tarfile
from pathlib import Path

from dagster import MetadataValue, TableColumn, TableRecord, TableSchema

OWNERS = ["team:tol10m"]
# Bump an asset's code version when a change of its code changes its output bytes: the UI then shows
# every materialization of it (and, per partition, of the shards) as stale ("has a new code version").
CODE_VERSIONS = {
    "mapping": "1",
    "splits": "1",
    "labels": "1",
    "predicted_catalog": "1",
    "shards": "1",
    "catalog": "1",
    "taxa_report": "1",
    "eol_licenses": "1",
    "eol_image_set_download": "1",
    "tol_metadata_download": "1",
    "inat21_download": "1",
    "bioscan_download": "1",
    "name_sources_download": "1",
    "rare_species_download": "1",
}
PREVIEW_ROWS = 10
RANKS = ("kingdom", "phylum", "class", "order", "family", "genus", "species")

COLUMN_DESCRIPTIONS = {
    "treeoflife_id": "Id of the image in TreeOfLife-10M (UUID5 of the source identity; published ids in reproduce mode)",
    "source": "eol, inat21 or bioscan",
    "partition": "Shard partition of the image (eol-NN, inat21-NNN, bioscan-NNN)",
    "origin": "Where the image is in its source (archive member or file)",
    "split": "train, val or train_small (train_small repeats a subset of train)",
    "is_val": "In the val split",
    "is_train_small": "In the train_small subset of train",
    "eol_content_id": "EOL content (media) id",
    "eol_page_id": "EOL page id (the taxon's page)",
    "bioscan_part": "BIOSCAN-1M part number (folder partN)",
    "bioscan_filename": "BIOSCAN-1M image file name",
    "inat21_filename": "iNat21 image file name",
    "inat21_cls_name": "iNat21 class directory name without its number",
    "inat21_cls_num": "iNat21 class number",
    "kingdom": "Kingdom (capitalised)",
    "phylum": "Phylum",
    "class": "Class",
    "order": "Order",
    "family": "Family",
    "genus": "Genus",
    "species": "Species epithet only (lower case)",
    "common": "Common name, else the scientific name, else the taxonomic name",
    "common_looked_up": "The common name came from a name source (not a fallback)",
    "provenance": "JSON: which source gave each rank and the common name",
    "published_id": "Id in the published mapping (reproduce mode)",
    "license": "Licence of the EOL image",
    "license_name": "Licence of the EOL image",
    "owner": "Owner (rights holder) of the EOL image",
}


def unsynced_links(partitions: list[str], job: str = "update") -> dict:
    """Links (relative to the UI's root) that carry these shard partitions in the query string
    (`default_range`, which Dagster's partition dialog reads; it cannot select unsynced partitions itself):

    - `materialize_unsynced`: the job `update` (`/guess/` finds it in whichever code location defines it),
      where Materialize ▾ → Materialize unsynced → Materialize opens the partition dialog with exactly them;
    - `materialize_unsynced_shards`: the `shards` asset, whose Materialize does the same for `shards`
      alone (Dagster's Materialize unsynced leaves a partitioned asset out unless a partition is missing
      or failed: then rebuild the unsynced upstream assets first, then these partitions)."""
    from urllib.parse import quote

    if not partitions:
        none = MetadataValue.text("none unsynced")
        return {"materialize_unsynced": none, "materialize_unsynced_shards": none}
    query = f"default_range={quote(','.join(partitions), safe=',')}"
    return {"materialize_unsynced": MetadataValue.url(f"/guess/{job}?{query}"),
            "materialize_unsynced_shards": MetadataValue.url(f"/assets/shards?{query}")}


def asset_attrs(name: str) -> dict:
    """Owners and code version of an asset, for ``@asset(**asset_attrs(name))`` or ``AssetSpec``."""
    return {"owners": OWNERS, "code_version": CODE_VERSIONS[name]}


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n} B"


def _md_cell(value) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # ids of a column with gaps come back as floats
    text = "" if value is None else str(value)
    if text in ("nan", "<NA>", "None"):
        text = ""
    text = text.replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= 60 else text[:57] + "…"


def _cell(value) -> str:
    """A preview cell: text (markdown and table entries of the UI show text), long values cut."""
    return _md_cell(value).replace("\\|", "|")


def markdown_table(columns: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(_md_cell(c) for c in columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_md_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def records_table(columns: list[str], rows: list[list], empty: str = "none") -> MetadataValue:
    """A metadata table of text cells (the UI shows tables inline, in check results too, where markdown
    and JSON hide behind a button); `empty` as text when there is no row."""
    if not rows:
        return MetadataValue.text(empty)
    schema = TableSchema(columns=[TableColumn(c, "string") for c in columns])
    return MetadataValue.table([TableRecord({c: str(v) for c, v in zip(columns, row)}) for row in rows], schema=schema)


def _schema(names_types: list[tuple[str, str]]) -> TableSchema:
    return TableSchema(
        columns=[TableColumn(name=n, type=t, description=COLUMN_DESCRIPTIONS.get(n)) for n, t in names_types]
    )


def _head(path: Path, rows: int):
    """(columns with types, first rows, total rows or None) of a Parquet or CSV file, reading little."""
    import pandas as pd

    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        handle = pq.ParquetFile(path)
        total = handle.metadata.num_rows
        types = [(f.name, str(f.type)) for f in handle.schema_arrow]
        batch = next(handle.iter_batches(batch_size=rows), None)
        head = batch.to_pandas() if batch is not None else pd.DataFrame(columns=[n for n, _ in types])
        return types, head.head(rows), total
    head = pd.read_csv(path, nrows=rows, dtype=str, keep_default_na=False)
    sample = pd.read_csv(path, nrows=200, keep_default_na=False)
    types = [(c, str(sample[c].dtype).replace("object", "string")) for c in head.columns]
    return types, head, None


def count_lines(path: Path) -> int:
    """Data rows of a CSV with a header (newlines counted in large binary chunks)."""
    n = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(16 << 20):
            n += chunk.count(b"\n")
    return max(n - 1, 0)


def table_metadata(path: str | Path, row_count: int | None = None, preview_rows: int = PREVIEW_ROWS) -> dict:
    """`dagster/row_count`, `dagster/column_schema`, a preview of the first rows, the file and its size."""
    path = Path(path)
    if not path.exists():
        return {"path": MetadataValue.path(str(path))}
    types, head, total = _head(path, preview_rows)
    if row_count is None:
        row_count = total if total is not None else count_lines(path)
    records = [TableRecord({c: _cell(row[c]) for c, _ in types}) for row in head.to_dict("records")]
    return {
        "dagster/row_count": int(row_count),
        "dagster/column_schema": _schema(types),
        "preview": MetadataValue.table(records, schema=TableSchema(columns=[TableColumn(c, "string") for c, _ in types])),
        "path": MetadataValue.path(str(path)),
        "size": human_bytes(path.stat().st_size),
    }


# --- charts ----------------------------------------------------------------------------------


def bar_chart_md(title: str, counts: dict, unit: str = "images", width: int = 20) -> str:
    """A markdown table with a bar per row (block characters), largest first."""
    if not counts:
        return f"**{title}**: none"
    top = max(counts.values()) or 1
    total = sum(counts.values()) or 1
    rows = []
    for name, n in sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0]))):
        bar = "█" * max(1 if n else 0, round(width * n / top))
        rows.append(f"| {_md_cell(name) or '(empty)'} | {n:,} | {n / total:.1%} | {bar} |")
    return "\n".join([f"**{title}**", "", f"| | {unit} | share | |", "|-|-:|-:|-|", *rows])


def share_chart_md(title: str, shares: dict, width: int = 20) -> str:
    """Bars of shares (0..1), in the given order."""
    rows = [f"| {_md_cell(k)} | {v:.1%} | {'█' * round(width * v)} |" for k, v in shares.items()]
    return "\n".join([f"**{title}**", "", "| | share | |", "|-|-:|-|", *rows])


MD_INLINE = 990  # the UI shows a markdown entry inline only under 1,000 characters


def catalog_charts(catalog_parquet: str | Path) -> dict:
    """Images per kingdom and per source, and rank completeness (train_small left out), from the catalog:
    one markdown entry each, short enough for the UI to show inline."""
    import duckdb

    con = duckdb.connect()
    try:
        con.read_parquet(str(catalog_parquet)).create_view("c")
        base = "FROM c WHERE split <> 'train_small'"
        kingdoms = dict(con.execute(f"SELECT coalesce(kingdom, ''), count(*) {base} GROUP BY 1").fetchall())
        sources = dict(con.execute(
            "SELECT CASE WHEN bioscan_part IS NOT NULL THEN 'bioscan' WHEN inat21_cls_num IS NOT NULL THEN 'inat21' "
            f"ELSE 'eol' END, count(*) {base} GROUP BY 1"
        ).fetchall())
        present = ", ".join(f"avg(CASE WHEN coalesce(\"{r}\", '') <> '' THEN 1 ELSE 0 END)" for r in RANKS)
        shares = con.execute(f"SELECT {present} {base}").fetchone()
    finally:
        con.close()
    completeness = {r: float(s or 0) for r, s in zip(RANKS, shares)}
    return {
        "chart_images_per_kingdom": MetadataValue.md(_fit(bar_chart_md, "Images per kingdom", _top(kingdoms))),
        "chart_images_per_source": MetadataValue.md(_fit(bar_chart_md, "Images per source", sources)),
        "chart_rank_completeness": MetadataValue.md(_fit(share_chart_md, "Rank completeness", completeness)),
    }


def _top(counts: dict, n: int = 8) -> dict:
    ranked = sorted(counts.items(), key=lambda kv: -kv[1])
    top = dict(ranked[:n])
    if len(ranked) > n:
        top["(others)"] = sum(v for _, v in ranked[n:])
    return top


def _fit(chart, title: str, values: dict) -> str:
    for width in (20, 12, 6, 3):
        text = chart(title, values, width=width)
        if len(text) <= MD_INLINE:
            return text
    return text


# --- check_taxa: the names behind the figures -----------------------------------------------------


def taxa_examples(catalog_parquet: str | Path, limit: int = 10) -> dict:
    """Examples of each check_taxa figure: multi-word species, `(unidentified)`, hierarchy gaps."""
    import duckdb

    def has(rank):
        return f"coalesce(\"{rank}\", '') <> ''"

    def missing_above(rank):
        return "(" + " OR ".join(f"NOT {has(r)}" for r in RANKS[: RANKS.index(rank)]) + ")"

    ranks = ", ".join(f'"{r}"' for r in RANKS)
    queries = {
        "multiword_species": "species LIKE '% %'",
        "unidentified_species": "species = '(unidentified)'",
        "gap_missing_above_genus": f"{has('genus')} AND {missing_above('genus')}",
        "gap_missing_above_family": f"NOT {has('genus')} AND {has('family')} AND {missing_above('family')}",
        "gap_missing_above_order": f"NOT {has('genus')} AND NOT {has('family')} AND {has('order')} AND {missing_above('order')}",
        "species_without_genus": f"{has('species')} AND NOT {has('genus')} AND ("
        + " OR ".join(has(r) for r in RANKS[:5]) + ")",
    }
    con = duckdb.connect()
    out = {}
    try:
        con.read_parquet(str(catalog_parquet)).create_view("c")
        for name, where in queries.items():
            found = con.execute(
                f"SELECT {ranks}, count(*) AS n FROM c WHERE split <> 'train_small' AND {where} "
                f"GROUP BY ALL ORDER BY n DESC LIMIT {int(limit)}"
            ).fetchall()
            out[name] = [" ".join(v for v in row[:7] if v) + f" ({row[7]} images)" for row in found]
    finally:
        con.close()
    return out


def taxa_example_entries(catalog_parquet: str | Path, limit: int = 5) -> dict:
    """One short text entry per check_taxa figure (`examples_<figure>`): the names behind the number."""
    entries = {}
    for name, names in taxa_examples(catalog_parquet, limit).items():
        text = "; ".join(names) if names else "none"
        entries[f"examples_{name}"] = MetadataValue.text(text if len(text) <= 400 else text[:399] + "…")
    return entries


# --- shards: thumbnails ----------------------------------------------------------------------------


def thumbnail_entries(shard_files: list[Path], count: int = 4, size: int = 64) -> dict:
    """The first images of the committed shards as small inline WebP data URIs, one metadata entry each
    (`thumbnail_1` …, labelled with the common name), each short enough for the UI to show inline."""

    def images():
        for shard in shard_files:
            try:
                with tarfile.open(shard) as tar:
                    members = {m.name: m for m in tar.getmembers()}
                    for name, member in members.items():
                        if not name.endswith(".jpg"):
                            continue
                        key = name[: -len(".jpg")]
                        common = members.get(f"{key}.common_name.txt")
                        label = tar.extractfile(common).read().decode("utf-8", "replace").strip() if common else key
                        yield label, tar.extractfile(member).read()
            except (OSError, tarfile.TarError):
                continue

    return thumbnails_from_images(images(), count, size)


def thumbnail_entries_from_samples(first_samples: dict[str, list[tuple[str, bytes, str]]], count: int = 4, size: int = 64) -> dict:
    """The same entries from the writer's first samples per split (``PartitionResult.first_samples``),
    in the committed shards' order (split by name, then as written): no shard is read again."""
    images = ((common.strip(), jpeg) for split in sorted(first_samples) for _, jpeg, common in first_samples[split])
    return thumbnails_from_images(images, count, size)


def thumbnails_from_images(images, count: int = 4, size: int = 64) -> dict:
    """(label, JPEG bytes) pairs → ``thumbnail_N`` entries, the first ``count`` that fit inline."""
    from PIL import Image, WebPImagePlugin  # noqa: F401  (the one encoder needed: Image.init() would import ~40)

    entries: dict = {}
    for label, jpeg in images:
        if len(entries) >= count:
            break
        try:
            with Image.open(io.BytesIO(jpeg)) as img:
                img.draft("RGB", (size, size))  # JPEG: decoded at the smallest scale still >= size
                text = _inline_image(img.convert("RGB"), _md_cell(label).replace("]", ""), size)
        except OSError:
            continue
        if text:
            entries[f"thumbnail_{len(entries) + 1}"] = MetadataValue.md(text)
    return entries or {"thumbnail_1": MetadataValue.md("No image in the committed shards.")}


def _inline_image(img, label: str, size: int) -> str | None:
    for px, quality in ((size, 60), (size, 35), (48, 35), (32, 30)):
        small = img.copy()
        small.thumbnail((px, px))
        buf = io.BytesIO()
        small.save(buf, "WEBP", quality=quality, method=6)
        text = f"![{label}](data:image/webp;base64,{base64.b64encode(buf.getvalue()).decode()}) {label}"
        if len(text) <= MD_INLINE:
            return text
    return None


# --- shards: totals over partitions and time estimates ----------------------------------------------


def planned_per_partition(mapping_parquet: str | Path) -> dict[str, int]:
    """Images the mapping plans per shard partition (one DuckDB aggregate over the mapping)."""
    import duckdb

    con = duckdb.connect()
    try:
        rows = con.execute("SELECT partition, count(*) FROM read_parquet(?) GROUP BY 1", [str(mapping_parquet)]).fetchall()
    finally:
        con.close()
    return {str(k): int(n) for k, n in rows}


def format_duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours} h {rest // 60:02d} min" if hours else f"{rest // 60} min {rest % 60:02d} s"


def shard_totals(manifests: dict[str, dict | None], planned: dict[str, int], run_seconds: dict[str, float] | None = None) -> dict:
    """Totals over every registered partition's committed generation (images, bytes, skips by reason) and
    the time of the partitions still to build and of a full rebuild, one run at a time: a cost per run plus
    a cost per planned image, fitted on the wall seconds of the committed partitions' runs (`run_seconds`;
    else the writer's own seconds, which leave out each run's fixed cost)."""
    committed = {k: m for k, m in manifests.items() if m}
    images = sum(m["samples"].get("train", 0) + m["samples"].get("val", 0) for m in committed.values())
    skipped: dict[str, int] = {}
    for m in committed.values():
        for reason, n in m.get("skipped", {}).items():
            skipped[reason] = skipped.get(reason, 0) + n
    measured = sum(planned.get(k, 0) for k in committed)
    per_image = sum(m.get("seconds", 0.0) for m in committed.values()) / measured if measured else None
    todo = [k for k in manifests if k not in committed]
    out = {
        "total_partitions": MetadataValue.text(f"{len(committed)} of {len(manifests)} committed"),
        "total_images": images,
        "total_bytes": sum(m.get("bytes", 0) for m in committed.values()),
        "total_size": human_bytes(sum(m.get("bytes", 0) for m in committed.values())),
        "total_skipped": records_table(["reason", "images"], sorted(skipped.items()), empty="No image was skipped."),
    }
    if per_image is not None:
        out["ms_per_image"] = round(per_image * 1000, 3)  # the writer's own time
    figures = build_estimate(manifests, planned, run_seconds)
    if figures:
        out["run_cost"] = MetadataValue.text(figures["cost"].describe() + ("" if figures["from_runs"] else
                                             " (writer seconds only: no run time recorded)"))
        out["estimate_remaining"] = MetadataValue.text(
            f"{format_duration(figures['remaining'])} for {len(todo)} partition(s) not built")
        out["estimate_full_build"] = MetadataValue.text(
            f"{format_duration(figures['full'])} for {sum(planned.values()):,} images in {len(manifests)} partitions, "
            "one run at a time")
    return out


def build_estimate(manifests: dict[str, dict | None], planned: dict[str, int], run_seconds: dict[str, float] | None = None) -> dict | None:
    """Seconds of a full build and of the partitions not built (one run at a time), from the committed
    partitions' measured runs; None before any is committed."""
    from tol10m_assets.estimate import fit_run_cost

    committed = [k for k, m in manifests.items() if m]
    timed = {k: run_seconds[k] for k in committed if run_seconds and k in run_seconds}
    from_runs = bool(timed)
    if not from_runs:
        timed = {k: manifests[k].get("seconds", 0.0) for k in committed}
    cost = fit_run_cost([(planned.get(k, 0), t) for k, t in timed.items()])
    if cost is None:
        return None
    todo = [k for k in manifests if k not in committed]
    return {"cost": cost, "from_runs": from_runs, "partitions": len(manifests), "images": sum(planned.get(k, 0) for k in manifests),
            "full": cost.seconds(len(manifests), sum(planned.get(k, 0) for k in manifests)),
            "remaining": cost.seconds(len(todo), sum(planned.get(k, 0) for k in todo)), "todo": todo}


RUN_EVENTS_PAGE = 10_000  # the most event records Dagster's storages return in one query


def run_seconds(instance, manifests: dict[str, dict | None]) -> dict[str, float]:
    """Wall seconds of the run that committed each partition, where Dagster recorded it: from its launch
    (`RUN_STARTING`: the run worker's start and definitions load count; time queued behind other runs does
    not) or, for a run executed in its caller's process, its creation, to its end."""
    from dagster import DagsterEventType, RunsFilter
    from dagster._core.event_api import RunStatusChangeRecordsFilter

    ids = {k: m.get("run", {}).get("run_id") for k, m in manifests.items() if m}
    ids = {k: r for k, r in ids.items() if r}
    if not ids:
        return {}
    records = {r.dagster_run.run_id: r for r in instance.get_run_records(RunsFilter(run_ids=sorted(set(ids.values()))))}
    if not records:
        return {}
    earliest = min(r.create_timestamp.timestamp() for r in records.values())
    launched: dict[str, float] = {}
    cursor, wanted = None, set(ids.values())
    while True:  # every launch since the first of these runs, a page at a time (PostgreSQL: ≤ 10,000 a query)
        page = instance.fetch_run_status_changes(
            RunStatusChangeRecordsFilter(DagsterEventType.RUN_STARTING, after_timestamp=earliest - 1),
            limit=RUN_EVENTS_PAGE, cursor=cursor, ascending=True)
        launched.update((e.event_log_entry.run_id, e.timestamp) for e in page.records if e.event_log_entry.run_id in wanted)
        if not page.has_more or not page.records:
            break
        cursor = page.cursor
    out = {}
    for key, run_id in ids.items():
        record = records.get(run_id)
        if record is not None and record.end_time:
            begin = launched.get(run_id, record.create_timestamp.timestamp())
            out[key] = max(record.end_time - begin, 0.0)
    return out


def estimate_for(tol, instance) -> str:
    """`tol10m partitions`' estimate over the registered partitions of this instance and data root."""
    from tol10m_assets.defs.partitions import SHARD_PARTITIONS
    from tol10m_assets.store import ManifestError, PartitionStore

    paths = tol.paths()
    if not paths.mapping.exists():
        return "estimate: none yet (no mapping: build first)"
    store = PartitionStore(paths.store)

    def manifest(key: str):
        try:
            return store.read_manifest(key)
        except ManifestError:
            return None

    manifests = {k: manifest(k) for k in sorted(instance.get_dynamic_partitions(SHARD_PARTITIONS))}
    return estimate_text(instance, manifests, planned_per_partition(paths.mapping))


def estimate_text(instance, manifests: dict[str, dict | None], planned: dict[str, int]) -> str:
    """The CLI's lines: the time of a full build and of a backfill of the partitions not built."""
    figures = build_estimate(manifests, planned, run_seconds(instance, manifests))
    if figures is None:
        return "estimate: none yet (no committed partition to measure)"
    basis = figures["cost"].describe() + ("" if figures["from_runs"] else ", writer seconds only")
    return (f"estimate, one run at a time, at {basis}:\n"
            f"  full build   {format_duration(figures['full'])} ({figures['full']:.1f} s) for {figures['partitions']} "
            f"partitions, {figures['images']:,} images\n"
            f"  backfill     {format_duration(figures['remaining'])} ({figures['remaining']:.1f} s) for the "
            f"{len(figures['todo'])} partition(s) not built{': ' + ', '.join(figures['todo'][:10]) if figures['todo'] else ''}")


def check_wds_partitions(instance, partition: str | None = None, passed: bool | None = None) -> dict:
    """`check_wds_partitions`: "N of M partitions passed check_wds" over the registered shard partitions,
    from each one's latest check_wds evaluation (`partition`'s is `passed`, about to be recorded); the
    failed and the unchecked are named. Dagster's asset node counts checks (`1 / 1 Passed`), not partitions."""
    from dagster import AssetCheckKey, AssetKey
    from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

    from tol10m_assets.defs.partitions import SHARD_PARTITIONS

    registered = sorted(instance.get_dynamic_partitions(SHARD_PARTITIONS))
    try:
        infos = instance.event_log_storage.get_asset_check_partition_info([AssetCheckKey(AssetKey("shards"), "check_wds")])
    except Exception as exc:  # noqa: BLE001 - a count for the UI never fails the partition's check
        return {"check_wds_partitions": MetadataValue.text(f"unavailable ({type(exc).__name__}: {exc})")}
    status = {i.partition_key: i.latest_execution_status for i in infos}
    ok = {k for k in registered if status.get(k) == AssetCheckExecutionRecordStatus.SUCCEEDED}
    failed = {k for k in registered if status.get(k) == AssetCheckExecutionRecordStatus.FAILED}
    if partition is not None and passed is not None:
        (ok.add if passed else failed.add)(partition)
        (failed.discard if passed else ok.discard)(partition)
    unchecked = [k for k in registered if k not in ok and k not in failed]

    def named(keys) -> str:
        keys = sorted(keys)
        return ", ".join(keys[:10]) + (f" … ({len(keys)})" if len(keys) > 10 else "")

    text = f"{len(ok)} of {len(registered)} partitions passed check_wds"
    if failed:
        text += f"; failed: {named(failed)}"
    if unchecked:
        text += f"; not checked: {named(unchecked)}"
    return {"check_wds_partitions": MetadataValue.text(text)}  # text: a number would be plotted over partitions
