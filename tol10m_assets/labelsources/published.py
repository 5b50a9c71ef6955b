"""The ``published`` label source: the three name lookups of the published dataset (spec section 8).

``metadata/naming/{eol,inat21,bioscan}_name_lookup.json``: one JSON object per source, keyed by the
EOL page id, the iNat21 class number or the BIOSCAN image's treeoflife_id; each value is
``[[kingdom, …, species], common, [seven class indexes]]``. The ranks are normalised as in spec
section 4; the common name is the looked-up one, else the scientific, else the taxonomic name. An
image whose key has no entry gets empty ranks and is skipped as ``no_taxon``. No name source is read.

The files are parsed by DuckDB (``read_text`` + ``json_each``): at full size the EOL lookup is 76 MB
and the BIOSCAN lookup 168 MB of JSON, and no Python object is made per entry.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import duckdb
import pyarrow as pa

from tol10m_assets.columns import connect
from tol10m_assets.errors import InputFormatError, MissingSourceError
from tol10m_assets.labelsources.normalise import RAW, labelled
from tol10m_assets.layout import SourceLayout

# image source -> the layout field of its lookup file
LOOKUP_FIELDS = {"eol": "eol_name_lookup", "inat21": "inat21_name_lookup", "bioscan": "bioscan_name_lookup"}
# image source -> (key column in the mapping, SQL type of the key, what the key is)
KEYS = {
    "eol": ("eol_page_id", "BIGINT", "an EOL page id"),
    "inat21": ("inat21_cls_num", "BIGINT", "an iNat21 class number"),
    "bioscan": ("treeoflife_id", "VARCHAR", "a treeoflife_id"),
}


def _quote(path) -> str:
    return str(path).replace("'", "''")


def read_name_lookup(con, path: Path, source: str, table: str = "entries", wanted: str | None = None) -> int:
    """Parse one lookup file into temp table ``table`` (``key`` typed, ``r0`` … ``r6``, ``looked``,
    ``raw_key``); only keys in the query ``wanted`` (one column ``key``) when given. Returns its rows.
    Malformed files raise InputFormatError naming the file and the entry's key."""
    _column, sql_type, what = KEYS[source]
    try:
        kind = con.execute(f"SELECT json_type(content) FROM read_text('{_quote(path)}')").fetchone()[0]
        if kind != "OBJECT":
            raise InputFormatError(path, f"expected one JSON object (key → [[7 ranks], common, [7 indexes]]), found {kind}")
        con.execute(f"CREATE OR REPLACE TEMP TABLE _entries AS SELECT key, value FROM json_each((SELECT content FROM read_text('{_quote(path)}')))")
    except duckdb.Error as exc:
        raise InputFormatError(path, f"not valid JSON ({str(exc).splitlines()[0]})") from None
    bad = con.execute(
        f"""SELECT key FROM _entries
            WHERE json_type(value) <> 'ARRAY' OR json_array_length(value) <> 3
               OR json_type(value -> '$[0]') <> 'ARRAY' OR json_array_length(value -> '$[0]') <> 7
               OR json_type(value -> '$[1]') NOT IN ('VARCHAR', 'NULL')
               OR list_bool_or([json_type(value -> ('$[0][' || i || ']')) NOT IN ('VARCHAR', 'NULL') FOR i IN range(7)])
               OR TRY_CAST(key AS {sql_type}) IS NULL
            LIMIT 1"""
    ).fetchone()
    if bad:
        raise InputFormatError(path, f"entry {bad[0]!r}: the key must be {what} and the value [[7 rank strings], common name, [7 indexes]]")
    ranks = ", ".join(f"coalesce(value ->> '$[0][{i}]', '') AS {r}" for i, r in enumerate(RAW))
    keep = f"WHERE TRY_CAST(key AS {sql_type}) IN (SELECT key FROM ({wanted}))" if wanted else ""
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {table} AS
            SELECT CAST(key AS {sql_type}) AS key, key AS raw_key, {ranks}, coalesce(value ->> '$[1]', '') AS looked
            FROM _entries {keep}"""
    )
    con.execute("DROP TABLE _entries")
    dup = con.execute(f"SELECT raw_key FROM {table} GROUP BY key, raw_key HAVING count(*) > 1 LIMIT 1").fetchone()
    if dup:
        raise InputFormatError(path, f"entry {dup[0]!r} appears twice")
    return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def _wanted_sql(mapping: Path, source: str) -> str:
    column = KEYS[source][0]
    return f"SELECT DISTINCT {column} AS key FROM read_parquet('{_quote(mapping)}') WHERE source = '{source}' AND {column} IS NOT NULL"


def published_lookups(layout: SourceLayout, mapping: Path, log: Callable = print) -> dict[str, pa.Table]:
    """One lookup table per source of the mapping, keyed as the lookups key it (EOL page id, iNat21
    class number, treeoflife_id), for the keys the mapping needs."""
    con = connect()
    out: dict[str, pa.Table] = {}
    try:
        present = {s for (s,) in con.execute(f"SELECT DISTINCT source FROM read_parquet('{_quote(mapping)}')").fetchall()}
        for source, field in LOOKUP_FIELDS.items():
            if source not in present:
                continue
            path = getattr(layout, field)
            if not path.is_file():
                raise MissingSourceError(path, f"source_paths.{field}", f"published {source} name lookup (label_source: published)")
            rows = read_name_lookup(con, path, source, wanted=_wanted_sql(mapping, source))
            column = KEYS[source][0]
            con.execute(
                f"""CREATE OR REPLACE TEMP VIEW v AS SELECT key AS {column}, {", ".join(RAW)}, looked,
                    json_object('lookup', '{path.name}', 'key', raw_key)::VARCHAR AS prov FROM entries"""
            )
            out[source] = labelled(con, "v", [column])
            log(f"{path.name}: {rows} entries the mapping needs")
    finally:
        con.close()
    return out
