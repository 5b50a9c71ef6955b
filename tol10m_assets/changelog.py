"""What changed from one release to the next: ids added and removed per split (removed ones with a
reason), ids whose labels changed (counts per rank, the most frequent before → after, examples) and
the partitions rebuilt, all in DuckDB over the two catalogs (no Python object per row).

Every row is reduced to its keys and a 64-bit hash of its eight label columns; the label text is read
again only for the ids added, removed or whose hash differs (compared column by column), so memory
follows the keys, not the names. A release is a folder (``metadata/catalog.parquet``, else ``metadata/catalog.csv``; ``release.json``
for its partitions' generations) or a catalog file. ``compare`` returns the compact summary that
``release.json`` keeps under ``changes``; with ``table`` it writes every changed id to a Parquet file
(``metadata/changes.parquet`` of a release):

    change      added | removed | relabelled
    split       the split (NULL for relabelled: an id's labels are the same in each of its splits)
    treeoflife_id, reason, detail   (removed: why; see below)
    changed     relabelled: the changed columns, comma-joined (kingdom … species, common)
    before_<c>, after_<c>  for the seven ranks and ``common`` (empty rank = '')

Why an id left a split, first rule that holds (``Why`` says what the build recorded):

    split_changed          the id is still published, in another split (detail: the splits now)
    <recorded reason>      a changes table recorded for this very pair of releases (``Why.recorded``)
    removed                the takedown list ``<data root>/metadata/takedowns.parquet`` (detail: its reason)
    gone from the sources  the id is no longer in the mapping (its image left the sources)
    <skip reason>          the new release's partitions recorded the id as skipped (manifest
                           ``skipped_samples``: ``rare_species``, ``no_taxon``, ``corrupt_image``, …;
                           the first 1000 skips per partition)
    no_taxon               every rank of the id's labels row is empty (or it has none)
    skipped                none of the above (e.g. a skip beyond the manifest's first 1000)

No Dagster imports.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from tol10m_assets.columns import connect
from tol10m_assets.labels import RANK_COLUMNS
from tol10m_assets.splits import SPLITS

LABELS = [*RANK_COLUMNS, "common"]
TAKEDOWNS = "takedowns.parquet"  # <data root>/metadata/, columns treeoflife_id, reason
TABLE = "metadata/changes.parquet"  # in a release folder
FIRST = "first release"
EXAMPLES = 5
TOP = 10


class MissingRelease(FileNotFoundError):
    """A release (or catalog) that is not there; the message names it."""


@dataclass
class Why:
    """What says why an id left: each is optional (absent files are ignored)."""

    takedowns: Path | None = None
    mapping: Path | None = None
    labels: Path | None = None
    skipped: list[dict] = field(default_factory=list)  # {"key": treeoflife_id, "reason", "detail"} (manifests)
    recorded: Path | None = None  # a changes.parquet computed for this pair: its reasons are taken as they are


def _q(path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def catalog_of(release: Path) -> Path:
    """The catalog file of a release folder (Parquet preferred), or ``release`` itself if it is one."""
    release = Path(release)
    if release.is_file():
        return release
    for name in ("catalog.parquet", "catalog.csv"):
        if (release / "metadata" / name).is_file():
            return release / "metadata" / name
    raise MissingRelease(f"{release}: no release there (no metadata/catalog.parquet or catalog.csv)")


def read_record(release: Path) -> dict:
    """A release folder's ``release.json`` ({} for a bare catalog or an unreadable record)."""
    try:
        data = json.loads((Path(release) / "release.json").read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _source(path: Path) -> str:
    """A DuckDB table expression of a catalog: split, treeoflife_id and the eight label columns as text
    (NULL and '' alike: '')."""
    path = Path(path)
    if path.suffix == ".parquet":
        scan = f"read_parquet({_q(path)})"
    else:  # the published CSV: quoted fields (commas, quotes, newlines in names) read as written
        scan = f"read_csv({_q(path)}, header = true, all_varchar = true, quote = '\"', escape = '\"')"
    cols = ", ".join(f"coalesce(CAST({_ident(c)} AS VARCHAR), '') AS {_ident(c)}" for c in LABELS)
    return f"SELECT CAST(split AS VARCHAR) AS split, CAST(treeoflife_id AS VARCHAR) AS treeoflife_id, {cols} FROM {scan}"


def partition_changes(old: dict | None, new: dict | None) -> dict:
    """Partitions (``{partition: generation}`` of two release records) rebuilt, unchanged, added, retired."""
    old, new = old or {}, new or {}
    both = sorted(old.keys() & new.keys())
    return {"rebuilt": [p for p in both if old[p] != new[p]], "unchanged": [p for p in both if old[p] == new[p]],
            "added": sorted(new.keys() - old.keys()), "retired": sorted(old.keys() - new.keys())}


def first_release(new_partitions: dict | None = None) -> dict:
    """The ``changes`` of a release with no previous one."""
    return {"previous": None, "first_release": True, "summary": FIRST,
            "partitions": partition_changes({}, new_partitions)}


def _columns(con, path: Path | None) -> list[str]:
    """The column names of a Parquet file ([] when there is none)."""
    if path is None or not Path(path).is_file():
        return []
    return [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM read_parquet({_q(path)})").fetchall()]


def _why_sql(con, why: Why | None) -> tuple[str, str]:
    """(joins, CASE) giving ``reason`` and ``detail`` of a removed row ``r`` (new ids in ``nid``)."""
    why = why or Why()
    joins = ["LEFT JOIN nid ON nid.treeoflife_id = r.treeoflife_id"]
    reason = ["WHEN nid.treeoflife_id IS NOT NULL THEN 'split_changed'"]
    detail = ["WHEN nid.treeoflife_id IS NOT NULL THEN 'now in ' || nid.splits"]
    if why.recorded is not None and Path(why.recorded).is_file():
        con.execute(f"""CREATE TEMP TABLE rec AS SELECT split, treeoflife_id, any_value(reason) AS reason,
                        any_value(detail) AS detail FROM read_parquet({_q(why.recorded)}) WHERE change = 'removed'
                        GROUP BY ALL""")
        joins.append("LEFT JOIN rec ON rec.treeoflife_id = r.treeoflife_id AND rec.split = r.split")
        reason.append("WHEN rec.reason IS NOT NULL THEN rec.reason")
        detail.append("WHEN rec.reason IS NOT NULL THEN rec.detail")
    names = _columns(con, why.takedowns)
    if "treeoflife_id" in names:  # a list by source file / member only names no id: the mapping rule covers it
        said = "CAST(reason AS VARCHAR)" if "reason" in names else "NULL"
        con.execute(f"""CREATE TEMP TABLE td AS SELECT CAST(treeoflife_id AS VARCHAR) AS treeoflife_id,
                        string_agg(DISTINCT coalesce({said}, ''), '; ') AS why
                        FROM read_parquet({_q(why.takedowns)}) WHERE treeoflife_id IS NOT NULL GROUP BY 1""")
        joins.append("LEFT JOIN td ON td.treeoflife_id = r.treeoflife_id")
        reason.append("WHEN td.treeoflife_id IS NOT NULL THEN 'removed'")
        detail.append("WHEN td.treeoflife_id IS NOT NULL THEN td.why")
    if why.mapping is not None and Path(why.mapping).is_file():
        con.execute(f"CREATE TEMP TABLE mp AS SELECT DISTINCT CAST(treeoflife_id AS VARCHAR) AS treeoflife_id "
                    f"FROM read_parquet({_q(why.mapping)}) WHERE CAST(treeoflife_id AS VARCHAR) IN (SELECT treeoflife_id FROM gone)")
        joins.append("LEFT JOIN mp ON mp.treeoflife_id = r.treeoflife_id")
        reason.append("WHEN mp.treeoflife_id IS NULL THEN 'gone from the sources'")
        detail.append("WHEN mp.treeoflife_id IS NULL THEN 'not in the mapping'")
    skips = [s for s in why.skipped if isinstance(s, dict) and s.get("key") and s.get("reason")]
    if skips:
        import pyarrow as pa

        con.register("sk_raw", pa.table({
            "treeoflife_id": pa.array([str(s["key"]) for s in skips], pa.string()),
            "reason": pa.array([str(s["reason"]) for s in skips], pa.string()),
            "detail": pa.array([str(s.get("detail") or "") for s in skips], pa.string()),
        }))
        con.execute("CREATE TEMP TABLE sk AS SELECT treeoflife_id, min(reason) AS reason, min(detail) AS detail "
                    "FROM sk_raw GROUP BY 1")
        joins.append("LEFT JOIN sk ON sk.treeoflife_id = r.treeoflife_id")
        reason.append("WHEN sk.reason IS NOT NULL THEN sk.reason")
        detail.append("WHEN sk.reason IS NOT NULL THEN sk.detail")
    if why.labels is not None and Path(why.labels).is_file():
        empty = " AND ".join(f"coalesce(CAST({_ident(c)} AS VARCHAR), '') = ''" for c in RANK_COLUMNS)
        con.execute(f"CREATE TEMP TABLE lb AS SELECT CAST(treeoflife_id AS VARCHAR) AS treeoflife_id, bool_and({empty}) AS empty "
                    f"FROM read_parquet({_q(why.labels)}) WHERE CAST(treeoflife_id AS VARCHAR) IN (SELECT treeoflife_id FROM gone) GROUP BY 1")
        joins.append("LEFT JOIN lb ON lb.treeoflife_id = r.treeoflife_id")
        reason.append("WHEN lb.treeoflife_id IS NULL OR lb.empty THEN 'no_taxon'")
        detail.append("WHEN lb.treeoflife_id IS NULL OR lb.empty THEN 'every rank is empty'")
    return (" ".join(joins), f"CASE {' '.join(reason)} ELSE 'skipped' END AS reason, "
                             f"CASE {' '.join(detail)} ELSE '' END AS detail")


def compare(old: Path, new: Path, *, old_partitions: dict | None = None, new_partitions: dict | None = None,
            why: Why | None = None, table: Path | None = None, previous: str | None = None,
            examples: int = EXAMPLES, threads: int | None = None) -> dict:
    """The difference from catalog ``old`` to catalog ``new`` (Parquet or CSV files) as a summary;
    every changed id goes to ``table`` (Parquet) when given."""
    start = time.monotonic()
    con = connect(threads)
    try:
        # keys and a 64-bit hash of the labels for every row; the label text only for the ids that changed
        con.execute(f"CREATE TEMP VIEW src_a AS {_source(old)}")
        con.execute(f"CREATE TEMP VIEW src_b AS {_source(new)}")
        digest = "hash(" + ", ".join(_ident(c) for c in LABELS) + ")"
        for t in "ab":
            con.execute(f"CREATE TEMP TABLE k{t} AS SELECT split, treeoflife_id, {digest} AS h FROM src_{t}")
        keys = "split, treeoflife_id"
        con.execute(f"CREATE TEMP TABLE added_k AS SELECT {keys} FROM kb ANTI JOIN ka USING ({keys})")
        con.execute(f"CREATE TEMP TABLE gone_k AS SELECT {keys} FROM ka ANTI JOIN kb USING ({keys})")
        con.execute("""CREATE TEMP TABLE cand AS SELECT treeoflife_id
                       FROM (SELECT treeoflife_id, min(h) AS h FROM ka GROUP BY 1) x
                       JOIN (SELECT treeoflife_id, min(h) AS h FROM kb GROUP BY 1) y USING (treeoflife_id) WHERE x.h <> y.h""")
        for t, own in (("a", "gone_k"), ("b", "added_k")):
            con.execute(f"""CREATE TEMP TABLE {t} AS SELECT * FROM src_{t} SEMI JOIN
                            (SELECT treeoflife_id FROM {own} UNION SELECT treeoflife_id FROM cand) USING (treeoflife_id)""")
        con.execute(f"CREATE TEMP TABLE added AS SELECT * FROM b SEMI JOIN added_k USING ({keys})")
        con.execute(f"CREATE TEMP TABLE gone AS SELECT * FROM a SEMI JOIN gone_k USING ({keys})")
        con.execute("CREATE TEMP TABLE nid AS SELECT treeoflife_id, string_agg(DISTINCT split, ',' ORDER BY split) AS splits "
                    "FROM kb WHERE treeoflife_id IN (SELECT treeoflife_id FROM gone_k) GROUP BY 1")
        joins, case = _why_sql(con, why)
        con.execute(f"CREATE TEMP TABLE removed AS SELECT r.*, {case} FROM gone r {joins}")
        # one label row per id (its splits carry the same labels; train_small repeats train)
        one = lambda t: (f"SELECT treeoflife_id, {', '.join(f'any_value({_ident(c)}) AS {_ident(c)}' for c in LABELS)} "  # noqa: E731
                         f"FROM {t} GROUP BY treeoflife_id")
        differs = " OR ".join(f"x.{_ident(c)} <> y.{_ident(c)}" for c in LABELS)
        changed = "concat_ws(',', " + ", ".join(f"CASE WHEN x.{_ident(c)} <> y.{_ident(c)} THEN '{c}' END" for c in LABELS) + ")"
        before = ", ".join(f"x.{_ident(c)} AS {_ident('before_' + c)}" for c in LABELS)
        after = ", ".join(f"y.{_ident(c)} AS {_ident('after_' + c)}" for c in LABELS)
        con.execute(f"""CREATE TEMP TABLE relabelled AS
                        SELECT x.treeoflife_id, {changed} AS changed, {before}, {after}
                        FROM ({one('a')}) x JOIN ({one('b')}) y USING (treeoflife_id) WHERE {differs}""")
        count = lambda sql: int(con.execute(sql).fetchone()[0])  # noqa: E731
        per_split = lambda t: dict(con.execute(f"SELECT split, count(*) FROM {t} GROUP BY 1").fetchall())  # noqa: E731
        order = lambda d: {s: int(d[s]) for s in sorted(d, key=lambda s: (SPLITS.index(s) if s in SPLITS else len(SPLITS), s))}  # noqa: E731
        by_reason: dict[str, dict[str, int]] = {}
        for split, reason, n in con.execute("SELECT split, reason, count(*) FROM removed GROUP BY 1, 2 ORDER BY 1, 2").fetchall():
            by_reason.setdefault(split, {})[reason] = int(n)
        removed_ids = dict(con.execute("SELECT reason, count(DISTINCT treeoflife_id) FROM removed GROUP BY 1 ORDER BY 1").fetchall())
        by_rank = dict(zip(LABELS, con.execute(
            "SELECT " + ", ".join(f"count(*) FILTER (WHERE {_ident('before_' + c)} <> {_ident('after_' + c)})" for c in LABELS)
            + " FROM relabelled").fetchone()))
        top = []
        for c in LABELS:
            b, a = _ident("before_" + c), _ident("after_" + c)
            top += [{"rank": c, "before": x, "after": y, "ids": int(n)} for x, y, n in con.execute(
                f"SELECT {b}, {a}, count(*) AS n FROM relabelled WHERE {b} <> {a} GROUP BY 1, 2 ORDER BY n DESC, 1, 2 LIMIT {TOP}"
            ).fetchall()]
        top = sorted(top, key=lambda t: (-t["ids"], LABELS.index(t["rank"]), t["before"], t["after"]))[:TOP]
        shown = []
        for row in con.execute(f"SELECT * FROM relabelled ORDER BY treeoflife_id LIMIT {int(examples)}").fetchall():
            ident, cols = row[0], row[1].split(",")
            values = dict(zip([f"before_{c}" for c in LABELS] + [f"after_{c}" for c in LABELS], row[2:]))
            shown.append({"treeoflife_id": ident, "changed": cols,
                          "before": {c: values[f"before_{c}"] for c in cols}, "after": {c: values[f"after_{c}"] for c in cols}})
        summary = {
            "previous": previous,
            "first_release": False,
            "added": order(per_split("added")),
            "removed": {s: by_reason[s] for s in order({s: 0 for s in by_reason})},
            "ids": {"added": count("SELECT count(DISTINCT treeoflife_id) FROM added WHERE treeoflife_id NOT IN (SELECT treeoflife_id FROM ka)"),
                    "removed": count("SELECT count(DISTINCT treeoflife_id) FROM removed WHERE reason <> 'split_changed'"),
                    "moved": count("SELECT count(DISTINCT treeoflife_id) FROM removed WHERE reason = 'split_changed'"),
                    "relabelled": count("SELECT count(*) FROM relabelled"),
                    "before": count("SELECT count(DISTINCT treeoflife_id) FROM ka"),
                    "after": count("SELECT count(DISTINCT treeoflife_id) FROM kb")},
            "removed_ids_by_reason": {str(k): int(v) for k, v in removed_ids.items()},
            "relabelled": {"ids": count("SELECT count(*) FROM relabelled"), "by_rank": {c: int(n) for c, n in by_rank.items()},
                           "top": top, "examples": shown},
            "partitions": partition_changes(old_partitions, new_partitions),
        }
        if table is not None:
            _write_table(con, Path(table))
            summary["table"] = str(table)
        summary["summary"] = one_line(summary)
        summary["seconds"] = round(time.monotonic() - start, 3)
        return summary
    finally:
        con.close()


def _write_table(con, table: Path) -> None:
    mine = lambda p: ", ".join(f"{_ident(c)} AS {_ident(p + c)}" for c in LABELS)  # noqa: E731
    blank = lambda p: ", ".join(f"NULL::VARCHAR AS {_ident(p + c)}" for c in LABELS)  # noqa: E731
    table.parent.mkdir(parents=True, exist_ok=True)
    tmp = table.with_name(table.name + ".tmp")
    con.execute(f"""COPY (
        SELECT 'added' AS change, split, treeoflife_id, NULL::VARCHAR AS reason, NULL::VARCHAR AS detail,
               NULL::VARCHAR AS changed, {blank('before_')}, {mine('after_')} FROM added
        UNION ALL
        SELECT 'removed', split, treeoflife_id, reason, detail, NULL, {mine('before_')}, {blank('after_')} FROM removed
        UNION ALL
        SELECT 'relabelled', NULL, treeoflife_id, NULL, NULL, changed,
               {', '.join(_ident('before_' + c) for c in LABELS)}, {', '.join(_ident('after_' + c) for c in LABELS)}
        FROM relabelled
        ORDER BY 1, 2, 3) TO {_q(tmp)} (FORMAT parquet)""")
    tmp.replace(table)


def nothing_changed(changes: dict) -> bool:
    """No id added, removed or relabelled and no partition rebuilt, added or retired (a republish)."""
    parts = changes.get("partitions", {})
    return (not changes.get("first_release") and not changes.get("error") and not changes.get("added")
            and not changes.get("removed") and not changes.get("relabelled", {}).get("ids")
            and not any(parts.get(k) for k in ("rebuilt", "added", "retired")))


def _ranks(changes: dict) -> list[tuple[str, int]]:
    """(column, ids) of the changed label columns, in rank order (a record read back may have sorted keys)."""
    by_rank = changes.get("relabelled", {}).get("by_rank", {})
    return [(c, int(by_rank[c])) for c in LABELS if by_rank.get(c)]


def _splits(changes: dict) -> list[str]:
    found = {*changes.get("added", {}), *changes.get("removed", {})}
    return sorted(found, key=lambda s: (SPLITS.index(s) if s in SPLITS else len(SPLITS), s))


def _reasons(gone: dict) -> list[tuple[str, int]]:
    return sorted(gone.items())


def one_line(changes: dict) -> str:
    """``+N ids, −M ids (reason n, …), K relabelled (rank n, …), P of Q partitions rebuilt``, or ``first release``."""
    if changes.get("first_release"):
        return FIRST
    ids = changes.get("ids", {})
    reasons = ", ".join(f"{r} {n}" for r, n in sorted(changes.get("removed_ids_by_reason", {}).items()) if r != "split_changed")
    ranks = ", ".join(f"{r} {n}" for r, n in _ranks(changes))
    parts = changes.get("partitions", {})
    total = len(parts.get("rebuilt", [])) + len(parts.get("unchanged", []))
    text = (f"+{ids.get('added', 0)} ids, -{ids.get('removed', 0)} ids" + (f" ({reasons})" if reasons else "")
            + (f", {ids['moved']} moved split" if ids.get("moved") else "")
            + f", {ids.get('relabelled', 0)} relabelled" + (f" ({ranks})" if ranks else "")
            + f", {len(parts.get('rebuilt', []))} of {total} partitions rebuilt")
    if parts.get("added") or parts.get("retired"):
        text += f", {len(parts.get('added', []))} added, {len(parts.get('retired', []))} retired"
    return text


def compare_releases(old: Path, new: Path, *, why: Why | None = None, table: Path | None = None,
                     threads: int | None = None) -> dict:
    """Two release folders (or catalog files) compared; a missing one raises ``MissingRelease`` naming it.
    When ``new`` recorded its changes from ``old`` (``release.json`` → ``changes.previous``), the
    removal reasons it recorded are kept (``Why.recorded``)."""
    old, new = Path(old), Path(new)
    for release in (old, new):
        if not release.exists():
            raise MissingRelease(f"no release {release}")
    a, b = catalog_of(old), catalog_of(new)
    ra, rb = read_record(old) if old.is_dir() else {}, read_record(new) if new.is_dir() else {}
    why = why or Why()
    recorded = rb.get("changes") or {}
    if new.is_dir() and ra.get("name") and recorded.get("previous") == ra.get("name") and (new / TABLE).is_file():
        why.recorded = new / TABLE
    return {"old": ra.get("name") or str(old), "new": rb.get("name") or str(new),
            **compare(a, b, old_partitions=ra.get("partitions"), new_partitions=rb.get("partitions"), why=why,
                      table=table, previous=ra.get("name") or str(old), threads=threads)}


def listed(table: Path, limit: int = 20) -> dict:
    """The first ``limit`` ids of each kind from a changes table (by id): ``added`` and ``removed`` per
    split (removed as ``[id, reason, detail]``), ``relabelled`` as ``[id, changed columns]``."""
    con = connect()
    try:
        rows = con.execute(
            f"""SELECT change, coalesce(split, ''), treeoflife_id, coalesce(reason, ''), coalesce(detail, ''), coalesce(changed, '')
                FROM (SELECT *, row_number() OVER (PARTITION BY change, split ORDER BY treeoflife_id) AS n
                      FROM read_parquet({_q(table)})) WHERE n <= {int(limit)} ORDER BY 1, 2, 3"""
        ).fetchall()
    finally:
        con.close()
    out: dict = {"added": {}, "removed": {}, "relabelled": []}
    for change, split, ident, reason, detail, changed in rows:
        if change == "added":
            out["added"].setdefault(split, []).append(ident)
        elif change == "removed":
            out["removed"].setdefault(split, []).append([ident, reason, detail])
        else:
            out["relabelled"].append([ident, changed])
    return out


def skipped_of(manifests) -> list[dict]:
    """The skipped samples the manifests recorded (``key`` = treeoflife_id where the build knew it)."""
    out = []
    for m in manifests:
        for s in (m or {}).get("skipped_samples", []) or []:
            if isinstance(s, dict) and s.get("key"):
                out.append(s)
    return out


def markdown(changes: dict, *, heading: str = "## CHANGELOG", table_path: str = "../" + TABLE,
             record: str = "../release.json", limit: int = 20) -> str:
    """The changes as markdown (the dataset card's section; the UI's table)."""
    lines = [heading, ""] if heading else []
    if not changes or changes.get("first_release"):
        return "\n".join([*lines, "First release: there is no previous release to compare with.", ""])
    lines += [f"Since the previous release (`changes.previous` in `{record}`): {one_line(changes)}.", ""]
    splits = _splits(changes)
    if splits:
        lines += ["| split | added | removed | removed by reason |", "|---|---|---|---|"]
        for s in splits:
            gone = changes.get("removed", {}).get(s, {})
            reasons = ", ".join(f"{r} {n:,}" for r, n in _reasons(gone))
            lines.append(f"| {s} | {changes.get('added', {}).get(s, 0):,} | {sum(gone.values()):,} | {_cell(reasons) or '-'} |")
        lines.append("")
    rel = changes.get("relabelled", {})
    if rel.get("ids"):
        lines += [f"Labels changed for {rel['ids']:,} id(s):", "", "| rank | ids |", "|---|---|"]
        lines += [f"| {r} | {n:,} |" for r, n in _ranks(changes)]
        lines += ["", "| rank | before | after | ids |", "|---|---|---|---|"]
        lines += [f"| {t['rank']} | {_cell(t['before'])} | {_cell(t['after'])} | {t['ids']:,} |" for t in rel.get("top", [])]
        lines += ["", "Examples:", ""]
        for e in rel.get("examples", []):
            pairs = "; ".join(f"{c}: {_cell(e['before'].get(c, ''))!s} → {_cell(e['after'].get(c, ''))!s}" for c in e["changed"])
            lines.append(f"- `{e['treeoflife_id']}`: {pairs}")
        lines.append("")
    parts = changes.get("partitions", {})
    for key, label in (("rebuilt", "rebuilt"), ("added", "added"), ("retired", "retired")):
        names = parts.get(key, [])
        if names:
            more = f" … and {len(names) - limit} more" if len(names) > limit else ""
            lines.append(f"Partitions {label} ({len(names)}): {', '.join(names[:limit])}{more}.")
    lines.append(f"Partitions unchanged: {len(parts.get('unchanged', []))}.")
    if changes.get("table"):
        lines += ["", f"Every changed id, with its reason and labels before and after: `{table_path}`."]
    return "\n".join(lines) + "\n"


def _cell(text) -> str:
    return str(text if text is not None else "").replace("|", "\\|").replace("\n", " ")


def text_report(changes: dict) -> str:
    """``tol10m diff``'s plain text."""
    lines = [f"{changes.get('old', '?')} → {changes.get('new', '?')}: {one_line(changes)}"]
    ids = changes.get("ids", {})
    if ids:
        lines.append(f"ids: {ids.get('before', 0):,} before, {ids.get('after', 0):,} after")
    for s in _splits(changes):
        gone = changes.get("removed", {}).get(s, {})
        reasons = ", ".join(f"{r} {n}" for r, n in _reasons(gone))
        lines.append(f"  {s}: +{changes.get('added', {}).get(s, 0)} -{sum(gone.values())}" + (f" ({reasons})" if reasons else ""))
    rel = changes.get("relabelled", {})
    if rel.get("ids"):
        lines.append(f"relabelled: {rel['ids']} ids; by rank: " + ", ".join(f"{r} {n}" for r, n in _ranks(changes)))
        for t in rel.get("top", []):
            lines.append(f"  {t['rank']}: {t['before']!r} → {t['after']!r} ({t['ids']} ids)")
        for e in rel.get("examples", []):
            lines.append(f"  e.g. {e['treeoflife_id']}: " + "; ".join(
                f"{c} {e['before'].get(c, '')!r} → {e['after'].get(c, '')!r}" for c in e["changed"]))
    ids = changes.get("listed") or {}
    for split, idents in ids.get("added", {}).items():
        more = changes.get("added", {}).get(split, 0) - len(idents)
        lines.append(f"added to {split}: {', '.join(idents)}" + (f" … and {more} more" if more > 0 else ""))
    for split, rows in ids.get("removed", {}).items():
        more = sum(changes.get("removed", {}).get(split, {}).values()) - len(rows)
        lines.append(f"removed from {split}: " + ", ".join(f"{i} ({r}{': ' + d if d else ''})" for i, r, d in rows)
                     + (f" … and {more} more" if more > 0 else ""))
    if ids.get("relabelled"):
        more = rel.get("ids", 0) - len(ids["relabelled"])
        lines.append("relabelled ids: " + ", ".join(f"{i} ({c})" for i, c in ids["relabelled"])
                     + (f" … and {more} more" if more > 0 else ""))
    parts = changes.get("partitions", {})
    for key in ("rebuilt", "added", "retired", "unchanged"):
        names = parts.get(key, [])
        lines.append(f"partitions {key} ({len(names)}): {', '.join(names) or '-'}")
    if changes.get("table"):
        lines.append(f"every changed id: {changes['table']}")
    return "\n".join(lines)
