"""Stream the images of every raw layout as :class:`SourceImage` records (plus their bytes).

``list_source_images`` reads names only (an EOL set's member index, directory listings) for the
mapping; ``iter_partition_images`` streams one partition's images once, in a deterministic order:
the bytes of a member of a compressed archive, or where the shard worker that resizes the image can
read it itself: a file's path, or a :class:`MemberSlice` of an uncompressed tar.

Images that must not be used are yielded too, with ``skip_reason`` set (and ``bad_name`` True, for
callers that only check that) so that they are counted, never silently dropped:
``bad_member_name`` (the name does not fit the layout), ``unexpected_path`` (in a sub-folder the
layout does not have) and ``duplicate`` (an EOL image already seen in its set: the first is kept).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from tol10m_assets.errors import (
    SKIP_BAD_MEMBER_NAME,
    SKIP_DUPLICATE,
    SKIP_UNEXPECTED_PATH,
    InputFormatError,
    MissingSourceError,
)
from tol10m_assets.layout import SourceLayout
from tol10m_assets.sources.chunks import (
    EOL_SET_RE,
    bioscan_partitions,
    eol_partition,
    inat21_partitions,
    parse_partition,
)
from tol10m_assets.sources.eolindex import Member, SetIndex, check_member, read_members, set_index

EOL_MEMBER_RE = re.compile(r"(\d+)_(\d+)_eol.*jpg")
PUBLISHED_MEMBER_RE = re.compile(r"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.jpg")
INAT21_CLASS_RE = re.compile(r"(\d{5})_(.+)")
BIOSCAN_PART_RE = re.compile(r"part(\d+)")
MODES = ("generate", "reproduce")


@dataclass(frozen=True, slots=True)
class SourceImage:
    """The identity of one source image, as its raw layout names it."""

    source: str  # "eol" | "inat21" | "bioscan"
    partition: str
    origin: str  # "<archive or dir>:<member>" for messages and stats
    eol_content_id: int | None = None
    eol_page_id: int | None = None
    published_id: str | None = None  # reproduce flavour: the EOL member is named by its treeoflife_id
    inat21_filename: str | None = None
    inat21_cls_name: str | None = None
    inat21_cls_num: int | None = None
    bioscan_part: int | None = None
    bioscan_filename: str | None = None
    bad_name: bool = False  # not to be used (counted and skipped): True whenever skip_reason is set
    skip_reason: str | None = None  # SKIP_BAD_MEMBER_NAME, SKIP_UNEXPECTED_PATH or SKIP_DUPLICATE

    @property
    def skip_detail(self) -> str:
        """What ``skip_reason`` means, for the skipped samples of a partition's stats."""
        return SKIP_DETAILS.get(self.skip_reason, "") if self.skip_reason else ""


# what each reason a reader sets means, for the skipped samples of a partition's stats
SKIP_DETAILS = {
    SKIP_BAD_MEMBER_NAME: "name does not fit the source layout",
    SKIP_UNEXPECTED_PATH: "in a sub-folder the source layout does not have",
    SKIP_DUPLICATE: "the same image again in its set (the first is kept)",
}


def skipped_image(source: str, partition: str, origin: str, reason: str) -> SourceImage:
    """A record that is counted under ``reason`` and never used."""
    return SourceImage(source, partition, origin, bad_name=True, skip_reason=reason)


@dataclass(frozen=True)
class Chunking:
    """How sources are cut into shard partitions."""

    mode: str = "generate"
    inat21_classes_per_partition: int = 100
    bioscan_parts_per_partition: int = 10

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {self.mode!r}")
        if self.inat21_classes_per_partition < 1 or self.bioscan_parts_per_partition < 1:
            raise ValueError("partition sizes must be at least 1")


# --- EOL -------------------------------------------------------------------------------------


def eol_dir(layout: SourceLayout, mode: str) -> tuple[Path, str]:
    if mode == "reproduce":
        return layout.eol_published_images, "eol_published_images"
    return layout.eol_images, "eol_images"


@dataclass(frozen=True)
class MemberSlice:
    """A member of an uncompressed tar, read in place (by the shard worker) with ``read_bytes``."""

    archive: Path
    member: str
    offset: int
    size: int
    crc: int | None = None  # recorded at index time: a member rewritten since is an error naming the set

    def read_bytes(self) -> bytes:
        with open(self.archive, "rb") as f:
            data = os.pread(f.fileno(), self.size, self.offset)
        if len(data) != self.size:
            raise OSError(f"{self.archive}:{self.member}: the archive ends inside the member (truncated?)")
        check_member(self.archive, Member(self.member, self.offset, self.size, self.crc), data)
        return data


def eol_image_sets(layout: SourceLayout, mode: str) -> list[Path]:
    """The image sets, sorted; ``image_set_NN.tar`` (decompressed) and ``.tar.gz`` both count, but
    not both for the same NN."""
    folder, setting = eol_dir(layout, mode)
    if not folder.is_dir():
        raise MissingSourceError(folder, f"source_paths.{setting}", "EOL image set directory")
    with os.scandir(folder) as entries:
        sets = sorted(folder / e.name for e in entries if EOL_SET_RE.fullmatch(e.name))
    by_partition: dict[str, Path] = {}
    for path in sets:
        other = by_partition.setdefault(eol_partition(path.name), path)
        if other != path:
            raise InputFormatError(folder, f"both {other.name} and {path.name}: keep one of them (the same image set twice)")
    return sets


def _eol_record(tar_name: str, partition: str, member: str, mode: str) -> SourceImage:
    """The image a member names; members in a sub-folder (``sub/1_2_eol….jpg``) are
    ``unexpected_path`` (a leading ``./`` is the top level, as ``tar -C dir .`` writes it)."""
    origin = f"{tar_name}:{member}"
    base = member[2:] if member.startswith("./") else member
    if "/" in base:
        return skipped_image("eol", partition, origin, SKIP_UNEXPECTED_PATH)
    if mode == "reproduce":
        m = PUBLISHED_MEMBER_RE.fullmatch(base)
        if m:
            return SourceImage("eol", partition, origin, published_id=m.group(1))
    else:
        m = EOL_MEMBER_RE.fullmatch(base)
        if m:
            return SourceImage("eol", partition, origin, eol_content_id=int(m.group(1)), eol_page_id=int(m.group(2)))
    return skipped_image("eol", partition, origin, SKIP_BAD_MEMBER_NAME)


def _eol_records(index: SetIndex, mode: str) -> Iterator[tuple[SourceImage, Member]]:
    """Every member of a set as a record, in archive order; an image seen before in the set (the
    same ids, under the same or another name) is a ``duplicate``: only the first is used."""
    partition = eol_partition(index.archive.name)
    seen: set = set()
    for member in index.members:
        rec = _eol_record(index.archive.name, partition, member.name, mode)
        if not rec.bad_name:
            identity = rec.published_id if mode == "reproduce" else (rec.eol_content_id, rec.eol_page_id)
            if identity in seen:
                rec = skipped_image("eol", partition, rec.origin, SKIP_DUPLICATE)
            else:
                seen.add(identity)
        yield rec, member


def _iter_eol_tar(tar_path: Path, mode: str, with_bytes: bool) -> Iterator[tuple[SourceImage, bytes | MemberSlice | None]]:
    """One set through its member index (built on first use): the members of a plain ``.tar``
    as :class:`MemberSlice` (read in place by the workers), those of a ``.tar.gz`` as bytes, read
    in one sequential pass with ISA-L's inflate. Truncated or corrupt archives raise
    InputFormatError naming the archive."""
    index = set_index(tar_path)
    if not with_bytes:
        for rec, _ in _eol_records(index, mode):
            yield rec, None
        return
    if not index.compressed:
        for rec, m in _eol_records(index, mode):
            yield rec, None if rec.bad_name else MemberSlice(index.archive, m.name, m.offset, m.size, m.crc)
        return
    # the same records twice, lazily: one pass picks the members to read, the other yields them
    data = read_members(index, (m for rec, m in _eol_records(index, mode) if not rec.bad_name))
    for rec, _ in _eol_records(index, mode):
        yield rec, None if rec.bad_name else next(data)
    for _ in data:  # reads the stream to its end: the gzip CRC is checked before the partition is published
        pass


# --- iNat21 ----------------------------------------------------------------------------------


def numbered_dirs(root: Path, pattern: re.Pattern, setting: str, what: str) -> list[tuple[int, Path]]:
    """(number, folder) for the sub-folders of ``root`` whose names match ``pattern``, sorted."""
    if not root.is_dir():
        raise MissingSourceError(root, f"source_paths.{setting}", what)
    with os.scandir(root) as entries:
        found = [(pattern.fullmatch(e.name), e) for e in entries]
        return sorted((int(m.group(1)), root / e.name) for m, e in found if m and e.is_dir())


def _entries(folder: Path) -> list[os.DirEntry]:
    """A folder's entries sorted by name (``os.scandir``: no stat per file where the file system
    gives the entry type)."""
    with os.scandir(folder) as it:
        return sorted(it, key=lambda e: e.name)


def _nested_files(folder: str, origin: str) -> Iterator[str]:
    """The origins of every file below a nested folder, sorted (they are counted, not used)."""
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames.sort()
        rel = os.path.relpath(dirpath, folder)
        for name in sorted(filenames):
            yield f"{origin}/{name}" if rel == "." else f"{origin}/{Path(rel).as_posix()}/{name}"


def inat21_class_dirs(layout: SourceLayout) -> list[tuple[int, Path]]:
    return numbered_dirs(layout.inat21_train, INAT21_CLASS_RE, "inat21_train", "iNat21 train directory")


def _iter_inat21_class(cls_num: int, folder: Path, partition: str, with_bytes: bool):
    cls_name = folder.name.split("_", 1)[1]
    for e in _entries(folder):
        origin = f"train/{folder.name}/{e.name}"
        if e.is_dir():
            for nested in _nested_files(e.path, origin):
                yield skipped_image("inat21", partition, nested, SKIP_UNEXPECTED_PATH), None
            continue
        if not e.is_file():
            continue
        if not e.name.endswith(".jpg"):
            yield skipped_image("inat21", partition, origin, SKIP_BAD_MEMBER_NAME), None
            continue
        rec = SourceImage(
            "inat21", partition, origin, inat21_filename=e.name, inat21_cls_name=cls_name, inat21_cls_num=cls_num
        )
        yield rec, (folder / e.name if with_bytes else None)  # the shard worker reads the file


# --- BIOSCAN ---------------------------------------------------------------------------------


def bioscan_parts(layout: SourceLayout) -> list[tuple[int, Path]]:
    return numbered_dirs(layout.bioscan_images, BIOSCAN_PART_RE, "bioscan_images", "BIOSCAN image directory")


def _iter_bioscan_part(part: int, folder: Path, partition: str, with_bytes: bool):
    for e in _entries(folder):
        origin = f"{folder.name}/{e.name}"
        if e.is_dir():
            for nested in _nested_files(e.path, origin):
                yield skipped_image("bioscan", partition, nested, SKIP_UNEXPECTED_PATH), None
            continue
        if not e.is_file():
            continue
        if not e.name.lower().endswith((".jpg", ".jpeg")):
            yield skipped_image("bioscan", partition, origin, SKIP_BAD_MEMBER_NAME), None
            continue
        rec = SourceImage("bioscan", partition, origin, bioscan_part=part, bioscan_filename=e.name)
        yield rec, (folder / e.name if with_bytes else None)  # the shard worker reads the file


# --- public ----------------------------------------------------------------------------------


def _iter(layout: SourceLayout, chunking: Chunking, partition: str | None, with_bytes: bool):
    source, number = parse_partition(partition) if partition else (None, None)
    if source in (None, "eol"):
        for tar_path in eol_image_sets(layout, chunking.mode):
            if partition and eol_partition(tar_path.name) != partition:
                continue
            yield from _iter_eol_tar(tar_path, chunking.mode, with_bytes)
    if source in (None, "inat21"):
        dirs = inat21_class_dirs(layout)
        keys = inat21_partitions((n for n, _ in dirs), chunking.inat21_classes_per_partition)
        for cls_num, folder in dirs:
            key = keys[cls_num]
            if partition and key != partition:
                continue
            yield from _iter_inat21_class(cls_num, folder, key, with_bytes)
    if source in (None, "bioscan"):
        dirs = bioscan_parts(layout)
        keys = bioscan_partitions((n for n, _ in dirs), chunking.bioscan_parts_per_partition)
        for part, folder in dirs:
            key = keys[part]
            if partition and key != partition:
                continue
            yield from _iter_bioscan_part(part, folder, key, with_bytes)


def list_source_images(layout: SourceLayout, chunking: Chunking) -> Iterator[SourceImage]:
    """Every source image (and every badly named member) of every source, names only."""
    for rec, _ in _iter(layout, chunking, None, with_bytes=False):
        yield rec


def iter_partition_images(
    layout: SourceLayout, chunking: Chunking, partition: str
) -> Iterator[tuple[SourceImage, bytes | Path | MemberSlice | None]]:
    """One partition's images, streamed once in a fixed order: members of a compressed archive as
    bytes; files as their path and members of a plain tar as a :class:`MemberSlice` (the worker
    that resizes them reads them: no bytes through the main process); bad names get None."""
    yield from _iter(layout, chunking, partition, with_bytes=True)
