"""The member index of an EOL image set: built once, kept next to the set, reused.

``image_set_NN.tar.gz.index`` (or ``image_set_NN.tar.index``) is a small JSON file: the set's
regular-file members in archive order, each with the offset of its data in the uncompressed tar
stream and its size, plus the archive's size and mtime when it was indexed. Listing a set (the
mapping) then reads a few MB instead of walking or inflating the archive, and a shard partition
reads each member at its offset: in place for a plain ``.tar`` (:class:`MemberSlice`, read by the
worker), in one sequential pass for a ``.tar.gz`` (inflated with ISA-L, 1.5–2× zlib).

Building the index is a header walk with seeks for a plain tar and one pass of the gzip stream
(CRC and length checked to its very end) for a ``.tar.gz``. An archive that does not end with the
tar end-of-archive block (a copy cut short, even exactly at a member boundary), a gzip stream cut
short or corrupt, or a member whose data runs past the end raise :class:`InputFormatError` naming
the archive (and the member): no index is written for it, so nothing half-listed is ever reused.

Besides size and mtime, the index records a content fingerprint of the archive (sha256 of its first
and last MB and of every Nth member's header block: a few MB read, whatever the set's size) and the
CRC-32 of every member's data. An index whose archive changed since (size, mtime or fingerprint:
``touch -r`` does not hide a rewrite) is stale and built again; an unreadable one too. A member
whose bytes do not match their CRC when read raises :class:`SetChanged` naming the set, and the
stale index is removed, so the next run indexes the set again. It is written under a temporary name and renamed; a folder that cannot be written (a
read-only dataset) only means the index is kept in memory for this run.
"""

from __future__ import annotations

import hashlib
import json
import os
import tarfile
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from tol10m_assets.errors import InputFormatError

try:  # ISA-L's inflate and CRC; the standard library's otherwise (same bytes, slower)
    from isal import igzip as _gzip
    from isal.isal_zlib import crc32 as _crc32
    from isal.isal_zlib import error as _InflateError
except ImportError:  # pragma: no cover - isal is a dependency
    import gzip as _gzip

    _InflateError = zlib.error
    _crc32 = zlib.crc32

INDEX_FORMAT = "tol10m-eol-set-index"
INDEX_VERSION = 1
INDEX_SUFFIX = ".index"
STREAM_BUFFER = 1 << 20
FINGERPRINT_EDGE = 1 << 20  # bytes hashed at each end of the archive
FINGERPRINT_HEADERS = 1024  # at most this many member headers hashed (plain tar)
# errors of a damaged archive, wrapped into InputFormatError naming it
_ARCHIVE_ERRORS = (tarfile.TarError, EOFError, OSError, zlib.error, _InflateError)


@dataclass(frozen=True, slots=True)
class Member:
    """A regular file of the set: its name, and where its data is in the uncompressed tar."""

    name: str
    offset: int
    size: int
    crc: int | None = None  # CRC-32 of the data, recorded at index time


class SetChanged(OSError):
    """An image set whose bytes are not those it was indexed with; the message names the set."""


def check_member(archive: Path, member: Member, data: bytes) -> None:
    """Raise :class:`SetChanged` (and drop the stale index) when ``data`` is not the indexed member."""
    if member.crc is not None and _crc32(data) != member.crc:
        index_path(archive).unlink(missing_ok=True)
        raise SetChanged(
            f"{archive}: member {member.name!r} is not the one indexed (CRC-32 differs): the image set changed "
            "after it was indexed (same size and mtime: rewritten or copied over); its index is removed: "
            "re-materialize `mapping`, then this partition"
        )


def fingerprint(archive: Path, members) -> str:
    """sha256 of the archive's first and last MB and of every Nth member's header block (a plain
    tar's headers are at known offsets; a gzip file's last MB holds its stream's CRC and length)."""
    archive = Path(archive)
    digest = hashlib.sha256()
    with open(archive, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        digest.update(os.pread(f.fileno(), FINGERPRINT_EDGE, 0))
        digest.update(os.pread(f.fileno(), FINGERPRINT_EDGE, max(0, size - FINGERPRINT_EDGE)))
        if not archive.name.endswith(".gz") and members:
            step = max(1, len(members) // FINGERPRINT_HEADERS)
            for m in members[::step]:
                digest.update(os.pread(f.fileno(), 512, max(0, m.offset - 512)))
    return digest.hexdigest()


@dataclass(frozen=True)
class SetIndex:
    archive: Path
    size: int  # of the archive file when indexed
    mtime_ns: int
    members: tuple[Member, ...]
    fingerprint: str = ""

    @property
    def compressed(self) -> bool:
        return self.archive.name.endswith(".gz")


def index_path(archive: Path) -> Path:
    archive = Path(archive)
    return archive.with_name(archive.name + INDEX_SUFFIX)


def open_stream(archive: Path):
    """The uncompressed tar stream of a set, read sequentially (ISA-L for a ``.tar.gz``)."""
    archive = Path(archive)
    if archive.name.endswith(".gz"):
        return _gzip.open(archive, "rb")
    return open(archive, "rb")


class _EndAwareTarInfo(tarfile.TarInfo):
    """Notes on the TarFile when a header block is all zeros: the end-of-archive marker.

    ``tarfile`` ends its iteration silently both there and where the file simply stops (no end
    blocks: a copy cut at a member boundary) or holds garbage; only the first is a whole archive.
    """

    @classmethod
    def fromtarfile(cls, tar):
        try:
            return super().fromtarfile(tar)
        except tarfile.EOFHeaderError:
            tar.tol10m_end_seen = True
            raise


def _damaged(archive: Path, exc: BaseException, member: str | None) -> InputFormatError:
    where = f" after member {member!r}" if member else " before its first member"
    return InputFormatError(archive, f"truncated or corrupt archive ({type(exc).__name__}: {exc}){where}")


def build_index(archive: Path) -> SetIndex:
    """Walk the set once; InputFormatError naming the archive if it is truncated or corrupt."""
    archive = Path(archive)
    st = archive.stat()
    members: list[Member] = []
    last = None
    raw = open_stream(archive)  # a missing or unreadable file raises as it is (it names the file)
    try:
        with raw:
            if archive.name.endswith(".gz"):  # a stream: never seek backwards in a gzip file
                tar = tarfile.open(fileobj=raw, mode="r|", tarinfo=_EndAwareTarInfo, bufsize=STREAM_BUFFER)
            else:  # a header walk: tarfile seeks over the members' data
                tar = tarfile.open(fileobj=raw, mode="r:", tarinfo=_EndAwareTarInfo)
            with tar:
                for info in tar:
                    last = info.name
                    if info.issparse():
                        raise InputFormatError(archive, "sparse members are not supported", member=info.name)
                    if info.isfile():
                        members.append(Member(info.name, info.offset_data, info.size, _data_crc(tar, info)))
                end_seen = getattr(tar, "tol10m_end_seen", False)
            if archive.name.endswith(".gz"):  # the rest of the stream: its CRC and length are checked at its end
                while raw.read(STREAM_BUFFER):
                    pass
    except InputFormatError:
        raise
    except _ARCHIVE_ERRORS as exc:
        raise _damaged(archive, exc, last) from exc
    if not end_seen:
        where = f"after member {last!r}" if last else "before any member"
        raise InputFormatError(
            archive, f"truncated: no end-of-archive block {where} ({len(members)} files read); the copy is incomplete"
        )
    members = tuple(members)
    return SetIndex(archive, st.st_size, st.st_mtime_ns, members, fingerprint(archive, members))


def _data_crc(tar: tarfile.TarFile, info: tarfile.TarInfo) -> int:
    """CRC-32 of a member's data, read through (in a stream, tarfile skips it the same way)."""
    crc = 0
    handle = tar.extractfile(info)
    left = info.size
    while left > 0:
        chunk = handle.read(min(STREAM_BUFFER, left))
        if not chunk:
            break  # cut short: the walk reports it
        crc = _crc32(chunk, crc)
        left -= len(chunk)
    return crc


def _to_json(index: SetIndex) -> dict:
    return {
        "format": INDEX_FORMAT,
        "version": INDEX_VERSION,
        "archive": index.archive.name,
        "size": index.size,
        "mtime_ns": index.mtime_ns,
        "end_seen": True,
        "fingerprint": index.fingerprint,
        "members": [[m.name, m.offset, m.size, m.crc] for m in index.members],
    }


def load_index(archive: Path) -> SetIndex | None:
    """The stored index if it is whole and still describes the archive (same size, mtime and
    content fingerprint; an index without a fingerprint or CRCs, from an earlier version, is stale)."""
    archive = Path(archive)
    try:
        st = archive.stat()
        data = json.loads(index_path(archive).read_text(encoding="utf-8"))
        if (
            data.get("format") != INDEX_FORMAT
            or data.get("version") != INDEX_VERSION
            or data.get("archive") != archive.name
            or data.get("end_seen") is not True
            or data.get("size") != st.st_size
            or data.get("mtime_ns") != st.st_mtime_ns
        ):
            return None
        members = tuple(Member(str(n), int(o), int(s), int(c)) for n, o, s, c in data["members"])
        stored_fingerprint = data["fingerprint"]
        if not isinstance(stored_fingerprint, str) or fingerprint(archive, members) != stored_fingerprint:
            return None
    except (OSError, ValueError, TypeError, KeyError):
        return None
    end = 0
    for m in members:  # in archive order, never overlapping: anything else is not our index
        if m.offset < end or m.size < 0:
            return None
        end = m.offset + m.size
    return SetIndex(archive, st.st_size, st.st_mtime_ns, members, stored_fingerprint)


def save_index(index: SetIndex) -> Path:
    """Write the index next to its archive, atomically (temporary name, fsync, rename)."""
    path = index_path(index.archive)
    temp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(temp, "w", encoding="utf-8") as f:
            json.dump(_to_json(index), f, separators=(",", ":"))
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return path


def set_index(archive: Path, *, write: bool = True) -> SetIndex:
    """The index of an image set: the stored one if it is current, else built (and stored)."""
    index = load_index(archive)
    if index is None:
        index = build_index(archive)
        if write:
            try:
                save_index(index)
            except OSError as exc:
                warnings.warn(f"{archive}: cannot write its index ({exc}); it is kept in memory for this run", stacklevel=2)
    return index


def read_members(index: SetIndex, wanted: Iterable[Member]) -> Iterator[bytes]:
    """The bytes of ``wanted`` (members of ``index``, in archive order) in one sequential pass of
    the archive; the rest of a gzip stream is read to its end, so its CRC is checked."""
    archive = index.archive
    member = None
    f = open_stream(archive)
    try:
        with f:
            pos = 0
            for member in wanted:
                if member.offset < pos:
                    raise InputFormatError(archive, "members requested out of archive order", member=member.name)
                if member.offset > pos:
                    f.seek(member.offset)  # forward only: a gzip stream inflates and drops the gap
                data = f.read(member.size)
                if len(data) != member.size:
                    raise InputFormatError(archive, "the archive ends inside this member (truncated?)", member=member.name)
                check_member(archive, member, data)
                pos = member.offset + member.size
                yield data
            member = None
            while f.read(STREAM_BUFFER):
                pass
    except (InputFormatError, SetChanged):
        raise
    except _ARCHIVE_ERRORS as exc:
        raise InputFormatError(
            archive, f"truncated or corrupt archive ({type(exc).__name__}: {exc})", member=member.name if member else None
        ) from exc


def _index_one(archive: Path):
    try:
        return set_index(archive), None
    except InputFormatError as exc:  # sent back as its parts (its constructor takes more than the message)
        return None, (exc.path, exc.message, exc.member)


def ensure_indexes(archives: Iterable[Path], workers: int = 1) -> list[SetIndex]:
    """The index of every set, building the missing or stale ones ``workers`` at a time (the
    first listing of a folder of ``.tar.gz`` sets is one inflating pass per set)."""
    archives = [Path(a) for a in archives]
    todo = [a for a in archives if load_index(a) is None]
    if workers > 1 and len(todo) > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        methods = multiprocessing.get_all_start_methods()
        ctx = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
        with ProcessPoolExecutor(min(workers, len(todo)), mp_context=ctx) as pool:
            for _, error in pool.map(_index_one, todo):
                if error:
                    path, message, member = error
                    raise InputFormatError(path, message, member=member)
    return [set_index(a) for a in archives]
