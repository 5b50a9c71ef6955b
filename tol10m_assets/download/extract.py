"""Safe extraction: archive member names never choose where a file lands outside its destination
(no ``..``, no absolute paths, no links). Tars use the ``data`` filter; zips are checked by hand."""

from __future__ import annotations

import os
import tarfile
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath


class UnsafeArchive(ValueError):
    """An archive member that would escape its destination, or a link."""


def check_member_name(archive: Path, name: str) -> PurePosixPath:
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise UnsafeArchive(f"{archive}: member {name!r} would be written outside the destination")
    return path


def extract_tar(archive: Path, dest: Path) -> int:
    """Extract a tar(.gz) with the ``data`` filter and explicit name checks; returns files written."""
    dest.mkdir(parents=True, exist_ok=True)
    count = 0
    with tarfile.open(archive, "r:*") as tar:
        for member in tar:
            check_member_name(archive, member.name)
            if member.issym() or member.islnk():
                raise UnsafeArchive(f"{archive}: member {member.name!r} is a link")
            tar.extract(member, dest, filter="data")
            count += member.isfile()
    return count


def _zip_file_members(archive: Path, zf: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    members = []
    for info in zf.infolist():
        check_member_name(archive, info.filename)
        mode = info.external_attr >> 16
        if mode and (mode & 0o170000) == 0o120000:
            raise UnsafeArchive(f"{archive}: member {info.filename!r} is a symbolic link")
        if not info.is_dir():
            members.append(info)
    return members


def _extract_group(archive: Path, dest: Path, names: list[str]) -> int:
    with zipfile.ZipFile(archive) as zf:
        for name in names:
            target = dest / check_member_name(archive, name)
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.tmp")
            with zf.open(name) as src, open(tmp, "wb") as out:
                while block := src.read(1 << 20):
                    out.write(block)
            os.replace(tmp, target)
    return len(names)


def extract_zip(archive: Path, dest: Path, *, workers: int = 4, group_depth: int = 1) -> int:
    """Extract a zip, one group per top-level folder (BIOSCAN's ``partN/``) in parallel."""
    dest.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(archive) as zf:
        members = _zip_file_members(archive, zf)
    groups: dict[str, list[str]] = {}
    for info in members:
        parts = PurePosixPath(info.filename).parts
        groups.setdefault("/".join(parts[:group_depth]) if len(parts) > group_depth else "", []).append(info.filename)
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        return sum(pool.map(lambda names: _extract_group(archive, dest, names), groups.values()))


def count_files(root: Path, suffix: str = "") -> int:
    return sum(1 for _, _, files in os.walk(root) for f in files if f.endswith(suffix) and not f.startswith("."))
