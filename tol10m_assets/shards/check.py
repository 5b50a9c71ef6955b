"""``check_wds``: every shard opens as a tar, every sample has exactly the eleven members, every
image decodes at the configured size, no key repeats within a split, and the counts equal the
partition's stats.

The tar structure is walked directly over a memory-mapped shard (header checksums, type flags,
payloads inside the file, the end-of-archive blocks): ``tarfile`` costs more per sample than
decoding a 224 px JPEG. Images are decoded completely (entropy decoding sees every byte, so a
truncated or damaged image fails) but at 1/8 scale, which skips most of the inverse DCT; the size
checked is the one in the JPEG header. With several workers and the writer's image offsets, each
worker walks and checks a chunk of a shard (headers and images), within a shard and across shards,
and this process only gathers their reports; without offsets, this process walks the headers and the
workers decode the images a batch at a time. Either way: the same report as one process.

Images a rebuild reused from the last committed generation (``known``: their offsets and CRC-32) are
not decoded again: their bytes are compared with the CRC recorded when they were first checked
(``images_verified``); structure, members, keys and counts are checked as for every other image.
"""

from __future__ import annotations

import contextlib
import io
import mmap
import os
import struct
from bisect import bisect_left
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from PIL import Image, UnidentifiedImageError

from tol10m_assets.shards.images import ImageSettings
from tol10m_assets.shards.reuse import crc32
from tol10m_assets.shards.tarfiles import MEMBER_SUFFIXES, check_partition, shard_paths

MAX_PROBLEMS = 200
_EXPECTED = frozenset(MEMBER_SUFFIXES)
_HEADER = struct.Struct("100s24x12s12s8sc")  # name, size, mtime, checksum, type flag


@dataclass
class CheckReport:
    passed: bool = True
    shards: int = 0
    samples: dict[str, int] = field(default_factory=dict)
    images_checked: int = 0  # decoded
    images_verified: int = 0  # reused: compared with their recorded CRC-32 instead of decoded
    problems: list[str] = field(default_factory=list)  # the first MAX_PROBLEMS
    problem_count: int = 0  # all of them

    def problem(self, text: str) -> None:
        self.passed = False
        self.problem_count += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(text)

    def merge(self, other: "CheckReport") -> None:
        self.passed = self.passed and other.passed
        self.shards += other.shards
        for split, n in other.samples.items():
            self.samples[split] = self.samples.get(split, 0) + n
        self.images_checked += other.images_checked
        self.images_verified += other.images_verified
        self.problem_count += other.problem_count
        self.problems.extend(other.problems[: max(0, MAX_PROBLEMS - len(self.problems))])


class _BadTar(Exception):
    pass


def _octal(field: bytes) -> int:
    text = field.rstrip(b"\0 ").lstrip(b" ")
    if not text:
        return 0
    try:
        return int(text, 8)
    except ValueError:
        raise _BadTar(f"bad number field {field!r}") from None


class _Misaligned(Exception):
    """A chunk's walk did not end exactly where the next chunk starts: the shard is walked in one piece."""


def iter_tar_members(mm, total: int, start: int = 0, stop: int | None = None) -> Iterator[tuple[str, int, int]]:
    """(name, payload offset, size) of every regular member from the header at ``start``; _BadTar for
    anything else. With ``stop`` (a chunk of the archive), the walk ends at the header at ``stop``
    and _Misaligned says that no header is there (or the archive ends before it)."""
    offset = start
    while True:
        if stop is not None and offset >= stop:
            if offset > stop:
                raise _Misaligned(f"member ends at byte {offset}, past the chunk's end {stop}")
            return
        if offset + 512 > total:
            raise _BadTar("no end-of-archive blocks (truncated?)")
        block = mm[offset : offset + 512]
        if block[0] == 0:
            if block.count(0) == 512:
                if stop is not None:
                    raise _Misaligned(f"end-of-archive at byte {offset}, before the chunk's end {stop}")
                return
            raise _BadTar(f"header at byte {offset} has an empty name")
        raw_name, raw_size, _, raw_sum, flag = _HEADER.unpack_from(block)
        if _octal(raw_sum) != sum(block[:148]) + 256 + sum(block[156:]):
            raise _BadTar(f"header checksum mismatch at byte {offset}")
        name = raw_name.rstrip(b"\0").decode("utf-8", "surrogateescape")
        if flag not in (b"0", b"\0"):
            raise _BadTar(f"member {name!r} at byte {offset} is not a regular file (type {flag!r})")
        size = _octal(raw_size)
        if offset + 512 + size > total:
            raise _BadTar(f"member {name!r} runs past the end of the file")
        yield name, offset + 512, size
        offset += 512 + (size + 511) // 512 * 512


def _check_image(data: bytes, settings: ImageSettings) -> str | None:
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format != "JPEG":
                return f"image is {image.format}, not JPEG"
            size, mode = image.size, image.mode
            image.draft("RGB", (max(1, size[0] // 8), max(1, size[1] // 8)))
            image.load()
    except UnidentifiedImageError:  # its message names a BytesIO's address: not the same twice
        return "image does not decode: not an image file Pillow can identify"
    except Exception as exc:  # any decoder error is a finding, not a crash
        return f"image does not decode: {exc}"
    if size != (settings.width, settings.height):
        return f"image is {size[0]}x{size[1]}, not {settings.width}x{settings.height}"
    if mode != "RGB":
        return f"image is {mode}, not RGB"
    return None


IMAGE_BATCH = 256  # images per task when a shard is checked by several workers


def _check_images(path: str, ranges: list[tuple[int, int]], settings: ImageSettings) -> list[str | None]:
    """The verdict on each image at (offset, size) of one shard: None, or what is wrong with it."""
    with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        return [_check_image(mm[start : start + size], settings) for start, size in ranges]


class _Samples:
    """The sample bookkeeping of one walk (a shard, or a chunk of one): keys in the order found, each
    key's members, and the problems of a member out of place, in the order found."""

    def __init__(self, shard: str, problems: list):
        self.shard, self.problems = shard, problems
        self.keys: list[str] = []
        self.members: dict[str, set] = {}
        self.current: str | None = None

    def add(self, name: str) -> tuple[str, str]:
        """Record one member; returns its (key, suffix)."""
        key, _, suffix = name.rpartition("/")[2].partition(".")
        if key != self.current:
            if key in self.members:
                self.problems.append(f"{self.shard}: sample {key}: its members are not adjacent")
            else:
                self.members[key] = set()
                self.keys.append(key)
            self.current = key
        if suffix in self.members[key]:
            self.problems.append(f"{self.shard}: sample {key}: member {suffix} twice")
        self.members[key].add(suffix)
        return key, suffix

    def reused_matches(self, key: str, data, recorded: tuple[int, int]) -> bool:
        """A reused image against the size and CRC-32 recorded when it was first checked."""
        size, crc = recorded
        if len(data) == size and (crc32(data) & 0xFFFFFFFF) == crc:
            return True
        self.problems.append(f"{self.shard}: sample {key}: the reused image differs from the "
                             "verified one it was copied from (size or CRC-32)")
        return False

    def incomplete(self) -> list[str]:
        """The samples whose members are not exactly the eleven, in key order."""
        out = []
        for key in self.keys:
            have = self.members[key]
            if have != _EXPECTED:
                out.append(f"{self.shard}: sample {key}: missing {sorted(_EXPECTED - have)} extra {sorted(have - _EXPECTED)}")
        return out


@dataclass
class _Walk:
    """One shard's tar structure: its keys, and its problems in the order found, an image's verdict
    standing as (key, image number) until the image is decoded (here or by a worker)."""

    path: Path
    keys: list[str] = field(default_factory=list)
    entries: list = field(default_factory=list)
    verdicts: list = field(default_factory=list)  # per batch of images: a list of verdicts or a Future
    verified: int = 0  # reused images whose bytes matched their recorded CRC-32


def _walk_shard(path: Path, decode, batch: int = IMAGE_BATCH, known: dict[int, tuple[int, int]] | None = None) -> _Walk:
    """Walk one shard's headers; ``decode(path, ranges)`` is given its images ``batch`` at a time,
    except those in ``known`` (payload offset → (size, CRC-32) of a reused image): compared, not decoded."""
    walk = _Walk(path)
    samples = _Samples(path.name, walk.entries)
    ranges: list[tuple[int, int]] = []
    images = 0

    def flush():
        if ranges:
            walk.verdicts.append(decode(str(path), list(ranges)))
            ranges.clear()

    try:
        with open(path, "rb") as handle:
            total = os.fstat(handle.fileno()).st_size
            if total == 0:
                raise _BadTar("empty file")
            with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mm:
                for name, start, size in iter_tar_members(mm, total):
                    key, suffix = samples.add(name)
                    if suffix != "jpg":
                        continue
                    if known and start in known:
                        walk.verified += samples.reused_matches(key, mm[start : start + size], known[start])
                    else:
                        walk.entries.append((key, images))
                        images += 1
                        ranges.append((start, size))
                        if len(ranges) >= batch:
                            flush()
    except (_BadTar, OSError, ValueError) as exc:
        walk.entries.append(f"{path.name}: does not open as a tar ({exc})")
    flush()
    walk.keys = samples.keys
    walk.entries.extend(samples.incomplete())
    return walk


@dataclass
class _Chunk:
    """One chunk of a shard walked and checked by a worker (headers, members, images): its keys, its
    problems in the order found, then those of its incomplete samples. ``ok`` False: the chunk did
    not walk cleanly from its start to the next chunk's, and the shard is walked in one piece."""

    ok: bool
    keys: list[str] = field(default_factory=list)
    entries: list[str] = field(default_factory=list)
    incomplete: list[str] = field(default_factory=list)
    images: int = 0
    verified: int = 0


def _check_chunk(path: str, start: int, stop: int | None, settings: ImageSettings, known: dict[int, tuple[int, int]]) -> _Chunk:
    """Walk and check the members from the header at ``start`` to the one at ``stop`` (None: the
    end-of-archive), as the serial walk does, decoding the images here."""
    chunk = _Chunk(True)
    samples = _Samples(Path(path).name, chunk.entries)
    try:
        with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            for name, at, size in iter_tar_members(mm, len(mm), start, stop):
                key, suffix = samples.add(name)
                if suffix != "jpg":
                    continue
                if at in known:
                    chunk.verified += samples.reused_matches(key, mm[at : at + size], known[at])
                else:
                    chunk.images += 1
                    verdict = _check_image(mm[at : at + size], settings)
                    if verdict:
                        chunk.entries.append(f"{samples.shard}: sample {key}: {verdict}")
    except (_BadTar, _Misaligned, OSError, ValueError):
        return _Chunk(False)  # the serial walk finds and words the problem
    chunk.keys, chunk.incomplete = samples.keys, samples.incomplete()
    return chunk


def _chunk_starts(image_offsets: list[int], batch: int) -> list[int]:
    """Header offsets where chunks of ``batch`` samples start: the first member of a sample is its
    ``.jpg``, whose header is the 512 bytes before its payload (a hint: a wrong one costs a re-walk)."""
    heads = sorted(image_offsets)
    return [0, *(heads[i] - 512 for i in range(batch, len(heads), batch))]


def _chunked_report(path: Path, chunks: list[_Chunk]) -> tuple[CheckReport, list[str]] | None:
    """The shard's report from its chunks (the serial walk's, problem for problem), or None when a
    chunk did not walk cleanly or a sample's key is in two chunks (the shard is walked again whole)."""
    if not all(c.ok for c in chunks):
        return None
    keys = [k for c in chunks for k in c.keys]
    if len(keys) != len(set(keys)):
        return None
    report = CheckReport(shards=1, images_checked=sum(c.images for c in chunks), images_verified=sum(c.verified for c in chunks))
    for text in (t for c in chunks for t in c.entries):
        report.problem(text)
    for text in (t for c in chunks for t in c.incomplete):
        report.problem(text)
    report.samples[path.parent.name] = len(keys)
    return report, keys


def _report(walk: _Walk) -> CheckReport:
    """The shard's report: its problems in the order of a serial walk, whoever decoded its images."""
    verdicts = [v for part in walk.verdicts for v in (part if isinstance(part, list) else part.result())]
    report = CheckReport(shards=1, images_verified=walk.verified)
    for entry in walk.entries:
        if isinstance(entry, str):
            report.problem(entry)
            continue
        key, number = entry
        report.images_checked += 1
        if verdicts[number]:
            report.problem(f"{walk.path.name}: sample {key}: {verdicts[number]}")
    report.samples[walk.path.parent.name] = len(walk.keys)
    return report


def _check_shard_file(path: Path, settings: ImageSettings, known=None) -> tuple[CheckReport, list[str]]:
    """A report on one shard and its keys in order (in this process)."""
    walk = _walk_shard(Path(path), lambda p, ranges: _check_images(p, ranges, settings), known=known)
    return _report(walk), walk.keys


def check_shard(path: Path, settings: ImageSettings, report: CheckReport) -> int:
    """Check one shard into ``report``; returns its sample count."""
    one, keys = _check_shard_file(Path(path), settings)
    report.merge(one)
    report.shards -= 1  # the caller counts shards
    return len(keys)


def check_partition_shards(
    out_dir: Path,
    partition: str,
    settings: ImageSettings,
    expected: dict[str, int] | None = None,
    *,
    workers: int = 1,
    batch: int = IMAGE_BATCH,
    known: dict[tuple[str, str], dict[int, tuple[int, int]]] | None = None,
    image_offsets: dict[tuple[str, str], list[int]] | None = None,
    pool=None,
) -> CheckReport:
    """Check every shard of a partition; ``expected`` = samples per split from the partition's stats.
    ``known``: (split, shard name) → payload offset → (size, CRC-32) of the images reused from a
    committed generation (verified by CRC, not decoded).

    ``workers`` > 1 checks in parallel processes, ``batch`` samples a task, within a shard and across
    shards. With ``image_offsets`` ((split, shard name) → the writer's ``.jpg`` payload offsets) each
    worker walks the headers of its own chunk too, so this process only gathers the reports; a chunk
    that does not end where the next begins (a hint that is wrong, a damaged shard) has its shard
    walked again here in one piece. Either way the report is the one a single process gives.
    ``pool``: the build's worker processes (a ``SharedPool``, the writer's), else ``workers`` of its own."""
    check_partition(partition)
    paths = shard_paths(Path(out_dir), partition=partition)
    report = CheckReport()
    if (workers > 1 or pool is not None) and paths:
        from tol10m_assets.shards.pool import SharedPool

        with contextlib.nullcontext(pool) if pool is not None else SharedPool(workers) as shared:
            executor = shared.pool
            decode = lambda p, ranges: executor.submit(_check_images, p, ranges, settings)  # noqa: E731
            pending = {}
            for p in paths:
                offsets = (image_offsets or {}).get((p.parent.name, p.name))
                if offsets:
                    reused = sorted(((known or {}).get((p.parent.name, p.name)) or {}).items())
                    at = [o for o, _ in reused]
                    starts = _chunk_starts(offsets, batch)
                    pending[p] = [executor.submit(_check_chunk, str(p), a, b, settings,
                                              dict(reused[bisect_left(at, a) : len(at) if b is None else bisect_left(at, b)]))
                                  for a, b in zip(starts, [*starts[1:], None])]
            results = []
            for p in paths:
                got = _chunked_report(p, [f.result() for f in pending[p]]) if p in pending else None
                if got is None:
                    walk = _walk_shard(p, decode, batch, (known or {}).get((p.parent.name, p.name)))
                    got = (_report(walk), walk.keys)
                results.append(got)
    else:
        results = [_check_shard_file(p, settings, (known or {}).get((p.parent.name, p.name))) for p in paths]
    seen: dict[str, dict[str, str]] = {}  # split → key → shard
    for path, (one, keys) in zip(paths, results):
        report.merge(one)
        first = seen.setdefault(path.parent.name, {})
        for key in keys:
            other = first.setdefault(key, path.name)
            if other != path.name:
                report.problem(f"{path.name}: sample {key} is also in {other} ({path.parent.name})")
    if expected is not None:
        for split in sorted(set(expected) | set(report.samples)):
            want, got = expected.get(split, 0), report.samples.get(split, 0)
            if want != got:
                report.problem(f"{split}: {got} samples in the shards, {want} in the partition's stats")
    return report
