"""Resumable, verified downloads over HTTP(S) and from ``file://`` URLs / local paths.

``download(url, dest)`` writes ``<dest>.part`` and, after a cut (dropped connection, timeout, 5xx,
a killed process), continues it with an HTTP ``Range`` request (``If-Range`` guards against the
remote file having changed). SHA-256 (and MD5 where a source publishes it) is computed while
streaming. The complete file is verified against what the source publishes, renamed into place and
recorded in ``<dest>.verified.json``; a second call is then a no-op. A file that fails verification
is kept as ``<dest>.corrupt`` and nothing good is overwritten. 429 and 5xx are retried with
exponential backoff (``Retry-After`` honoured); 404, 401/403, TLS and DNS failures stop at once with
a message naming the URL and the setting to change.
"""

from __future__ import annotations

import email.utils
import http.client
import json
import os
import socket
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from tol10m_assets.download.mirror import local_path
from tol10m_assets.download.verify import (
    CHUNK,
    DownloadError,
    Expected,
    Hasher,
    RemoteMissing,
    quarantine,
    verified_record,
    write_record,
)

RETRY_STATUS = {408, 429, 500, 502, 503, 504}
USER_AGENT = "tol10m-assets (+resumable downloader)"


@dataclass
class DownloadResult:
    path: Path
    bytes: int
    sha256: str
    fetched: bool  # False: a verified copy was already there
    seconds: float = 0.0
    resumed_from: int = 0  # bytes already on disk when this transfer started
    attempts: int = 0
    source: str = ""
    md5: str | None = None

    @property
    def rate(self) -> float:
        """Bytes per second of this transfer (0 when nothing was fetched)."""
        return (self.bytes - self.resumed_from) / self.seconds if self.fetched and self.seconds > 0 else 0.0


@dataclass
class Progress:
    url: str
    done: int
    total: int | None
    rate: float  # bytes/s since this transfer started
    elapsed: float

    @property
    def eta(self) -> float | None:
        if self.total is None or self.rate <= 0:
            return None
        return max(self.total - self.done, 0) / self.rate

    def __str__(self) -> str:
        name = urllib.parse.urlparse(self.url).path.rsplit("/", 1)[-1] or self.url
        of = f" of {_size(self.total)} ({100 * self.done / self.total:.0f}%)" if self.total else ""
        eta = f", ETA {_duration(self.eta)}" if self.eta is not None else ""
        return f"{name}: {_size(self.done)}{of} at {_size(self.rate)}/s{eta}"


def _size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n} B"


def _duration(s: float) -> str:
    if s < 90:
        return f"{s:.0f} s"
    if s < 5400:
        return f"{s / 60:.0f} min"
    return f"{s / 3600:.1f} h"


class _Reporter:
    """Calls ``progress`` for every block and ``log`` at most every ``every`` seconds."""

    def __init__(self, url: str, log, progress, every: float):
        self.url, self.log, self.progress, self.every = url, log, progress, every
        self.start = self.last = time.monotonic()
        self.first_byte = 0
        self.total: int | None = None

    def begin(self, done: int, total: int | None) -> None:
        self.start = time.monotonic()
        self.first_byte, self.total = done, total

    def __call__(self, done: int, final: bool = False) -> None:
        now = time.monotonic()
        elapsed = max(now - self.start, 1e-6)
        p = Progress(self.url, done, self.total, (done - self.first_byte) / elapsed, elapsed)
        if self.progress:
            self.progress(p)
        if self.log and (final or now - self.last >= self.every):
            self.last = now
            self.log(str(p))


class _Retryable(Exception):
    def __init__(self, reason: str, status: int | None = None, retry_after: float | None = None):
        super().__init__(reason)
        self.reason, self.status, self.retry_after = reason, status, retry_after


def _change(setting: str | None) -> str:
    return f"set `{setting}`" if setting else "check the URL"


def error_hint(url: str, status: int | None, reason: str, setting: str | None = None, retries: int | None = None) -> str:
    """A one-line explanation of a failed transfer: what happened to which URL and what to change."""
    after = f" after {retries} retries" if retries else ""
    if status == 404:
        return (f"{url} does not exist (404): {_change(setting)} to where the file lives now"
                " (or the revision), or point `downloads.mirror_dir` at a local copy")
    if status in (401, 403):
        return (f"{url} refused access ({status}): the source needs credentials or accepted terms"
                f" (Hugging Face: `hf auth login` or HF_TOKEN), or {_change(setting)}")
    if status is not None:
        return (f"{url} answered {status} {reason}{after}: the server is failing; retry later, raise"
                " `downloads.retries`, or use `downloads.mirror_dir`")
    if reason.startswith("DNS"):
        return (f"{url} could not be resolved ({reason}): {_change(setting)}, check the network and proxy"
                " (HTTPS_PROXY), or work offline with `downloads.mirror_dir`")
    if reason.startswith("TLS"):
        return (f"{url} failed the TLS handshake ({reason}): point SSL_CERT_FILE at your site's CA bundle,"
                f" or {_change(setting)}")
    return (f"{url} could not be fetched ({reason}){after}: check the network and proxy, raise"
            " `downloads.timeout_seconds` / `downloads.retries`, or use `downloads.mirror_dir`")


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
            return max(0.0, when.timestamp() - time.time())
        except (TypeError, ValueError):
            return None


def _state_path(part: Path) -> Path:
    return part.with_name(part.name + ".json")


def download(
    url: str,
    dest: Path,
    *,
    expected: Expected | None = None,
    size: int | None = None,
    sha256: str | None = None,
    md5: str | None = None,
    force: bool = False,
    retries: int = 5,
    backoff: float = 1.0,
    max_backoff: float = 120.0,
    timeout: float = 60.0,
    headers: dict | None = None,
    resolve: Callable[[], tuple[str, dict]] | None = None,
    setting: str | None = None,
    record: dict | None = None,
    log: Callable[[str], None] | None = None,
    progress: Callable[[Progress], None] | None = None,
    progress_every: float = 10.0,
) -> DownloadResult:
    """Fetch ``url`` into ``dest`` (resuming ``<dest>.part``), verify it, record it.

    ``expected`` (or ``size``/``sha256``/``md5``) is what the source publishes. ``resolve``, when
    given, is called before every attempt and returns a fresh ``(url, headers)`` (signed CDN URLs
    expire). ``setting`` names the configuration key a user changes to fix a wrong URL. ``record``
    adds fields to the ``.verified.json`` record.
    """
    dest = Path(dest)
    expected = expected or Expected(size=size, sha256=sha256, md5=md5)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if not force:
        existing = verified_record(dest, expected)
        if existing:
            return DownloadResult(dest, existing["bytes"], existing["sha256"], fetched=False, source=existing.get("source", url), md5=existing.get("md5"))
    part = dest.with_name(dest.name + ".part")
    if force and part.exists() and not _state_path(part).exists():
        part.unlink()
    resumed_from = part.stat().st_size if part.exists() else 0
    hasher = Hasher(md5=bool(expected.md5))
    reporter = _Reporter(url, log, progress, progress_every)
    start = time.monotonic()
    attempt = 0
    while True:
        try:
            current, extra_headers = resolve() if resolve else (url, headers or {})
            reporter.url = current
            hasher = _transfer(current, part, extra_headers, timeout, hasher, expected, reporter, setting)
            break
        except _Retryable as exc:
            attempt += 1
            if attempt > retries:
                raise DownloadError(error_hint(url, exc.status, exc.reason, setting, retries)) from None
            wait = min(max_backoff, backoff * 2 ** (attempt - 1))
            if exc.retry_after is not None:
                wait = min(max_backoff, max(wait, exc.retry_after))
            have = part.stat().st_size if part.exists() else 0
            if log:
                log(f"{url}: {exc.reason}; retry {attempt}/{retries} in {wait:.1f} s, resuming at byte {have}")
            time.sleep(wait)
    digests = hasher.digests()
    reporter(digests["bytes"], final=True)
    problem = expected.problem(digests, part)
    if problem:
        _state_path(part).unlink(missing_ok=True)
        raise quarantine(part, url, problem, f"If the source changed on purpose, {_change(setting)} or the expected checksum")
    os.replace(part, dest)
    _state_path(part).unlink(missing_ok=True)
    rec = write_record(dest, digests, url, **{k: v for k, v in (record or {}).items()})
    return DownloadResult(dest, rec["bytes"], rec["sha256"], fetched=True, seconds=time.monotonic() - start,
                          resumed_from=resumed_from, attempts=attempt + 1, source=url, md5=rec.get("md5"))


def _rehash(hasher: Hasher, part: Path, have: int, md5: bool) -> Hasher:
    """A hasher over the first ``have`` bytes of ``part`` (reused when it already is)."""
    if hasher.count == have:
        return hasher
    fresh = Hasher(md5=md5)
    if have:
        fresh.update_from_file(part, limit=have)
    return fresh


def _transfer(url: str, part: Path, headers: dict, timeout: float, hasher: Hasher, expected: Expected,
              report: _Reporter, setting: str | None) -> Hasher:
    """One attempt: append to ``part`` until the end of the file. Returns the hasher over all of ``part``."""
    have = part.stat().st_size if part.exists() else 0
    md5 = bool(expected.md5)
    source = local_path(url)
    if source is not None:
        return _copy_local(url, source, part, have, hasher, md5, report, setting)
    state_file = _state_path(part)
    state = {}
    if have:
        try:
            state = json.loads(state_file.read_text())
        except (OSError, ValueError):
            state = {}
    request_headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity", **headers}
    if have:
        request_headers["Range"] = f"bytes={have}-"
        if state.get("validator"):
            request_headers["If-Range"] = state["validator"]
    try:
        response = urllib.request.urlopen(urllib.request.Request(url, headers=request_headers), timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:
            total = _total_from_content_range(exc.headers.get("Content-Range"))
            if total == have or (total is None and expected.size == have):
                return _rehash(hasher, part, have, md5)  # nothing left to fetch
            part.unlink()
            raise _Retryable(f"range {have}- not satisfiable (remote has {total} bytes); starting over") from None
        if exc.code in RETRY_STATUS:
            raise _Retryable(f"HTTP {exc.code} {exc.reason}", exc.code, _retry_after(exc.headers.get("Retry-After"))) from None
        error = RemoteMissing if exc.code == 404 else DownloadError
        raise error(error_hint(url, exc.code, str(exc.reason), setting)) from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, (ssl.SSLError, ssl.CertificateError)):
            raise DownloadError(error_hint(url, None, f"TLS: {reason}", setting)) from None
        if isinstance(reason, socket.gaierror):
            raise DownloadError(error_hint(url, None, f"DNS: {reason}", setting)) from None
        raise _Retryable(f"{reason.__class__.__name__}: {reason}") from None
    with response:
        status = response.status
        content_range = response.headers.get("Content-Range")
        length = response.headers.get("Content-Length")
        if have and status == 206 and _start_from_content_range(content_range) == have:
            mode = "ab"
        else:
            mode, have = "wb", 0  # no resume possible (200, or a range we did not ask for): start over
        total = _total_from_content_range(content_range) if status == 206 else None
        if total is None and length is not None and length.isdigit():
            total = have + int(length)
        if total is None:
            total = expected.size
        validator = response.headers.get("ETag")
        if not validator or validator.startswith("W/"):
            validator = response.headers.get("Last-Modified")
        if mode == "wb":
            part.write_bytes(b"")
            _state_path(part).write_text(json.dumps({"url": url, "validator": validator}))
        hasher = _rehash(hasher, part, have, md5)
        report.begin(have, total)
        done = have
        try:
            with open(part, mode) as out:
                while True:
                    block = response.read(CHUNK)
                    if not block:
                        break
                    out.write(block)
                    hasher.update(block)
                    done += len(block)
                    report(done)
        except (http.client.HTTPException, OSError) as exc:
            raise _Retryable(f"connection dropped at byte {done} ({exc.__class__.__name__})") from None
        if total is not None and done < total:
            raise _Retryable(f"connection closed at byte {done} of {total}")
    return hasher


def _copy_local(url: str, source: Path, part: Path, have: int, hasher: Hasher, md5: bool, report: _Reporter, setting: str | None) -> Hasher:
    if not source.is_file():
        raise RemoteMissing(f"{url} does not exist: {_change(setting)}, or put the file in `downloads.mirror_dir`")
    total = source.stat().st_size
    if have > total:
        part.unlink()
        have = 0
    hasher = _rehash(hasher, part, have, md5)
    report.begin(have, total)
    done = have
    with open(source, "rb") as src, open(part, "ab" if have else "wb") as out:
        src.seek(have)
        while block := src.read(CHUNK):
            out.write(block)
            hasher.update(block)
            done += len(block)
            report(done)
    return hasher


def _start_from_content_range(value: str | None) -> int | None:
    try:
        return int(value.split()[1].split("-")[0]) if value else None
    except (IndexError, ValueError):
        return None


def _total_from_content_range(value: str | None) -> int | None:
    try:
        total = value.rsplit("/", 1)[1] if value else "*"
        return None if total == "*" else int(total)
    except (IndexError, ValueError):
        return None
