"""Columnar plumbing for the metadata path: DuckDB connections with a memory cap, Parquet written
batch by batch with the bytes pandas' ``to_parquet`` gives for the whole frame, and CSV lines built
in SQL with the quoting of Python's ``csv`` module (what ``DataFrame.to_csv`` writes). No Dagster.
"""

from __future__ import annotations

import csv
import io
import os
import re
import tempfile
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

ROW_GROUP = 1024 * 1024  # pyarrow's default row group length (pandas' to_parquet uses it)
BATCH = 256 * 1024
MEMORY_ENV = "TOL10M_DUCKDB_MEMORY"  # e.g. "3GB"; DuckDB spills sorts, joins and aggregates beyond it
DEFAULT_MEMORY = "3GB"
TEMP_ENV = "TOL10M_DUCKDB_TEMP"


def connect(threads: int | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB that spills to a temp directory (``$TOL10M_DUCKDB_TEMP``, else the system
    temp dir) beyond ``$TOL10M_DUCKDB_MEMORY`` (default 3GB)."""
    con = duckdb.connect()
    con.execute(f"SET memory_limit = '{_memory_setting()}'")
    spill = Path(os.environ.get(TEMP_ENV) or tempfile.gettempdir()) / f"tol10m-duckdb-{os.getpid()}"
    con.execute(f"SET temp_directory = '{str(spill).replace(chr(39), chr(39) * 2)}'")
    con.execute("SET preserve_insertion_order = true")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    return con


def _memory_setting() -> str:
    value = os.environ.get(MEMORY_ENV, DEFAULT_MEMORY).strip()
    if not re.fullmatch(r"[0-9]+(\.[0-9]+)?\s*[KMGT]?i?B", value, re.IGNORECASE):
        raise ValueError(f"{MEMORY_ENV}={value!r}: expected a size such as 3GB")
    return value


def pandas_schema(dtypes: dict[str, str]) -> pa.Schema:
    """The Arrow schema (with pandas metadata) ``to_parquet(index=False)`` writes for these dtypes."""
    empty = pd.DataFrame({name: pd.Series([], dtype=dtype) for name, dtype in dtypes.items()})
    return pa.Schema.from_pandas(empty, preserve_index=False)


class ParquetSink:
    """Writes batches to ``path`` as one ``to_parquet`` of the whole frame would: the same schema and
    pandas metadata, row groups of ``ROW_GROUP`` rows each written from one contiguous chunk. The file
    appears (renamed from a hidden temp file) only on a clean ``close``."""

    def __init__(self, path: Path, schema: pa.Schema):
        self.path = Path(path)
        self.schema = schema
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = self.path.with_name(f".{self.path.name}.tmp")
        self.tmp.unlink(missing_ok=True)
        self.writer = pq.ParquetWriter(self.tmp, schema, compression="snappy")
        self.pending: list[pa.Table] = []
        self.pending_rows = 0
        self.rows = 0

    def write(self, data: pa.Table | pa.RecordBatch) -> None:
        table = data if isinstance(data, pa.Table) else pa.Table.from_batches([data])
        table = table.select(self.schema.names).cast(self.schema)
        while table.num_rows:
            take = min(ROW_GROUP - self.pending_rows, table.num_rows)
            self.pending.append(table.slice(0, take))
            self.pending_rows += take
            table = table.slice(take)
            if self.pending_rows == ROW_GROUP:
                self._flush()

    def _flush(self) -> None:
        if self.pending_rows or not self.rows:
            group = pa.concat_tables(self.pending) if self.pending else self.schema.empty_table()
            self.writer.write_table(group.combine_chunks())
            self.rows += group.num_rows
        self.pending, self.pending_rows = [], 0

    def close(self) -> int:
        """Flush, close and rename into place; returns the number of rows."""
        if self.pending_rows or not self.rows:
            self._flush()
        self.writer.close()
        os.replace(self.tmp, self.path)
        return self.rows

    def abort(self) -> None:
        self.writer.close()
        self.tmp.unlink(missing_ok=True)

    def __enter__(self) -> ParquetSink:
        return self

    def __exit__(self, kind, exc, tb) -> None:
        if kind is None:
            self.close()
        else:
            self.abort()


def write_parquet(path: Path, schema: pa.Schema, batches) -> int:
    """Every batch of ``batches`` (Arrow tables or record batches) into one Parquet file."""
    with ParquetSink(path, schema) as sink:
        for batch in batches:
            sink.write(batch)
    return sink.rows


# --- CSV with the quoting of Python's csv module ------------------------------------------------


def _csv_specials() -> str:
    """The characters that make ``csv.writer`` (QUOTE_MINIMAL, lineterminator "\\n", as pandas uses
    it) quote a field, probed on this Python (3.12 started quoting "\\r" too)."""
    out = []
    for ch in [",", '"', "\n", "\r"]:
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerow(["a" + ch + "b", "x"])
        if buf.getvalue().startswith('"'):
            out.append(ch)
    return "".join(out)


CSV_SPECIALS = _csv_specials()


def csv_field_sql(column: str, kind: str = "text") -> str:
    """SQL for one CSV field of ``column`` as pandas writes it: NULL → empty, quoted when needed."""
    col = f'"{column}"'
    if kind == "int":
        return f"coalesce(CAST({col} AS VARCHAR), '')"
    tests = " OR ".join(f"contains({col}, chr({ord(ch)}))" for ch in CSV_SPECIALS)
    return f"""CASE WHEN {col} IS NULL THEN '' WHEN {tests} THEN '"' || replace({col}, '"', '""') || '"' ELSE {col} END"""


def csv_header(columns: list[str]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(columns)
    return buf.getvalue()


def write_csv_lines(path: Path, header: str, reader) -> int:
    """Write ``header`` then each batch's one string column (whole lines, ``\\n`` included) to
    ``path`` (hidden temp file, renamed); the line bytes go out as Arrow buffers, no per-row Python."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    rows = 0
    try:
        with open(tmp, "wb") as f:
            f.write(header.encode())
            for batch in reader:
                arr = batch.column(0)
                for chunk in arr.chunks if isinstance(arr, pa.ChunkedArray) else [arr]:
                    rows += len(chunk)
                    f.write(_string_bytes(chunk))
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return rows


def _string_bytes(arr: pa.Array) -> memoryview | bytes:
    """The concatenated UTF-8 bytes of a string array without nulls (its data buffer, sliced)."""
    if len(arr) == 0:
        return b""
    if arr.null_count:
        raise ValueError("CSV line array has nulls")
    if pa.types.is_string_view(arr.type):
        arr = arr.cast(pa.large_string())
    offset_type = "int64" if pa.types.is_large_string(arr.type) else "int32"
    _, offsets_buf, data = arr.buffers()
    offsets = np.frombuffer(offsets_buf, dtype=offset_type)[arr.offset : arr.offset + len(arr) + 1]
    return memoryview(data)[int(offsets[0]) : int(offsets[-1])]
