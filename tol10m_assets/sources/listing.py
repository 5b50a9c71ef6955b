"""Source listings as Arrow tables (one row per image, the fields of :class:`SourceImage`), for the
mapping. Folders are listed with ``os.scandir`` (the directory entry's type, no ``stat()`` per file);
EOL sets are listed from their member indexes column by column (no record per member), several
sets at a time in worker processes when asked. Same rows, same order as ``list_source_images``.
No Dagster imports.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import pyarrow as pa

from tol10m_assets.errors import InputFormatError, MissingSourceError
from tol10m_assets.layout import SourceLayout
from tol10m_assets.sources.chunks import bioscan_partitions, eol_partition, inat21_partitions
from tol10m_assets.sources.eolindex import set_index
from tol10m_assets.sources.images import (
    BIOSCAN_PART_RE,
    EOL_MEMBER_RE,
    INAT21_CLASS_RE,
    PUBLISHED_MEMBER_RE,
    Chunking,
    SourceImage,
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


def eol_set_listing(tar_path: Path, mode: str) -> pa.Table:
    """One EOL set's listing from its member index (built and stored on first use), in archive
    order: the rows of ``images._eol_records``. A member in a sub-folder or with a name the mode does
    not parse, or an image seen before in the set, is ``bad_name`` (counted, never used)."""
    index = set_index(Path(tar_path))
    name, reproduce = index.archive.name, mode == "reproduce"
    pattern = PUBLISHED_MEMBER_RE if reproduce else EOL_MEMBER_RE
    members = [m.name for m in index.members]
    ids: list = []
    pages: list = []
    seen: set = set()
    for member in members:
        base = member[2:] if member.startswith("./") else member
        m = None if "/" in base else pattern.fullmatch(base)
        identity = None if m is None else m.group(1) if reproduce else (int(m.group(1)), int(m.group(2)))
        if identity is None or identity in seen:
            ids.append(None)
            pages.append(None)
            continue
        seen.add(identity)
        ids.append(identity if reproduce else identity[0])
        pages.append(None if reproduce else identity[1])
    n = len(members)
    return listing_table(
        {
            "source": ["eol"] * n,
            "partition": [eol_partition(name)] * n,
            "origin": [f"{name}:{member}" for member in members],
            **({"published_id": ids} if reproduce else {"eol_content_id": ids, "eol_page_id": pages}),
            "bad_name": [i is None for i in ids],
        },
        n,
    )


def _eol_set_task(tar_path: str, mode: str):
    try:
        return eol_set_listing(Path(tar_path), mode), None
    except InputFormatError as exc:  # sent back as its parts (its constructor takes more than the message)
        return None, (exc.path, exc.message, exc.member)


def list_eol_sets(sets: list[Path], mode: str, workers: int = 1) -> Iterator[pa.Table]:
    """The listing of each set, in the order given; ``workers`` > 1 indexes and lists the sets in
    that many processes (a set without a current index is inflated once to build it), at most
    two sets a worker ahead of the consumer."""
    import collections

    if workers <= 1 or len(sets) <= 1:
        for path in sets:
            table = eol_set_listing(path, mode)
            if table.num_rows:
                yield table
        return
    from tol10m_assets.shards.pool import worker_pool

    with worker_pool(min(workers, len(sets))) as pool:
        pending: collections.deque = collections.deque()
        todo = iter(sets)
        for path in todo:
            pending.append(pool.submit(_eol_set_task, str(path), mode))
            if len(pending) >= 2 * workers:
                break
        while pending:
            table, error = pending.popleft().result()
            for path in todo:  # keep the window full
                pending.append(pool.submit(_eol_set_task, str(path), mode))
                break
            if error:
                path, message, member = error
                raise InputFormatError(path, message, member=member)
            if table.num_rows:
                yield table


def list_eol(layout: SourceLayout, chunking: Chunking, workers: int = 1) -> Iterator[pa.Table]:
    """EOL members (names only) of every image set, in set order, one table a set."""
    yield from list_eol_sets(eol_image_sets(layout, chunking.mode), chunking.mode, workers)


def list_sources(layout: SourceLayout, chunking: Chunking, workers: int = 1) -> Iterator[pa.Table]:
    """Every source image as listing tables, in the order of ``list_source_images`` (``workers``:
    processes that index and list the EOL sets)."""
    yield from list_eol(layout, chunking, workers)
    yield from list_inat21(layout, chunking)
    yield from list_bioscan(layout, chunking)
