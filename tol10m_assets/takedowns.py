"""Takedowns: images removed on request, by ``treeoflife_id`` or by source file, each with a reason.

The remove list (setting ``remove_list``) is a CSV with a header line and the columns

- ``treeoflife_id``: the image's id (a UUID), or empty;
- ``source_file``: where the image is in its source, or empty; one of
  ``image_set_NN.tar.gz/<member>`` (EOL; ``:`` instead of ``/`` and a bare member name work too; an original
  member ``<content>_<page>_eol….jpg`` is matched by (content_id, page_id), a published ``<id>.jpg`` by id),
  ``train/<NNNNN_class dir>/<file>`` (iNat21, matched by class number and file name) or
  ``part<N>/<file>`` (BIOSCAN ``cropped_256``, matched by part and file name);
- ``reason`` (required, non-empty): why, e.g. ``licence holder request 2026-11-30``.

Each data line names exactly one image: ``treeoflife_id`` or ``source_file``, not both. Other columns
(``requested_by``, ``date`` …) are kept out of the build. A line that does not fit raises
:class:`InputFormatError` naming the file and the line (header = line 1).

:func:`write_takedowns` resolves the list against ``mapping.parquet`` (DuckDB) into
``metadata/takedowns.parquet`` (``treeoflife_id``, ``reason``: one row per listed image; several reasons
of one image joined by ``; ``) and ``metadata/takedowns.json`` (the entries no image matches, the
partitions holding listed ids). Shard partitions skip a listed id (skip reason ``removed``);
:func:`published_takedowns` proves no listed id or file is in a staged release. No Dagster imports.
"""

from __future__ import annotations

import csv
import json
import os
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from tol10m_assets.columns import connect
from tol10m_assets.errors import InputFormatError, MissingSourceError

ID, FILE, REASON = "treeoflife_id", "source_file", "reason"
TAKEDOWNS_SCHEMA = pa.schema([(ID, pa.string()), (REASON, pa.string())])
ENTRY_SCHEMA = pa.schema([
    ("line", pa.int64()), ("kind", pa.string()), ("value", pa.string()), ("reason", pa.string()),
    ("treeoflife_id", pa.string()), ("content_id", pa.int64()), ("page_id", pa.int64()),
    ("cls_num", pa.int64()), ("part", pa.int64()), ("filename", pa.string()),
])
EXAMPLES = 50  # unknown entries / leaks named in full; the rest are counted

_EOL_FILE = re.compile(r"(?:(?:\./)?image_set_\d+\.tar(?:\.gz)?[/:])?(?:\./)?(?P<member>[^/:]+)")
_EOL_MEMBER = re.compile(r"(\d+)_(\d+)_eol.*jpg")
_PUBLISHED_MEMBER = re.compile(r"([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\.jpg")
_INAT21_FILE = re.compile(r"(?:\./)?(?:train/)?(?P<cls>\d{5})_[^/]+/(?P<name>[^/]+)")
_BIOSCAN_FILE = re.compile(r"(?:\./)?(?:cropped_256/)?part(?P<part>\d+)/(?P<name>[^/]+)")
SOURCE_FILE_FORMS = ("image_set_NN.tar.gz/<member>", "train/<NNNNN_class dir>/<file>", "part<N>/<file>")


@dataclass
class RemoveList:
    """The parsed remove list: one entry per data line (``ENTRY_SCHEMA``); ``kind`` is ``id`` (by id; an
    EOL published member too), ``eol``, ``inat21`` or ``bioscan`` (by source file)."""

    path: Path | None
    entries: pa.Table = field(default_factory=lambda: ENTRY_SCHEMA.empty_table())

    def __len__(self) -> int:
        return self.entries.num_rows


def _entry(line: int, kind: str, value: str, reason: str, **key) -> dict:
    return {"line": line, "kind": kind, "value": value, "reason": reason, "treeoflife_id": None, "content_id": None,
            "page_id": None, "cls_num": None, "part": None, "filename": None, **key}


def _canonical_id(path: Path, line: int, value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise InputFormatError(path, f"treeoflife_id {value!r} is not a UUID", line=line) from None


def parse_source_file(path: Path, line: int, value: str, reason: str) -> dict:
    """The entry a ``source_file`` value names (its source's identity), or an error naming the line."""
    text = value.replace("\\", "/")
    if m := _INAT21_FILE.fullmatch(text):
        return _entry(line, "inat21", value, reason, cls_num=int(m["cls"]), filename=m["name"])
    if m := _BIOSCAN_FILE.fullmatch(text):
        return _entry(line, "bioscan", value, reason, part=int(m["part"]), filename=m["name"])
    if m := _EOL_FILE.fullmatch(text):
        member = m["member"]
        if e := _EOL_MEMBER.fullmatch(member):
            return _entry(line, "eol", value, reason, content_id=int(e[1]), page_id=int(e[2]))
        if p := _PUBLISHED_MEMBER.fullmatch(member):
            return _entry(line, "id", value, reason, treeoflife_id=str(uuid.UUID(p[1])))
    raise InputFormatError(path, f"source_file {value!r} names no image: give one of {', '.join(SOURCE_FILE_FORMS)}", line=line)


def read_remove_list(path: Path | str | None) -> RemoveList:
    """The remove list at ``path`` (None: no list). Missing file: :class:`MissingSourceError`; a header
    without ``reason`` or without an id column, or a line that names no single image: :class:`InputFormatError`."""
    if path is None:
        return RemoveList(None)
    path = Path(path)
    if not path.is_file():
        raise MissingSourceError(path, "remove_list", "takedown list")
    rows = []
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            header = next(reader, None)
            if header is None:
                raise InputFormatError(path, f"empty file: the header line ({ID},{FILE},{REASON}) is missing", line=1)
            names = [h.strip().lower() for h in header]
            if REASON not in names or not ({ID, FILE} & set(names)):
                raise InputFormatError(path, f"the header must have a `{REASON}` column and `{ID}` and/or `{FILE}`; "
                                             f"found {header}", line=1)
            if len(set(names)) != len(names):
                raise InputFormatError(path, f"repeated column in the header {header}", line=1)
            at = {n: i for i, n in enumerate(names)}
            for values in reader:
                line = reader.line_num
                if not values or all(not v.strip() for v in values):
                    continue  # blank line
                if len(values) != len(names):
                    raise InputFormatError(path, f"{len(values)} fields, the header has {len(names)}", line=line)
                get = lambda n: values[at[n]].strip() if n in at else ""  # noqa: E731
                ident, source_file, reason = get(ID), get(FILE), get(REASON)
                if not reason:
                    raise InputFormatError(path, f"`{REASON}` is empty: every takedown needs one", line=line)
                if bool(ident) == bool(source_file):
                    raise InputFormatError(path, f"give exactly one of `{ID}` and `{FILE}`" +
                                           (" (both are set)" if ident else " (both are empty)"), line=line)
                if ident:
                    rows.append(_entry(line, "id", ident, reason, treeoflife_id=_canonical_id(path, line, ident)))
                else:
                    rows.append(parse_source_file(path, line, source_file, reason))
    except UnicodeDecodeError as exc:
        raise InputFormatError(path, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except csv.Error as exc:
        raise InputFormatError(path, f"not a CSV file ({exc})", line=reader.line_num) from None
    return RemoveList(path, pa.Table.from_pylist(rows, schema=ENTRY_SCHEMA))


# one SQL join per kind of entry (each a hash join on the mapping's own key columns)
_MATCH = {
    "id": "m.treeoflife_id = e.treeoflife_id",
    "eol": "m.source = 'eol' AND m.eol_content_id = e.content_id AND m.eol_page_id = e.page_id",
    "inat21": "m.source = 'inat21' AND m.inat21_cls_num = e.cls_num AND m.inat21_filename = e.filename",
    "bioscan": "m.source = 'bioscan' AND m.bioscan_part = e.part AND m.bioscan_filename = e.filename",
}

# ... and against a catalog's source columns (the check on a release: independent of the mapping)
_CATALOG_MATCH = {
    "eol": "c.eol_content_id = e.content_id AND c.eol_page_id = e.page_id",
    "inat21": "c.inat21_cls_num = e.cls_num AND c.inat21_filename = e.filename",
    "bioscan": "c.bioscan_part = e.part AND c.bioscan_filename = e.filename",
}


def by_file(entries: pa.Table) -> int:
    """Entries that name a source file (an EOL published member resolves to an id, but was given as a file)."""
    return sum(1 for v in entries.column("value").to_pylist() if not _is_uuid(v))


@dataclass
class TakedownSummary:
    remove_list: str | None
    entries: int  # data lines of the list
    by_id: int
    by_source_file: int
    ids: int  # distinct images taken down (rows of takedowns.parquet)
    unknown: int  # entries no image of the mapping matches
    unknown_entries: list[dict]  # the first EXAMPLES: line, value
    partitions: dict[str, int]  # partition -> listed ids it holds
    reasons: dict[str, int]  # reason -> images

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def _write_atomic(table: pa.Table, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    pq.write_table(table, tmp)
    os.replace(tmp, target)


def write_takedowns(remove: RemoveList, mapping: Path, out: Path, summary_out: Path | None = None) -> TakedownSummary:
    """Resolve ``remove`` against the mapping into ``out`` (``treeoflife_id``, ``reason``, sorted by id;
    empty without a list) and, when given, the summary JSON ``summary_out``."""
    entries = remove.entries
    con = connect()
    try:
        con.register("e", entries)
        con.execute(f"CREATE TEMP VIEW m AS SELECT * FROM read_parquet('{_sql_path(mapping)}')")
        matches = " UNION ALL ".join(
            f"SELECT e.line, e.reason, m.treeoflife_id, m.partition FROM e JOIN m ON e.kind = '{kind}' AND {cond}"
            for kind, cond in _MATCH.items()
        )
        con.execute(f"CREATE TEMP TABLE hit AS {matches}")
        taken = con.sql(
            """SELECT treeoflife_id, string_agg(reason, '; ' ORDER BY first) AS reason
               FROM (SELECT treeoflife_id, reason, min(line) AS first FROM hit GROUP BY ALL)
               GROUP BY treeoflife_id ORDER BY treeoflife_id"""
        ).to_arrow_table()
        unknown = con.execute("SELECT line, value FROM e WHERE line NOT IN (SELECT line FROM hit) ORDER BY line").fetchall()
        partitions = dict(con.execute("SELECT partition, count(DISTINCT treeoflife_id) FROM hit GROUP BY 1 ORDER BY 1").fetchall())
        reasons = dict(con.execute(
            "SELECT reason, count(*) FROM (SELECT DISTINCT treeoflife_id, reason FROM hit) GROUP BY 1 ORDER BY 1").fetchall())
    finally:
        con.close()
    table = pa.table({ID: taken.column(ID).cast(pa.string()), REASON: taken.column(REASON).cast(pa.string())},
                     schema=TAKEDOWNS_SCHEMA) if taken.num_rows else TAKEDOWNS_SCHEMA.empty_table()
    _write_atomic(table, out)
    files = by_file(entries)
    summary = TakedownSummary(
        remove_list=str(remove.path) if remove.path else None,
        entries=entries.num_rows, by_id=entries.num_rows - files, by_source_file=files, ids=table.num_rows,
        unknown=len(unknown), unknown_entries=[{"line": ln, "value": v} for ln, v in unknown[:EXAMPLES]],
        partitions={str(k): int(v) for k, v in partitions.items()}, reasons={str(k): int(v) for k, v in reasons.items()},
    )
    if summary_out is not None:
        tmp = summary_out.with_name(f".{summary_out.name}.tmp-{os.getpid()}")
        tmp.write_text(json.dumps(summary.as_dict(), indent=2, sort_keys=True) + "\n")
        os.replace(tmp, summary_out)
    return summary


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
        return True
    except ValueError:
        return False


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")


def removed_reasons_sql(takedowns: Path | None) -> str:
    """A relation (treeoflife_id, reason) of the takedowns table, or an empty one when it is absent (a
    build made before takedowns existed: nothing is removed)."""
    if takedowns is not None and Path(takedowns).is_file():
        return f"(SELECT {ID}, {REASON} FROM read_parquet('{_sql_path(takedowns)}'))"
    return f"(SELECT NULL::VARCHAR AS {ID}, NULL::VARCHAR AS {REASON} WHERE false)"


def published_takedowns(catalog_parquet: Path, samples_tables: dict[str, Path], remove: RemoveList,
                        takedowns: Path | None = None) -> dict:
    """Listed images in a staged release: the list's ids (and the resolved ids of ``takedowns``) in the
    catalog or a partition's samples table, and the list's source files matched against the catalog's
    source columns. ``leaks`` is 0 when none is published; ``partitions`` are those to rebuild."""
    con = connect()
    try:
        con.register("e", remove.entries)
        resolved = removed_reasons_sql(takedowns)
        con.execute(
            f"""CREATE TEMP TABLE listed AS
                SELECT treeoflife_id, min(reason) AS reason FROM (
                    SELECT treeoflife_id, reason FROM e WHERE kind = 'id'
                    UNION ALL SELECT {ID}, {REASON} FROM {resolved}) GROUP BY 1"""
        )
        con.execute(f"CREATE TEMP VIEW c AS SELECT * FROM read_parquet('{_sql_path(catalog_parquet)}')")
        if samples_tables:
            files = pa.table({"file": [str(p) for p in samples_tables.values()], "partition": list(samples_tables)})
            con.register("owners", files)
            listing = ", ".join(f"'{_sql_path(p)}'" for p in samples_tables.values())
            con.execute(
                f"""CREATE TEMP VIEW s AS SELECT o.partition, x.treeoflife_id
                    FROM read_parquet([{listing}], filename = true) x JOIN owners o ON o.file = x.filename"""
            )
        else:
            con.execute("CREATE TEMP VIEW s AS SELECT NULL::VARCHAR AS partition, NULL::VARCHAR AS treeoflife_id WHERE false")
        file_hits = " UNION ALL ".join(
            f"SELECT c.treeoflife_id, e.reason, 'source_file ' || e.value AS via FROM c JOIN e ON e.kind = '{kind}' AND {cond}"
            for kind, cond in _CATALOG_MATCH.items()
        )
        rows = con.execute(
            f"""WITH hits AS (
                    SELECT c.treeoflife_id, l.reason, 'catalog' AS via FROM c JOIN listed l USING (treeoflife_id)
                    UNION ALL SELECT s.treeoflife_id, l.reason, 'samples table' FROM s JOIN listed l USING (treeoflife_id)
                    UNION ALL {file_hits})
                SELECT h.treeoflife_id, min(h.reason), string_agg(DISTINCT h.via, ', ' ORDER BY h.via),
                       string_agg(DISTINCT s.partition, ', ' ORDER BY s.partition)
                FROM hits h LEFT JOIN s USING (treeoflife_id)
                GROUP BY 1 ORDER BY 1"""
        ).fetchall()
        listed_ids = con.execute("SELECT count(*) FROM listed").fetchone()[0]
    finally:
        con.close()
    leaked = [{"treeoflife_id": i, "reason": r, "found_in": via, "partition": p or "?"} for i, r, via, p in rows]
    partitions = sorted({p for row in leaked for p in row["partition"].split(", ") if p != "?"})
    return {
        "listed_ids": int(listed_ids),
        "listed_files": by_file(remove.entries),
        "leaks": len(leaked),
        "leaked": leaked[:EXAMPLES],
        "partitions": partitions,
    }


def leak_message(result: dict) -> str:
    """One paragraph: the published listed ids, their partitions, and what to do."""
    if not result["leaks"]:
        return f"no listed image is in the release ({result['listed_ids']} listed id(s), {result['listed_files']} source file(s))"
    shown = ", ".join(f"{r['treeoflife_id']} ({r['partition']})" for r in result["leaked"][:10])
    more = f" and {result['leaks'] - 10} more" if result["leaks"] > 10 else ""
    return (f"{result['leaks']} image(s) of the takedown list are in the staged release: {shown}{more}. Their partitions "
            f"were built before the list named them: rebuild partition(s) {', '.join(result['partitions'])} "
            "(materialize `takedowns`, then shards → Materialize those partitions), then publish again")
