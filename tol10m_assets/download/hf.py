"""Files of a Hugging Face repository at a pinned revision, verified against what the hub publishes.

``huggingface_hub`` resolves the file (``HEAD /{type}s/{repo}/resolve/{revision}/{path}``: the
commit in ``X-Repo-Commit``, the SHA-256 of an LFS file in ``X-Linked-Etag``, its size in
``X-Linked-Size``, the CDN location in ``Location``; a non-LFS file's ``ETag`` is its git blob id),
with its endpoint (``HF_ENDPOINT``, read at call time), token and error types. The bytes then
come one of two ways (``backend``):

- ``"resumable"`` (default): our HTTP downloader (``http.download``), which keeps ``<dest>.part``
  across runs and continues it with ``Range`` — huggingface_hub 2.x resumes only within one call
  and deletes its partial file when a call fails, so a 30 GB image set cut after 29 GB would start
  over;
- ``"hub"``: ``hf_hub_download`` itself (into a staging ``local_dir``), e.g. to use Xet transfers.

Either way the file is checked against the published SHA-256 (LFS) or git blob id (non-LFS),
recorded in ``<dest>.verified.json`` with the commit, and a mismatch is kept as ``<dest>.corrupt``.
``HF_HUB_OFFLINE`` (read at call time too) is honoured: no request is made; a verified copy on disk
is used, anything else is an error that says how to proceed.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from tol10m_assets.download.http import DownloadResult, download
from tol10m_assets.download.verify import (
    DownloadError,
    Expected,
    RemoteMissing,
    digest_file,
    quarantine,
    verified_record,
    write_record,
)

SHA256 = re.compile(r"[0-9a-f]{64}")
GIT_SHA1 = re.compile(r"[0-9a-f]{40}")
COMMIT = GIT_SHA1


def hub_offline() -> bool:
    """``HF_HUB_OFFLINE`` as set now (huggingface_hub reads it once, at import)."""
    from huggingface_hub import constants

    value = os.environ.get("HF_HUB_OFFLINE")
    if value is not None:
        return value.strip().upper() in ("1", "ON", "YES", "TRUE")
    return bool(constants.HF_HUB_OFFLINE)


def hub_endpoint(endpoint: str | None = None) -> str | None:
    """The endpoint to use: the argument, else ``HF_ENDPOINT`` now, else huggingface_hub's default."""
    return (endpoint or os.environ.get("HF_ENDPOINT") or "").rstrip("/") or None


@dataclass
class HubFileInfo:
    repo_id: str
    path: str
    revision: str
    commit: str | None
    url: str  # the resolve URL
    location: str  # where the bytes are (a CDN URL for LFS files)
    size: int | None
    sha256: str | None  # LFS files
    git_sha1: str | None  # non-LFS files
    on_hub: bool  # location is on the hub itself (send the token), not a CDN

    def expected(self) -> Expected:
        return Expected(size=self.size, sha256=self.sha256, git_sha1=self.git_sha1)


def _what_to_change(exc: Exception) -> str:
    name = exc.__class__.__name__
    if "Gated" in name:
        return "the dataset is gated: accept its terms on the hub and log in (`hf auth login` or HF_TOKEN)"
    if "Repository" in name:
        return "check `downloads.hf_repo` (or log in: `hf auth login` / HF_TOKEN, for a private repo)"
    if "Revision" in name:
        return "check `downloads.hf_revision` (a commit hash or branch of the repository)"
    if "Entry" in name:
        return "the file is not in the repository at this revision: check `downloads.hf_revision` and the file name"
    return "check `downloads.hf_repo` / `downloads.hf_revision` / HF_ENDPOINT"


def hub_file_info(repo_id: str, path: str, revision: str, *, repo_type: str = "dataset",
                  endpoint: str | None = None, token: str | bool | None = None, timeout: float = 30.0) -> HubFileInfo:
    """Resolve one file at ``revision`` (one HEAD request through huggingface_hub)."""
    import httpx2
    from huggingface_hub import get_hf_file_metadata, hf_hub_url
    from huggingface_hub.errors import EntryNotFoundError, HfHubHTTPError, OfflineModeIsEnabled

    endpoint = hub_endpoint(endpoint)
    url = hf_hub_url(repo_id, path, repo_type=repo_type, revision=revision, endpoint=endpoint)
    try:
        meta = get_hf_file_metadata(url, token=token, timeout=timeout, endpoint=endpoint)
    except OfflineModeIsEnabled:
        raise DownloadError(f"{url}: HF_HUB_OFFLINE is set and no verified copy is on disk: unset HF_HUB_OFFLINE,"
                            " or point `downloads.mirror_dir` at a local copy") from None
    except EntryNotFoundError as exc:
        raise RemoteMissing(f"{url}: {exc.__class__.__name__}: {_what_to_change(exc)}") from None
    except HfHubHTTPError as exc:
        status = getattr(getattr(exc, "response", None), "status_code", None)
        if status in (408, 429) or (status or 0) >= 500:
            raise _HubRetry(f"HTTP {status}", status) from None
        if status == 404 and exc.__class__.__name__ == "HfHubHTTPError":
            raise RemoteMissing(f"{url} does not exist (404): {_what_to_change(exc)}") from None
        raise DownloadError(f"{url}: {exc.__class__.__name__} ({status}): {_what_to_change(exc)}") from None
    except (httpx2.TransportError, OSError) as exc:
        raise _HubRetry(f"{exc.__class__.__name__}: {exc}") from None
    etag = (meta.etag or "").strip('"').lower()
    if meta.commit_hash is None:
        raise DownloadError(f"{url}: the server sent no X-Repo-Commit header: is HF_ENDPOINT / `downloads.hf_endpoint` a Hugging Face hub?")
    location = meta.location or url
    from urllib.parse import urlparse

    on_hub = urlparse(location).netloc == urlparse(url).netloc
    return HubFileInfo(repo_id, path, revision, meta.commit_hash, url, location, meta.size,
                       etag if SHA256.fullmatch(etag) else None,
                       etag if GIT_SHA1.fullmatch(etag) else None, on_hub)


class _HubRetry(Exception):
    def __init__(self, reason: str, status: int | None = None):
        super().__init__(reason)
        self.reason, self.status = reason, status


def _with_retries(fn, what: str, retries: int, backoff: float, log):
    for attempt in range(retries + 1):
        try:
            return fn()
        except _HubRetry as exc:
            if attempt == retries:
                raise DownloadError(f"{what}: {exc.reason} after {retries} retries: the hub is failing; retry later,"
                                    " raise `downloads.retries`, or use `downloads.mirror_dir`") from None
            wait = min(120.0, backoff * 2 ** attempt)
            if log:
                log(f"{what}: {exc.reason}; retry {attempt + 1}/{retries} in {wait:.1f} s")
            time.sleep(wait)


def hf_download(
    repo_id: str,
    path: str,
    revision: str,
    dest: Path | str,
    *,
    repo_type: str = "dataset",
    endpoint: str | None = None,
    token: str | bool | None = None,
    backend: str = "resumable",
    force: bool = False,
    retries: int = 5,
    backoff: float = 1.0,
    timeout: float = 60.0,
    log: Callable[[str], None] | None = None,
    progress=None,
    progress_every: float = 10.0,
) -> DownloadResult:
    """Download ``path`` of the repository at ``revision`` into the file ``dest``.

    A no-op when ``dest`` is recorded as verified for this very commit (no request at all when
    ``revision`` is a commit hash), or when offline and a verified copy exists.
    """
    dest = Path(dest)
    if dest.is_dir():
        dest = dest / path  # a folder: keep the repository's relative path under it
    record = verified_record(dest)
    pinned = bool(COMMIT.fullmatch(revision or ""))
    if not force and record and record.get("repo") == repo_id and record.get("path") == path:
        if (pinned and record.get("commit") == revision) or hub_offline():
            return DownloadResult(dest, record["bytes"], record["sha256"], fetched=False, source=record.get("source", ""))
    if hub_offline():
        raise DownloadError(f"{repo_id}@{revision}/{path}: HF_HUB_OFFLINE is set and no verified copy is at {dest}:"
                            " unset HF_HUB_OFFLINE, or point `downloads.mirror_dir` at a local copy")
    what = f"{repo_id}@{revision}/{path}"
    info = _with_retries(lambda: hub_file_info(repo_id, path, revision, repo_type=repo_type, endpoint=endpoint, token=token),
                         what, retries, backoff, log)
    if not pinned and log:
        log(f"{what}: revision {revision!r} is not a commit hash (resolved to {info.commit}); pin"
            " `downloads.hf_revision` to a commit for a reproducible build")
    expected = info.expected()
    extra = {"repo": repo_id, "path": path, "revision": revision, "commit": info.commit}
    if not force:
        known = verified_record(dest, expected)
        if known and (known.get("commit") == info.commit or expected.sha256 or expected.git_sha1):
            if known.get("commit") != info.commit:
                write_record(dest, {k: known[k] for k in ("sha256", "md5") if k in known}, known.get("source", info.url), **extra)
            return DownloadResult(dest, known["bytes"], known["sha256"], fetched=False, source=known.get("source", ""))
    if backend == "hub":
        return _via_hub_download(info, dest, repo_type, endpoint, token, force, expected, extra, retries, backoff, log)
    if backend != "resumable":
        raise ValueError(f"unknown Hugging Face backend {backend!r}: use 'resumable' or 'hub' (`downloads.hf_backend`)")

    def resolve() -> tuple[str, dict]:
        # signed CDN URLs expire: resolve again before every attempt after the first
        nonlocal info
        if resolve.calls:
            fresh = _with_retries(lambda: hub_file_info(repo_id, path, revision, repo_type=repo_type, endpoint=endpoint, token=token),
                                  what, retries, backoff, log)
            if (fresh.sha256, fresh.git_sha1) != (info.sha256, info.git_sha1):
                raise DownloadError(f"{what}: the file changed on the hub during the download (pin `downloads.hf_revision`)")
            info = fresh
        resolve.calls += 1
        return info.location, _auth_headers(token) if info.on_hub else {}

    resolve.calls = 0
    return download(info.url, dest, expected=expected, force=force, retries=retries, backoff=backoff, timeout=timeout,
                    resolve=resolve, setting="downloads.hf_repo / downloads.hf_revision", record=extra, log=log,
                    progress=progress, progress_every=progress_every)


def _auth_headers(token) -> dict:
    from huggingface_hub.utils import build_hf_headers

    try:
        return build_hf_headers(token=token)
    except Exception:  # noqa: BLE001 - no token configured is fine for a public dataset
        return {}


def _via_hub_download(info: HubFileInfo, dest: Path, repo_type: str, endpoint, token, force: bool,
                      expected: Expected, extra: dict, retries: int, backoff: float, log) -> DownloadResult:
    """``hf_hub_download`` into a staging ``local_dir`` beside ``dest``, then verify and move into place."""
    from huggingface_hub import hf_hub_download

    staging = dest.parent / ".hf-staging"
    start = time.monotonic()

    def fetch():
        import httpx2
        from huggingface_hub.errors import HfHubHTTPError

        try:
            return Path(hf_hub_download(info.repo_id, info.path, repo_type=repo_type, revision=info.commit or info.revision,
                                        local_dir=staging, force_download=force, endpoint=hub_endpoint(endpoint), token=token))
        except HfHubHTTPError as exc:
            status = getattr(getattr(exc, "response", None), "status_code", None)
            if status in (408, 429) or (status or 0) >= 500:
                raise _HubRetry(f"HTTP {status}", status) from None
            raise DownloadError(f"{info.url}: {exc.__class__.__name__} ({status}): {_what_to_change(exc)}") from None
        except (httpx2.TransportError, OSError) as exc:
            raise _HubRetry(f"{exc.__class__.__name__}: {exc}") from None

    got = _with_retries(fetch, info.url, retries, backoff, log)
    digests = digest_file(got)
    problem = expected.problem(digests, got)
    if problem:
        raise quarantine(got, info.url, problem, "The hub published other bytes than were received; retry with `downloads.force`")
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(got, dest)
    except OSError:
        shutil.move(got, dest)
    rec = write_record(dest, digests, info.url, **extra)
    return DownloadResult(dest, rec["bytes"], rec["sha256"], fetched=True, seconds=time.monotonic() - start, attempts=1, source=info.url)
