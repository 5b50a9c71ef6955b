"""Benchmark of ``slices.partition_digests`` (a digest of every shard partition's rows of mapping,
splits and labels) at TreeOfLife-10M size, on synthetic Parquet files in the build's own schemas.

    .venv/bin/python -m bench.slices_bench                  # 10.4M rows, 276 partitions (a few minutes)
    .venv/bin/python -m bench.slices_bench --rows 300000    # quick
    .venv/bin/python -m bench.slices_bench --world 20000    # a sample world: a one-name change, partitions stale

Writes mapping/splits/labels (and a takedown list of 100 ids) with DuckDB into ``--work`` (kept for
re-runs), then measures in a fresh process each (so each peak RSS is its own): all partitions (what
``observe_sources`` and a rebuilt ``labels`` do), one partition (what a ``write_shards`` run does),
and all partitions again after one genus changed in one row (must change exactly one digest).
Prints wall, CPU (user + system) and peak RSS of each.

``--world N``: a sample world of N images, prepared (mapping, splits, labels); then one common name
(ITIS, every source) and one genus (`taxon.tab`, EOL) changed and `labels` rebuilt: prints how many
shard partitions got a new version (what would show Unsynced once built) against the total, and the
partitions that hold an image with either name (from mapping ⋈ labels before the change).
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

FULL = 10_400_000
# partitions at full size: 63 EOL sets, iNat21 class groups, 113 BIOSCAN parts (shares as scale_bench)
EOL_SETS, INAT_PARTS, BIOSCAN_PARTS = 63, 100, 113
SHARES = {"eol": 6_600_000 / 10_400_000, "inat21": 2_700_000 / 10_400_000}


class Paths:
    def __init__(self, root: Path):
        self.root = root
        self.mapping = root / "mapping.parquet"
        self.splits = root / "splits.parquet"
        self.labels = root / "labels.parquet"
        self.takedowns = root / "takedowns.parquet"


def _name(expr: str, letters: int = 7) -> str:
    return " || ".join(f"chr(CAST(97 + (({expr}) // {26 ** k}) % 26 AS INTEGER))" for k in range(letters))


def generate(root: Path, rows: int) -> Paths:
    import duckdb

    paths = Paths(root)
    marker = root / "input.json"
    if marker.exists() and json.loads(marker.read_text()).get("rows") == rows:
        return paths
    root.mkdir(parents=True, exist_ok=True)
    n_eol, n_inat = int(rows * SHARES["eol"]), int(rows * SHARES["inat21"])
    con = duckdb.connect()
    con.execute("SET preserve_insertion_order = true")
    t0 = time.monotonic()
    ident = "substr(md5(i::VARCHAR), 1, 8) || '-' || substr(md5(i::VARCHAR), 9, 4) || '-5' || substr(md5(i::VARCHAR), 14, 3) || '-' || substr(md5(i::VARCHAR), 17, 4) || '-' || substr(md5(i::VARCHAR), 21, 12)"
    con.execute(f"""
        COPY (
          SELECT {ident} AS treeoflife_id,
                 CASE WHEN i < {n_eol} THEN 'eol' WHEN i < {n_eol + n_inat} THEN 'inat21' ELSE 'bioscan' END AS source,
                 CASE WHEN i < {n_eol} THEN 'eol-' || lpad((1 + i * {EOL_SETS} // {n_eol})::VARCHAR, 2, '0')
                      WHEN i < {n_eol + n_inat} THEN 'inat21-' || lpad(((i - {n_eol}) * {INAT_PARTS} // {n_inat})::VARCHAR, 3, '0')
                      ELSE 'bioscan-' || lpad(((i - {n_eol + n_inat}) * {BIOSCAN_PARTS} // {rows - n_eol - n_inat})::VARCHAR, 3, '0') END AS partition,
                 'member_' || i::VARCHAR || '.jpg' AS origin,
                 CASE WHEN i < {n_eol} THEN (10000000 + i)::BIGINT END AS eol_content_id,
                 CASE WHEN i < {n_eol} THEN (i % 450000)::BIGINT END AS eol_page_id,
                 CASE WHEN i >= {n_eol} AND i < {n_eol + n_inat} THEN md5(i::VARCHAR) || '.jpg' END AS inat21_filename,
                 CASE WHEN i >= {n_eol} AND i < {n_eol + n_inat} THEN '0' || (i % 10000)::VARCHAR || '_Animalia_x' END AS inat21_cls_name,
                 CASE WHEN i >= {n_eol} AND i < {n_eol + n_inat} THEN (i % 10000)::BIGINT END AS inat21_cls_num,
                 CASE WHEN i >= {n_eol + n_inat} THEN (1 + i % 113)::BIGINT END AS bioscan_part,
                 CASE WHEN i >= {n_eol + n_inat} THEN md5(i::VARCHAR) || '.jpg' END AS bioscan_filename
          FROM range({rows}) t(i) ORDER BY partition, origin
        ) TO '{paths.mapping}' (FORMAT parquet, ROW_GROUP_SIZE 122880)""")
    con.execute(f"""
        COPY (SELECT {ident} AS treeoflife_id, hash(i, 1) % 100 < 5 AS is_val, hash(i, 2) % 100 < 10 AS is_train_small
              FROM range({rows}) t(i) ORDER BY treeoflife_id) TO '{paths.splits}' (FORMAT parquet)""")
    sp = "(i % 450000)"
    con.execute(f"""
        COPY (SELECT {ident} AS treeoflife_id, 'Animalia' AS kingdom, 'P' || {_name(f'{sp} % 60', 5)} AS phylum,
                     'C' || {_name(f'{sp} % 300', 6)} AS class, 'O' || {_name(f'{sp} % 1500', 7)} AS "order",
                     'F' || {_name(f'{sp} % 10000', 7)} || 'idae' AS family, 'G' || {_name(f'{sp} % 80000', 7)} AS genus,
                     {_name(sp, 8)} AS species, CASE WHEN i % 3 = 0 THEN 'common ' || {_name(sp, 6)} ELSE '' END AS common,
                     i % 3 = 0 AS common_looked_up, 'taxon.tab' AS provenance
              FROM range({rows}) t(i) ORDER BY treeoflife_id) TO '{paths.labels}' (FORMAT parquet)""")
    con.execute(f"""COPY (SELECT {ident} AS treeoflife_id, 'licence holder request' AS reason FROM range(0, {rows}, {max(1, rows // 100)}) t(i))
                    TO '{paths.takedowns}' (FORMAT parquet)""")
    con.close()
    marker.write_text(json.dumps({"rows": rows, "seconds": round(time.monotonic() - t0, 1)}))
    return paths


def measure(root: Path, what: str) -> dict:
    """In this process: run one digest and report wall, CPU and peak RSS."""
    from tol10m_assets.slices import partition_digests

    paths = Paths(root)
    if what == "changed":  # one genus changed in one row of labels (a copy)
        import duckdb

        changed = root / "labels-changed.parquet"
        if not changed.exists():
            duckdb.execute(f"""COPY (SELECT * REPLACE (CASE WHEN treeoflife_id = (SELECT min(treeoflife_id) FROM '{paths.labels}')
                               THEN 'Gchanged' ELSE genus END AS genus) FROM '{paths.labels}') TO '{changed}' (FORMAT parquet)""")
        paths.labels = changed
    partitions = [json.loads((root / "one.json").read_text())] if what == "one" else None
    t0, c0 = time.monotonic(), time.process_time()
    digests = partition_digests(paths, partitions)
    wall, cpu = time.monotonic() - t0, time.process_time() - c0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"what": what, "partitions": len(digests), "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
            "peak_rss_mb": round(rss), "digests": digests}


def world_change(images: int, common=("Giant Manta Ray", "Oceanic Manta Ray"), genus=("Hylarana", "Hylaranix"), folder: Path | None = None, **settings) -> int:
    import csv
    import io
    import tempfile

    import duckdb
    from dagster import instance_for_test, materialize_to_memory

    from tol10m_assets.defs.build import labels
    from tol10m_assets.defs.raw import partition_versions
    from tol10m_assets.testing import PREPARE, make_world, shard_partitions

    from tol10m_assets.testing import SampleWorld

    root = folder or Path(tempfile.mkdtemp(prefix=f"tol10m-slices-world-{images}-"))
    t0 = time.monotonic()
    summary = root / "sources" / "summary.json"
    if summary.exists() and json.loads(summary.read_text()).get("images", images) == images:  # made before: a fresh copy of its names
        world = SampleWorld(root / "sources", json.loads(summary.read_text()))
        for name in ("taxon_tab", "itis_chains"):
            saved = root / f"{name}.orig"
            path = getattr(world.tol(root / "data").layout(), name)
            if saved.exists():
                path.write_bytes(saved.read_bytes())
        shutil.rmtree(root / "data", ignore_errors=True)
    else:
        world = make_world(root / "sources", images)
    tol = world.tol(root / "data", **settings)
    for name in ("taxon_tab", "itis_chains"):
        (root / f"{name}.orig").write_bytes(getattr(tol.layout(), name).read_bytes())
    layout = tol.layout()
    print(f"sample world of {images} images in {root} ({time.monotonic() - t0:.0f} s)")
    with instance_for_test() as instance:
        assert materialize_to_memory(PREPARE, resources={"tol": tol}, instance=instance).success
        keys = shard_partitions(instance)
        before = partition_versions(tol, keys)
        paths = tol.paths()
        # the genus comes from taxon.tab: EOL images only; the ITIS name: any source's
        holders = sorted(r[0] for r in duckdb.execute(
            "SELECT DISTINCT m.partition FROM read_parquet(?) m JOIN read_parquet(?) l USING (treeoflife_id) "
            "WHERE l.common = ? OR (l.genus = ? AND m.source = 'eol')", [str(paths.mapping), str(paths.labels), common[0], genus[0]]).fetchall())
        tab = [line.split("\t") for line in layout.taxon_tab.read_text().split("\n")]
        for cells in tab:
            if len(cells) > 5 and cells[4] == "genus" and cells[5] == genus[0]:
                cells[5] = genus[1]
        layout.taxon_tab.write_text("\n".join("\t".join(c) for c in tab))
        rows = list(csv.reader(io.StringIO(layout.itis_chains.read_text())))
        for row in rows[1:]:
            row[7] = row[7].replace(common[0], common[1])
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows(rows)
        layout.itis_chains.write_text(out.getvalue())
        unchanged = partition_versions(tol, keys) == before  # the files alone change no partition
        c0, t1 = time.process_time(), time.monotonic()
        assert materialize_to_memory([labels], resources={"tol": tol}, instance=instance).success
        print(f"labels rebuilt (with the partitions' observation): {time.monotonic() - t1:.1f} s wall, {time.process_time() - c0:.1f} s CPU")
        after = partition_versions(tol, keys)
    changed = sorted(k for k in keys if before[k] != after[k])
    print(f"one common name ({common[0]!r}) and one genus ({genus[0]!r}) changed: {len(changed)} of {len(keys)} shard partitions stale")
    print(f"  stale: {', '.join(changed)}")
    print(f"  holding either name before the change (the genus: EOL images): {', '.join(holders)}")
    print(f"  name files changed, labels not yet rebuilt: {'no partition changed' if unchanged else 'SOME PARTITION CHANGED'}")
    ok = changed == holders and unchanged
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=FULL)
    parser.add_argument("--work", type=Path, default=None, help="where the synthetic Parquet files go (default /tmp/tol10m-slices-ROWS)")
    parser.add_argument("--measure", choices=["all", "one", "changed"], help=argparse.SUPPRESS)
    parser.add_argument("--world", type=int, default=0, help="measure a one-name change on a sample world of this many images")
    parser.add_argument("--world-dir", type=Path, default=None, help="keep (and reuse) the sample world in this folder")
    parser.add_argument("--common", default="Giant Manta Ray:Oceanic Manta Ray", help="OLD:NEW, an ITIS vernacular name")
    parser.add_argument("--genus", default="Hylarana:Hylaranix", help="OLD:NEW, a genus row of taxon.tab")
    parser.add_argument("--chunking", default="", help="INAT21_CLASSES,BIOSCAN_PARTS per partition (default: the settings' 100,10)")
    args = parser.parse_args(argv)
    if args.world:
        chunks = dict(zip(("inat21_classes_per_partition", "bioscan_parts_per_partition"), map(int, args.chunking.split(",")))) if args.chunking else {}
        return world_change(args.world, tuple(args.common.split(":")), tuple(args.genus.split(":")), args.world_dir, **chunks)
    work = args.work or Path(f"/tmp/tol10m-slices-{args.rows}")
    if args.measure:
        print(json.dumps(measure(work, args.measure)))
        return 0
    t0 = time.monotonic()
    generate(work, args.rows)
    print(f"input: {args.rows:,} rows in {work} ({time.monotonic() - t0:.0f} s to make or reuse)")
    (work / "one.json").write_text(json.dumps("eol-07"))
    results = {}
    for what in ("all", "one", "changed"):
        done = subprocess.run([sys.executable, "-m", "bench.slices_bench", "--rows", str(args.rows), "--work", str(work), "--measure", what],
                              capture_output=True, text=True, check=True, cwd=Path(__file__).resolve().parents[1])
        results[what] = json.loads(done.stdout.strip().splitlines()[-1])
    changed = sorted(k for k, v in results["changed"]["digests"].items() if results["all"]["digests"].get(k) != v)
    print(f"{'run':<34} {'partitions':>10} {'wall s':>8} {'CPU s':>8} {'peak RSS MB':>12}")
    labels = {"all": "all partitions (observe, labels)", "one": "one partition (write_shards)", "changed": "all, after one genus changed"}
    for what, r in results.items():
        print(f"{labels[what]:<34} {r['partitions']:>10} {r['wall_s']:>8} {r['cpu_s']:>8} {r['peak_rss_mb']:>12}")
    print(f"partitions whose digest changed after one genus changed: {len(changed)} ({', '.join(changed)})")
    ok = len(changed) == 1 and results["one"]["digests"].get("eol-07") == results["all"]["digests"].get("eol-07")
    print("PASS" if ok else "FAIL: expected exactly one changed partition, and the one-partition digest equal to the full one's")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
