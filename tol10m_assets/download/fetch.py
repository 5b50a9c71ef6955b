"""What each download asset does, without Dagster: fetch (HF or HTTP or mirror), verify, extract.

Every function takes the :class:`Settings`, the :class:`~tol10m_assets.layout.SourceLayout` of the
sources root, the root itself and a ``log`` callable, writes into the layout and returns a
:class:`Fetched` report (files with sizes and checksums, extracted counts, skipped optional files).
A second call after success is a no-op unless ``settings.force``.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from tol10m_assets.download import sources as S
from tol10m_assets.download.extract import extract_members, extract_tar, extract_zip
from tol10m_assets.download.hf import hf_download
from tol10m_assets.download.http import DownloadResult, download
from tol10m_assets.download.mirror import mirror_checksums, mirror_location
from tol10m_assets.download.verify import (
    DownloadError,
    Expected,
    RemoteMissing,
    VerificationError,
    count_files,
    quarantine,
    read_record,
)
from tol10m_assets.layout import SourceLayout

Log = Callable[[str], None]


@dataclass
class Settings:
    """Where downloads come from and how (the Dagster ``DownloadSettings`` resource maps onto this)."""

    hf_repo: str = S.HF_REPO
    hf_revision: str = S.HF_REVISION
    hf_repo_type: str = S.HF_REPO_TYPE
    hf_endpoint: str = ""  # empty: HF_ENDPOINT, else huggingface_hub's default
    hf_backend: str = "resumable"  # or "hub" (hf_hub_download)
    urls: dict[str, str] = field(default_factory=dict)  # key -> URL; missing/empty keys use sources.DEFAULT_URLS
    mirror_dir: str = ""  # a folder / file:// / http(s):// base standing in for every remote
    force: bool = False
    retries: int = 5
    backoff_seconds: float = 2.0
    timeout_seconds: float = 60.0
    progress_seconds: float = 30.0
    extract_workers: int = 8
    keep_archives: bool = True
    bioscan_file_count: int = S.BIOSCAN_FILE_COUNT  # 0 = not checked
    inat21_file_count: int = S.INAT21_FILE_COUNT  # 0 = not checked

    def url(self, key: str) -> str:
        """The URL of HTTP source ``key``: in the mirror, else the setting, else the default."""
        remote = S.HTTP_FILES[key]
        if self.mirror_dir:
            return mirror_location(self.mirror_dir, remote.mirror_name)
        value = self.urls.get(key) or remote.default_url
        if not value:
            raise DownloadError(f"`{remote.setting}` is not set: give the URL of {remote.description}, or a `downloads.mirror_dir`")
        return value

    def transfer_options(self, log: Log | None) -> dict:
        return {"force": self.force, "retries": self.retries, "backoff": self.backoff_seconds,
                "timeout": self.timeout_seconds, "log": log, "progress_every": self.progress_seconds}


@dataclass
class Fetched:
    files: list[DownloadResult] = field(default_factory=list)
    extracted: dict[str, int] = field(default_factory=dict)  # folder -> files
    skipped: list[str] = field(default_factory=list)  # optional files the source lacks
    notes: dict = field(default_factory=dict)

    @property
    def bytes(self) -> int:
        return sum(r.bytes for r in self.files)

    @property
    def fetched(self) -> int:
        return sum(r.fetched for r in self.files)

    def summary(self) -> dict:
        return {
            "files": {r.path.name: {"path": str(r.path), "bytes": r.bytes, "sha256": r.sha256, "fetched": r.fetched,
                                    "seconds": round(r.seconds, 3), "resumed_from": r.resumed_from} for r in self.files},
            "bytes": self.bytes,
            "fetched": self.fetched,
            "extracted": dict(self.extracted),
            "skipped": list(self.skipped),
            **self.notes,
        }


# --- Hugging Face files -----------------------------------------------------------------------

def fetch_hub_file(settings: Settings, path: str, dest: Path, log: Log | None = None) -> DownloadResult:
    """One file of the repository into ``dest``: from the mirror when set, else from the hub."""
    if settings.mirror_dir:
        sums = mirror_checksums(settings.mirror_dir)
        return download(mirror_location(settings.mirror_dir, path), dest, expected=Expected(sha256=sums.get(path)),
                        setting="downloads.mirror_dir", record={"repo": settings.hf_repo, "path": path, "mirror": settings.mirror_dir},
                        **settings.transfer_options(log))
    return hf_download(settings.hf_repo, path, settings.hf_revision, dest, repo_type=settings.hf_repo_type,
                       endpoint=settings.hf_endpoint or None, backend=settings.hf_backend, **settings.transfer_options(log))


def fetch_eol_image_set(settings: Settings, layout: SourceLayout, nn: str, log: Log | None = None) -> Fetched:
    """``dataset/EOL/image_set_NN.tar.gz`` → ``layout.eol_published_images/image_set_NN.tar.gz``."""
    path = S.eol_set_path(nn)
    result = fetch_hub_file(settings, path, layout.eol_published_images / Path(path).name, log)
    return Fetched(files=[result], notes={"image_set": nn})


def fetch_tol_metadata(settings: Settings, layout: SourceLayout, root: Path, log: Log | None = None) -> Fetched:
    """The published metadata files into their layout places (optional naming JSONs skipped when absent)."""
    out = Fetched()
    for item in S.HF_METADATA:
        try:
            out.files.append(fetch_hub_file(settings, item.path, item.destination(layout, root), log))
        except RemoteMissing as exc:
            if item.required:
                raise
            out.skipped.append(item.path)
            if log:
                log(f"{item.path} is not available ({exc}); skipped (optional)")
    return out


# --- HTTP files -------------------------------------------------------------------------------

def fetch_http_file(settings: Settings, key: str, dest: Path, log: Log | None = None) -> DownloadResult:
    remote = S.HTTP_FILES[key]
    url = settings.url(key)
    expected = Expected(md5=remote.md5, sha256=remote.sha256)
    if settings.mirror_dir:
        # a mirror's own SHA256SUMS names its bytes (a sample world's mirror holds other bytes than
        # the source); without one, a mirror is taken to hold the published bytes
        listed = mirror_checksums(settings.mirror_dir).get(remote.mirror_name)
        if listed:
            expected = Expected(sha256=listed)
    elif settings.urls.get(key) and settings.urls[key] != remote.default_url:
        expected = Expected()  # another URL may serve other (newer) bytes: the published checksums are for the default
    return download(url, dest, expected=expected, setting=remote.setting if not settings.mirror_dir else "downloads.mirror_dir",
                    record={"key": key}, **settings.transfer_options(log))


def archive_path(root: Path, key: str) -> Path:
    return Path(root) / S.ARCHIVE_DIR / S.HTTP_FILES[key].mirror_name


def _marker(target: Path) -> Path:
    return target.with_name(target.name + ".extracted.json")


def _extraction_current(target: Path, archive: Path, expected_files: int) -> dict | None:
    """The extraction record of ``target`` if it is complete (and came from this archive, when it is kept)."""
    try:
        marker = json.loads(_marker(target).read_text())
    except (OSError, ValueError):
        return None
    if not target.is_dir():
        return None
    record = read_record(archive)
    if record is not None and record.get("sha256") != marker.get("archive_sha256"):
        return None  # the archive changed since the extraction
    if expected_files and marker.get("files") != expected_files:
        return None
    return marker


def _write_marker(target: Path, archive: DownloadResult, files: int, **extra) -> dict:
    marker = {"archive": str(archive.path), "archive_sha256": archive.sha256, "files": files,
              "extracted_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **extra}
    _marker(target).write_text(json.dumps(marker, indent=1))
    return marker


def _drop_archive(settings: Settings, archive: DownloadResult, log: Log | None) -> None:
    if not settings.keep_archives and archive.path.exists():
        archive.path.unlink()
        if log:
            log(f"{archive.path} removed after extraction (`downloads.keep_archives` is false)")


def fetch_inat21(settings: Settings, layout: SourceLayout, root: Path, log: Log | None = None) -> Fetched:
    """iNat21 ``train.tar.gz`` → extracted so that ``layout.inat21_train`` is its ``train/`` folder."""
    target = layout.inat21_train
    archive_file = archive_path(root, "inat21_train")
    done = None if settings.force else _extraction_current(target, archive_file, settings.inat21_file_count)
    if done:
        return Fetched(extracted={str(target): done["files"]}, notes={"classes": done.get("classes"), "up_to_date": True})
    archive = fetch_http_file(settings, "inat21_train", archive_file, log)
    if log:
        log(f"extracting {archive.path} into {target}")
    files = extract_tar(archive.path, target, strip="train", expected_files=settings.inat21_file_count,
                        count_setting="downloads.inat21_file_count", log=log)
    classes = sum(1 for p in target.iterdir() if p.is_dir())
    _write_marker(target, archive, files, classes=classes)
    _drop_archive(settings, archive, log)
    return Fetched(files=[archive], extracted={str(target): files}, notes={"classes": classes})


BIOSCAN_PART = re.compile(r"part\d+")


def fetch_bioscan(settings: Settings, layout: SourceLayout, root: Path, log: Log | None = None) -> Fetched:
    """BIOSCAN-1M ``cropped_256.zip`` → ``layout.bioscan_images/partN/`` (parts in parallel, count checked)
    and the metadata JSON → ``layout.bioscan_metadata``."""
    target = layout.bioscan_images
    archive_file = archive_path(root, "bioscan_zip")
    out = Fetched()
    out.files.append(fetch_http_file(settings, "bioscan_metadata", layout.bioscan_metadata, log))
    done = None if settings.force else _extraction_current(target, archive_file, settings.bioscan_file_count)
    if done:
        out.extracted[str(target)] = done["files"]
        out.notes.update(parts=done.get("parts"), up_to_date=True)
        return out
    archive = fetch_http_file(settings, "bioscan_zip", archive_file, log)
    if log:
        log(f"extracting {archive.path} into {target} with {settings.extract_workers} workers")
    files = extract_zip(archive.path, target, strip=BIOSCAN_PART, workers=settings.extract_workers,
                        expected_files=settings.bioscan_file_count, count_setting="downloads.bioscan_file_count", log=log)
    parts = sum(1 for p in target.iterdir() if p.is_dir())
    _write_marker(target, archive, files, parts=parts)
    _drop_archive(settings, archive, log)
    out.files.append(archive)
    out.extracted[str(target)] = files
    out.notes["parts"] = parts
    return out


def fetch_name_sources(settings: Settings, layout: SourceLayout, root: Path, log: Log | None = None) -> Fetched:
    """EOL vernacular names → ``layout.eol_vernacular``; the iNaturalist DwC-A → ``layout.inat_taxa``,
    ``layout.inat_vernacular`` (only those two members are taken from the archive)."""
    out = Fetched()
    out.files.append(fetch_http_file(settings, "eol_vernacular", layout.eol_vernacular, log))
    archive = fetch_http_file(settings, "inat_taxonomy", archive_path(root, "inat_taxonomy"), log)
    out.files.append(archive)
    wanted = {name: getattr(layout, fld) for name, fld in S.INAT_TAXONOMY_MEMBERS.items()}
    marker = _marker(layout.inat_taxa)
    try:
        current = json.loads(marker.read_text()).get("archive_sha256") == archive.sha256
    except (OSError, ValueError):
        current = False
    if settings.force or archive.fetched or not current or not all(p.exists() for p in wanted.values()):
        try:
            extract_members(archive.path, wanted)
        except KeyError as exc:
            raise DownloadError(f"{exc.args[0]}: is `downloads.inat_taxonomy_url` the iNaturalist taxonomy DwC-A zip?") from None
        _write_marker(layout.inat_taxa, archive, len(wanted))
    out.extracted[str(layout.inat_taxa.parent)] = len(wanted)
    return out


def fetch_rare_species(settings: Settings, layout: SourceLayout, log: Log | None = None) -> Fetched:
    """The two Rare Species lists → ``layout.rare_seen`` / ``layout.rare_unseen``; each must be a JSON object."""
    out = Fetched()
    for key, dest in (("rare_seen", layout.rare_seen), ("rare_unseen", layout.rare_unseen)):
        result = fetch_http_file(settings, key, dest, log)
        try:
            data = json.loads(result.path.read_text())
            if not isinstance(data, dict):
                raise ValueError(f"a JSON {type(data).__name__}, not an object")
        except (ValueError, UnicodeDecodeError) as exc:
            os.unlink(str(result.path) + ".verified.json")
            raise quarantine(result.path, result.source, f"not a rare-species list ({exc})",
                             f"set `{S.HTTP_FILES[key].setting}` to the raw JSON file") from None
        out.files.append(result)
        out.notes[f"{key}_keys"] = len(data)
    return out


__all__ = ["Fetched", "Settings", "VerificationError", "fetch_bioscan", "fetch_eol_image_set", "fetch_hub_file",
           "fetch_http_file", "fetch_inat21", "fetch_name_sources", "fetch_rare_species", "fetch_tol_metadata", "count_files"]
