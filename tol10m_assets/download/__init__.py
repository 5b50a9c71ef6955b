"""Downloads with their real loading code (no Dagster): resumable HTTP and file:// transfers,
Hugging Face files at a pinned revision, safe archive extraction, verification, offline mirrors.

- :mod:`.http` — ``download(url, dest)``: Range resume, retries with backoff, progress, SHA-256 while streaming
- :mod:`.hf` — ``hf_download(repo, path, revision, dest)``: huggingface_hub resolution, verified against the hub
- :mod:`.extract` — ``extract_tar`` / ``extract_zip``: safe, staged, counted, parallel for zips
- :mod:`.verify` — records (``.verified.json``), checksums, ``.corrupt`` quarantine, counts
- :mod:`.mirror` — a local folder / ``file://`` tree standing in for every remote
- :mod:`.sources` — the catalogue: what is downloaded and the default locations (the only place hosts are named)
- :mod:`.fetch` — what each download asset does (``fetch_eol_image_set``, ``fetch_inat21`` …)
"""

from tol10m_assets.download.extract import UnsafeArchive, extract_members, extract_tar, extract_zip
from tol10m_assets.download.fetch import (
    Fetched,
    Settings,
    fetch_bioscan,
    fetch_eol_image_set,
    fetch_hub_file,
    fetch_http_file,
    fetch_inat21,
    fetch_name_sources,
    fetch_rare_species,
    fetch_tol_metadata,
)
from tol10m_assets.download.hf import hf_download, hub_file_info, hub_offline
from tol10m_assets.download.http import DownloadResult, Progress, download
from tol10m_assets.download.mirror import mirror_location, write_checksums
from tol10m_assets.download.verify import (
    CountMismatch,
    DownloadError,
    Expected,
    RemoteMissing,
    VerificationError,
    count_files,
    sha256_of,
    verified_record,
)

__all__ = [
    "CountMismatch", "DownloadError", "DownloadResult", "Expected", "Fetched", "Progress", "RemoteMissing", "Settings",
    "UnsafeArchive", "VerificationError", "count_files", "download", "extract_members", "extract_tar", "extract_zip",
    "fetch_bioscan", "fetch_eol_image_set", "fetch_hub_file", "fetch_http_file", "fetch_inat21", "fetch_name_sources",
    "fetch_rare_species", "fetch_tol_metadata", "hf_download", "hub_file_info", "hub_offline", "mirror_location",
    "sha256_of", "verified_record", "write_checksums",
]
