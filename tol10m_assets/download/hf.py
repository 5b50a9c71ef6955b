"""Files of a Hugging Face dataset repository at a pinned revision, verified against the SHA-256
the hub publishes for LFS files. ``HF_ENDPOINT`` and ``HF_HUB_OFFLINE`` are honoured by
huggingface_hub itself."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from tol10m_assets.download.http import DownloadError, DownloadResult, VerificationError, already_verified, sha256_of, sidecar

SHA256 = re.compile(r"[0-9a-f]{64}")


def hf_download(repo_id: str, filename: str, revision: str, dest_dir: Path, *, force: bool = False, repo_type: str = "dataset") -> DownloadResult:
    """Download ``filename`` of the repo into ``dest_dir/filename`` (resuming; no-op when verified)."""
    from huggingface_hub import get_hf_file_metadata, hf_hub_download, hf_hub_url
    from huggingface_hub.errors import EntryNotFoundError, LocalEntryNotFoundError, RepositoryNotFoundError, RevisionNotFoundError

    dest = Path(dest_dir) / filename
    endpoint = os.environ.get("HF_ENDPOINT") or None  # read now, not at import time
    url = hf_hub_url(repo_id, filename, repo_type=repo_type, revision=revision, endpoint=endpoint)
    expected = None
    try:
        meta = get_hf_file_metadata(url)
        etag = (meta.etag or "").strip('"').lower()
        expected = etag if SHA256.fullmatch(etag) else None
        size = meta.size
    except LocalEntryNotFoundError:
        size = None  # offline: trust what is on disk
    except (RepositoryNotFoundError, RevisionNotFoundError, EntryNotFoundError) as exc:
        raise DownloadError(f"{url}: {exc.__class__.__name__}: check hf_repo / hf_revision / the file name") from None
    if not force and already_verified(dest, size, expected):
        record = json.loads(sidecar(dest).read_text())
        return DownloadResult(dest, record["bytes"], record["sha256"], fetched=False)
    try:
        path = Path(hf_hub_download(repo_id, filename, repo_type=repo_type, revision=revision, local_dir=dest_dir, force_download=force, endpoint=endpoint))
    except LocalEntryNotFoundError as exc:
        raise DownloadError(f"{url}: not available offline (HF_HUB_OFFLINE is set or the hub is unreachable): {exc}") from None
    digest = sha256_of(path)
    if expected and digest != expected:
        corrupt = path.with_name(path.name + ".corrupt")
        path.replace(corrupt)
        raise VerificationError(f"{url}: SHA-256 {digest}, the hub says {expected}; kept as {corrupt}")
    sidecar(path).write_text(json.dumps({"url": url, "bytes": path.stat().st_size, "sha256": digest}, indent=1))
    return DownloadResult(path, path.stat().st_size, digest, fetched=True)
