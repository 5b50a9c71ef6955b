"""Write one partition's shards for all splits in one pass: in input order, whatever the number
of workers; every shard under a hidden temporary name until the whole partition is done.

Workers read (when an image is a file), decode and resize. The main process streams the inputs,
keeps a bounded window of images in flight (so memory does not grow with the partition), takes the
results back in input order and writes the tars. A worker that dies (a decoder crash, the OOM killer) breaks the pool;
the images in flight are then retried one at a time in a fresh process, and the one that kills
its process again is skipped as a corrupt image: a build never hangs on a lost task.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import re
import time
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

from tol10m_assets.errors import SKIP_CORRUPT_IMAGE
from tol10m_assets.shards.pool import SharedPool, check_pool_starts, pool_context, worker_pool
from tol10m_assets.shards.images import CorruptImage, ImageSettings, resize_image
from tol10m_assets.shards.reuse import ReusedImage
from tol10m_assets.shards.tarfiles import KEY_RE, TAR_END, TEXT_SUFFIXES, check_partition, member_header, sample_bytes, shard_name

MAX_SKIPPED_SAMPLES = 1000
FIRST_SAMPLES = 8  # kept per split for the thumbnails (4 shown; spares for one that does not fit)
IN_FLIGHT_PER_WORKER = 4  # images submitted ahead of the writer, per worker
SPLIT_RE = re.compile(r"[a-z][a-z0-9_]*")
RESERVED_DIRS = {"stats"}
_TEXT_SET = frozenset(TEXT_SUFFIXES)


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
    # reuse (shards/reuse.py): images whose outcome came from the last committed generation
    images_reused: int = 0
    images_decoded: int = 0
    bytes_copied: int = 0
    # the first samples written per split, (key, jpeg, common name): the partition's thumbnails
    # without reading a shard again; not part of the stats file
    first_samples: dict[str, list[tuple[str, bytes, str]]] = field(default_factory=dict, repr=False, compare=False)

    def to_json(self) -> dict:
        data = asdict(self)
        data.pop("first_samples")
        return data

    @classmethod
    def from_json(cls, data: dict) -> "PartitionResult":
        return cls(**data)


def validate_job(job: SampleJob) -> None:
    """A job the writer can write, or ValueError naming its origin (a bug upstream, not bad data)."""
    if not isinstance(job.key, str) or not KEY_RE.fullmatch(job.key):
        raise ValueError(f"invalid sample key {job.key!r} for {job.origin}: non-empty, no '.', '/', '\\\\' or spaces")
    if not job.splits or len(set(job.splits)) != len(job.splits):
        raise ValueError(f"sample {job.key} ({job.origin}): splits {job.splits!r} must be non-empty and distinct")
    for split in job.splits:
        if not SPLIT_RE.fullmatch(split) or split in RESERVED_DIRS:
            raise ValueError(f"sample {job.key} ({job.origin}): invalid split name {split!r}")
    if job.texts.keys() != _TEXT_SET:
        missing, extra = sorted(_TEXT_SET - job.texts.keys()), sorted(job.texts.keys() - _TEXT_SET)
        raise ValueError(f"sample {job.key} ({job.origin}): text members missing {missing}, unexpected {extra}")


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class _SplitSink:
    """The shards of one split of one partition, rotated at a sample or byte limit."""

    def __init__(self, folder: Path, partition: str, max_samples: int, max_bytes: int):
        self.folder, self.partition = folder, partition
        self.max_samples, self.max_bytes = max_samples, max_bytes
        self.done: list[tuple[Path, Path]] = []  # (temporary, final)
        self.handle = None
        self.count = self.size = self.total = self.bytes = 0

    def _open(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        final = self.folder / shard_name(self.partition, len(self.done))
        temp = self.folder / f".{final.name}.tmp-{os.getpid()}"
        self.handle = open(temp, "wb")
        self.done.append((temp, final))
        self.count = self.size = 0

    def write(self, data: bytes) -> int:
        """Append one sample; returns its offset in the current shard."""
        # a new shard at max_samples, or when this sample would take it past max_bytes (a single
        # sample larger than max_bytes still gets a shard of its own)
        if self.handle is None or self.count >= self.max_samples or (
            self.count and self.size + len(data) + len(TAR_END) > self.max_bytes
        ):
            self.close()
            self._open()
        self.handle.write(data)
        at = self.size
        self.count += 1
        self.size += len(data)
        self.total += 1
        return at

    def close(self) -> None:
        if self.handle is not None:
            self.handle.write(TAR_END)
            self.handle.flush()
            os.fsync(self.handle.fileno())
            self.bytes += self.handle.tell()
            self.handle.close()
            self.handle = None

    def discard(self) -> None:
        if self.handle is not None:
            self.handle.close()
            self.handle = None
        for temp, _ in self.done:
            temp.unlink(missing_ok=True)


# the image's bytes, a file's path, or anything with ``read_bytes()`` (a ``Path``, a member of an
# uncompressed tar): the last two are read by the worker that resizes the image
ImageSource = bytes | os.PathLike | str


def read_source(source: ImageSource) -> bytes:
    """The bytes of an image source; OSError (naming the file) when it cannot be read."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source)
    if isinstance(source, str):
        source = Path(source)
    return source.read_bytes()


def _resize_task(source: ImageSource, settings: ImageSettings) -> tuple[bool, bytes | str]:
    data = read_source(source)  # an unreadable file stops the partition with its name: nothing lost
    try:
        return True, resize_image(data, settings)
    except CorruptImage as exc:
        return False, str(exc)


_pool_context = pool_context  # the name the checker and older callers use


class _Done:
    """A result known without a worker (a reused image), standing where a Future would."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value

    def result(self):
        return self.value

    def cancel(self):
        return False


class _Broken:
    """An image the pool refused because a worker had already died: taken as a crash (run alone)."""

    __slots__ = ()

    def result(self):
        raise BrokenProcessPool("the pool was broken before this image was submitted")

    def cancel(self):
        return False


def _reused(data):
    """(outcome or None, the source to decode): a reused image's recorded outcome, read and verified here."""
    if isinstance(data, ReusedImage):
        outcome = data.outcome()
        return outcome, data.fallback
    return None, data


def _run_alone(task, data: bytes, settings: ImageSettings, ctx) -> tuple[bool, bytes | str]:
    """One task in a fresh single-process pool: whether this image is the one that kills workers.

    If not even a trivial task runs in a fresh pool, no image is at fault: WorkerPoolError."""
    check_pool_starts(ctx)
    with worker_pool(1, ctx) as solo:
        try:
            return solo.submit(task, data, settings).result()
        except BrokenProcessPool:
            return False, "the decoder crashed its worker process"


def ordered_results(
    items: Iterable[tuple[SampleJob, ImageSource]],
    settings: ImageSettings,
    workers: int = 1,
    *,
    window: int | None = None,
    task: Callable = _resize_task,
    pool: SharedPool | None = None,
) -> Iterator[tuple[SampleJob, bool, bytes | str]]:
    """(job, ok, jpeg-or-reason) in input order; at most ``window`` images in flight. ``pool``: the
    build's worker processes (left running for its check), else a pool of ``workers`` of its own."""
    if workers <= 1 and pool is None:
        for job, data in items:
            validate_job(job)
            outcome, data = _reused(data)
            yield (job, *(outcome if outcome is not None else task(data, settings)))
        return
    shared = pool if pool is not None else SharedPool(workers)
    window = window or shared.workers * IN_FLIGHT_PER_WORKER
    pending: collections.deque = collections.deque()  # (job, data, future)

    def submit(data):
        try:
            return shared.pool.submit(task, data, settings)
        except BrokenProcessPool:  # a worker died since the last result was taken: found when its turn comes
            return _Broken()

    def take():
        job, data, future = pending.popleft()
        try:
            outcome = future.result()
        except BrokenProcessPool:
            shared.replace()
            outcome = _run_alone(task, data, settings, shared.ctx)
            for i, (j, d, f) in enumerate(pending):  # every other in-flight image again, in order
                if not isinstance(f, _Done):
                    pending[i] = (j, d, submit(d))
        return (job, *outcome)

    try:
        for job, data in items:
            validate_job(job)
            outcome, data = _reused(data)
            pending.append((job, data, _Done(outcome) if outcome is not None else submit(data)))
            if len(pending) >= window:
                yield take()
        while pending:
            yield take()
    finally:
        for _, _, future in pending:
            future.cancel()
        if pool is None:
            shared.close()


def _partition_dirs(out_dir: Path) -> list[Path]:
    if not out_dir.is_dir():
        return []
    return sorted(p for p in out_dir.iterdir() if p.is_dir() and p.name not in RESERVED_DIRS)


def remove_stale_temporaries(out_dir: Path, partition: str) -> int:
    """Temporary shards of this partition left by a killed run (never another partition's)."""
    removed = 0
    for folder in _partition_dirs(Path(out_dir)):
        for temp in folder.glob(f".shard-{partition}-*.tar.tmp-*"):
            temp.unlink(missing_ok=True)
            removed += 1
    return removed


def write_partition(
    out_dir: Path,
    partition: str,
    jobs: Iterable[tuple[SampleJob, ImageSource]],
    settings: ImageSettings,
    *,
    workers: int = 1,
    max_samples: int = 100_000,
    max_bytes: int = 3_000_000_000,
    log: Callable[[str], None] | None = None,
    on_sample: Callable[[str, SampleJob, str], None] | None = None,
    on_image: Callable | None = None,
    pool: SharedPool | None = None,
) -> PartitionResult:
    """Resize and write every job; corrupt images are skipped and counted. Replaces exactly this
    partition's previous shards, and only once every new shard is complete.

    ``on_sample(split, job, shard_name)`` is called for every sample written, in order;
    ``on_image(job, source, ok, jpeg_or_reason, where)`` once per image, ``where`` the (split, shard,
    offset of the ``.jpg`` payload) of each copy written. A :class:`ReusedImage` source is copied
    from its old shard (verified), not decoded.

    ``pool``: the build's worker processes (shared with its check), in place of ``workers`` of its own.
    The shards are byte-identical for the same inputs and settings whatever ``workers`` is.
    A job with an invalid key, split or text set is a bug upstream: ValueError, nothing published.
    """
    check_partition(partition)
    if max_samples < 1 or max_bytes < 1:
        raise ValueError("max_samples and max_bytes must be positive")
    out_dir = Path(out_dir)
    start = time.monotonic()
    stale = remove_stale_temporaries(out_dir, partition)
    if log and stale:
        log(f"{partition}: removed {stale} temporary shard(s) of an interrupted run")
    result = PartitionResult(partition)
    sinks: dict[str, _SplitSink] = {}
    corrupt = 0
    sources: collections.deque = collections.deque()  # the source of each job in flight, in order

    def remember(items):
        for job, data in items:
            sources.append(data)
            yield job, data

    results = ordered_results(remember(jobs), settings, workers, pool=pool)
    try:
        with contextlib.closing(results):  # stops the worker pool at once on an error
            for n, (job, ok, payload) in enumerate(results, start=1):
                source = sources.popleft()
                if isinstance(source, ReusedImage) and source.used:
                    result.images_reused += 1
                    if ok:
                        result.bytes_copied += len(payload)
                else:
                    result.images_decoded += 1
                if not ok:
                    if on_image is not None:
                        on_image(job, source, False, payload, [])
                    corrupt += 1
                    if len(result.skipped_samples) < MAX_SKIPPED_SAMPLES:
                        result.skipped_samples.append(
                            {"origin": job.origin, "key": job.key, "reason": SKIP_CORRUPT_IMAGE, "detail": payload}
                        )
                    continue
                data = sample_bytes(job.key, payload, job.texts)
                where = []
                for split in job.splits:
                    first = result.first_samples.setdefault(split, [])
                    if len(first) < FIRST_SAMPLES:
                        first.append((job.key, payload, job.texts["common_name.txt"]))
                    sink = sinks.get(split)
                    if sink is None:
                        sink = sinks[split] = _SplitSink(out_dir / split, partition, max_samples, max_bytes)
                    at = sink.write(data)
                    shard = sink.done[-1][1].name
                    if on_image is not None:
                        where.append((split, shard, at + _jpg_header_size(job.key, len(payload))))
                    if on_sample is not None:
                        on_sample(split, job, shard)
                if on_image is not None:
                    on_image(job, source, True, payload, where)
                if log and n % 10_000 == 0:
                    log(f"{partition}: {n} images, {corrupt} corrupt, {time.monotonic() - start:.0f} s")
        for sink in sinks.values():
            sink.close()
    except BaseException:
        for sink in sinks.values():
            sink.discard()
        raise
    if corrupt:
        result.skipped[SKIP_CORRUPT_IMAGE] = corrupt
    # Publish: every new shard into place, then remove this partition's shards the run did not make.
    for split, sink in sorted(sinks.items()):
        for temp, final in sink.done:
            os.replace(temp, final)
        _fsync_dir(sink.folder)
        result.shards[split] = [final.name for _, final in sink.done]
        result.samples[split] = sink.total
        result.bytes += sink.bytes
    for folder in _partition_dirs(out_dir):
        keep = set(result.shards.get(folder.name, []))
        for old in folder.glob(f"shard-{partition}-*.tar"):
            if old.name not in keep:
                old.unlink()
    result.seconds = time.monotonic() - start
    stats = out_dir / "stats" / f"{partition}.json"
    stats.parent.mkdir(parents=True, exist_ok=True)
    temp = stats.with_name(f".{stats.name}.tmp-{os.getpid()}")
    temp.write_text(json.dumps(result.to_json(), indent=2, sort_keys=True) + "\n")
    os.replace(temp, stats)
    if log:
        log(
            f"{partition}: {sum(result.samples.values())} samples in {sum(map(len, result.shards.values()))} shards, "
            f"{corrupt} corrupt, {result.images_reused} reused and {result.images_decoded} decoded images, "
            f"{result.bytes_copied} bytes copied, {result.seconds:.0f} s"
        )
    return result


def _jpg_header_size(key: str, size: int) -> int:
    """Bytes before a sample's ``.jpg`` payload (one header block, unless tarfile's long-name extensions)."""
    if len(f"{key}.jpg".encode("utf-8", "surrogateescape")) < 100 and size < 8**11:
        return 512
    return len(member_header(f"{key}.jpg", size))


__all__ = ["ImageSource", "PartitionResult", "SampleJob", "read_source", "write_partition", "ordered_results", "validate_job", "TEXT_SUFFIXES"]
