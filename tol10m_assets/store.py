"""The partition store: every shard partition's committed generation, its manifest, its one writer.

    <store>/<partition>/
        .lock                     held (fcntl) by the one process writing this partition
        manifest.json             the committed generation: replacing this file is the commit
        gen-<token>/              a generation: <split>/shard-<partition>-NNNNNN.tar,
                                  samples.parquet (one row per written sample), manifest.json

        DAMAGED                   why the partition cannot be trusted (written when that is found;
                                  removed by the next commit, which heals it)
        .readers                  held shared (fcntl) by every release that reads the partition: a
                                  commit waits for them, so a generation never vanishes under a reader

A run writes a new generation beside the committed one, checks it, hashes it and commits it by
renaming one file over ``manifest.json``. A kill at any instant leaves the old manifest (and the
old generation, untouched) or the new one: never a mix. Generations the manifest does not name are
garbage of an interrupted run (or the previous generation) and are removed by the next writer, which
holds the lock. Published releases hold hard links to the shard files, so removing a generation
never changes a published file. No Dagster imports.
"""

from __future__ import annotations

import collections
import contextlib
import datetime as dt
import errno
import fcntl
import hashlib
import json
import os
import secrets
import shutil
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterator

from tol10m_assets.faults import fault_point
from tol10m_assets.shards.tarfiles import check_partition

MANIFEST = "manifest.json"
SAMPLES_TABLE = "samples.parquet"
LOCK = ".lock"
GENERATION_PREFIX = "gen-"
READERS = ".readers"
DAMAGED = "DAMAGED"
TEMP_MANIFESTS = f".{MANIFEST}.tmp-*"
MANIFEST_FORMAT = 1
HASH_CHUNK = 8 << 20
FREE_BYTES_ENV = "TOL10M_FREE_BYTES"  # tests: pretend the file system has this many bytes free
READER_WAIT_S = 6 * 3600  # how long a commit waits for the releases reading the partition


class PartitionLocked(RuntimeError):
    """Another process is writing this partition; the message names it."""


class ManifestError(RuntimeError):
    """A committed manifest that does not match the files it names."""


class DiskFull(OSError):
    """Not enough free space for what is about to be written; names the file system."""


def mount_of(path: Path) -> Path:
    """The mount point holding ``path`` (for messages)."""
    path = Path(os.path.abspath(path))
    while not path.exists():
        path = path.parent
    while not os.path.ismount(path):
        path = path.parent
    return path


def free_bytes(folder: Path) -> int:
    """Free bytes of the file system holding ``folder`` (``TOL10M_FREE_BYTES`` overrides, for tests)."""
    forced = os.environ.get(FREE_BYTES_ENV)
    if forced:
        return int(forced)
    folder = Path(folder)
    while not folder.exists():
        folder = folder.parent
    return shutil.disk_usage(folder).free


def human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n} B"  # pragma: no cover


def disk_full(folder: Path, what: str, need: int | None = None, free: int | None = None) -> DiskFull:
    free = free_bytes(folder) if free is None else free
    needs = f", {what} needs about {human(need)}" if need is not None else f" while writing {what}"
    return DiskFull(
        errno.ENOSPC,
        f"not enough free space on the file system mounted at {mount_of(folder)} (for {folder}): {human(free)} free"
        f"{needs}; free space there (or point data_root at a larger file system) and run again: the next run "
        "removes what this one left",
    )


def ensure_free(folder: Path, need: int, what: str) -> None:
    """Fail before writing when the file system of ``folder`` has less than ``need`` bytes free."""
    free = free_bytes(folder)
    if free < need:
        raise disk_full(folder, what, need, free)


def is_enospc(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)


def check_passed(manifest: dict | None) -> bool:
    """Whether a committed generation passed ``check_wds`` (recorded in its manifest at commit). Manifests
    written before the record existed count as passed: a commit has always required a passing check."""
    if manifest is None:
        return False
    check = manifest.get("check") or {}
    return check.get("passed", "name" not in check) is True


def fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_json_durable(obj, path: Path) -> None:
    """Write JSON to a unique temporary file, fsync it, rename it over ``path``, fsync the folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")
    try:
        with open(tmp, "w") as handle:
            handle.write(json.dumps(obj, indent=2, sort_keys=True) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if is_enospc(exc):
            raise disk_full(path.parent, str(path)) from exc
        raise
    fsync_dir(path.parent)


def sha256_file(path: Path) -> tuple[int, str]:
    """(size, sha256 hex) of a file, read in large chunks (hashlib releases the GIL on them)."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(HASH_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def hash_files(paths: list[Path], workers: int = 4) -> list[tuple[int, str]]:
    """``sha256_file`` of every path, in parallel threads, in input order."""
    if len(paths) <= 1 or workers <= 1:
        return [sha256_file(p) for p in paths]
    with ThreadPoolExecutor(min(workers, len(paths))) as pool:
        return list(pool.map(sha256_file, paths))


_HELD: set[str] = set()  # fcntl locks belong to the process: refuse a second holder in this one
_HELD_GUARD = threading.Lock()


@contextlib.contextmanager
def exclusive(path: Path, owner: dict, what: str) -> Iterator[None]:
    """Hold an exclusive lock on ``path``, or raise :class:`PartitionLocked` naming the holder.

    An fcntl lock: the kernel (or the NFS lock manager) releases it when the holder dies, so a
    killed run never blocks the next one. ``owner`` (e.g. the Dagster run id) is written into the
    lock file for the message a second writer gets.
    """
    key = str(Path(path).resolve())
    with _HELD_GUARD:
        if key in _HELD:
            raise PartitionLocked(f"{what} is already being written by this process")
        _HELD.add(key)
    fd = None
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EACCES, errno.EAGAIN):
                raise
            holder = os.pread(fd, 4096, 0).decode("utf-8", "replace").strip() or "{}"
            try:
                described = ", ".join(f"{k} {v}" for k, v in json.loads(holder).items())
            except ValueError:
                described = holder
            raise PartitionLocked(
                f"{what} is being written by another run ({described}); wait for it to finish, or cancel it "
                f"(lock file {path})"
            ) from None
        info = {**owner, "host": socket.gethostname(), "pid": os.getpid(), "since": _now()}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info, sort_keys=True).encode(), 0)
        yield
    finally:
        if fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            os.close(fd)  # releases the fcntl lock
        with _HELD_GUARD:
            _HELD.discard(key)



_READING: collections.Counter = collections.Counter()  # this process's shared holds (fcntl cannot tell)


@contextlib.contextmanager
def shared(path: Path, what: str, timeout: float = READER_WAIT_S) -> Iterator[None]:
    """Hold a shared lock on ``path`` (many readers at once); waits while a writer holds it."""
    key = str(Path(path).resolve())
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        _wait_lock(fd, fcntl.LOCK_SH, timeout, lambda: f"{what}: a commit holds {path}")
        with _HELD_GUARD:
            _READING[key] += 1
        try:
            yield
        finally:
            with _HELD_GUARD:
                _READING[key] -= 1
    finally:
        os.close(fd)


@contextlib.contextmanager
def excluding_readers(path: Path, what: str, timeout: float = READER_WAIT_S) -> Iterator[None]:
    """Hold ``path`` exclusively: wait until no reader (a release) holds it shared."""
    key = str(Path(path).resolve())
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout
        while True:
            with _HELD_GUARD:
                busy = _READING[key] > 0
            if not busy:
                break
            if time.monotonic() > deadline:
                raise PartitionLocked(f"{what}: a release of this process is still reading it after {timeout:.0f} s")
            time.sleep(0.2)
        _wait_lock(fd, fcntl.LOCK_EX, timeout, lambda: f"{what}: a release is still reading it after {timeout:.0f} s "
                   "(wait for it, or cancel it)")
        yield
    finally:
        os.close(fd)


def _wait_lock(fd: int, kind: int, timeout: float, message) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.lockf(fd, kind | fcntl.LOCK_NB)
            return
        except OSError as exc:
            if exc.errno not in (errno.EACCES, errno.EAGAIN):
                raise
        if time.monotonic() > deadline:
            raise PartitionLocked(message())
        time.sleep(0.2)


class PartitionStore:
    """The store folder of one image size (``<data root>/store/<W>x<H>``)."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def folder(self, partition: str) -> Path:
        return self.root / check_partition(partition)

    def manifest_path(self, partition: str) -> Path:
        return self.folder(partition) / MANIFEST

    def read_manifest(self, partition: str) -> dict | None:
        """The committed manifest, or None when the partition was never committed."""
        path = self.manifest_path(partition)
        try:
            return json.loads(path.read_text())
        except FileNotFoundError:
            return None
        except (ValueError, OSError) as exc:
            raise ManifestError(f"{path}: unreadable manifest ({exc})") from None

    def damaged_reason(self, partition: str) -> str | None:
        """Why the partition is marked damaged (by a check that found it so), or None."""
        try:
            return json.loads((self.folder(partition) / DAMAGED).read_text()).get("reason") or "damaged"
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return "damaged (unreadable DAMAGED marker)"

    def mark_damaged(self, partition: str, reason: str) -> None:
        """Record that the partition's committed files cannot be trusted (its next commit heals it)."""
        with contextlib.suppress(OSError):
            write_json_durable({"reason": reason, "since": _now()}, self.folder(partition) / DAMAGED)

    def problems(self, partition: str, *, hash_shards: bool = False) -> list[str]:
        """What is wrong with the committed generation: an unreadable manifest, a file of it missing or
        different from its manifest (sizes; sha256 of the small files always, of the shards if asked)."""
        try:
            manifest = self.read_manifest(partition)
        except ManifestError as exc:
            return [str(exc)]
        if manifest is None:
            return []
        try:
            gen = self.generation_dir(partition, manifest)
            files = [(gen / name, rec) for name, rec in sorted(manifest.get("files", {}).items())]
            shards = [(gen / s["split"] / s["name"], s) for s in manifest["shards"]]
        except (KeyError, TypeError) as exc:
            return [f"{self.manifest_path(partition)}: manifest without {exc} (damaged)"]
        out = []
        for path, rec in files + shards:
            if not path.is_file():
                out.append(f"{path} named by the manifest is missing")
                continue
            size = path.stat().st_size
            if size != rec["bytes"]:
                out.append(f"{path} has {size} bytes, its manifest says {rec['bytes']}")
            elif (hash_shards or (path, rec) in files) and sha256_file(path)[1] != rec["sha256"]:
                out.append(f"{path} does not match the sha256 in its manifest (changed after it was written)")
        return out

    def status(self, partition: str) -> str:
        """``committed``, ``damaged: <reason>`` or ``never committed`` (cheap: the small files hashed)."""
        reason = self.damaged_reason(partition)
        if reason:
            return f"damaged: {reason}"
        problems = self.problems(partition)
        if problems:
            return f"damaged: {problems[0]}"
        return "committed" if self.manifest_path(partition).is_file() else "never committed"

    def committed_partitions(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if (p / MANIFEST).is_file())

    def generation_dir(self, partition: str, manifest: dict) -> Path:
        return self.folder(partition) / manifest["generation"]

    def shard_files(self, partition: str, manifest: dict) -> list[Path]:
        gen = self.generation_dir(partition, manifest)
        return [gen / shard["split"] / shard["name"] for shard in manifest["shards"]]

    # --- the one writer --------------------------------------------------------------------

    @contextlib.contextmanager
    def lock(self, partition: str, owner: dict):
        """Hold this partition's writer lock, or raise :class:`PartitionLocked` naming the holder. A run that
        raises (a failure, Ctrl-C, SIGTERM) removes its uncommitted generation before the lock is released."""
        folder = self.folder(partition)
        folder.mkdir(parents=True, exist_ok=True)
        with exclusive(folder / LOCK, owner, f"partition {partition}"):
            try:
                yield
            except BaseException:
                with contextlib.suppress(Exception):
                    self.remove_uncommitted(partition)
                raise

    def remove_uncommitted(self, partition: str) -> list[str]:
        """Remove every generation the manifest does not name, and temporary manifests of killed runs
        (call with the lock held). An unreadable manifest commits nothing: it is set aside as
        ``.manifest.json.damaged`` and every generation goes (a fresh one is built)."""
        folder = self.folder(partition)
        removed = []
        try:
            manifest = self.read_manifest(partition)
        except ManifestError:
            os.replace(self.manifest_path(partition), folder / f".{MANIFEST}.damaged")
            removed.append(MANIFEST)
            manifest = None
        keep = manifest.get("generation") if isinstance(manifest, dict) else None
        if folder.is_dir():
            for entry in sorted(folder.iterdir()):
                if entry.name.startswith(GENERATION_PREFIX) and entry.name != keep and entry.is_dir():
                    shutil.rmtree(entry)
                    removed.append(entry.name)
            for temp in sorted(folder.glob(TEMP_MANIFESTS)):
                temp.unlink(missing_ok=True)
                removed.append(temp.name)
        return removed

    def reading(self, partition: str):
        """Hold the partition for reading (a release): its commit waits until this is released."""
        folder = self.folder(partition)
        folder.mkdir(parents=True, exist_ok=True)
        return shared(folder / READERS, f"partition {partition}")

    def new_generation(self, partition: str, token: str | None = None) -> Path:
        """A fresh, empty generation folder (call with the lock held)."""
        token = token or secrets.token_hex(6)
        if not token.replace("-", "").isalnum():
            raise ValueError(f"invalid generation token {token!r}")
        gen = self.folder(partition) / f"{GENERATION_PREFIX}{token}"
        gen.mkdir(parents=True)
        return gen

    def commit(self, partition: str, generation: Path, manifest: dict) -> dict:
        """Make ``generation`` the partition's committed state (call with the lock held).

        The generation's own manifest is written first (fsync'd), then one rename over the
        partition's ``manifest.json`` commits; the previous generation is removed after that.
        """
        manifest = {**manifest, "format": MANIFEST_FORMAT, "partition": partition, "generation": generation.name,
                    "committed": _now()}
        for shard in manifest["shards"]:
            fsync_dir(generation / shard["split"])
        write_json_durable(manifest, generation / MANIFEST)
        fault_point("partition.manifest-staged")
        with excluding_readers(self.folder(partition) / READERS, f"partition {partition}"):
            write_json_durable(manifest, self.manifest_path(partition))
            fault_point("partition.committed")
            (self.folder(partition) / DAMAGED).unlink(missing_ok=True)
            self.remove_uncommitted(partition)
            fault_point("partition.old-removed")
        return manifest


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
