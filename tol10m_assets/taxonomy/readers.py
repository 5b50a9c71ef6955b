"""Streaming CSV/TSV readers that name the file and the right line of any bad input.

The bytes are decoded here, a block at a time, instead of by a text-mode file: a text-mode file
decodes ahead of the CSV parser, so a bad byte surfaced as a bare ``UnicodeDecodeError`` with no
usable line (issue 10: "line 2414 for line 2500"). Every error is an :class:`InputFormatError`
with the path and the 1-based physical line (header = line 1) where the bad record starts.

Text is data: a control character (NUL, tab, newline, any other C0 or C1 code) in a name column is
an error naming the file, line and column; a NUL anywhere too (it is never text: a damaged file).
"""

from __future__ import annotations

import csv
import re
import sys
from pathlib import Path
from typing import Iterator

from tol10m_assets.errors import InputFormatError

csv.field_size_limit(sys.maxsize)
BLOCK = 1 << 20
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def iter_lines(path: Path, *, encoding: str = "utf-8", block: int = BLOCK) -> Iterator[str]:
    """The file's lines (each with its ``\\n``), decoded block by block; a byte that does not
    decode raises InputFormatError naming the line that holds it."""
    path = Path(path)
    lines_before = 0
    tail = b""
    with open(path, "rb") as handle:
        while True:
            chunk = handle.read(block)
            data = tail + chunk
            if not data:
                return
            cut = data.rfind(b"\n") + 1 if chunk else len(data)
            if cut == 0:  # no newline yet: the line goes on in the next block
                tail = data
                continue
            body, tail = data[:cut], data[cut:]
            if lines_before == 0 and body.startswith(b"\xef\xbb\xbf"):
                body = body[3:]
            try:
                text = body.decode(encoding)
            except UnicodeDecodeError as exc:
                line = lines_before + body.count(b"\n", 0, exc.start) + 1
                bad = body[exc.start : exc.end].hex(" ")
                raise InputFormatError(path, f"not {encoding.upper()} (byte(s) {bad}: {exc.reason}); re-save the file as {encoding.upper()}", line=line) from None
            parts = text.split("\n")
            last = parts.pop()  # "" when the body ends with a newline (always, except at the end)
            for part in parts:
                yield part + "\n"
            if last:
                yield last
            lines_before += len(parts)
            if not chunk:
                return


def iter_rows(
    path: Path,
    required: list[str],
    *,
    delimiter: str = ",",
    quoting: int = csv.QUOTE_MINIMAL,
    names: list[str] = (),
) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, row) for every data row; header = line 1; a row's number is the line it starts on.

    Raises InputFormatError for missing columns, a row with the wrong number of fields, malformed
    quoting, bytes that are not UTF-8, a NUL anywhere, or a control character (tab, newline, any
    C0/C1 code) in a column of ``names`` (the name readers pass the columns they read).
    """
    names = list(names)
    path = Path(path)
    reader = csv.reader(iter_lines(path), delimiter=delimiter, quoting=quoting)
    try:
        try:
            header = next(reader)
        except StopIteration:
            raise InputFormatError(path, "empty file: no header row", line=1) from None
        header = [h.strip().lstrip("\ufeff") for h in header]
        missing = [c for c in required if c not in header]
        if missing:
            raise InputFormatError(path, f"missing column(s) {', '.join(missing)}; found {', '.join(header)}", line=1)
        width = len(header)
        end = reader.line_num
        for fields in reader:
            start, end = end + 1, reader.line_num
            if not fields:
                continue
            if len(fields) != width:
                raise InputFormatError(path, f"expected {width} fields, found {len(fields)}", line=start)
            row = dict(zip(header, fields))
            if CONTROL.search("".join(fields)):
                _reject_controls(path, start, row, names)
            yield start, row
    except csv.Error as exc:
        raise InputFormatError(path, f"malformed CSV ({exc})", line=reader.line_num) from None


def _reject_controls(path: Path, line: int, row: dict[str, str], names: list[str]) -> None:
    for column, value in row.items():
        found = CONTROL.search(value)
        if found and (column in names or "\x00" in value):
            char = value[found.start()]
            raise InputFormatError(
                path,
                f"column {column} holds a control character (U+{ord(char):04X}) in {value[:80]!r}: names are text; "
                "remove it from the file (a NUL usually means the file is damaged: copy it again)",
                line=line,
            )


def parse_int(path: Path, line: int, column: str, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise InputFormatError(path, f"{column} is not an integer: {value!r}", line=line) from None
