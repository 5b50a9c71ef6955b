"""``check_wds``: every shard opens as a tar, every sample has exactly the eleven members, every
image decodes at the configured size, no key repeats within a split, and the counts equal the
partition's stats.

The tar structure is walked directly over a memory-mapped shard (header checksums, type flags,
payloads inside the file, the end-of-archive blocks): ``tarfile`` costs more per sample than
decoding a 224 px JPEG. Images are decoded completely (entropy decoding sees every byte, so a
truncated or damaged image fails) but at 1/8 scale, which skips most of the inverse DCT; the size
checked is the one in the JPEG header.
"""

from __future__ import annotations

import io
import mmap
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from PIL import Image

from tol10m_assets.shards.images import ImageSettings
from tol10m_assets.shards.tarfiles import MEMBER_SUFFIXES, check_partition, shard_paths

MAX_PROBLEMS = 200
_EXPECTED = frozenset(MEMBER_SUFFIXES)
_HEADER = struct.Struct("100s24x12s12s8sc")  # name, size, mtime, checksum, type flag


@dataclass
class CheckReport:
    passed: bool = True
    shards: int = 0
    samples: dict[str, int] = field(default_factory=dict)
    images_checked: int = 0
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


def iter_tar_members(mm, total: int) -> Iterator[tuple[str, int, int]]:
    """(name, payload offset, size) of every regular member; _BadTar for anything else."""
    offset = 0
    while True:
        if offset + 512 > total:
            raise _BadTar("no end-of-archive blocks (truncated?)")
        block = mm[offset : offset + 512]
        if block[0] == 0:
            if block.count(0) == 512:
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
    except Exception as exc:  # any decoder error is a finding, not a crash
        return f"image does not decode: {exc}"
    if size != (settings.width, settings.height):
        return f"image is {size[0]}x{size[1]}, not {settings.width}x{settings.height}"
    if mode != "RGB":
        return f"image is {mode}, not RGB"
    return None


def _check_shard_file(path: Path, settings: ImageSettings) -> tuple[CheckReport, list[str]]:
    """A report on one shard and its keys in order."""
    report = CheckReport(shards=1)
    keys: list[str] = []
    members: dict[str, set] = {}
    current = None
    try:
        with open(path, "rb") as handle:
            total = os.fstat(handle.fileno()).st_size
            if total == 0:
                raise _BadTar("empty file")
            with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mm:
                for name, start, size in iter_tar_members(mm, total):
                    base = name.rpartition("/")[2]
                    key, _, suffix = base.partition(".")
                    if key != current:
                        if key in members:
                            report.problem(f"{path.name}: sample {key}: its members are not adjacent")
                        else:
                            members[key] = set()
                            keys.append(key)
                        current = key
                    if suffix in members[key]:
                        report.problem(f"{path.name}: sample {key}: member {suffix} twice")
                    members[key].add(suffix)
                    if suffix == "jpg":
                        problem = _check_image(mm[start : start + size], settings)
                        report.images_checked += 1
                        if problem:
                            report.problem(f"{path.name}: sample {key}: {problem}")
    except _BadTar as exc:
        report.problem(f"{path.name}: does not open as a tar ({exc})")
    except (OSError, ValueError) as exc:
        report.problem(f"{path.name}: does not open as a tar ({exc})")
    for key in keys:
        have = members[key]
        if have != _EXPECTED:
            missing, extra = sorted(_EXPECTED - have), sorted(have - _EXPECTED)
            report.problem(f"{path.name}: sample {key}: missing {missing} extra {extra}")
    report.samples[path.parent.name] = len(keys)
    return report, keys


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
) -> CheckReport:
    """Check every shard of a partition; ``expected`` = samples per split from the partition's stats.

    ``workers`` > 1 checks shards in parallel processes (the report is the same)."""
    check_partition(partition)
    paths = shard_paths(Path(out_dir), partition=partition)
    report = CheckReport()
    if workers > 1 and len(paths) > 1:
        from tol10m_assets.shards.pool import worker_pool

        with worker_pool(min(workers, len(paths))) as pool:
            results = list(pool.map(_check_shard_file, paths, [settings] * len(paths)))
    else:
        results = [_check_shard_file(p, settings) for p in paths]
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
