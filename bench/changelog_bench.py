"""Benchmark: ``tol10m_assets.changelog.compare`` on two synthetic catalogs of TreeOfLife-10M's size.

    .venv/bin/python -m bench.changelog_bench                  # 10.4M rows, Parquet catalogs (as a release compares)
    .venv/bin/python -m bench.changelog_bench --csv            # the same from catalog.csv files
    .venv/bin/python -m bench.changelog_bench --rows 200000    # a quick run

Makes catalog A (``--rows`` rows: 90 % train, 5 % val, 10 % of train again as train_small; 450k
distinct labels) and catalog B from it: ``--removed`` ids taken out (a takedown list names them),
``--added`` new ids, one genus renamed and ``--common`` common names changed, all in DuckDB. Then
makes the mapping and labels tables a release reads for the removal reasons (10.4M ids each), then
runs the comparison (with the changes table written) in a fresh process and prints its wall time,
CPU time (user + system) and peak RSS, and checks the counts it found against what was made.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tol10m_assets.catalog import ID_COLUMNS

LABELS = 450_000


def make_catalogs(work: Path, rows: int, removed: int, added: int, common: int, csv: bool) -> dict:
    """Catalogs A and B (and B's takedown list) under ``work``; returns what B changed."""
    from tol10m_assets.columns import connect

    con = connect()
    uuid = ("substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-' || substr(h, 13, 4) || '-' || substr(h, 17, 4) || '-' "
            "|| substr(h, 21, 12)")
    images = int(rows / 1.09)  # train_small repeats 10 % of train
    con.execute(f"""CREATE TABLE labels AS SELECT i AS label, 'Kingdom' || (i % 3) AS kingdom, 'Phylum' || (i % 60) AS phylum,
        'Class' || (i % 300) AS class, 'Order' || (i % 1500) AS "order", 'Family' || (i % 9000) AS family,
        'Genus' || (i % 90000) AS genus, 'epithet' || i AS species,
        CASE WHEN i % 5 = 0 THEN '' ELSE 'Common, "name" ' || i END AS common FROM range({LABELS}) t(i)""")
    con.execute(f"""CREATE TABLE images AS SELECT i, {uuid} AS treeoflife_id,
        CASE WHEN hash(i) % 100 < 5 THEN 'val' ELSE 'train' END AS split, hash(i * 7) % 100 < 10 AS small,
        CAST(hash(i * 13) % {LABELS} AS BIGINT) AS label FROM (SELECT i, md5(CAST(i AS VARCHAR)) AS h FROM range({images}) t(i))""")
    ids = ", ".join(f"NULL::VARCHAR AS {c}" if c not in ("eol_content_id", "eol_page_id") else f"i AS {c}" for c in ID_COLUMNS)
    ranks = 'kingdom, phylum, class, "order", family, genus, species, common'

    def catalog(images: str, labels: str, path: Path) -> None:
        con.execute(f"""COPY (SELECT split, treeoflife_id, {ids}, {ranks} FROM (
                SELECT split, treeoflife_id, i, label FROM {images}
                UNION ALL SELECT 'train_small', treeoflife_id, i, label FROM {images} WHERE split = 'train' AND small)
            JOIN {labels} USING (label)
            ORDER BY CASE split WHEN 'train' THEN 0 WHEN 'val' THEN 1 ELSE 2 END, treeoflife_id)
            TO '{path}' (FORMAT {'csv, HEADER' if csv else 'parquet'})""")

    suffix = "csv" if csv else "parquet"
    catalog("images", "labels", work / f"a.{suffix}")
    # B: removed ids (a takedown list), added ids, one genus renamed, some common names changed
    con.execute(f"CREATE TABLE gone AS SELECT treeoflife_id FROM images ORDER BY hash(i * 31) LIMIT {removed}")
    con.execute(f"COPY (SELECT treeoflife_id, 'licence holder asked' AS reason FROM gone) TO '{work / 'takedowns.parquet'}'")
    con.execute(f"""CREATE TABLE images_b AS SELECT * FROM images ANTI JOIN gone USING (treeoflife_id)
        UNION ALL SELECT i, {uuid}, 'train', false, CAST(hash(i * 13) % {LABELS} AS BIGINT)
        FROM (SELECT i, md5('new' || i) AS h FROM range({images}, {images + added}) t(i))""")
    con.execute(f"""CREATE TABLE labels_b AS SELECT label, kingdom, phylum, class, "order", family,
        CASE WHEN genus = 'Genus4242' THEN 'Renamedgenus' ELSE genus END AS genus, species,
        CASE WHEN label % 9973 = 1 AND label < {common} * 9973 THEN common || ' (new)' ELSE common END AS common FROM labels""")
    catalog("images_b", "labels_b", work / f"b.{suffix}")
    made = {
        "removed_ids": removed,
        "relabelled_ids": int(con.execute(
            f"""SELECT count(DISTINCT treeoflife_id) FROM (SELECT * FROM images ANTI JOIN gone USING (treeoflife_id))
                JOIN labels USING (label) JOIN labels_b b USING (label)
                WHERE labels.genus <> b.genus OR labels.common <> b.common""").fetchone()[0]),
        "rows_a": int(con.execute(f"SELECT count(*) FROM read_{suffix}('{work / f'a.{suffix}'}')").fetchone()[0]),
    }
    con.close()
    return made


def side_tables(work: Path, suffix: str) -> None:
    """The build's ``mapping.parquet`` and ``labels.parquet`` as a release reads them for the reasons
    (every id of A and B, once), made from the two catalogs."""
    from tol10m_assets.columns import connect

    if (work / "mapping.parquet").is_file() and (work / "labels.parquet").is_file():
        return
    con = connect()
    scan = lambda x: f"read_{suffix}('{work / f'{x}.{suffix}'}')"  # noqa: E731
    ranks = 'kingdom, phylum, class, "order", family, genus, species, common'
    con.execute(f"""COPY (SELECT DISTINCT treeoflife_id, 'p' AS partition FROM (SELECT treeoflife_id FROM {scan('a')}
                    UNION ALL SELECT treeoflife_id FROM {scan('b')})) TO '{work / 'mapping.parquet'}' (FORMAT parquet)""")
    firsts = ", ".join(f'any_value({c}) AS {c}' for c in ranks.split(", "))
    con.execute(f"""COPY (SELECT treeoflife_id, {firsts} FROM (SELECT treeoflife_id, {ranks} FROM {scan('b')} WHERE split <> 'train_small'
                    UNION ALL SELECT treeoflife_id, {ranks} FROM {scan('a')} WHERE split <> 'train_small') GROUP BY 1)
                    TO '{work / 'labels.parquet'}' (FORMAT parquet)""")
    con.close()


def compare_child(old: str, new: str, takedowns: str, table: str) -> None:
    """In the child process: one comparison, with every source of reasons a release reads; prints its summary as JSON."""
    from tol10m_assets import changelog

    work = Path(takedowns).parent
    why = changelog.Why(takedowns=Path(takedowns), mapping=work / "mapping.parquet", labels=work / "labels.parquet")
    summary = changelog.compare(Path(old), Path(new), why=why, table=Path(table),
                                old_partitions={"p": "g1"}, new_partitions={"p": "g2"})
    print(json.dumps(summary))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, default=10_400_000)
    p.add_argument("--removed", type=int, default=1000)
    p.add_argument("--added", type=int, default=1000)
    p.add_argument("--common", type=int, default=40, help="labels whose common name changes")
    p.add_argument("--csv", action="store_true", help="compare catalog.csv files (else Parquet)")
    p.add_argument("--work", help="folder for the catalogs, kept and reused by the next run with the same options "
                   "(default: a temporary one)")
    p.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        compare_child(*args.child)
        return 0
    options = {k: getattr(args, k) for k in ("rows", "removed", "added", "common", "csv")}
    with (contextlib.nullcontext(args.work) if args.work else tempfile.TemporaryDirectory(prefix="changelog-bench-")) as tmp:
        work = Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        start = time.monotonic()
        kept = work / "made.json"
        if kept.is_file() and json.loads(kept.read_text()).get("options") == options:
            made = json.loads(kept.read_text())["made"]
        else:
            made = make_catalogs(work, args.rows, args.removed, args.added, args.common, args.csv)
            kept.write_text(json.dumps({"options": options, "made": made}))
        side_tables(work, "csv" if args.csv else "parquet")
        made_s = time.monotonic() - start
        suffix = "csv" if args.csv else "parquet"
        size = sum((work / f"{x}.{suffix}").stat().st_size for x in "ab")
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.monotonic()
        out = subprocess.run([sys.executable, "-m", "bench.changelog_bench", "--child", str(work / f"a.{suffix}"),
                              str(work / f"b.{suffix}"), str(work / "takedowns.parquet"), str(work / "changes.parquet")],
                             capture_output=True, text=True, check=True, cwd=Path(__file__).resolve().parents[1]).stdout
        wall = time.monotonic() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        got = json.loads(out.strip().splitlines()[-1])
        table_bytes = (work / "changes.parquet").stat().st_size
        ok = (got["ids"]["removed"] == made["removed_ids"] and got["ids"]["added"] == args.added
              and got["ids"]["relabelled"] == made["relabelled_ids"]
              and got["removed_ids_by_reason"] == {"removed": args.removed})
        print(f"catalogs: {made['rows_a']:,} rows (A), {suffix}, {size / 1e9:.2f} GB both; made in {made_s:.0f} s")
        print(f"changes: {got['summary']}")
        print(f"compare (fresh process, DuckDB, {os.cpu_count()} cores): wall {wall:.1f} s, CPU {cpu:.1f} s, "
              f"peak RSS {after.ru_maxrss / 1024:.0f} MB; compare() itself {got['seconds']:.1f} s; "
              f"changes.parquet {table_bytes / 1e6:.1f} MB")
        print(f"counts match what was made: {'PASS' if ok else 'MISS'}")
        return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
