"""A digest of each shard partition's slice of the metadata: what its shards are written from.

A partition's shards are made from its rows of ``mapping.parquet`` (every column), ``splits.parquet``
(``is_val``, ``is_train_small``), ``labels.parquet`` (seven ranks and ``common``) and, when the build
has one, the takedown list (``treeoflife_id``, ``reason``). :func:`partition_digests` gives each
partition a digest of exactly those rows, in one DuckDB query grouped by partition: a changed name
changes the digest of the partitions that hold an image with that name, and no other.

The digest is order-independent: every row (the JSON of its mapping, split, label and takedown
parts, so NULL, empty and every separator stay distinct) is hashed with MD5, and the partition's
digest is made of its row count and the sums of the hashes' two 64-bit halves.
"""

from __future__ import annotations

from pathlib import Path

from tol10m_assets.columns import connect
from tol10m_assets.labels import RANK_COLUMNS

VERSION = "slice-v1"  # bump when the rows or the way they are hashed change
UNBUILT = "unbuilt"  # the slice's part of a version before mapping, splits and labels are all built
LABEL_PART = [*RANK_COLUMNS, "common"]
SPLIT_PART = ["is_val", "is_train_small"]


def _quote(path: Path | str) -> str:
    return str(path).replace("'", "''")


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def slice_query(paths, partitions: list[str] | None = None) -> str | None:
    """The SQL of :func:`partition_digests` (None while mapping, splits or labels is not written)."""
    if not all(Path(p).is_file() for p in (paths.mapping, paths.splits, paths.labels)):
        return None
    where = ""
    if partitions is not None:
        where = "WHERE partition IN (" + ", ".join(f"'{_quote(p)}'" for p in partitions) + ")" if partitions else "WHERE false"
    takedowns = getattr(paths, "takedowns", None)
    with_takedowns = takedowns is not None and Path(takedowns).is_file()
    t_cte = (f", t AS (SELECT treeoflife_id, list(reason ORDER BY reason) AS reasons FROM read_parquet('{_quote(takedowns)}') "
             "GROUP BY treeoflife_id)") if with_takedowns else ""
    t_join = " LEFT JOIN t ON t.treeoflife_id = m.treeoflife_id" if with_takedowns else ""
    # only a taken-down id's row gets the part: a list that names no id of a partition leaves it as it was
    t_part = " || CASE WHEN t.treeoflife_id IS NULL THEN '' ELSE to_json(t)::VARCHAR END" if with_takedowns else ""
    return f"""
        WITH m AS (SELECT * FROM read_parquet('{_quote(paths.mapping)}') {where}),
        s AS (SELECT treeoflife_id, {", ".join(map(_ident, SPLIT_PART))} FROM read_parquet('{_quote(paths.splits)}')),
        l AS (SELECT treeoflife_id, {", ".join(map(_ident, LABEL_PART))} FROM read_parquet('{_quote(paths.labels)}'))
        {t_cte}
        SELECT partition, count(*) AS n_rows,
               sum(md5_number_upper(r)::HUGEINT) AS hi, sum(md5_number_lower(r)::HUGEINT) AS lo
        FROM (SELECT m.partition, to_json(m)::VARCHAR || to_json(s)::VARCHAR || to_json(l)::VARCHAR{t_part} AS r
              FROM m LEFT JOIN s ON s.treeoflife_id = m.treeoflife_id
                     LEFT JOIN l ON l.treeoflife_id = m.treeoflife_id{t_join})
        GROUP BY partition
    """


def partition_digests(paths, partitions: list[str] | None = None, threads: int | None = None) -> dict[str, str]:
    """Shard partition → digest of its slice (rows of mapping, splits, labels and takedowns), for every
    partition of the mapping (or only ``partitions``). Empty while mapping, splits or labels is absent:
    callers use :data:`UNBUILT` for a partition the answer lacks."""
    import hashlib

    for _ in range(5):  # a file replaced while it was read (splits and labels are built in parallel): read again
        before = _stamps(paths)
        sql = slice_query(paths, partitions)
        if sql is None:
            return {}
        con = connect(threads)
        try:
            rows = con.execute(sql).fetchall()
        finally:
            con.close()
        if _stamps(paths) == before:
            break
    return {key: VERSION + ":" + hashlib.sha256(f"{n}:{hi}:{lo}".encode()).hexdigest()[:24] for key, n, hi, lo in rows}


def _stamps(paths) -> list:
    out = []
    for path in (paths.mapping, paths.splits, paths.labels, getattr(paths, "takedowns", None)):
        try:
            st = Path(path).stat() if path is not None else None
            out.append((st.st_size, st.st_mtime_ns, st.st_ino) if st else None)
        except OSError:
            out.append(None)
    return out
