"""The ``table`` label source: a Parquet or CSV file keyed by ``treeoflife_id`` (or TaxonoPy's ``uuid``)
with the seven ranks and, optionally, a common name (``common_name`` or ``common``).

For instance the resolved output of Imageomics' TaxonoPy, which the dataset's maintainers use for
taxonomic updates. Ranks are normalised as in spec section 4 (so a binomial species loses its genus
word); an image the table lacks gets empty ranks and is skipped as ``no_taxon``; rows for ids the
mapping does not have are ignored. Provenance names the file and the 1-based data row.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import duckdb
import pyarrow as pa

from tol10m_assets.columns import connect
from tol10m_assets.errors import InputFormatError, MissingSourceError
from tol10m_assets.labels import RANK_COLUMNS
from tol10m_assets.labelsources.normalise import RAW, labelled

ID_COLUMNS = ("treeoflife_id", "uuid")
COMMON_COLUMNS = ("common_name", "common")


def _quote(path) -> str:
    return str(path).replace("'", "''")


def _relation(path: Path) -> str:
    if path.suffix.lower() == ".parquet":
        return f"read_parquet('{_quote(path)}')"
    if path.suffix.lower() in (".csv", ".tsv", ".txt"):
        return f"read_csv('{_quote(path)}', all_varchar = true, header = true)"
    raise InputFormatError(path, "label_table must be a .parquet or .csv file")


def table_lookups(path: Path, mapping: Path, log: Callable = print) -> dict[str, pa.Table]:
    """One lookup table per source of the mapping, keyed by treeoflife_id, from the table's rows."""
    if not path.is_file():
        raise MissingSourceError(path, "label_table", "label table (label_source: table)")
    con = connect()
    try:
        try:
            con.execute(f"CREATE TEMP VIEW t_raw AS SELECT * FROM {_relation(path)}")
            columns = [c for (c, *_rest) in con.execute("DESCRIBE t_raw").fetchall()]
        except duckdb.Error as exc:
            raise InputFormatError(path, f"cannot be read ({str(exc).splitlines()[0]})") from None
        lower = {c.lower(): c for c in columns}
        ident = next((lower[c] for c in ID_COLUMNS if c in lower), None)
        missing = [r for r in RANK_COLUMNS if r not in lower]
        if ident is None or missing:
            raise InputFormatError(path, f"needs a column treeoflife_id (or uuid) and the seven ranks; missing: "
                                         f"{[] if ident else ['treeoflife_id']}{missing}", line=1)
        common = next((lower[c] for c in COMMON_COLUMNS if c in lower), None)
        ranks = ", ".join(f'coalesce(CAST("{lower[r]}" AS VARCHAR), \'\') AS {a}' for r, a in zip(RANK_COLUMNS, RAW))
        looked = f'coalesce(CAST("{common}" AS VARCHAR), \'\')' if common else "''"
        con.execute(
            f"""CREATE TEMP TABLE t AS SELECT lower(trim(CAST("{ident}" AS VARCHAR))) AS treeoflife_id, {ranks},
                       {looked} AS looked, row_number() OVER () AS _row FROM t_raw"""
        )
        dup = con.execute("SELECT treeoflife_id FROM t GROUP BY 1 HAVING count(*) > 1 ORDER BY 1 LIMIT 1").fetchone()
        if dup:
            raise InputFormatError(path, f"treeoflife_id {dup[0]} appears more than once")
        con.execute(
            f"""CREATE TEMP VIEW v AS SELECT t.*, m.source,
                   json_object('table', '{_quote(path.name)}', 'row', t._row)::VARCHAR AS prov
                FROM t JOIN read_parquet('{_quote(mapping)}') m USING (treeoflife_id)"""
        )
        present = [s for (s,) in con.execute("SELECT DISTINCT source FROM v ORDER BY 1").fetchall()]
        out = {}
        for source in present:
            con.execute(f"CREATE OR REPLACE TEMP VIEW vs AS SELECT * FROM v WHERE source = '{source}'")
            out[source] = labelled(con, "vs", ["treeoflife_id"])
        log(f"{path.name}: labels for {sum(len(t) for t in out.values())} mapped images")
        return out
    finally:
        con.close()
