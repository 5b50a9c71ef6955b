"""Source listings as Arrow tables (one row per image, the fields of :class:`SourceImage`), for the
mapping. Folders are listed with ``os.scandir`` (the directory entry's type, no ``stat()`` per file);
EOL sets go through the tar reader of ``images.py`` (names only). Same rows, same order as
``list_source_images``. No Dagster imports.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import pyarrow as pa

from tol10m_assets.errors import MissingSourceError
from tol10m_assets.layout import SourceLayout
from tol10m_assets.sources.chunks import bioscan_partitions, inat21_partitions
from tol10m_assets.sources.images import (
    BIOSCAN_PART_RE,
    INAT21_CLASS_RE,
    Chunking,
    SourceImage,
    _iter_eol_tar,
    eol_image_sets,
)

LISTING_SCHEMA = pa.schema(
    [
        ("source", pa.string()),
        ("partition", pa.string()),
        ("origin", pa.string()),
        ("eol_content_id", pa.int64()),
        ("eol_page_id", pa.int64()),
        ("published_id", pa.string()),
        ("inat21_filename", pa.string()),
        ("inat21_cls_name", pa.string()),
        ("inat21_cls_num", pa.int64()),
        ("bioscan_part", pa.int64()),
        ("bioscan_filename", pa.string()),
        ("bad_name", pa.bool_()),
    ]
)
BATCH = 1 << 18


def listing_table(columns: dict[str, list], n: int) -> pa.Table:
    """A listing table from the columns given (the others null; ``bad_name`` False unless given)."""
    arrays = []
    for field in LISTING_SCHEMA:
        values = columns.get(field.name)
        if values is None:
            values = [False] * n if field.name == "bad_name" else None
        arrays.append(pa.array(values, type=field.type) if values is not None else pa.nulls(n, field.type))
    return pa.Table.from_arrays(arrays, schema=LISTING_SCHEMA)


def listing_from_images(images: Iterable[SourceImage], batch: int = BATCH) -> Iterator[pa.Table]:
    """Any stream of :class:`SourceImage` records as listing tables of ``batch`` rows."""
    names = LISTING_SCHEMA.names
    buf: list[SourceImage] = []
    for img in images:
        buf.append(img)
        if len(buf) == batch:
            yield listing_table({n: [getattr(i, n) for i in buf] for n in names}, len(buf))
            buf = []
    if buf:
        yield listing_table({n: [getattr(i, n) for i in buf] for n in names}, len(buf))


def _numbered_dirs(root: Path, pattern, setting: str, what: str) -> list[tuple[int, str, str]]:
    """(number, name, path) of the sub-folders of ``root`` whose names match ``pattern``, sorted."""
    if not root.is_dir():
        raise MissingSourceError(root, f"source_paths.{setting}", what)
    found = []
    with os.scandir(root) as it:
        for entry in it:
            m = pattern.fullmatch(entry.name)
            if m and entry.is_dir():
                found.append((int(m.group(1)), entry.name, entry.path))
    return sorted(found)


def _file_names(folder: str) -> list[str]:
    """Names of the files in ``folder`` (symlinks followed, as ``Path.is_file``), sorted."""
    with os.scandir(folder) as it:
        return sorted(e.name for e in it if e.is_file())


def list_inat21(layout: SourceLayout, chunking: Chunking) -> Iterator[pa.Table]:
    """One listing table per iNat21 class folder, in class order."""
    dirs = _numbered_dirs(layout.inat21_train, INAT21_CLASS_RE, "inat21_train", "iNat21 train directory")
    keys = inat21_partitions((d[0] for d in dirs), chunking.inat21_classes_per_partition)
    for cls_num, dirname, path in dirs:
        names = _file_names(path)
        if not names:
            continue
        good = [n.endswith(".jpg") for n in names]
        cls_name = dirname.split("_", 1)[1]
        n = len(names)
        yield listing_table(
            {
                "source": ["inat21"] * n,
                "partition": [keys[cls_num]] * n,
                "origin": [f"train/{dirname}/{name}" for name in names],
                "inat21_filename": [name if g else None for name, g in zip(names, good)],
                "inat21_cls_name": [cls_name if g else None for g in good],
                "inat21_cls_num": [cls_num if g else None for g in good],
                "bad_name": [not g for g in good],
            },
            n,
        )


def list_bioscan(layout: SourceLayout, chunking: Chunking) -> Iterator[pa.Table]:
    """One listing table per BIOSCAN part folder, in part order."""
    dirs = _numbered_dirs(layout.bioscan_images, BIOSCAN_PART_RE, "bioscan_images", "BIOSCAN image directory")
    keys = bioscan_partitions((d[0] for d in dirs), chunking.bioscan_parts_per_partition)
    for part, dirname, path in dirs:
        names = _file_names(path)
        if not names:
            continue
        good = [n.lower().endswith((".jpg", ".jpeg")) for n in names]
        n = len(names)
        yield listing_table(
            {
                "source": ["bioscan"] * n,
                "partition": [keys[part]] * n,
                "origin": [f"{dirname}/{name}" for name in names],
                "bioscan_part": [part if g else None for g in good],
                "bioscan_filename": [name if g else None for name, g in zip(names, good)],
                "bad_name": [not g for g in good],
            },
            n,
        )


def list_eol(layout: SourceLayout, chunking: Chunking) -> Iterator[pa.Table]:
    """EOL members (names only) of every image set, in set order. Switch point for a member index."""
    for tar_path in eol_image_sets(layout, chunking.mode):
        yield from listing_from_images(rec for rec, _ in _iter_eol_tar(tar_path, chunking.mode, False))


def list_sources(layout: SourceLayout, chunking: Chunking) -> Iterator[pa.Table]:
    """Every source image as listing tables, in the order of ``list_source_images``."""
    yield from list_eol(layout, chunking)
    yield from list_inat21(layout, chunking)
    yield from list_bioscan(layout, chunking)
