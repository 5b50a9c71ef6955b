"""Safe extraction: member names never choose where a file lands outside its destination.

Every member name is checked (no ``..``, no absolute or drive paths, no NUL); links (symbolic or
hard) and device files are refused — the raw sources have none, so one is a sign of a bad archive.
Tars are extracted with ``tarfile``'s ``data`` filter on top of these checks; zips by hand, in
parallel by top-level group (BIOSCAN's ``partN/``). Extraction goes to a hidden staging folder
beside the destination, the files are counted (and checked against an expected number), and only
then is the staging folder renamed into place — an interrupted or failed extraction never leaves a
half-filled destination, and a previous good copy is replaced only by a complete one.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import tarfile
import threading
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath
from typing import Callable

from tol10m_assets.download.verify import CHUNK, CountMismatch, check_count, count_files


class UnsafeArchive(ValueError):
    """An archive member that would escape its destination, a link, or a device file."""


def check_member_name(archive: Path, name: str) -> PurePosixPath:
    """The member's relative path, or :class:`UnsafeArchive`."""
    clean = name.replace("\\", "/")
    path = PurePosixPath(clean)
    if (not clean or "\0" in clean or clean.startswith("/") or path.is_absolute() or ".." in path.parts
            or re.match(r"^[A-Za-z]:", clean)):
        raise UnsafeArchive(f"{archive}: member {name!r} would be written outside the destination; refusing the archive")
    return PurePosixPath(*[p for p in path.parts if p not in ("", ".")]) if path.parts else path


def _strip(path: PurePosixPath, strip: str | re.Pattern | None) -> PurePosixPath | None:
    """Drop the leading components up to ``strip`` (a name: drop through it; a pattern: keep from it)."""
    if strip is None:
        return path
    parts = path.parts
    if isinstance(strip, str):
        return PurePosixPath(*parts[1:]) if parts and parts[0] == strip and len(parts) > 1 else None
    for i, part in enumerate(parts):
        if strip.fullmatch(part):
            return PurePosixPath(*parts[i:])
    return None


def staging_dir(dest: Path) -> Path:
    return dest.with_name(f".{dest.name}.extracting")


def promote(staging: Path, dest: Path) -> None:
    """Replace ``dest`` by the complete ``staging`` folder (the old copy is removed only afterwards)."""
    old = dest.with_name(f".{dest.name}.old")
    if old.exists():
        shutil.rmtree(old)
    if dest.exists():
        os.replace(dest, old)
    os.replace(staging, dest)
    if old.exists():
        shutil.rmtree(old)


def _fresh_staging(dest: Path) -> Path:
    staging = staging_dir(dest)
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    return staging


def extract_tar(archive: Path, dest: Path, *, strip: str | None = None, expected_files: int | None = None,
                count_setting: str = "", log: Callable[[str], None] | None = None, log_every: int = 100_000) -> int:
    """Extract a tar(.gz) into ``dest`` (replacing it only when complete); returns the files written.

    ``strip``: a leading folder to drop (``"train"`` puts ``train/x/y.jpg`` at ``dest/x/y.jpg``);
    members outside it are skipped. ``expected_files``: the number of files the archive must hold.
    """
    archive, dest = Path(archive), Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = _fresh_staging(dest)
    written = skipped = 0
    try:
        written, skipped = _extract_tar_members(archive, staging, strip, log, log_every)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if skipped and log:
        log(f"{archive.name}: {skipped} files outside {strip}/ skipped")
    return _finish(archive, staging, dest, expected_files, count_setting)


def _extract_tar_members(archive: Path, staging: Path, strip, log, log_every: int) -> tuple[int, int]:
    written = skipped = 0
    with tarfile.open(archive, "r:*") as tar:
        for member in tar:
            rel = check_member_name(archive, member.name)
            if member.issym() or member.islnk():
                raise UnsafeArchive(f"{archive}: member {member.name!r} is a link (to {member.linkname!r}); refusing the archive")
            if not (member.isfile() or member.isdir()):
                raise UnsafeArchive(f"{archive}: member {member.name!r} is a device or special file; refusing the archive")
            target = _strip(rel, strip)
            if target is None or not target.parts:
                skipped += member.isfile()
                continue
            member = member.replace(name=target.as_posix(), deep=False)
            tar.extract(member, staging, filter="data")
            if member.isfile():
                written += 1
                if log and written % log_every == 0:
                    log(f"{archive.name}: {written} files extracted")
    return written, skipped


def _finish(archive: Path, staging: Path, dest: Path, expected_files: int | None, count_setting: str) -> int:
    """Count, check and promote; a count mismatch leaves the staging folder for inspection."""
    found = count_files(staging)
    try:
        check_count(found, expected_files, f"{archive} extracted", count_setting)
    except CountMismatch as exc:
        raise CountMismatch(f"{exc}; nothing was replaced, the extracted files are in {staging}") from None
    promote(staging, dest)
    return found


def _zip_members(archive: Path, zf: zipfile.ZipFile, strip) -> list[tuple[zipfile.ZipInfo, PurePosixPath]]:
    members, seen = [], set()
    for info in zf.infolist():
        rel = check_member_name(archive, info.filename)
        kind = stat.S_IFMT(info.external_attr >> 16)
        if kind == stat.S_IFLNK:
            raise UnsafeArchive(f"{archive}: member {info.filename!r} is a symbolic link; refusing the archive")
        if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
            raise UnsafeArchive(f"{archive}: member {info.filename!r} is a device or special file; refusing the archive")
        if info.is_dir():
            continue
        target = _strip(rel, strip)
        if target is None or not target.parts or target.name.startswith("."):
            continue
        if target in seen:
            raise UnsafeArchive(f"{archive}: two members land on {target}; refusing the archive")
        seen.add(target)
        members.append((info, target))
    return members


def extract_zip(archive: Path, dest: Path, *, strip: str | re.Pattern | None = None, workers: int = 4, group_depth: int = 1,
                expected_files: int | None = None, count_setting: str = "", log: Callable[[str], None] | None = None,
                log_every: int = 100_000) -> int:
    """Extract a zip into ``dest`` (replacing it only when complete), groups in parallel; returns files written.

    ``strip``: a folder name to drop, or a pattern of the component to keep from
    (``re.compile(r"part\\d+")`` puts ``bioscan/images/cropped_256/part7/a.jpg`` at ``dest/part7/a.jpg``).
    Members are grouped by their first ``group_depth`` components after stripping (BIOSCAN: one
    group per part) and the groups are extracted by ``workers`` threads, each with its own handle.
    """
    archive, dest = Path(archive), Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(archive) as zf:
        members = _zip_members(archive, zf, strip)
    groups: dict[str, list[tuple[str, PurePosixPath]]] = {}
    for info, target in members:
        key = "/".join(target.parts[:group_depth]) if len(target.parts) > group_depth else ""
        groups.setdefault(key, []).append((info.filename, target))
    staging = _fresh_staging(dest)
    lock = threading.Lock()
    done = [0]

    def extract_group(items: list[tuple[str, PurePosixPath]]) -> int:
        with zipfile.ZipFile(archive) as zf:
            for name, target in items:
                out_path = staging.joinpath(*target.parts)
                out_path.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(name) as src, open(out_path, "wb") as out:
                    while block := src.read(CHUNK):
                        out.write(block)
                with lock:
                    done[0] += 1
                    if log and done[0] % log_every == 0:
                        log(f"{archive.name}: {done[0]} of {len(members)} files extracted")
        return len(items)

    try:
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            list(pool.map(extract_group, groups.values()))
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return _finish(archive, staging, dest, expected_files, count_setting)


def extract_members(archive: Path, wanted: dict[str, Path]) -> dict[str, Path]:
    """Copy the zip members whose *base name* is a key of ``wanted`` to the given paths (atomically).

    Raises ``KeyError`` naming what the archive lacks.
    """
    archive = Path(archive)
    found: dict[str, Path] = {}
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            rel = check_member_name(archive, info.filename)
            if info.is_dir() or rel.name not in wanted or rel.name in found:
                continue
            target = Path(wanted[rel.name])
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.tmp")
            with zf.open(info) as src, open(tmp, "wb") as out:
                shutil.copyfileobj(src, out, CHUNK)
            os.replace(tmp, target)
            found[rel.name] = target
    missing = sorted(set(wanted) - set(found))
    if missing:
        raise KeyError(f"{archive} has no {', '.join(missing)}")
    return found


__all__ = ["UnsafeArchive", "check_member_name", "count_files", "extract_members", "extract_tar", "extract_zip", "promote"]
