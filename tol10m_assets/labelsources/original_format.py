"""A build's own name lookups in the original's format: ``metadata/naming/{eol,inat21,bioscan}_name_lookup.json``.

Written beside ``mapping.sqlite`` from the mapping and the labels, so that anyone can reproduce the
build with the original's tools or with this platform's ``label_source: published`` (spec section 8):
one JSON object per source, keyed by the EOL page id, the iNat21 class number or the BIOSCAN image's
treeoflife_id; each value ``[[kingdom, …, species], common, [seven class indexes]]`` with the
looked-up common name (``""`` when the common name was a fallback) and, per rank, the index of the
taxon's rank prefix among the distinct prefixes of that depth (sorted). A key whose taxon is empty
is left out. Streamed by DuckDB (never a Python object per entry); same inputs, same bytes.
"""

from __future__ import annotations

import os
from pathlib import Path

from tol10m_assets.columns import BATCH, connect
from tol10m_assets.labels import RANK_COLUMNS

LOOKUP_NAMES = {"eol": "eol_name_lookup.json", "inat21": "inat21_name_lookup.json", "bioscan": "bioscan_name_lookup.json"}
KEY_SQL = {"eol": "eol_page_id", "inat21": "inat21_cls_num", "bioscan": "treeoflife_id"}


def naming_dir(metadata: Path) -> Path:
    return Path(metadata) / "naming"


def _quote(path) -> str:
    return str(path).replace("'", "''")


def write_name_lookups(mapping: Path, labels: Path, out_dir: Path) -> dict[str, int]:
    """Write the three lookup files into ``out_dir`` (atomically, each); returns the entries per source."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    ranks = ", ".join(f'l."{c}"' for c in RANK_COLUMNS)
    nonempty = " OR ".join(f'l."{c}" <> \'\'' for c in RANK_COLUMNS)
    con = connect()
    counts: dict[str, int] = {}
    try:
        con.execute(
            f"""CREATE TEMP TABLE j AS
                SELECT m.source, m.treeoflife_id, m.eol_page_id, m.inat21_cls_num, {ranks},
                       CASE WHEN l.common_looked_up THEN l.common ELSE '' END AS looked
                FROM read_parquet('{_quote(mapping)}') m JOIN read_parquet('{_quote(labels)}') l USING (treeoflife_id)
                WHERE {nonempty}"""
        )
        parts = []
        fields = [*RANK_COLUMNS, "looked"]
        for source, key in KEY_SQL.items():  # per key, the row of its smallest treeoflife_id (a hash aggregate, no sort)
            sort = "lpad(CAST(k AS VARCHAR), 20, '0')" if key != "treeoflife_id" else "k"
            parts.append(
                f"""SELECT '{source}' AS source, CAST(k AS VARCHAR) AS key, {sort} AS key_sort,
                           {", ".join(f'v."{c}" AS "{c}"' for c in fields)}
                    FROM (SELECT {key} AS k, arg_min(struct_pack({", ".join(f'"{c}" := "{c}"' for c in fields)}), treeoflife_id) AS v
                          FROM j WHERE source = '{source}' GROUP BY {key})"""
            )
        con.execute(f"CREATE TEMP TABLE e AS {' UNION ALL '.join(f'({p})' for p in parts)}")
        indexes = ", ".join(
            f"""dense_rank() OVER (ORDER BY {", ".join(f'"{c}"' for c in RANK_COLUMNS[: i + 1])}) - 1 AS i{i}"""
            for i in range(7)
        )
        con.execute(f"CREATE TEMP TABLE x AS SELECT *, {indexes} FROM e")
        rank_list = ", ".join(f'"{c}"' for c in RANK_COLUMNS)
        index_list = ", ".join(f"i{i}" for i in range(7))
        for source, name in LOOKUP_NAMES.items():
            target = out_dir / name
            tmp = target.with_name(f".{name}.tmp")
            reader = con.sql(
                f"""SELECT to_json(key) || ': [' || to_json([{rank_list}]) || ', ' || to_json(looked) || ', '
                           || to_json([{index_list}]) || ']' AS line
                    FROM x WHERE source = '{source}' ORDER BY key_sort"""
            ).to_arrow_reader(BATCH)
            n = 0
            with open(tmp, "w", encoding="utf-8", newline="\n") as handle:
                handle.write("{")
                for batch in reader:
                    lines = batch.column(0).to_pylist()
                    if lines:
                        handle.write(("\n" if n == 0 else ",\n") + ",\n".join(lines))
                        n += len(lines)
                handle.write("\n}\n" if n else "}\n")
            os.replace(tmp, target)
            counts[source] = n
    finally:
        con.close()
    return counts
