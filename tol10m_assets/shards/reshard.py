"""Equal shards: a split's samples laid into shards of ``per_shard`` samples each (the last the only
short one) by copying each sample's tar members byte for byte from the partitions' committed shards.

Nothing is decoded: a sample is the run of tar blocks from its first member's header to the next
sample's (``sample_spans``), and an output shard is those runs back to back plus the end-of-archive
blocks, exactly the layout ``tarfiles.sample_bytes`` writes. The order interleaves the partitions in
proportion to their size (sample ``i`` of a partition of ``n`` sits at ``(i + 0.5) / n``; ties by
partition key), so every shard holds each partition's share of the split and none holds one source
only. Same inputs, same bytes. No Dagster imports.
"""

from __future__ import annotations

import hashlib
import mmap
import os
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tol10m_assets.shards.tarfiles import TAR_END

_BLOCK = tarfile.BLOCKSIZE
_EXTENSIONS = (b"L", b"K", b"x", b"g")  # GNU long name / link, pax headers: they belong to the next member


class ShardFormatError(ValueError):
    """A source shard that is not a plain tar of samples; the message names the file and offset."""


@dataclass(frozen=True)
class SourceShard:
    partition: str
    path: Path
    samples: int  # as the manifest says; checked against the tar


def sample_spans(path: Path) -> np.ndarray:
    """``(start, end)`` byte offsets of every sample of a tar shard, in order (an ``int64`` array of
    shape ``(samples, 2)``). A sample is the members sharing one key (name up to the first dot of
    the last path part), with any extension headers before them."""
    with open(path, "rb") as handle:
        total = os.fstat(handle.fileno()).st_size
        if total == 0:
            raise ShardFormatError(f"{path}: empty file")
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            return _walk(path, mm, total)


def _walk(path: Path, mm: mmap.mmap, total: int) -> np.ndarray:
    starts: list[int] = []
    offset, pending, key, long_name = 0, None, None, None
    while True:
        if offset + _BLOCK > total:
            raise ShardFormatError(f"{path}: cut short at byte {offset} (no end-of-archive blocks)")
        header = mm[offset : offset + _BLOCK]
        if header[0] == 0:
            end = offset
            break
        try:
            size = int(header[124:136].rstrip(b"\0 ") or b"0", 8)
        except ValueError:
            raise ShardFormatError(f"{path}: bad tar header at byte {offset}") from None
        flag = header[156:157]
        payload = offset + _BLOCK
        following = payload + (size + _BLOCK - 1) // _BLOCK * _BLOCK
        if flag in _EXTENSIONS:
            if pending is None:
                pending = offset
            if flag == b"L":
                long_name = mm[payload : payload + size].rstrip(b"\0")
        else:
            name = long_name if long_name is not None else header[:100].rstrip(b"\0")
            base = name.rpartition(b"/")
            member_key = base[0] + base[1] + base[2].partition(b".")[0]
            if member_key != key:
                starts.append(offset if pending is None else pending)
                key = member_key
            pending, long_name = None, None
        offset = following
    if not starts:
        return np.zeros((0, 2), dtype=np.int64)
    bounds = np.array([*starts, end], dtype=np.int64)
    return np.stack([bounds[:-1], bounds[1:]], axis=1)


def interleaved_order(counts: list[int]) -> np.ndarray:
    """For partitions of ``counts`` samples (in key order): ``(partition, sample)`` pairs of every
    sample, partitions interleaved in proportion to their size. Deterministic."""
    if not counts or sum(counts) == 0:
        return np.zeros((0, 2), dtype=np.int64)
    part = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    index = np.concatenate([np.arange(n, dtype=np.int64) for n in counts])
    position = (index + 0.5) / np.repeat(np.asarray(counts, dtype=np.float64), counts)
    order = np.lexsort((part, position))  # by position, then by partition
    return np.stack([part[order], index[order]], axis=1)


def write_equal_shards(sources: list[SourceShard], out_dir: Path, per_shard: int, name=lambda n: f"shard-{n:06d}.tar") -> list[dict]:
    """Lay the samples of one split's ``sources`` (in partition key order, each partition's shards
    in order) into ``out_dir/<name(n)>`` of ``per_shard`` samples. Returns per shard: ``name``,
    ``samples``, ``bytes``, ``sha256`` and ``partitions`` (samples per partition)."""
    if per_shard < 1:
        raise ValueError(f"per_shard must be at least 1, not {per_shard}")
    partitions = sorted({s.partition for s in sources})
    spans_by_partition: dict[str, list[tuple[int, np.ndarray]]] = {p: [] for p in partitions}
    for i, source in enumerate(sources):
        spans = sample_spans(source.path)
        if len(spans) != source.samples:
            raise ShardFormatError(f"{source.path}: {len(spans)} samples in the tar, its manifest says {source.samples}")
        spans_by_partition[source.partition].append((i, spans))
    # per partition: its samples as (source index, start, end), in order
    tables = []
    for p in partitions:
        parts = [np.column_stack([np.full(len(s), i, dtype=np.int64), s]) for i, s in spans_by_partition[p]]
        tables.append(np.concatenate(parts) if parts else np.zeros((0, 3), dtype=np.int64))
    order = interleaved_order([len(t) for t in tables])
    out_dir.mkdir(parents=True, exist_ok=True)
    handles: dict[int, tuple] = {}
    written = []
    try:
        for number, begin in enumerate(range(0, len(order), per_shard)):
            chunk = order[begin : begin + per_shard]
            written.append(_write_shard(out_dir / name(number), chunk, tables, partitions, sources, handles))
    finally:
        for _, handle, mm in handles.values():
            mm.close()
            handle.close()
    return written


def _write_shard(target: Path, chunk: np.ndarray, tables, partitions, sources, handles) -> dict:
    digest = hashlib.sha256()
    size = 0
    counts = np.bincount(chunk[:, 0], minlength=len(partitions))
    with open(target, "wb") as out:
        for p, i in chunk:
            source, start, end = tables[p][i]
            mm = _mapped(sources, source, p, handles)
            data = mm[start:end]
            out.write(data)
            digest.update(data)
            size += len(data)
        out.write(TAR_END)
        digest.update(TAR_END)
        size += len(TAR_END)
    return {"name": target.name, "samples": int(len(chunk)), "bytes": size, "sha256": digest.hexdigest(),
            "partitions": {partitions[k]: int(c) for k, c in enumerate(counts) if c}}


def _mapped(sources, index: int, partition: int, handles: dict) -> mmap.mmap:
    """The source shard mapped; one open per partition (a partition's samples are read in order)."""
    current = handles.get(partition)
    if current is None or current[0] != index:
        if current is not None:
            current[2].close()
            current[1].close()
        handle = open(sources[index].path, "rb")
        handles[partition] = (index, handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ))
    return handles[partition][2]


def lay_equal_shards(staged, store, per_shard: int) -> None:
    """A staged release's shard layout as equal shards: per split, the committed shards of its
    partitions (``staged.manifests``, key order) copied into ``<split>/shard-NNNNNN.tar`` of
    ``per_shard`` samples; fills ``staged.shards`` and ``staged.sizes`` as the hard-linked layout does."""
    from tol10m_assets.splits import SPLITS

    splits = list(SPLITS) + sorted({s["split"] for m in staged.manifests.values() for s in m["shards"]} - set(SPLITS))
    for split in splits:
        sources = [SourceShard(p, store.generation_dir(p, m) / split / s["name"], s["samples"])
                   for p, m in staged.manifests.items() for s in m["shards"] if s["split"] == split]
        written = write_equal_shards(sources, staged.dataset / split, per_shard)
        for number, shard in enumerate(written):
            staged.shards.append({"split": split, "number": number, **shard})
        staged.sizes[split] = sum(s["samples"] for s in written)
