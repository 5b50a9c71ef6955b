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
_TEXT_NAMES = tuple(s.encode() for s in TEXT_SUFFIXES)
_REGULAR = (b"0", b"\0")


@functools.lru_cache(maxsize=256)
def _text_tails(prefix_len: int) -> tuple[bytes, bytes] | None:
    """For a "<key>." prefix of this length: the padded name tails joined by nothing, and the
    type flags the ten members must have, so that one join + compare checks all ten names."""
    if prefix_len + max(map(len, _TEXT_NAMES)) > 100:
        return None
    return tuple(n + b"\0" * (100 - prefix_len - len(n)) for n in _TEXT_NAMES), b"0" * len(_TEXT_NAMES)


def iter_shard_members(path: Path, texts: tuple[str, ...] | None = None) -> Iterator[dict]:
    """Per sample: ``__key__``, ``jpg_size`` and the text members (all, or those named in
    ``texts``), reading no image payload.

    Walks the 512-byte tar headers of a memory-mapped shard directly (the stdlib ``tarfile`` costs
    tens of microseconds per member): only header pages and text payloads are touched. Shards in
    this writer's layout take a fast path (the ten text members of a sample checked and read with
    one ``struct`` call); any other member order or size falls back to the member-by-member walk.
    """
    wanted_names = TEXT_SUFFIXES if texts is None else tuple(t for t in TEXT_SUFFIXES if t in set(texts))
    wanted = {t.encode() for t in (TEXT_SUFFIXES if texts is None else texts)}
    # the wanted texts: (name, index of its size field in the fast-path tuple, payload offset)
    picks = [(name, 3 * i + 1, 1024 * i + 512) for i, name in enumerate(TEXT_SUFFIXES) if name in wanted_names]
    sizes: dict[bytes, int] = {}  # raw size field → int: text members repeat their sizes a lot
    small: dict[bytes, int] = {}  # the same, for sizes of at most one block
    fast_len = _TEXT_BLOCK.size
    with open(path, "rb") as handle:
        total = os.fstat(handle.fileno()).st_size
        if total == 0:
            return
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            current: dict | None = None
            prefix = b"\0"  # "<key>." of the sample being read
            offset = 0
            unpack = _HEADER.unpack_from
            unpack_texts = _TEXT_BLOCK.unpack_from
            while offset + 512 <= total:
                raw_name, raw_size, flag = unpack(mm, offset)
                if raw_name[0] == 0:
                    break  # the end-of-archive blocks
                if flag not in _REGULAR:  # GNU long names, pax headers, directories: let tarfile do it
                    yield from _iter_with_tarfile(path, texts)
                    return
                length = sizes.get(raw_size)
                if length is None:
                    length = sizes[raw_size] = int(raw_size.rstrip(b"\0 ") or b"0", 8)
                if not raw_name.startswith(prefix):
                    if current is not None:
                        yield current
                    name = raw_name.rstrip(b"\0").rpartition(b"/")[2]
                    key = name.partition(b".")[0]
                    prefix = raw_name[: raw_name.index(name) + len(key) + 1]  # directories, key and the dot
                    current = {"__key__": key.decode("utf-8", "surrogateescape")}
                suffix = raw_name[len(prefix) :].rstrip(b"\0")
                offset += 512 + (length + 511) // 512 * 512
                if suffix == b"jpg":
                    current["jpg_size"] = length
                    tails = _text_tails(len(prefix))
                    if tails is not None and offset + fast_len <= total:
                        f = unpack_texts(mm, offset)
                        raw_sizes = f[1::3]
                        if (
                            b"".join(f[0::3]) == prefix + prefix.join(tails[0])
                            and b"".join(f[2::3]) == tails[1]
                            and (all(map(small.__contains__, raw_sizes)) or _learn_small(small, raw_sizes))
                        ):
                            for name, i, at in picks:
                                start = offset + at
                                current[name] = mm[start : start + small[f[i]]].decode("utf-8")
                            offset += fast_len
                elif suffix.endswith(b".txt"):
                    if suffix in wanted:
                        start = offset - (length + 511) // 512 * 512
                        current[suffix.decode()] = mm[start : start + length].decode("utf-8")
                else:
                    current[suffix.decode("utf-8", "surrogateescape")] = None  # present, not read
            if current is not None:
                yield current


def _learn_small(small: dict[bytes, int], raw_sizes: tuple[bytes, ...]) -> bool:
    """Whether every size field is a size of exactly one payload block (remembering those that are)."""
    for raw in raw_sizes:
        if raw not in small:
            try:
                value = int(raw.rstrip(b"\0 ") or b"0", 8)
            except ValueError:
                return False
            if not 0 < value <= 512:  # an empty member has no payload block: not this layout
                return False
            small[raw] = value
    return True


def _iter_with_tarfile(path: Path, texts: tuple[str, ...] | None = None) -> Iterator[dict]:
    current: dict | None = None
    with tarfile.open(path, "r:") as tar:
        for info in tar:
            if not info.isfile():
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
