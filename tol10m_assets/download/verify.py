"""Verification of downloaded files: sizes, checksums, file counts, and the ``.verified.json`` record.

A verified file ``<name>`` has a sidecar ``<name>.verified.json`` with its size, SHA-256, mtime and
source; a later call trusts the file while its size and mtime still match the record (no
re-hashing of 30 GB archives). A file that fails verification is moved to ``<name>.corrupt`` and a
:class:`VerificationError` is raised: nothing good is overwritten, the bad bytes stay for inspection.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

CHUNK = 1 << 20


class DownloadError(RuntimeError):
    """A download that cannot complete; the message names the URL and what to change."""


class RemoteMissing(DownloadError):
    """The source does not have the file (HTTP 404, Hugging Face EntryNotFound, absent from a mirror)."""


class VerificationError(DownloadError):
    """Bytes that are not what the source published (size or checksum)."""


class CountMismatch(VerificationError):
    """An extracted archive with another number of files than expected."""


def sidecar(path: Path) -> Path:
    path = Path(path)
    return path.with_name(path.name + ".verified.json")


def corrupt_path(path: Path) -> Path:
    path = Path(path)
    return path.with_name(path.name + ".corrupt")


class Hasher:
    """SHA-256 (always) and MD5 (when a source publishes one) of a byte stream."""

    def __init__(self, md5: bool = False):
        self.sha256 = hashlib.sha256()
        self.md5 = hashlib.md5(usedforsecurity=False) if md5 else None
        self.count = 0

    def update(self, block: bytes) -> None:
        self.sha256.update(block)
        if self.md5 is not None:
            self.md5.update(block)
        self.count += len(block)

    def update_from_file(self, path: Path, limit: int | None = None) -> "Hasher":
        remaining = limit
        with open(path, "rb") as f:
            while remaining is None or remaining > 0:
                block = f.read(CHUNK if remaining is None else min(CHUNK, remaining))
                if not block:
                    break
                self.update(block)
                if remaining is not None:
                    remaining -= len(block)
        return self

    def digests(self) -> dict:
        out = {"bytes": self.count, "sha256": self.sha256.hexdigest()}
        if self.md5 is not None:
            out["md5"] = self.md5.hexdigest()
        return out


def digest_file(path: Path, md5: bool = False) -> dict:
    return Hasher(md5).update_from_file(path).digests()


def sha256_of(path: Path) -> str:
    return digest_file(path)["sha256"]


def git_blob_sha1(path: Path) -> str:
    """The git object id of a file (what the Hugging Face hub reports as ETag for non-LFS files)."""
    h = hashlib.sha1(usedforsecurity=False)
    h.update(f"blob {Path(path).stat().st_size}\0".encode())
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


@dataclass
class Expected:
    """What a source publishes about a file; ``None`` = unknown."""

    size: int | None = None
    sha256: str | None = None
    md5: str | None = None
    git_sha1: str | None = None
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        self.sha256 = self.sha256.lower() if self.sha256 else None
        self.md5 = self.md5.lower() if self.md5 else None
        self.git_sha1 = self.git_sha1.lower() if self.git_sha1 else None

    def problem(self, digests: dict, path: Path | None = None) -> str | None:
        """A sentence saying what does not match, or ``None``."""
        if self.size is not None and digests["bytes"] != self.size:
            return f"{digests['bytes']} bytes, expected {self.size}"
        if self.sha256 and digests.get("sha256") != self.sha256:
            return f"SHA-256 {digests.get('sha256')}, expected {self.sha256}"
        if self.md5 and digests.get("md5") != self.md5:
            return f"MD5 {digests.get('md5')}, expected {self.md5}"
        if self.git_sha1 and path is not None:
            got = git_blob_sha1(path)
            if got != self.git_sha1:
                return f"git blob id {got}, expected {self.git_sha1}"
        return None

    def checksum_names(self) -> list[str]:
        return [n for n in ("sha256", "md5", "git_sha1") if getattr(self, n)]


def quarantine(path: Path, source: str, problem: str, hint: str = "") -> VerificationError:
    """Move ``path`` to ``<name>.corrupt`` (replacing an older one) and return the error to raise."""
    path = Path(path)
    target = corrupt_path(path.with_name(path.name.removesuffix(".part")))
    os.replace(path, target)
    message = f"{source}: {problem}; the bytes are kept as {target} for inspection"
    return VerificationError(message + (f". {hint}" if hint else ""))


def read_record(path: Path) -> dict | None:
    try:
        return json.loads(sidecar(path).read_text())
    except (OSError, ValueError):
        return None


def write_record(path: Path, digests: dict, source: str, /, **extra) -> dict:
    """Record a verified file (atomically): its size, checksums, mtime, source and ``extra``."""
    path = Path(path)
    stat = path.stat()
    record = {**digests, "bytes": stat.st_size, "mtime_ns": stat.st_mtime_ns, "source": source,
              "verified_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **extra}
    tmp = sidecar(path).with_name(f".{sidecar(path).name}.tmp")
    tmp.write_text(json.dumps(record, indent=1, sort_keys=True))
    os.replace(tmp, sidecar(path))
    return record


def drop_record(path: Path) -> None:
    sidecar(path).unlink(missing_ok=True)


def verified_record(path: Path, expected: Expected | None = None) -> dict | None:
    """The record of ``path`` if the file is still the one verified and agrees with ``expected``.

    A checksum the record lacks (``expected`` asks for MD5, the record has only SHA-256) is computed
    on the file once and added to the record.
    """
    path = Path(path)
    record = read_record(path)
    if record is None or not path.is_file():
        return None
    stat = path.stat()
    if record.get("bytes") != stat.st_size or record.get("mtime_ns", stat.st_mtime_ns) != stat.st_mtime_ns:
        return None
    if expected is None:
        return record
    if expected.size is not None and record["bytes"] != expected.size:
        return None
    missing = [n for n in ("sha256", "md5") if getattr(expected, n) and n not in record]
    if missing:
        record.update(digest_file(path, md5="md5" in missing))
    if expected.git_sha1 and record.get("git_sha1") != expected.git_sha1:
        record["git_sha1"] = git_blob_sha1(path)
        missing.append("git_sha1")
    for name in ("sha256", "md5", "git_sha1"):
        want = getattr(expected, name)
        if want and record.get(name) != want:
            return None
    if missing:
        extra = {k: v for k, v in record.items() if k not in ("bytes", "mtime_ns", "verified_at", "source")}
        record = write_record(path, extra, record.get("source", ""))
    return record


def count_files(root: Path, suffix: str = "") -> int:
    """Regular files under ``root`` (hidden names excluded), optionally only those ending in ``suffix``."""
    total = 0
    for dirpath, dirnames, files in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        total += sum(1 for f in files if f.endswith(suffix) and not f.startswith("."))
    return total


def check_count(found: int, expected: int | None, where: str, setting: str = "") -> None:
    """Raise :class:`CountMismatch` unless ``found == expected`` (``None`` or 0 = not checked)."""
    if expected and found != expected:
        how = f"; if the source really changed, set `{setting}`" if setting else ""
        raise CountMismatch(f"{where}: {found} files, expected {expected}{how}")
