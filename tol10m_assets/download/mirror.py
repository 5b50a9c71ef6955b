"""An offline mirror standing in for every remote.

A mirror is a folder (a path or a ``file://`` URL; an ``http(s)://`` base works too, e.g. a site
cache) holding each Hugging Face file at its path in the repository (``dataset/EOL/…``,
``metadata/…``) and each HTTP file under its name (``train.tar.gz``, ``cropped_256.zip``…, see
``sources.HTTP_FILES``). An optional ``SHA256SUMS`` file (``sha256sum`` format, paths relative to
the mirror) gives checksums to verify against.
"""

from __future__ import annotations

import urllib.parse
import urllib.request
from pathlib import Path

SUMS = "SHA256SUMS"


def is_remote(url: str) -> bool:
    return urllib.parse.urlparse(url).scheme in ("http", "https")


def local_path(url: str) -> Path | None:
    """The file behind a ``file://`` URL or a plain path; ``None`` for a remote URL."""
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme == "file":
        return Path(urllib.request.url2pathname(parsed.path))
    if parsed.scheme == "":
        return Path(url).expanduser()
    return None


def mirror_location(mirror: str, name: str) -> str:
    """The URL of ``name`` (a relative path) in ``mirror``."""
    name = name.lstrip("/")
    if is_remote(mirror):
        return urllib.parse.urljoin(mirror.rstrip("/") + "/", urllib.parse.quote(name))
    base = local_path(mirror)
    if base is None:
        raise ValueError(f"mirror_dir {mirror!r} is neither a folder, a file:// URL nor an http(s):// URL")
    return (base.absolute() / name).as_uri()


def mirror_checksums(mirror: str) -> dict[str, str]:
    """``{relative path: sha256}`` from the mirror's ``SHA256SUMS`` (empty when absent or remote)."""
    base = None if is_remote(mirror) else local_path(mirror)
    if base is None or not (base / SUMS).is_file():
        return {}
    sums = {}
    for line in (base / SUMS).read_text().splitlines():
        parts = line.strip().split(maxsplit=1)
        if len(parts) == 2 and len(parts[0]) == 64:
            sums[parts[1].lstrip("*").removeprefix("./")] = parts[0].lower()
    return sums


def write_checksums(mirror: Path) -> Path:
    """Write ``SHA256SUMS`` for every file of a local mirror (a helper for making mirrors)."""
    from tol10m_assets.download.verify import sha256_of

    mirror = Path(mirror)
    lines = [f"{sha256_of(p)}  {p.relative_to(mirror).as_posix()}" for p in sorted(mirror.rglob("*"))
             if p.is_file() and p.name != SUMS and not p.name.endswith(".verified.json")]
    (mirror / SUMS).write_text("\n".join(lines) + "\n")
    return mirror / SUMS
