"""The partition store: every shard partition's committed generation, its manifest, its one writer.

    <store>/<partition>/
        .lock                     held (fcntl) by the one process writing this partition
        manifest.json             the committed generation: replacing this file is the commit
        gen-<token>/              a generation: <split>/shard-<partition>-NNNNNN.tar,
                                  samples.parquet (one row per written sample), manifest.json

A run writes a new generation beside the committed one, checks it, hashes it and commits it by
renaming one file over ``manifest.json``. A kill at any instant leaves the old manifest (and the
old generation, untouched) or the new one: never a mix. Generations the manifest does not name are
garbage of an interrupted run (or the previous generation) and are removed by the next writer, which
holds the lock. Published releases hold hard links to the shard files, so removing a generation
never changes a published file. No Dagster imports.
"""

from __future__ import annotations

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
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterator

from tol10m_assets.faults import fault_point
from tol10m_assets.shards.tarfiles import check_partition

MANIFEST = "manifest.json"
SAMPLES_TABLE = "samples.parquet"
LOCK = ".lock"
GENERATION_PREFIX = "gen-"
MANIFEST_FORMAT = 1
HASH_CHUNK = 8 << 20


class PartitionLocked(RuntimeError):
    """Another process is writing this partition; the message names it."""


class ManifestError(RuntimeError):
    """A committed manifest that does not match the files it names."""


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
    with open(tmp, "w") as handle:
        handle.write(json.dumps(obj, indent=2, sort_keys=True) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
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
        """Remove every generation the manifest does not name (call with the lock held)."""
        folder = self.folder(partition)
        manifest = self.read_manifest(partition)
        keep = manifest["generation"] if manifest else None
        removed = []
        if folder.is_dir():
            for entry in sorted(folder.iterdir()):
                if entry.name.startswith(GENERATION_PREFIX) and entry.name != keep and entry.is_dir():
                    shutil.rmtree(entry)
                    removed.append(entry.name)
        return removed

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
        write_json_durable(manifest, self.manifest_path(partition))
        fault_point("partition.committed")
        self.remove_uncommitted(partition)
        fault_point("partition.old-removed")
        return manifest


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
