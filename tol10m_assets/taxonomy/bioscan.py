"""The BIOSCAN-1M metadata: a JSON list of records; ``not_classified`` means unknown."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

from tol10m_assets.errors import InputFormatError
from tol10m_assets.taxonomy.taxon import Taxon

REQUIRED = ("image_file", "chunk_number", "order", "family", "genus", "species")
FIXED = ("Animalia", "Arthropoda", "Insecta")


def _rank(value) -> str:
    if value is None:
        return ""
    value = str(value).strip()
    return "" if value.lower() in ("not_classified", "nan", "none") else value


def read_bioscan_metadata(path: Path) -> Iterator[tuple[int, str, Taxon, int]]:
    """(part, image_file, taxon, record index) for every record."""
    path = Path(path)
    try:
        with open(path, encoding="utf-8") as handle:
            records = json.load(handle)
    except UnicodeDecodeError as exc:
        raise InputFormatError(path, f"not UTF-8 ({exc.reason} at byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise InputFormatError(path, f"not JSON ({exc.msg}, column {exc.colno})", line=exc.lineno) from None
    if not isinstance(records, list):
        raise InputFormatError(path, "expected a JSON list of records")
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            raise InputFormatError(path, f"record {index} is not an object")
        missing = [k for k in REQUIRED if k not in record]
        if missing:
            raise InputFormatError(path, f"record {index} lacks {', '.join(missing)}")
        try:
            part = int(record["chunk_number"])
        except (TypeError, ValueError):
            raise InputFormatError(path, f"record {index}: chunk_number is not an integer: {record['chunk_number']!r}") from None
        taxon = Taxon(*FIXED, _rank(record["order"]), _rank(record["family"]), _rank(record["genus"]), _rank(record["species"]))
        yield part, str(record["image_file"]), taxon, index
