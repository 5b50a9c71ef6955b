"""Stream the images of every raw layout as :class:`SourceImage` records (plus their bytes).

``list_source_images`` reads names only (tar headers, directory listings) for the mapping;
``iter_partition_images`` streams one partition's images once, in a deterministic order: the bytes of
a member of a compressed archive, or where the shard worker that resizes the image can read it
itself: a file's path, or a :class:`MemberSlice` of an uncompressed tar.
"""

from __future__ import annotations

import os
import re
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from tol10m_assets.errors import InputFormatError, MissingSourceError
from tol10m_assets.layout import SourceLayout
from tol10m_assets.sources.chunks import (
    EOL_SET_RE,
    bioscan_partition,
    eol_partition,
    inat21_partition,
    parse_partition,
)

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
    bad_name: bool = False  # the member / file name does not fit the layout: counted and skipped


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

    def read_bytes(self) -> bytes:
        with open(self.archive, "rb") as f:
            data = os.pread(f.fileno(), self.size, self.offset)
        if len(data) != self.size:
            raise OSError(f"{self.archive}:{self.member}: the archive ends inside the member (truncated?)")
        return data


def eol_image_sets(layout: SourceLayout, mode: str) -> list[Path]:
    """The image sets, sorted; ``image_set_NN.tar`` (decompressed) and ``.tar.gz`` both count, but
    not both for the same NN."""
    folder, setting = eol_dir(layout, mode)
    if not folder.is_dir():
        raise MissingSourceError(folder, f"source_paths.{setting}", "EOL image set directory")
    sets = sorted(p for p in folder.iterdir() if EOL_SET_RE.fullmatch(p.name))
    by_partition: dict[str, Path] = {}
    for path in sets:
        other = by_partition.setdefault(eol_partition(path.name), path)
        if other != path:
            raise InputFormatError(folder, f"both {other.name} and {path.name}: keep one of them (the same image set twice)")
    return sets


def _eol_record(tar_name: str, partition: str, member: str, mode: str) -> SourceImage:
    base = member.rsplit("/", 1)[-1]
    origin = f"{tar_name}:{member}"
    if mode == "reproduce":
        m = PUBLISHED_MEMBER_RE.fullmatch(base)
        if m:
            return SourceImage("eol", partition, origin, published_id=m.group(1))
    else:
        m = EOL_MEMBER_RE.fullmatch(base)
        if m:
            return SourceImage("eol", partition, origin, eol_content_id=int(m.group(1)), eol_page_id=int(m.group(2)))
    return SourceImage("eol", partition, origin, bad_name=True)


def _iter_eol_tar(tar_path: Path, mode: str, with_bytes: bool) -> Iterator[tuple[SourceImage, bytes | MemberSlice | None]]:
    """A ``.tar.gz`` is streamed (its members' bytes go to the workers); in a plain ``.tar`` the
    workers read each member in place, which saves inflating every image on every build."""
    partition = eol_partition(tar_path.name)
    plain = tar_path.name.endswith(".tar")
    with tarfile.open(tar_path, "r:" if plain else "r|gz") as tar:
        for info in tar:
            if not info.isfile():
                continue
            rec = _eol_record(tar_path.name, partition, info.name, mode)
            data = None
            if with_bytes and not rec.bad_name:
                if plain and not info.issparse():
                    data = MemberSlice(tar_path, info.name, info.offset_data, info.size)
                else:
                    f = tar.extractfile(info)
                    data = f.read() if f is not None else b""
            yield rec, data


# --- iNat21 ----------------------------------------------------------------------------------


def numbered_dirs(root: Path, pattern: re.Pattern, setting: str, what: str) -> list[tuple[int, Path]]:
    """(number, folder) for the sub-folders of ``root`` whose names match ``pattern``, sorted."""
    if not root.is_dir():
        raise MissingSourceError(root, f"source_paths.{setting}", what)
    found = ((pattern.fullmatch(p.name), p) for p in root.iterdir())
    return sorted((int(m.group(1)), p) for m, p in found if m and p.is_dir())


def inat21_class_dirs(layout: SourceLayout) -> list[tuple[int, Path]]:
    return numbered_dirs(layout.inat21_train, INAT21_CLASS_RE, "inat21_train", "iNat21 train directory")


def _iter_inat21_class(cls_num: int, folder: Path, partition: str, with_bytes: bool):
    cls_name = folder.name.split("_", 1)[1]
    for f in sorted(folder.iterdir()):
        if not f.is_file():
            continue
        origin = f"train/{folder.name}/{f.name}"
        if not f.name.endswith(".jpg"):
            yield SourceImage("inat21", partition, origin, bad_name=True), None
            continue
        rec = SourceImage(
            "inat21", partition, origin, inat21_filename=f.name, inat21_cls_name=cls_name, inat21_cls_num=cls_num
        )
        yield rec, (f if with_bytes else None)  # the shard worker reads the file


# --- BIOSCAN ---------------------------------------------------------------------------------


def bioscan_parts(layout: SourceLayout) -> list[tuple[int, Path]]:
    return numbered_dirs(layout.bioscan_images, BIOSCAN_PART_RE, "bioscan_images", "BIOSCAN image directory")


def _iter_bioscan_part(part: int, folder: Path, partition: str, with_bytes: bool):
    for f in sorted(folder.iterdir()):
        if not f.is_file():
            continue
        origin = f"{folder.name}/{f.name}"
        if not f.name.lower().endswith((".jpg", ".jpeg")):
            yield SourceImage("bioscan", partition, origin, bad_name=True), None
            continue
        rec = SourceImage("bioscan", partition, origin, bioscan_part=part, bioscan_filename=f.name)
        yield rec, (f if with_bytes else None)  # the shard worker reads the file


# --- public ----------------------------------------------------------------------------------


def _iter(layout: SourceLayout, chunking: Chunking, partition: str | None, with_bytes: bool):
    source, number = parse_partition(partition) if partition else (None, None)
    if source in (None, "eol"):
        for tar_path in eol_image_sets(layout, chunking.mode):
            if partition and eol_partition(tar_path.name) != partition:
                continue
            yield from _iter_eol_tar(tar_path, chunking.mode, with_bytes)
    if source in (None, "inat21"):
        k = chunking.inat21_classes_per_partition
        for cls_num, folder in inat21_class_dirs(layout):
            key = inat21_partition(cls_num, k)
            if partition and key != partition:
                continue
            yield from _iter_inat21_class(cls_num, folder, key, with_bytes)
    if source in (None, "bioscan"):
        k = chunking.bioscan_parts_per_partition
        for part, folder in bioscan_parts(layout):
            key = bioscan_partition(part, k)
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
