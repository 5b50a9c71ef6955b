"""Downloads with their real loading code (no Dagster): resumable HTTP and file:// transfers,
Hugging Face files at a pinned revision, safe archive extraction, verification."""

from tol10m_assets.download.extract import UnsafeArchive, count_files, extract_tar, extract_zip
from tol10m_assets.download.hf import hf_download
from tol10m_assets.download.http import DownloadError, DownloadResult, VerificationError, download

__all__ = ["DownloadError", "DownloadResult", "UnsafeArchive", "VerificationError", "count_files", "download", "extract_tar", "extract_zip", "hf_download"]
