"""Deterministic webdataset tar members, the shard names of a partition, and the shard reader."""

from __future__ import annotations

import functools
import mmap
import os
import re
import struct
import tarfile
from pathlib import Path
from typing import Iterator

TEXT_SUFFIXES = (
    "scientific_name.txt",
    "taxonomic_name.txt",
    "common_name.txt",
    "sci.txt",
    "com.txt",
    "taxon.txt",
    "taxonTag.txt",
    "sci_com.txt",
    "taxon_com.txt",
    "taxonTag_com.txt",
)
MEMBER_SUFFIXES = ("jpg", *TEXT_SUFFIXES)
PARTITION_RE = re.compile(r"[a-z0-9]+-[0-9]+")
KEY_RE = re.compile(r"[^./\\\s]+")
TAR_FORMAT = tarfile.GNU_FORMAT


def check_partition(partition: str) -> str:
    if not PARTITION_RE.fullmatch(partition):
        raise ValueError(f"invalid partition key {partition!r}: expected e.g. eol-01, inat21-002")
    return partition


def shard_name(partition: str, number: int) -> str:
    return f"shard-{partition}-{number:06d}.tar"


def shard_paths(out_dir: Path, split: str | None = None, partition: str | None = None) -> list[Path]:
    """Complete shards (never temporary files), sorted; optionally of one split and/or partition."""
    splits = [split] if split else sorted(p.name for p in Path(out_dir).iterdir() if p.is_dir()) if Path(out_dir).exists() else []
    pattern = f"shard-{check_partition(partition)}-*.tar" if partition else "shard-*.tar"
    out: list[Path] = []
    for name in splits:
        folder = Path(out_dir) / name
        if folder.is_dir():
            out.extend(sorted(folder.glob(pattern)))
    return out


def _tarfile_header(name: str, size: int) -> bytes:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mtime = 0
    info.mode = 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info.tobuf(TAR_FORMAT, tarfile.ENCODING, "surrogateescape")


# The GNU header ``tarfile`` writes for a regular member (mode 644, uid/gid 0, mtime 0, no owner
# names), put together directly: tarfile's own ``tobuf`` costs ~17 µs a member, 11 members a sample.
_MODE_IDS = b"0000644\0" b"0000000\0" b"0000000\0"
_MTIME = b"00000000000\0"
_TAIL = b"0" + b"\0" * 100 + tarfile.GNU_MAGIC + b"\0" * (64 + 16 + 167)  # no device numbers
_TAIL_SUM = sum(_TAIL) + 8 * ord(" ")  # the checksum is computed with its own field as spaces


def member_header(name: str, size: int) -> bytes:
    """The 512-byte GNU tar header of a regular member, byte for byte what ``tarfile`` writes."""
    raw = name.encode("utf-8", "surrogateescape")
    if len(raw) >= 100 or not 0 <= size < 8**11:  # long names, huge sizes: tarfile's extensions
        return _tarfile_header(name, size)
    head = raw + b"\0" * (100 - len(raw)) + _MODE_IDS + b"%011o\0" % size + _MTIME
    return head + b"%06o\0 " % (sum(head) + _TAIL_SUM) + _TAIL


def _padding(size: int) -> bytes:
    return b"\0" * ((-size) % tarfile.BLOCKSIZE)


def sample_bytes(key: str, image: bytes, texts: dict[str, str]) -> bytes:
    """The eleven members of one sample as raw tar bytes, in a fixed order."""
    parts = [member_header(f"{key}.jpg", len(image)), image, _padding(len(image))]
    for suffix in TEXT_SUFFIXES:
        data = texts[suffix].encode("utf-8")
        parts += [member_header(f"{key}.{suffix}", len(data)), data, _padding(len(data))]
    return b"".join(parts)


TAR_END = b"\0" * (tarfile.BLOCKSIZE * 2)


_HEADER = struct.Struct("100s24x12s20xc")  # name, the size field at offset 124, the type flag at 156
# Our writer's layout after a sample's .jpg: the ten text members in TEXT_SUFFIXES order, each one
# header block and (captions being short) one payload block. One unpack reads the ten names, sizes
# and type flags; only the wanted payloads are then sliced out.
_TEXT_BLOCK = struct.Struct("100s24x12s20xc355x512x" * len(TEXT_SUFFIXES))
_TEXT_BLOCK_NEXT = struct.Struct(_TEXT_BLOCK.format + "100s24x12s20xc")
_TEXT_NAMES = tuple(s.encode() for s in TEXT_SUFFIXES)
_REGULAR = (b"0", b"\0")


_REGULAR_FLAGS = (b"0",) * len(TEXT_SUFFIXES)


@functools.lru_cache(maxsize=256)
def _text_tails(prefix_len: int) -> tuple[bytes, ...] | None:
    """For a "<key>." prefix of this length: the ten text member names after the prefix, padded to
    the name field, so that one join + compare checks all ten names."""
    if prefix_len + max(map(len, _TEXT_NAMES)) > 100:
        return None
    return tuple(n + b"\0" * (100 - prefix_len - len(n)) for n in _TEXT_NAMES)


def iter_shard_members(path: Path, texts: tuple[str, ...] | None = None) -> Iterator[dict]:
    """Per sample: ``__key__``, ``jpg_size`` and the text members (all, or those named in
    ``texts``), reading no image payload.

    Walks the 512-byte tar headers of a memory-mapped shard directly (the stdlib ``tarfile`` costs
    tens of microseconds per member): only header pages and text payloads are touched. Samples in
    this writer's layout take a fast path (a sample's ten text members checked with one ``struct``
    call); from the first sample that differs, the walk goes member by member.
    """
    wanted = TEXT_SUFFIXES if texts is None else tuple(t for t in TEXT_SUFFIXES if t in set(texts))
    with open(path, "rb") as handle:
        total = os.fstat(handle.fileno()).st_size
        if total == 0:
            return
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            offset = yield from _writer_layout_samples(mm, total, wanted)
            yield from _member_walk(path, mm, total, offset, texts)


def _writer_layout_samples(mm: mmap.mmap, total: int, wanted: tuple[str, ...]):
    """Yields the samples in this writer's exact layout (``<key>.jpg``, then the ten text members
    in order, each one header and one payload block); returns the offset of the first sample that
    is not (or of the end), for the member-by-member walk."""
    # the wanted texts: (name, position of the text among the ten, payload offset in the block)
    picks = [(name, i, 1024 * i + 512) for i, name in enumerate(TEXT_SUFFIXES) if name in wanted]
    sizes: dict[bytes, int] = {}  # raw size field → int
    text_sizes: dict[tuple, tuple[int, ...]] = {}  # the ten raw size fields → ints (all <= 512)
    tails_by_dot: dict[int, tuple | None] = {}
    unpack, fast_len = _HEADER.unpack_from, _TEXT_BLOCK.size
    # the ten text members and the header after them (the next sample's, or the end of the archive)
    unpack_texts_next = _TEXT_BLOCK_NEXT.unpack_from
    offset = 0
    header = unpack(mm, 0) if total >= 512 else None
    while header is not None:
        raw_name, raw_size, flag = header
        dot = raw_name.find(b".")
        if flag != b"0" or dot <= 0 or not raw_name.startswith(b".jpg\0", dot) or raw_name.find(b"/", 0, dot) >= 0:
            return offset
        length = sizes.get(raw_size)
        if length is None:
            try:
                length = sizes[raw_size] = int(raw_size.rstrip(b"\0 ") or b"0", 8)
            except ValueError:
                return offset
        at = offset + 512 + (length + 511) // 512 * 512
        tails = tails_by_dot.get(dot, False)
        if tails is False:
            tails = tails_by_dot[dot] = _text_tails(dot + 1)
        if tails is None or at + fast_len + 512 > total:
            return offset
        f = unpack_texts_next(mm, at)
        prefix = raw_name[: dot + 1]
        if f[2:30:3] != _REGULAR_FLAGS or b"".join(f[0:30:3]) != prefix + prefix.join(tails):
            return offset
        raw_sizes = f[1:30:3]
        lengths = text_sizes.get(raw_sizes)
        if lengths is None:
            lengths = _one_block_sizes(raw_sizes)
            if lengths is None:
                return offset
            text_sizes[raw_sizes] = lengths
        sample = {"__key__": raw_name[:dot].decode("utf-8", "surrogateescape"), "jpg_size": length}
        for name, i, payload in picks:
            start = at + payload
            sample[name] = mm[start : start + lengths[i]].decode("utf-8")
        yield sample
        offset = at + fast_len
        header = f[30:]
    return offset


def _one_block_sizes(raw_sizes: tuple[bytes, ...]) -> tuple[int, ...] | None:
    """The sizes, if every one is a size of exactly one payload block; else None."""
    out = []
    for raw in raw_sizes:
        try:
            value = int(raw.rstrip(b"\0 ") or b"0", 8)
        except ValueError:
            return None
        if not 0 < value <= 512:  # an empty member has no payload block: not this layout
            return None
        out.append(value)
    return tuple(out)


def _member_walk(path: Path, mm: mmap.mmap, total: int, offset: int, texts: tuple[str, ...] | None) -> Iterator[dict]:
    """Member by member from ``offset`` (the start of a sample) to the end of the archive."""
    wanted = {t.encode() for t in (TEXT_SUFFIXES if texts is None else texts)}
    current: dict | None = None
    prefix = b"\0"  # "<key>." of the sample being read
    sample_start = offset
    while offset + 512 <= total:
        raw_name, raw_size, flag = _HEADER.unpack_from(mm, offset)
        if raw_name[0] == 0:
            break  # the end-of-archive blocks
        if flag not in _REGULAR:  # GNU long names, pax headers, directories: tarfile reads the rest
            yield from _iter_with_tarfile(path, texts, skip_before=sample_start if current is not None else offset)
            return
        length = int(raw_size.rstrip(b"\0 ") or b"0", 8)
        if not raw_name.startswith(prefix):
            if current is not None:
                yield current
            sample_start = offset
            name = raw_name.rstrip(b"\0").rpartition(b"/")[2]
            key = name.partition(b".")[0]
            prefix = raw_name[: raw_name.index(name) + len(key) + 1]  # directories, key and the dot
            current = {"__key__": key.decode("utf-8", "surrogateescape")}
        suffix = raw_name[len(prefix) :].rstrip(b"\0")
        start = offset + 512
        offset = start + (length + 511) // 512 * 512
        if suffix == b"jpg":
            current["jpg_size"] = length
        elif suffix.endswith(b".txt"):
            if suffix in wanted:
                current[suffix.decode()] = mm[start : start + length].decode("utf-8")
        else:
            current[suffix.decode("utf-8", "surrogateescape")] = None  # present, not read
    if current is not None:
        yield current


def _iter_with_tarfile(path: Path, texts: tuple[str, ...] | None = None, skip_before: int = 0) -> Iterator[dict]:
    """The stdlib reader, for what the header walk does not handle; members whose headers start
    before ``skip_before`` (samples already read) are passed over."""
    current: dict | None = None
    with tarfile.open(path, "r:") as tar:
        for info in tar:
            if not info.isfile() or info.offset < skip_before:
                continue
            key, _, suffix = info.name.rsplit("/", 1)[-1].partition(".")
            if current is None or current["__key__"] != key:
                if current is not None:
                    yield current
                current = {"__key__": key}
            if suffix == "jpg":
                current["jpg_size"] = info.size
            elif suffix.endswith(".txt"):
                if texts is None or suffix in texts:
                    handle = tar.extractfile(info)
                    current[suffix] = handle.read().decode("utf-8") if handle else ""
            else:
                current[suffix] = None
    if current is not None:
        yield current
