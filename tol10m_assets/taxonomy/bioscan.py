"""The BIOSCAN-1M metadata: a JSON list of records; ``not_classified`` means unknown.

The file is 1.7 GB for 1.1 million records: it is read as a stream (one record at a time, a
1 MiB window of text), so memory does not grow with the number of records. Every record is
numbered from 1 and located by the line it starts on, for provenance and for errors.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator, NamedTuple

from tol10m_assets.errors import InputFormatError
from tol10m_assets.taxonomy.taxon import Taxon

REQUIRED = ("image_file", "chunk_number", "order", "family", "genus", "species")
FIXED = ("Animalia", "Arthropoda", "Insecta")
BLOCK = 1 << 20
MAX_RECORD = 16 << 20  # a record (or a malformed stretch) longer than this is an error, not a reason to read on
_WS = " \t\n\r"


class Where(NamedTuple):
    record: int  # 1-based position in the JSON list
    line: int  # 1-based line the record starts on


def _rank(value) -> str:
    if value is None:
        return ""
    value = str(value).strip()
    return "" if value.lower() in ("not_classified", "nan", "none") else value


def _utf8_cut(data: bytes) -> int:
    """Length of the longest prefix of ``data`` that does not end inside a UTF-8 sequence."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte & 0xC0 != 0x80:  # an ASCII byte or a lead byte
            need = 1 if byte < 0x80 else 2 if byte >> 5 == 0b110 else 3 if byte >> 4 == 0b1110 else 4
            return len(data) if need <= back else len(data) - back
    return len(data)


class _Text:
    """UTF-8 text of a file, a block at a time, with exact line numbers for decoding errors."""

    def __init__(self, path: Path, block: int):
        self.path, self.block = path, block
        self.handle = open(path, "rb")  # noqa: SIM115 - closed by iter_json_array's finally
        self.pending = b""
        self.lines = 0  # newlines in the bytes decoded so far
        self.eof = False
        self.first = True

    def read(self) -> str:
        chunk = self.handle.read(self.block)
        if not chunk:
            self.eof = True
        data = self.pending + chunk
        cut = len(data) if self.eof else _utf8_cut(data)
        body, self.pending = data[:cut], data[cut:]
        if self.first and body.startswith(b"\xef\xbb\xbf"):
            body = body[3:]
        self.first = False
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = self.lines + body.count(b"\n", 0, exc.start) + 1
            raise InputFormatError(self.path, f"not UTF-8 (byte(s) {body[exc.start:exc.end].hex(' ')}: {exc.reason})", line=line) from None
        self.lines += body.count(b"\n")
        return text

    def close(self) -> None:
        self.handle.close()


def iter_json_array(path: Path, *, block: int = BLOCK) -> Iterator[tuple[Where, object]]:
    """(where, value) for every element of the top-level JSON list in ``path``, streamed."""
    path = Path(path)
    decoder = json.JSONDecoder()
    text = _Text(path, block)
    buf, pos = "", 0
    line, line_pos = 1, 0  # line number at buf[line_pos]

    def line_at(p: int) -> int:
        nonlocal line, line_pos
        line += buf.count("\n", line_pos, p)
        line_pos = p
        return line

    def more() -> bool:
        nonlocal buf, pos, line_pos
        if text.eof:
            return False
        line_at(pos)
        buf, line_pos, pos = buf[pos:] + text.read(), 0, 0
        return True

    def skip_ws() -> bool:
        """Move ``pos`` past whitespace; False at the end of the input."""
        nonlocal pos
        while True:
            while pos < len(buf) and buf[pos] in _WS:
                pos += 1
            if pos < len(buf):
                return True
            if not more():
                return False

    def fail(message: str, at: int):
        raise InputFormatError(path, message, line=line_at(at)) from None

    try:
        if not skip_ws() or buf[pos] != "[":
            fail("not JSON (expected a list of records: '[' first)", min(pos, len(buf)))
        pos += 1
        number = 0
        while True:
            if not skip_ws():
                fail("not JSON (the list is not closed: the file ends early)", len(buf))
            if buf[pos] == "]" and number == 0:
                pos += 1
                break
            start = pos
            while True:
                try:
                    value, end = decoder.raw_decode(buf, start)
                    if end < len(buf) or text.eof:
                        break
                except json.JSONDecodeError as exc:
                    if text.eof or len(buf) - start > MAX_RECORD:
                        fail(f"not JSON ({exc.msg}, column {exc.colno}) in record {number + 1}", exc.pos)
                if not more():
                    continue
                start = pos
            number += 1
            yield Where(number, line_at(start)), value
            pos = end
            if not skip_ws():
                fail("not JSON (the list is not closed: the file ends early)", len(buf))
            if buf[pos] == "]":
                pos += 1
                break
            if buf[pos] != ",":
                fail(f"not JSON (expected ',' or ']' after record {number}, found {buf[pos]!r})", pos)
            pos += 1
        if skip_ws():
            fail("not JSON (extra data after the list)", pos)
    finally:
        text.close()


def read_bioscan_metadata(path: Path) -> Iterator[tuple[int, str, Taxon, Where]]:
    """(part, image_file, taxon, where) for every record, streamed; a bad record names the file,
    its 1-based record number and line."""
    path = Path(path)
    taxa: dict[tuple, Taxon] = {}  # a few thousand distinct taxa among a million records: normalise each once
    for where, record in iter_json_array(path):
        at = f"record {where.record}"
        if not isinstance(record, dict):
            raise InputFormatError(path, f"{at} is not an object", line=where.line)
        missing = [k for k in REQUIRED if k not in record]
        if missing:
            raise InputFormatError(path, f"{at} lacks {', '.join(missing)}", line=where.line)
        try:
            part = int(record["chunk_number"])
        except (TypeError, ValueError):
            raise InputFormatError(path, f"{at}: chunk_number is not an integer: {record['chunk_number']!r}", line=where.line) from None
        raw = tuple(_rank(record[k]) for k in ("order", "family", "genus", "species"))
        taxon = taxa.get(raw)
        if taxon is None:
            taxon = taxa[raw] = Taxon(*FIXED, *raw)
        yield part, str(record["image_file"]), taxon, where
