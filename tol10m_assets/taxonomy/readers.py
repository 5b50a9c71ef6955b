"""Streaming CSV/TSV readers that name the file and line of any bad input."""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import Iterator

from tol10m_assets.errors import InputFormatError

csv.field_size_limit(sys.maxsize)


def iter_rows(path: Path, required: list[str], *, delimiter: str = ",", quoting: int = csv.QUOTE_MINIMAL) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, row) for every data row; header = line 1.

    Raises InputFormatError for missing columns, a row with the wrong number of fields, or bytes
    that are not UTF-8.
    """
    path = Path(path)
    line = 1
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle, delimiter=delimiter, quoting=quoting)
            try:
                header = next(reader)
            except StopIteration:
                raise InputFormatError(path, "empty file: no header row", line=1) from None
            header = [h.strip().lstrip("\ufeff") for h in header]
            missing = [c for c in required if c not in header]
            if missing:
                raise InputFormatError(path, f"missing column(s) {', '.join(missing)}; found {', '.join(header)}", line=1)
            width = len(header)
            for fields in reader:
                line = reader.line_num
                if not fields:
                    continue
                if len(fields) != width:
                    raise InputFormatError(path, f"expected {width} fields, found {len(fields)}", line=line)
                yield line, dict(zip(header, fields))
    except UnicodeDecodeError as exc:
        raise InputFormatError(path, f"not UTF-8 ({exc.reason} at byte {exc.start} of a read block)", line=line + 1) from exc
    except csv.Error as exc:
        raise InputFormatError(path, f"malformed CSV ({exc})", line=line + 1) from exc


def parse_int(path: Path, line: int, column: str, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise InputFormatError(path, f"{column} is not an integer: {value!r}", line=line) from None
