"""Reuse instead of re-encode: a partition rebuild copies the resized JPEG of every image whose
source bytes and image settings are unchanged from its last committed generation.

Every committed generation holds ``reuse.parquet``: one row per image the writer took (written or
skipped as corrupt), with its ``origin`` (the source identity within the partition), the source
bytes' ``fingerprint`` (EOL: the set index's CRC-32 and size of the member; a file: its size and
``mtime_ns``), and where its ``.jpg`` payload is (``split``, ``shard``, byte ``offset``, ``size``,
``crc32`` of the JPEG bytes), or ``status`` ``corrupt`` and the reason (skipped again, not decoded).
The image settings, with Pillow's and libjpeg's versions, are the table's key (``reuse_key``): any
change disables reuse for the whole partition.

A reused image is read with one ``pread`` from the old shard and verified against its CRC-32: a
damaged old shard falls back to decoding the source (or, where the source was not streamed, raises
:class:`ReuseMismatch` and the partition is built again with the stream). ``check_wds`` verifies a
reused image's bytes by the same CRC instead of decoding them: they equal bytes a committed
generation already checked. No Dagster imports.
"""

from __future__ import annotations

import os
from dataclasses import asdict
from pathlib import Path

try:
    from isal.isal_zlib import crc32
except ImportError:  # pragma: no cover - isal is a dependency
    from zlib import crc32

REUSE_TABLE = "reuse.parquet"
REUSE_FORMAT = 1
OK, CORRUPT = "ok", "corrupt"
COLUMNS = ("origin", "fingerprint", "status", "split", "shard", "offset", "size", "crc32", "detail")


class ReuseMismatch(OSError):
    """The bytes of a reused image in the old shard are not those recorded (damaged old shard)."""


def reuse_key(settings, mode: str) -> dict:
    """What the resized bytes depend on besides the source bytes: image settings, mode, encoder versions."""
    import PIL
    from PIL import features

    from tol10m_assets.shards.images import RESIZE_CODE_VERSION

    return {
        "resize_code": RESIZE_CODE_VERSION,
        "format": REUSE_FORMAT,
        "image": asdict(settings),
        "mode": mode,
        "pillow": PIL.__version__,
        "libjpeg_turbo": features.version("libjpeg_turbo"),
    }


class ReusedImage:
    """An image source for the writer: the JPEG bytes at ``offset`` of an old shard (or a known
    corrupt verdict), with the original source as ``fallback`` to decode if the bytes are damaged."""

    __slots__ = ("path", "offset", "size", "crc", "corrupt", "fallback", "used", "problem")

    def __init__(self, path, offset, size, crc, corrupt=None, fallback=None):
        self.path, self.offset, self.size, self.crc = path, offset, size, crc
        self.corrupt, self.fallback = corrupt, fallback
        self.used = False  # the recorded outcome was used (nothing decoded)
        self.problem = None  # why it fell back

    def read(self) -> bytes:
        """The verified bytes; ReuseMismatch naming the shard when they are not those recorded."""
        try:
            fd = os.open(self.path, os.O_RDONLY)
            try:
                data = os.pread(fd, self.size, self.offset)
            finally:
                os.close(fd)
        except OSError as exc:
            raise ReuseMismatch(f"{self.path}: cannot read the image to reuse at byte {self.offset} ({exc})") from None
        if len(data) != self.size or (crc32(data) & 0xFFFFFFFF) != self.crc:
            raise ReuseMismatch(
                f"{self.path}: the image at byte {self.offset} is not the one recorded (CRC-32 or size differs): "
                "the old shard is damaged")
        return data

    def outcome(self):
        """(ok, jpeg-or-reason) from the old generation; None to decode ``fallback`` instead;
        ReuseMismatch when the bytes are damaged and there is no fallback."""
        if self.corrupt is not None:
            self.used = True
            return False, self.corrupt
        try:
            data = self.read()
        except ReuseMismatch as exc:
            if self.fallback is None:
                raise
            self.problem = str(exc)
            return None
        self.used = True
        return True, data


def fingerprint_of(data, known: str | None = None) -> str | None:
    """The source bytes' fingerprint: ``known`` (from the EOL set index), a member slice's CRC, a
    file's size and mtime_ns, or the CRC of the bytes (the same value the set index holds)."""
    if known is not None:
        return known
    from tol10m_assets.sources.images import MemberSlice

    if isinstance(data, MemberSlice):
        return None if data.crc is None else eol_fingerprint(data.crc, data.size)
    if isinstance(data, (bytes, bytearray, memoryview)):
        return eol_fingerprint(crc32(data) & 0xFFFFFFFF, len(data))
    if isinstance(data, (str, os.PathLike)):
        try:
            st = os.stat(data)
        except OSError:
            return None  # the writer reports the file
        return f"stat:{st.st_size}:{st.st_mtime_ns}"
    return None


def eol_fingerprint(crc: int, size: int) -> str:
    return f"crc32:{crc:08x}:{size}"


def eol_fingerprints(layout, chunking, partition: str) -> dict[str, str]:
    """origin → fingerprint of an EOL partition's members, from its set index (no member read)."""
    from tol10m_assets.sources.chunks import eol_partition
    from tol10m_assets.sources.eolindex import set_index
    from tol10m_assets.sources.images import eol_image_sets

    if not partition.startswith("eol-"):
        return {}
    out = {}
    for archive in eol_image_sets(layout, chunking.mode):
        if eol_partition(archive.name) != partition:
            continue
        index = set_index(archive)
        for m in index.members:
            if m.crc is not None:
                out[f"{archive.name}:{m.name}"] = eol_fingerprint(m.crc, m.size)
    return out


def compressed_eol(layout, chunking, partition: str) -> bool:
    """Whether the partition's images come from a ``.tar.gz`` set (streaming them means inflating it)."""
    from tol10m_assets.sources.chunks import eol_partition
    from tol10m_assets.sources.images import eol_image_sets

    if not partition.startswith("eol-"):
        return False
    return any(a.name.endswith(".gz") for a in eol_image_sets(layout, chunking.mode) if eol_partition(a.name) == partition)


def names_only(layout, chunking, partition: str):
    """The partition's image records without their bytes (the same records, in the same order)."""
    from tol10m_assets.sources import images

    return images._iter(layout, chunking, partition, with_bytes=False)


class Previous:
    """The last committed generation's images: origin → its row (a plain dict, for one partition)."""

    def __init__(self, generation: Path, rows: dict[str, tuple]):
        self.generation, self.rows = generation, rows
        self._shards: dict[tuple[str, str], str] = {}  # (split, shard) → its path (one Path a shard, not an image)

    def __len__(self) -> int:
        return len(self.rows)

    def lookup(self, origin: str, fingerprint: str | None, fallback=None) -> ReusedImage | None:
        row = self.rows.get(origin)
        if row is None or fingerprint is None or row[0] != fingerprint:
            return None
        _, status, split, shard, offset, size, crc, detail = row
        if status == CORRUPT:
            return ReusedImage(None, 0, 0, 0, corrupt=detail, fallback=fallback)
        path = self._shards.get((split, shard))
        if path is None:
            path = self._shards[(split, shard)] = str(self.generation / split / shard)
        return ReusedImage(path, offset, size, crc, fallback=fallback)


def load_previous(store, partition: str, key: dict) -> tuple[Previous | None, str]:
    """The committed generation's reuse table if its key equals ``key``; else (None, why not)."""
    import pyarrow.parquet as pq

    try:
        manifest = store.read_manifest(partition)
    except Exception as exc:  # an unreadable manifest: the build heals it; nothing is reused
        return None, f"unreadable manifest ({exc})"
    if manifest is None:
        return None, "no committed generation"
    reuse = manifest.get("reuse") or {}
    if reuse.get("table") != REUSE_TABLE:
        return None, "the committed generation has no reuse table"
    if reuse.get("key") != key:
        return None, "image settings or encoder changed"
    path = store.generation_dir(partition, manifest) / REUSE_TABLE
    try:
        t = pq.read_table(path, columns=list(COLUMNS)).to_pydict()
    except Exception as exc:
        return None, f"unreadable {path.name} ({exc})"
    rows = {o: r for o, *r in zip(*(t[c] for c in COLUMNS))}
    return Previous(path.parent, rows), ""


class Recorder:
    """The new generation's reuse table, column by column, filled by the writer's ``on_image``."""

    def __init__(self, fingerprints: dict[str, str | None]):
        self.fingerprints = fingerprints  # origin → fingerprint, filled as the jobs are made
        self.columns: dict[str, list] = {c: [] for c in COLUMNS}
        self.known: dict[tuple[str, str], dict[int, tuple[int, int]]] = {}  # reused: (split, shard) → offset → (size, crc)
        self.image_offsets: dict[tuple[str, str], list[int]] = {}  # every image written: (split, shard) → payload offsets
        self.reused = self.decoded = self.corrupt_reused = self.fallbacks = self.bytes_copied = 0
        self.fallback_problems: list[str] = []

    def on_image(self, job, source, ok: bool, payload, where: list[tuple[str, str, int]]) -> None:
        """One image the writer took: ``where`` = (split, shard, payload offset) of each copy written."""
        reused = isinstance(source, ReusedImage) and source.used
        if isinstance(source, ReusedImage) and not source.used:
            self.fallbacks += 1
            if len(self.fallback_problems) < 20:
                self.fallback_problems.append(source.problem or "")
        if reused:
            self.reused += 1
            if not ok:
                self.corrupt_reused += 1
        else:
            self.decoded += 1
        fp = self.fingerprints.get(job.origin)
        c = self.columns
        if ok:
            for split, shard, offset in where:  # chunk hints for check_wds's workers
                self.image_offsets.setdefault((split, shard), []).append(offset)
            size, crc = len(payload), crc32(payload) & 0xFFFFFFFF if not reused else source.crc
            if reused:
                self.bytes_copied += size
                for split, shard, offset in where:
                    self.known.setdefault((split, shard), {})[offset] = (size, crc)
            split, shard, offset = where[0]
            row = (job.origin, fp, OK, split, shard, offset, size, crc, "")
        else:
            row = (job.origin, fp, CORRUPT, "", "", 0, 0, 0, str(payload))
        if fp is None:
            return  # no fingerprint: nothing to key a later reuse on
        for name, value in zip(COLUMNS, row):
            c[name].append(value)

    def table(self):
        import pyarrow as pa

        types = {"offset": pa.int64(), "size": pa.int64(), "crc32": pa.int64()}
        return pa.table({c: pa.array(v, type=types.get(c, pa.string())) for c, v in self.columns.items()})

    def figures(self) -> dict:
        return {
            "images_reused": self.reused,
            "images_decoded": self.decoded,
            "corrupt_reused": self.corrupt_reused,
            "bytes_copied": self.bytes_copied,
            "fallbacks": self.fallbacks,
        }


def reuse_jobs(jobs, previous: Previous | None, fingerprints: dict, eol: dict[str, str], stream: bool = True):
    """The jobs with every reusable source replaced by a :class:`ReusedImage`; records each
    origin's fingerprint in ``fingerprints`` (for the new reuse table)."""
    from tol10m_assets.sources.images import MemberSlice

    for job, data in jobs:
        fp = fingerprint_of(data, eol.get(job.origin))
        fingerprints[job.origin] = fp
        if previous is not None:
            if isinstance(data, MemberSlice):
                # a plain tar's index is trusted by size, mtime and a sample of headers only: read the
                # member (no decoding) and check its CRC-32, so one rewritten in place since it was
                # indexed is an error naming the set (SetChanged), never an old image published again
                data.read_bytes()
            reused = previous.lookup(job.origin, fp, fallback=data if stream else None)
            if reused is not None:
                yield job, reused
                continue
        if not stream:
            raise ReuseMismatch(f"{job.origin}: not reusable, but its source was not read")
        yield job, data


def all_reusable(jobs, previous: Previous, eol: dict[str, str]) -> bool:
    """Whether every job (of a names-only stream) has a reusable image in ``previous``."""
    for job, _ in jobs:
        if previous.lookup(job.origin, eol.get(job.origin)) is None:
            return False
    return True
