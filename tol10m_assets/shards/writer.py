"""Write one partition's shards for all splits in one pass: in input order, whatever the number
of workers; every shard under a hidden temporary name until the whole partition is done."""

from __future__ import annotations

import collections
import json
import multiprocessing
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from tol10m_assets.errors import SKIP_CORRUPT_IMAGE
from tol10m_assets.shards.images import CorruptImage, ImageSettings, resize_image
from tol10m_assets.shards.tarfiles import KEY_RE, TAR_END, TEXT_SUFFIXES, check_partition, sample_bytes, shard_name

MAX_SKIPPED_SAMPLES = 1000


@dataclass(frozen=True)
class SampleJob:
    key: str  # the treeoflife_id: the webdataset __key__
    splits: tuple[str, ...]  # e.g. ("val",), ("train",), ("train", "train_small")
    texts: dict[str, str]  # the ten caption members, keyed by suffix
    origin: str  # where the image came from, for messages


@dataclass
class PartitionResult:
    partition: str
    samples: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    skipped_samples: list[dict] = field(default_factory=list)
    shards: dict[str, list[str]] = field(default_factory=dict)
    bytes: int = 0
    seconds: float = 0.0

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "PartitionResult":
        return cls(**data)


class _SplitSink:
    """The shards of one split of one partition, rotated at a sample or byte limit."""

    def __init__(self, folder: Path, partition: str, max_samples: int, max_bytes: int):
        self.folder, self.partition = folder, partition
        self.max_samples, self.max_bytes = max_samples, max_bytes
        self.done: list[tuple[Path, Path]] = []  # (temporary, final)
        self.handle = None
        self.count = self.size = self.total = 0

    def _open(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        final = self.folder / shard_name(self.partition, len(self.done))
        temp = self.folder / f".{final.name}.tmp-{os.getpid()}"
        self.handle = open(temp, "wb")
        self.done.append((temp, final))
        self.count = self.size = 0

    def write(self, data: bytes) -> None:
        if self.handle is None or self.count >= self.max_samples or (self.count and self.size + len(data) > self.max_bytes):
            self.close()
            self._open()
        self.handle.write(data)
        self.count += 1
        self.size += len(data)
        self.total += 1

    def close(self) -> None:
        if self.handle is not None:
            self.handle.write(TAR_END)
            self.handle.flush()
            os.fsync(self.handle.fileno())
            self.handle.close()
            self.handle = None


def _resize_task(args: tuple[bytes, ImageSettings]):
    data, settings = args
    try:
        return True, resize_image(data, settings)
    except CorruptImage as exc:
        return False, str(exc)


def _ordered_results(items: Iterable, settings: ImageSettings, workers: int):
    """(job, ok, jpeg-or-reason) in input order, at most a few images per worker in flight."""
    if workers <= 1:
        for job, data in items:
            yield (job, *_resize_task((data, settings)))
        return
    ctx = multiprocessing.get_context("forkserver")
    window = collections.deque()
    with ctx.Pool(workers) as pool:
        for job, data in items:
            window.append((job, pool.apply_async(_resize_task, ((data, settings),))))
            if len(window) >= workers * 4:
                job0, pending = window.popleft()
                yield (job0, *pending.get())
        while window:
            job0, pending = window.popleft()
            yield (job0, *pending.get())


def remove_stale_temporaries(out_dir: Path, partition: str) -> None:
    for folder in (p for p in Path(out_dir).iterdir() if p.is_dir()) if Path(out_dir).exists() else []:
        for temp in folder.glob(f".shard-{partition}-*.tar.tmp-*"):
            temp.unlink(missing_ok=True)


def write_partition(
    out_dir: Path,
    partition: str,
    jobs: Iterable[tuple[SampleJob, bytes]],
    settings: ImageSettings,
    *,
    workers: int = 1,
    max_samples: int = 100_000,
    max_bytes: int = 3_000_000_000,
    log: Callable[[str], None] | None = None,
) -> PartitionResult:
    """Resize and write every job; corrupt images are skipped and counted. Replaces exactly this
    partition's previous shards, and only once every new shard is complete."""
    check_partition(partition)
    out_dir = Path(out_dir)
    start = time.monotonic()
    remove_stale_temporaries(out_dir, partition)
    result = PartitionResult(partition)
    sinks: dict[str, _SplitSink] = {}
    for n, (job, ok, payload) in enumerate(_ordered_results(jobs, settings, workers), start=1):
        if not ok:
            result.skipped[SKIP_CORRUPT_IMAGE] = result.skipped.get(SKIP_CORRUPT_IMAGE, 0) + 1
            if len(result.skipped_samples) < MAX_SKIPPED_SAMPLES:
                result.skipped_samples.append({"origin": job.origin, "key": job.key, "reason": SKIP_CORRUPT_IMAGE, "detail": payload})
            continue
        if not KEY_RE.fullmatch(job.key):
            raise ValueError(f"invalid sample key {job.key!r} for {job.origin}")
        data = sample_bytes(job.key, payload, job.texts)
        for split in job.splits:
            if split not in sinks:
                sinks[split] = _SplitSink(out_dir / split, partition, max_samples, max_bytes)
            sinks[split].write(data)
            result.bytes += len(data)
        if log and n % 10_000 == 0:
            log(f"{partition}: {n} images, {time.monotonic() - start:.0f} s")
    for sink in sinks.values():
        sink.close()
    # Publish: every new shard into place, then remove this partition's shards the run did not make.
    for split, sink in sorted(sinks.items()):
        for temp, final in sink.done:
            os.replace(temp, final)
        result.shards[split] = [final.name for _, final in sink.done]
        result.samples[split] = sink.total
    for folder in (p for p in out_dir.iterdir() if p.is_dir()) if out_dir.exists() else []:
        keep = set(result.shards.get(folder.name, []))
        for old in folder.glob(f"shard-{partition}-*.tar"):
            if old.name not in keep:
                old.unlink()
    result.seconds = time.monotonic() - start
    stats = out_dir / "stats" / f"{partition}.json"
    stats.parent.mkdir(parents=True, exist_ok=True)
    temp = stats.with_name(f".{stats.name}.tmp")
    temp.write_text(json.dumps(result.to_json(), indent=2, sort_keys=True))
    os.replace(temp, stats)
    return result


__all__ = ["PartitionResult", "SampleJob", "write_partition", "TEXT_SUFFIXES"]
