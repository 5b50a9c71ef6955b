"""Scale stages of reproduce mode (issue 18): the published name lookups read at their real sizes
(EOL 76 MB, BIOSCAN 168 MB of JSON) and joined onto a 10.4M-image mapping, and `matches_published`
(the staged catalog against the published catalog.csv: two ~11.4M-row tables).

Standalone (each stage in a fresh process, its own wall, CPU and peak RSS):

    .venv/bin/python -m bench.reproduce_stages --images 10.4M       # --images 100k: seconds

`bench/scale_bench.py` runs the same stages after its own (REPRODUCE_STAGES). The input is made by
DuckDB under ``<work>/reproduce``: a mapping (source, id, EOL page, iNat21 class), the three
lookups in the original's format, the published catalog.csv and the build's catalog.parquet (the
same rows, train_small included, and a few rare-species rows only in the published one).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

EOL_PAGES = 560_000  # distinct EOL pages of the published lookup (~76 MB of JSON)
INAT_CLASSES = 10_000
SHARES = {"eol": 6_600_000 / 10_400_000, "inat21": 2_700_000 / 10_400_000}
RANKS = ["kingdom", "phylum", "class", "order", "family", "genus", "species"]


def _dir(work: Path) -> Path:
    return Path(work) / "reproduce"


def _images(work: Path) -> int:
    for marker in (Path(work) / "input.json", _dir(work) / "size.json"):
        if marker.exists():
            info = json.loads(marker.read_text())
            return int(info.get("images") or info["eol"] + info["inat21"] + info["bioscan"])
    raise FileNotFoundError(f"no input.json or reproduce/size.json under {work}")


def _name(expr: str, letters: int = 7) -> str:
    return " || ".join(f"chr(CAST(97 + (({expr}) // {26 ** k}) % 26 AS INTEGER))" for k in range(letters))


def _write_lookup(con, sql: str, path: Path) -> int:
    """Stream ``sql`` (one column: an entry ``"key": [...]``) into a JSON object file."""
    n = 0
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("{")
        for batch in con.sql(sql).to_arrow_reader(200_000):
            lines = batch.column(0).to_pylist()
            if lines:
                handle.write(("" if n == 0 else ", ") + ", ".join(lines))
                n += len(lines)
        handle.write("}")
    return n


def stage_reproduce_inputs(work: Path) -> int:
    """Bench prep: mapping, lookups, published catalog.csv and the build's catalog.parquet."""
    from tol10m_assets.columns import connect

    out = _dir(work)
    marker = out / "inputs.json"
    if marker.exists():
        return json.loads(marker.read_text())["images"]
    images = _images(work)
    (out / "sources" / "metadata" / "naming").mkdir(parents=True, exist_ok=True)
    (out / "build" / "metadata").mkdir(parents=True, exist_ok=True)
    n_eol, n_inat = int(images * SHARES["eol"]), int(images * SHARES["inat21"])
    pages = min(EOL_PAGES, max(1000, n_eol // 10))
    con = connect()
    try:
        uuid = "md5(CAST(i AS VARCHAR) || 'tol')"
        tid = f"substr({uuid},1,8)||'-'||substr({uuid},9,4)||'-4'||substr({uuid},14,3)||'-a'||substr({uuid},18,3)||'-'||substr({uuid},21,12)"
        con.execute(
            f"""CREATE TABLE m AS SELECT {tid} AS treeoflife_id,
                   CASE WHEN i < {n_eol} THEN 'eol' WHEN i < {n_eol + n_inat} THEN 'inat21' ELSE 'bioscan' END AS source,
                   CASE WHEN i < {n_eol} THEN 1000 + (i * 7919) % {pages} END::BIGINT AS eol_page_id,
                   CASE WHEN i >= {n_eol} AND i < {n_eol + n_inat} THEN (i * 31) % {INAT_CLASSES} END::BIGINT AS inat21_cls_num,
                   NULL::BIGINT AS eol_content_id, NULL::VARCHAR AS inat21_filename, NULL::BIGINT AS bioscan_part,
                   NULL::VARCHAR AS bioscan_filename, i
                FROM range({images}) t(i)"""
        )
        con.execute(f"COPY (SELECT * EXCLUDE (i) FROM m ORDER BY i) TO '{out / 'build' / 'metadata' / 'mapping.parquet'}' (FORMAT parquet)")
        # a taxon per key: ~450k species-like names for EOL, a few thousand for BIOSCAN
        ranks = lambda k: (f"['Animalia', 'Chordata', 'Aves', 'Ord' || {_name(f'({k}) % 900', 5)}, 'Fam' || {_name(f'({k}) % 9000', 6)}, "
                           f"'Gen' || {_name(f'({k}) % 90000', 7)}, {_name(k, 8)}]")
        # a common name for 2/3 of the EOL and iNat21 keys, 1 in 15 BIOSCAN images (~168 MB of JSON at full size)
        has_common = lambda k: f"(({k}) % 3 <> 0 AND (({k}) < 8000000 OR ({k}) % 5 = 0))"
        common = lambda k: f"CASE WHEN {has_common(k)} THEN 'Common ' || {_name(k, 9)} ELSE '' END"
        idx = lambda k: f"[0, 1, 2, ({k}) % 900, ({k}) % 9000, ({k}) % 90000, {k}]"
        entry = lambda key, k: f"to_json({key}) || ': [' || to_json({ranks(k)}) || ', ' || to_json({common(k)}) || ', ' || to_json({idx(k)}) || ']'"
        naming = out / "sources" / "metadata" / "naming"
        counts = {
            "eol": _write_lookup(con, f"SELECT {entry('CAST(p AS VARCHAR)', 'p')} FROM range(1000, {1000 + pages}) t(p)", naming / "eol_name_lookup.json"),
            "inat21": _write_lookup(con, f"SELECT {entry('CAST(c AS VARCHAR)', 'c + 7000000')} FROM range({INAT_CLASSES}) t(c)", naming / "inat21_name_lookup.json"),
            "bioscan": _write_lookup(con, f"SELECT {entry('treeoflife_id', '(i % 5000) + 8000000')} FROM m WHERE source = 'bioscan' ORDER BY i",
                                     naming / "bioscan_name_lookup.json"),
        }
        # the catalog: train / val / train_small (10 % of train, repeated); the published one also holds
        # 1,000 rare-species rows the build leaves out
        key = "CASE source WHEN 'eol' THEN eol_page_id WHEN 'inat21' THEN inat21_cls_num + 7000000 ELSE (i % 5000) + 8000000 END"
        labelled = ", ".join(f"{ranks('k')}[{j + 1}] AS \"{r}\"" for j, r in enumerate(RANKS))
        con.execute(
            f"""CREATE TABLE cat AS WITH k AS (SELECT *, {key} AS k, hash(i) % 100 AS u FROM m)
                SELECT s.split, treeoflife_id, eol_content_id, eol_page_id, bioscan_part, bioscan_filename, inat21_filename,
                       NULL::VARCHAR AS inat21_cls_name, inat21_cls_num, {labelled},
                       CASE WHEN {has_common('k')} THEN 'Common ' || {_name('k', 9)} ELSE {_name('k', 8)} END AS common, i
                FROM k JOIN (VALUES ('train'), ('val'), ('train_small')) s(split)
                  ON (s.split = 'val' AND u < 5) OR (s.split = 'train' AND u >= 5) OR (s.split = 'train_small' AND u >= 5 AND u < 15)"""
        )
        # the fallback common of a key without one is its scientific name: 'Gen…' + ' ' + species
        con.execute("""UPDATE cat SET common = genus || ' ' || species WHERE common NOT LIKE 'Common %'""")
        con.execute(f"COPY (SELECT * EXCLUDE (i) FROM cat ORDER BY split, i) TO '{out / 'build' / 'catalog.parquet'}' (FORMAT parquet)")
        con.execute(
            f"""COPY (SELECT * EXCLUDE (i) FROM (SELECT * FROM cat UNION ALL
                      SELECT * REPLACE ('rare' || CAST(i AS VARCHAR) AS treeoflife_id) FROM cat WHERE split = 'train' AND i % 10000 = 7)
                      ORDER BY split, i) TO '{out / 'sources' / 'metadata' / 'catalog.csv'}' (FORMAT csv, HEADER)"""
        )
        rows = con.execute("SELECT count(*) FROM cat").fetchone()[0]
    finally:
        con.close()
    sizes = {s: (naming / f"{s}_name_lookup.json").stat().st_size for s in counts}
    marker.write_text(json.dumps({"images": images, "catalog_rows": rows, "lookup_entries": counts, "lookup_bytes": sizes}, indent=2))
    return images


def stage_published_labels(work: Path) -> int:
    """label_source published: the three lookups → per-key label tables → labels.parquet (10.4M rows)."""
    from tol10m_assets import labels as labels_core
    from tol10m_assets.labelsources import resolve_labels
    from tol10m_assets.layout import SourceLayout

    out = _dir(work)
    mapping = out / "build" / "metadata" / "mapping.parquet"
    lookups = resolve_labels("published", SourceLayout.under(out / "sources"), mapping, log=lambda *a: None)
    return labels_core.write_labels(mapping, lookups, out / "build" / "metadata" / "labels.parquet")


def stage_write_name_lookups(work: Path) -> int:
    """Every build's labels step also writes naming/*.json in the original's format (from labels ⋈ mapping)."""
    from tol10m_assets.labelsources.original_format import write_name_lookups

    meta = _dir(work) / "build" / "metadata"
    counts = write_name_lookups(meta / "mapping.parquet", meta / "labels.parquet", meta / "naming")
    return sum(counts.values())


def stage_matches_published(work: Path) -> int:
    """The release's matches_published on the staged catalog (Parquet) against the published catalog.csv."""
    from tol10m_assets.published_check import compare_catalogs

    out = _dir(work)
    result = compare_catalogs(out / "build" / "catalog.parquet", out / "sources" / "metadata" / "catalog.csv", rules=None)
    assert result["passed"] and result["by_cause"]["missing_from_sources"] > 0, result
    (out / "matches_published.json").write_text(json.dumps(result, indent=2))
    return sum(result["rows_per_split"]["published"].values())


# (name, function, counted: True for both modes' totals, a tuple for one), run after scale_bench's own stages
REPRODUCE_STAGES = [
    ("reproduce inputs (bench prep)", stage_reproduce_inputs, False),
    ("published lookups → labels", stage_published_labels, ("reproduce",)),
    ("naming/*.json (original format)", stage_write_name_lookups, True),  # both modes' labels step writes them
    ("matches_published", stage_matches_published, ("reproduce",)),
]


def main(argv=None) -> int:
    from bench.scale_bench import parse_size, peak_rss_kb

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", default="10.4M")
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--stage", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    images = parse_size(args.images)
    work = args.work or Path(os.environ.get("TMPDIR", "/tmp")) / f"tol10m-reproduce-bench/n{images}"
    if args.stage:
        import resource
        import time

        fn = {n: f for n, f, _ in REPRODUCE_STAGES}[args.stage]
        import tol10m_assets.labels
        import tol10m_assets.taxonomy  # noqa: F401

        u0 = resource.getrusage(resource.RUSAGE_SELF)
        start = time.monotonic()
        rows = fn(work)
        u = resource.getrusage(resource.RUSAGE_SELF)
        print(json.dumps({"stage": args.stage, "rows": int(rows), "seconds": round(time.monotonic() - start, 2),
                          "cpu_seconds": round(u.ru_utime + u.ru_stime - u0.ru_utime - u0.ru_stime, 2), "peak_rss_mb": round(peak_rss_kb(u) / 1024)}))
        return 0
    _dir(work).mkdir(parents=True, exist_ok=True)
    (_dir(work) / "size.json").write_text(json.dumps({"images": images}))
    import subprocess

    results = []
    print(f"{'stage':34s} {'rows':>11s} {'seconds':>8s} {'CPU s':>7s} {'peak RSS':>9s}")
    for name, _, _ in REPRODUCE_STAGES:
        proc = subprocess.run([sys.executable, "-m", "bench.reproduce_stages", "--stage", name, "--images", str(images), "--work", str(work)],
                              capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1], check=False)
        if proc.returncode:
            raise RuntimeError(f"stage {name} failed:\n{proc.stderr[-4000:]}")
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        results.append(r)
        print(f"{name:34s} {r['rows']:>11,d} {r['seconds']:>8.1f} {r['cpu_seconds']:>7.1f} {r['peak_rss_mb']:>7,d} MB")
    info = json.loads((_dir(work) / "inputs.json").read_text())
    print(f"lookups: {info['lookup_entries']} entries, {({k: f'{v / 1e6:.0f} MB' for k, v in info['lookup_bytes'].items()})}")
    results_dir = Path(__file__).parent / "results"
    results_dir.mkdir(exist_ok=True)
    (results_dir / f"reproduce_stages_{images}.json").write_text(json.dumps({"input": info, "stages": results}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
