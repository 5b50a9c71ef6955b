"""Resumable, verified HTTP (and file://) downloads.

A transfer writes ``<dest>.part`` and continues it with an HTTP Range request after a cut; a
complete file is verified (size, SHA-256 where known) and renamed into place with a small
``<dest>.verified.json`` record, so a second call is a no-op. A file that fails verification is
kept as ``<dest>.corrupt`` for inspection and nothing good is overwritten.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import shutil
import socket
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

CHUNK = 1 << 20
RETRY_STATUS = {429, 500, 502, 503, 504}


class DownloadError(RuntimeError):
    """A download that cannot complete; the message names the URL and what to change."""


class VerificationError(DownloadError):
    """Downloaded bytes that are not what the source published."""


@dataclass
class DownloadResult:
    path: Path
    bytes: int
    sha256: str
    fetched: bool  # False: a verified copy was already there
    seconds: float = 0.0
    resumed_from: int = 0


def sidecar(dest: Path) -> Path:
    return dest.with_name(dest.name + ".verified.json")


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def already_verified(dest: Path, size: int | None, sha256: str | None) -> dict | None:
    record_path = sidecar(dest)
    if not dest.exists() or not record_path.exists():
        return None
    record = json.loads(record_path.read_text())
    if record.get("bytes") != dest.stat().st_size:
        return None
    if (size is not None and record["bytes"] != size) or (sha256 and record.get("sha256") != sha256):
        return None
    return record


def _hint(url: str, status: int | None, reason: str) -> str:
    if status == 404:
        return f"{url} does not exist (404): check the URL / revision setting, or use a mirror_dir"
    if status in (401, 403):
        return f"{url} refused access ({status}): check the URL, or log in / set a token for this source"
    if status is not None:
        return f"{url} answered {status} {reason}: the server failed; retry later or use a mirror_dir"
    return f"{url} could not be reached ({reason}): check the network, DNS and TLS settings, or use a mirror_dir"


class _Progress:
    def __init__(self, url: str, total: int | None, report: Callable[[str], None] | None, every: float = 10.0):
        self.url, self.total, self.report, self.every = url, total, report, every
        self.start = self.last = time.monotonic()

    def __call__(self, done: int, new: int) -> None:
        now = time.monotonic()
        if not self.report or now - self.last < self.every:
            return
        self.last = now
        rate = new / max(now - self.start, 1e-6)
        eta = f", ETA {(self.total - done) / rate:.0f} s" if self.total and rate > 0 else ""
        of = f" of {self.total / 1e6:.1f} MB" if self.total else ""
        self.report(f"{self.url}: {done / 1e6:.1f} MB{of} at {rate / 1e6:.1f} MB/s{eta}")


def download(
    url: str,
    dest: Path,
    *,
    size: int | None = None,
    sha256: str | None = None,
    force: bool = False,
    retries: int = 5,
    backoff: float = 1.0,
    timeout: float = 60.0,
    log: Callable[[str], None] | None = None,
) -> DownloadResult:
    """Fetch ``url`` into ``dest`` (resuming a ``.part``), verify it, record it."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if not force:
        record = already_verified(dest, size, sha256)
        if record:
            return DownloadResult(dest, record["bytes"], record["sha256"], fetched=False)
    part = dest.with_name(dest.name + ".part")
    start = time.monotonic()
    resumed_from = part.stat().st_size if part.exists() else 0
    attempt = 0
    while True:
        try:
            _fetch(url, part, timeout, _Progress(url, size, log))
            break
        except DownloadError:
            raise
        except _Retryable as exc:
            attempt += 1
            if attempt > retries:
                raise DownloadError(_hint(url, exc.status, exc.reason) + f" (after {retries} retries)") from None
            wait = backoff * 2 ** (attempt - 1)
            if log:
                log(f"{url}: {exc.reason}; retry {attempt}/{retries} in {wait:.1f} s from byte {part.stat().st_size if part.exists() else 0}")
            time.sleep(wait)
    got = part.stat().st_size
    digest = sha256_of(part)
    problem = None
    if size is not None and got != size:
        problem = f"{got} bytes, expected {size}"
    elif sha256 and digest != sha256.lower():
        problem = f"SHA-256 {digest}, expected {sha256}"
    if problem:
        corrupt = dest.with_name(dest.name + ".corrupt")
        os.replace(part, corrupt)
        raise VerificationError(f"{url}: {problem}; kept as {corrupt} for inspection")
    os.replace(part, dest)
    sidecar(dest).write_text(json.dumps({"url": url, "bytes": got, "sha256": digest}, indent=1))
    return DownloadResult(dest, got, digest, fetched=True, seconds=time.monotonic() - start, resumed_from=resumed_from)


class _Retryable(Exception):
    def __init__(self, reason: str, status: int | None = None):
        self.reason, self.status = reason, status


def _fetch(url: str, part: Path, timeout: float, progress: _Progress) -> None:
    parsed = urllib.parse.urlparse(url)
    have = part.stat().st_size if part.exists() else 0
    if parsed.scheme == "file" or not parsed.scheme:
        source = Path(urllib.request.url2pathname(parsed.path) if parsed.scheme else url)
        if not source.exists():
            raise DownloadError(f"{url} does not exist: check the mirror_dir / URL setting")
        with open(source, "rb") as src, open(part, "ab") as out:
            src.seek(have)
            shutil.copyfileobj(src, out, CHUNK)
        return
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # nothing left to fetch
            return
        if exc.code in RETRY_STATUS:
            raise _Retryable(f"HTTP {exc.code}", exc.code) from None
        raise DownloadError(_hint(url, exc.code, exc.reason)) from None
    except (urllib.error.URLError, socket.timeout, ConnectionError, ssl.SSLError) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, (ssl.SSLError, ssl.CertificateError)):
            raise DownloadError(_hint(url, None, f"TLS: {reason}")) from None
        if isinstance(reason, socket.gaierror):
            raise DownloadError(_hint(url, None, f"DNS: {reason}")) from None
        raise _Retryable(str(reason)) from None
    with response:
        mode = "ab"
        if have and response.status != 206:  # the server ignored Range: start over
            mode, have = "wb", 0
        done = have
        try:
            with open(part, mode) as out:
                while True:
                    block = response.read(CHUNK)
                    if not block:
                        break
                    out.write(block)
                    done += len(block)
                    progress(done, done - have)
        except (http.client.IncompleteRead, ConnectionError, socket.timeout) as exc:
            raise _Retryable(f"connection dropped at byte {done}: {exc.__class__.__name__}") from None
        expected = response.headers.get("Content-Length")
        if expected is not None and done - have < int(expected):
            raise _Retryable(f"connection dropped at byte {done}")
