"""``matches_published``: a reproduction's staged catalog against the published ``catalog.csv``.

Compares the rows per split, the set of (split, treeoflife_id) and, for every id in both, the seven
ranks and the common name. Differences are counted by cause:

- ``rare_species_excluded``: published rows the Rare Species rules leave out (a fix on purpose: the
  original's reproduction applied its exclusion to nothing, spec section 5);
- ``missing_from_sources``: other published rows this build did not write (the image is not in the
  sources, or is corrupt there);
- ``not_in_published``: rows this build wrote that the published catalog lacks;
- ``split_differences``: an id in both catalogs, in another split;
- ``label_differences``: an id in both whose ranks or common name differ.

Label and split differences fail the check (they cannot come from a correct reproduction). All of it
is DuckDB over the two files (two 11-million-row tables at full size, spilling beyond the memory cap).
No Dagster imports.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from tol10m_assets.columns import connect
from tol10m_assets.labels import RANK_COLUMNS

LABEL_COLUMNS = [*RANK_COLUMNS, "common"]
CAUSES = {
    "rare_species_excluded": (False, "published rows the Rare Species rules leave out (fixed on purpose, spec section 5)"),
    "missing_from_sources": (False, "published rows not written here: the image is absent from (or corrupt in) the sources"),
    "not_in_published": (False, "rows written here that the published catalog lacks"),
    "split_differences": (True, "ids in both catalogs, in another split"),
    "label_differences": (True, "ids in both whose seven ranks or common name differ"),
}


def _q(path) -> str:
    return str(path).replace("'", "''")


def _text(col: str, alias: str = "") -> str:
    return f'coalesce(CAST({alias + "." if alias else ""}"{col}" AS VARCHAR), \'\')'


def _rare_flags(con, rules) -> None:
    """Temp table ``rare(split, treeoflife_id)``: the rows of ``only_pub`` the Rare Species rules exclude."""
    from tol10m_assets.taxonomy import Taxon

    con.execute("CREATE TEMP TABLE rare (split VARCHAR, treeoflife_id VARCHAR)")
    if rules is None:
        return
    distinct = con.execute(f"SELECT DISTINCT {', '.join(_text(c) for c in RANK_COLUMNS)} FROM only_pub").fetchall()
    bad = [t for t in distinct if rules.excludes_species(Taxon(*t))]
    con.register("bad_species", pa.table({c: pa.array([t[i] for t in bad], pa.string()) for i, c in enumerate(RANK_COLUMNS)}))
    pairs = sorted(rules.eol_images)
    con.register("bad_eol", pa.table({"content": pa.array([p[0] for p in pairs], pa.int64()), "page": pa.array([p[1] for p in pairs], pa.int64())}))
    con.register("bad_files", pa.table({"fname": pa.array(sorted(rules.files), pa.string())}))
    species = " AND ".join(f'b."{c}" = {_text(c, "o")}' for c in RANK_COLUMNS)
    con.execute(
        f"""INSERT INTO rare SELECT DISTINCT o.split, o.treeoflife_id FROM only_pub o
            LEFT JOIN bad_species b ON {species}
            LEFT JOIN bad_eol e ON e.content = TRY_CAST(o.eol_content_id AS BIGINT) AND e.page = TRY_CAST(o.eol_page_id AS BIGINT)
            LEFT JOIN bad_files f ON coalesce(o.eol_content_id, '') = ''
                 AND f.fname = regexp_replace(coalesce(nullif(o.inat21_filename, ''), o.bioscan_filename, ''), '^.*/', '')
            WHERE b.kingdom IS NOT NULL OR e.content IS NOT NULL OR f.fname IS NOT NULL"""
    )


def compare_catalogs(build: Path, published: Path, rules=None, examples: int = 10) -> dict:
    """The comparison (see the module doc). ``build``: the staged catalog (Parquet or CSV);
    ``published``: the published catalog.csv; ``rules``: the Rare Species rules (or None)."""
    con = connect()
    try:
        reader = "read_parquet" if Path(build).suffix == ".parquet" else "read_csv"
        extra = "" if reader == "read_parquet" else ", all_varchar = true, header = true"
        con.execute(f"CREATE TEMP VIEW ours AS SELECT * FROM {reader}('{_q(build)}'{extra})")
        con.execute(f"CREATE TEMP VIEW pub AS SELECT * FROM read_csv('{_q(published)}', all_varchar = true, header = true)")
        rows = {
            name: dict(con.execute(f"SELECT split, count(*) FROM {name} GROUP BY split ORDER BY split").fetchall())
            for name in ("pub", "ours")
        }
        con.execute("CREATE TEMP TABLE only_pub AS SELECT * FROM pub p ANTI JOIN ours o ON p.split = o.split AND p.treeoflife_id = o.treeoflife_id")
        con.execute("CREATE TEMP TABLE only_ours AS SELECT o.split, o.treeoflife_id FROM ours o ANTI JOIN pub p ON p.split = o.split AND p.treeoflife_id = o.treeoflife_id")
        con.execute("CREATE TEMP TABLE ids_ours AS SELECT DISTINCT treeoflife_id FROM ours")
        con.execute("CREATE TEMP TABLE ids_pub AS SELECT DISTINCT treeoflife_id FROM pub")
        _rare_flags(con, rules)
        con.execute(
            """CREATE TEMP TABLE pub_diff AS
               SELECT o.split, o.treeoflife_id,
                      CASE WHEN i.treeoflife_id IS NOT NULL THEN 'split_differences'
                           WHEN r.treeoflife_id IS NOT NULL THEN 'rare_species_excluded'
                           ELSE 'missing_from_sources' END AS cause
               FROM only_pub o LEFT JOIN ids_ours i USING (treeoflife_id)
               LEFT JOIN rare r ON r.split = o.split AND r.treeoflife_id = o.treeoflife_id"""
        )
        con.execute(
            """CREATE TEMP TABLE ours_diff AS
               SELECT o.split, o.treeoflife_id,
                      CASE WHEN i.treeoflife_id IS NOT NULL THEN 'split_differences' ELSE 'not_in_published' END AS cause
               FROM only_ours o LEFT JOIN ids_pub i USING (treeoflife_id)"""
        )
        # labels: once per id (train_small repeats train rows)
        differs = " OR ".join(f'p."{c}" <> o."{c}"' for c in LABEL_COLUMNS)
        select_cols = ", ".join(f'{_text(c)} AS "{c}"' for c in LABEL_COLUMNS)
        con.execute(f"CREATE TEMP VIEW pl AS SELECT treeoflife_id, {select_cols} FROM pub WHERE split <> 'train_small'")
        con.execute(f"CREATE TEMP VIEW ol AS SELECT treeoflife_id, {select_cols} FROM ours WHERE split <> 'train_small'")
        built = ", ".join(f'o."{c}" AS "build_{c}"' for c in LABEL_COLUMNS)
        con.execute(f"CREATE TEMP TABLE label_diff AS SELECT p.*, {built} FROM pl p JOIN ol o USING (treeoflife_id) WHERE {differs}")
        per_column = ", ".join(f'count(*) FILTER ("{c}" <> "build_{c}")' for c in LABEL_COLUMNS)
        label_columns = con.execute(f"SELECT {per_column} FROM label_diff").fetchone()
        counts = dict(con.execute(
            "SELECT cause, count(*) FROM (SELECT cause FROM pub_diff UNION ALL SELECT cause FROM ours_diff) GROUP BY cause"
        ).fetchall())
        counts["label_differences"] = con.execute("SELECT count(*) FROM label_diff").fetchone()[0]
        found: dict[str, list] = {}
        for cause in CAUSES:
            if cause == "label_differences":
                rows_ = con.execute(f"SELECT * FROM label_diff ORDER BY treeoflife_id LIMIT {int(examples)}").fetchall()
                found[cause] = [
                    {"treeoflife_id": r[0], **{c: {"published": r[1 + i], "build": r[1 + len(LABEL_COLUMNS) + i]}
                                               for i, c in enumerate(LABEL_COLUMNS) if r[1 + i] != r[1 + len(LABEL_COLUMNS) + i]}}
                    for r in rows_
                ]
            else:
                found[cause] = [f"{s}/{i}" for s, i in con.execute(
                    f"""SELECT split, treeoflife_id FROM (SELECT * FROM pub_diff UNION ALL SELECT * FROM ours_diff)
                        WHERE cause = '{cause}' ORDER BY treeoflife_id, split LIMIT {int(examples)}""").fetchall()]
    finally:
        con.close()
    by_cause = {c: int(counts.get(c, 0)) for c in CAUSES}
    failing = [c for c, (blocking, _) in CAUSES.items() if blocking and by_cause[c]]
    return {
        "passed": not failing,
        "failing": failing,
        "rows_per_split": {"published": {k: int(v) for k, v in rows["pub"].items()}, "build": {k: int(v) for k, v in rows["ours"].items()}},
        "by_cause": by_cause,
        "label_differences_per_column": dict(zip(LABEL_COLUMNS, map(int, label_columns))),
        "examples": found,
    }


def report_markdown(result: dict) -> str:
    """The comparison as Markdown: rows per split, then one row per cause (count, blocking, examples)."""
    splits = sorted(set(result["rows_per_split"]["published"]) | set(result["rows_per_split"]["build"]))
    lines = ["## Matches the published catalog", "",
             f"**{'PASS' if result['passed'] else 'FAIL'}**" + (f": {', '.join(result['failing'])}" if result["failing"] else ""), "",
             "| split | published rows | rows here |", "|---|---:|---:|"]
    lines += [f"| {s} | {result['rows_per_split']['published'].get(s, 0)} | {result['rows_per_split']['build'].get(s, 0)} |" for s in splits]
    lines += ["", "| cause | rows | blocking | meaning | examples |", "|---|---:|---|---|---|"]
    for cause, (blocking, meaning) in CAUSES.items():
        shown = result["examples"].get(cause, [])[:3]
        text = ", ".join(e["treeoflife_id"] + " (" + "; ".join(f"{c}: {v['published']!r} → {v['build']!r}" for c, v in e.items() if c != "treeoflife_id") + ")"
                         if isinstance(e, dict) else e for e in shown)
        lines.append(f"| {cause} | {result['by_cause'][cause]} | {'yes' if blocking else 'no'} | {meaning} | {text.replace('|', '/')} |")
    return "\n".join(lines) + "\n"
