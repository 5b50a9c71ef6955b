"""Raw downloads: the Hugging Face dataset (EOL image sets, published metadata), iNat21, BIOSCAN-1M,
the name sources and the Rare Species lists, into the sources layout (`tol.layout()`).

Thin assets over :mod:`tol10m_assets.download.fetch`: resumable, verified, a no-op once done
(unless `downloads.force`). Progress goes to the run's log; sizes, checksums and counts become
metadata and asset-check results. `download_checks` re-check what is on disk without downloading.
"""

import json
from pathlib import Path

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    Backoff,
    Config,
    ConfigurableResource,
    DynamicPartitionsDefinition,
    Failure,
    OpExecutionContext,
    MaterializeResult,
    MetadataValue,
    RetryPolicy,
    asset,
    asset_check,
    job,
    op,
)
from pydantic import Field

from tol10m_assets.defs.metadata import asset_attrs
from tol10m_assets.defs.resources import TreeOfLifeConfig
from tol10m_assets.download import fetch as F
from tol10m_assets.download import sources as S
from tol10m_assets.download.extract import UnsafeArchive
from tol10m_assets.download.verify import (
    DownloadError,
    RemoteMissing,
    VerificationError,
    count_files,
    verified_record,
)

# The image sets on disk or planned, not all 63 published: a set neither downloaded nor asked for is no
# partition, so "Materialize unsynced" does not select it (Dagster selects a partitioned asset while any of
# its partitions is unmaterialized). observe_sources registers (and reports) the sets on disk
# (defs/eol_sets.py); the job plan_eol_image_sets registers those to download.
EOL_SETS = "eol_image_sets"
eol_set_partitions = DynamicPartitionsDefinition(name=EOL_SETS)
# transient failures that outlived the transfer's own retries are retried by Dagster (the .part is kept)
DOWNLOAD_RETRY = RetryPolicy(max_retries=2, delay=60, backoff=Backoff.EXPONENTIAL)
POOL = "downloads"  # cap parallel downloads with `dagster instance concurrency set downloads N`


def _url_field(key: str):
    remote = S.HTTP_FILES[key]
    return Field(default=remote.default_url, description=f"URL of {remote.description} (mirror name: {remote.mirror_name}).")


class DownloadSettings(ConfigurableResource):
    """Where the raw downloads come from, and how. Files land in the sources layout of the `tol` resource.

    `mirror_dir` (a folder, a `file://` URL or an `http(s)://` base) stands in for every remote:
    Hugging Face files at their repository paths (`dataset/EOL/…`, `metadata/…`), HTTP files by
    name (`train.tar.gz`, `cropped_256.zip`, …), optionally with a `SHA256SUMS`.
    """

    hf_repo: str = Field(default=S.HF_REPO, description="Hugging Face dataset with the EOL image sets and metadata.")
    hf_revision: str = Field(default=S.HF_REVISION, description="Commit hash (pinned) or branch of hf_repo.")
    hf_endpoint: str = Field(default="", description="Hub endpoint; empty = HF_ENDPOINT, else huggingface_hub's default.")
    hf_backend: str = Field(default="resumable", description="resumable (Range across runs) or hub (hf_hub_download, e.g. for Xet).")
    inat21_train_url: str = _url_field("inat21_train")
    bioscan_zip_url: str = _url_field("bioscan_zip")
    bioscan_metadata_url: str = _url_field("bioscan_metadata")
    eol_vernacular_url: str = _url_field("eol_vernacular")
    inat_taxonomy_url: str = _url_field("inat_taxonomy")
    rare_seen_url: str = _url_field("rare_seen")
    rare_unseen_url: str = _url_field("rare_unseen")
    mirror_dir: str = Field(default="", description="Local mirror (folder / file:// / http(s):// base) standing in for every remote.")
    force: bool = Field(default=False, description="Fetch and extract again even when a verified copy exists.")
    retries: int = Field(default=5, description="Retries of a transfer on 429/5xx/timeouts/cuts (exponential backoff).")
    backoff_seconds: float = Field(default=2.0, description="First backoff; doubles per retry (capped at 120 s).")
    timeout_seconds: float = Field(default=60.0, description="Socket timeout of a transfer.")
    progress_seconds: float = Field(default=30.0, description="Seconds between progress lines in the run log.")
    extract_workers: int = Field(default=8, description="Threads extracting BIOSCAN parts in parallel.")
    keep_archives: bool = Field(default=True, description="Keep train.tar.gz / cropped_256.zip after extraction.")
    bioscan_file_count: int = Field(default=S.BIOSCAN_FILE_COUNT, description="Images expected in cropped_256 (0 = not checked).")
    inat21_file_count: int = Field(default=S.INAT21_FILE_COUNT, description="Images expected in iNat21 train/ (0 = not checked).")

    def core(self) -> F.Settings:
        return F.Settings(
            hf_repo=self.hf_repo, hf_revision=self.hf_revision, hf_endpoint=self.hf_endpoint, hf_backend=self.hf_backend,
            urls={key: getattr(self, f"{key}_url") for key in S.HTTP_FILES}, mirror_dir=self.mirror_dir, force=self.force,
            retries=self.retries, backoff_seconds=self.backoff_seconds, timeout_seconds=self.timeout_seconds,
            progress_seconds=self.progress_seconds, extract_workers=self.extract_workers, keep_archives=self.keep_archives,
            bioscan_file_count=self.bioscan_file_count, inat21_file_count=self.inat21_file_count,
        )


def _run(context: AssetExecutionContext, fn, *args) -> F.Fetched:
    """Call a core fetch; errors a retry cannot fix fail without Dagster retries."""
    try:
        return fn(*args, context.log.info)
    except (VerificationError, RemoteMissing, UnsafeArchive) as exc:
        raise Failure(description=str(exc), allow_retries=False) from exc
    except DownloadError as exc:
        if any(s in str(exc) for s in ("(404)", "(401)", "(403)", "HF_HUB_OFFLINE", "is not set", "TLS", "resolved")):
            raise Failure(description=str(exc), allow_retries=False) from exc
        raise


def _metadata(fetched: F.Fetched) -> dict:
    md = {
        "files": MetadataValue.json({r.path.name: {"path": str(r.path), "bytes": r.bytes, "sha256": r.sha256, "fetched": r.fetched,
                                                   "seconds": round(r.seconds, 2), "resumed_from": r.resumed_from, "source": r.source}
                                     for r in fetched.files}),
        "bytes": MetadataValue.int(fetched.bytes),
        "fetched": MetadataValue.int(fetched.fetched),
        "seconds": MetadataValue.float(round(sum(r.seconds for r in fetched.files), 3)),
    }
    if len(fetched.files) == 1:
        md["path"] = MetadataValue.path(str(fetched.files[0].path))
        md["sha256"] = MetadataValue.text(fetched.files[0].sha256)
    for folder, files in fetched.extracted.items():
        md[f"extracted_files[{Path(folder).name}]"] = MetadataValue.int(files)
    if fetched.skipped:
        md["skipped"] = MetadataValue.json(fetched.skipped)
    for key, value in fetched.notes.items():
        if isinstance(value, (bool, int, str)):
            md[key] = value
    return md


def _verified(fetched: F.Fetched) -> AssetCheckResult:
    bad = [str(r.path) for r in fetched.files if verified_record(r.path) is None and r.path.exists()]
    return AssetCheckResult(check_name="verified", passed=not bad,
                            metadata={"files": len(fetched.files), "unverified": MetadataValue.json(bad),
                                      "sha256": MetadataValue.json({r.path.name: r.sha256 for r in fetched.files})})


def _count(fetched: F.Fetched, expected: int, setting: str) -> AssetCheckResult:
    found = sum(fetched.extracted.values())
    return AssetCheckResult(check_name="file_count", passed=not expected or found == expected,
                            metadata={"files": found, "expected": expected or "not checked", "setting": setting})


VERIFIED = "size and checksum match what the source publishes (SHA-256 of LFS files on the hub, MD5 on Zenodo), recorded in .verified.json"


def _spec(asset_name: str, name: str, description: str) -> AssetCheckSpec:
    return AssetCheckSpec(name, asset=asset_name, description=description)


@asset(group_name="downloads", **asset_attrs("eol_image_set_download"), partitions_def=eol_set_partitions, kinds={"huggingface"}, pool=POOL, retry_policy=DOWNLOAD_RETRY,
       check_specs=[_spec("eol_image_set_download", "verified", VERIFIED)])
def eol_image_set_download(context: AssetExecutionContext, downloads: DownloadSettings, tol: TreeOfLifeConfig):
    """One EOL image set of the published dataset, `dataset/EOL/image_set_NN.tar.gz` → `source_paths.eol_published_images`
    (partitions: the sets on disk or planned with the job `plan_eol_image_sets`)."""
    if context.partition_key not in S.EOL_IMAGE_SETS:
        raise Failure(description=f"partition {context.partition_key!r} is no EOL image set (01 … 63)", allow_retries=False)
    fetched = _run(context, F.fetch_eol_image_set, downloads.core(), tol.layout(), context.partition_key)
    return MaterializeResult(metadata=_metadata(fetched), check_results=[_verified(fetched)])


@asset(group_name="downloads", **asset_attrs("tol_metadata_download"), kinds={"huggingface"}, pool=POOL, retry_policy=DOWNLOAD_RETRY,
       check_specs=[_spec("tol_metadata_download", "verified", VERIFIED)])
def tol_metadata_download(context: AssetExecutionContext, downloads: DownloadSettings, tol: TreeOfLifeConfig):
    """The published metadata: catalog.csv, mapping.sqlite, licenses.csv, taxon.tab, ITIS chains, the naming JSONs."""
    fetched = _run(context, F.fetch_tol_metadata, downloads.core(), tol.layout(), tol.resolved_sources_root())
    return MaterializeResult(metadata=_metadata(fetched), check_results=[_verified(fetched)])


@asset(group_name="downloads", **asset_attrs("inat21_download"), kinds={"http"}, pool=POOL, retry_policy=DOWNLOAD_RETRY,
       check_specs=[_spec("inat21_download", "verified", VERIFIED),
                    _spec("inat21_download", "file_count", "images extracted = downloads.inat21_file_count")])
def inat21_download(context: AssetExecutionContext, downloads: DownloadSettings, tol: TreeOfLifeConfig):
    """iNat21 `train.tar.gz`, extracted so that `source_paths.inat21_train` is its `train/` folder."""
    settings = downloads.core()
    fetched = _run(context, F.fetch_inat21, settings, tol.layout(), tol.resolved_sources_root())
    return MaterializeResult(metadata=_metadata(fetched), check_results=[
        _verified(fetched), _count(fetched, settings.inat21_file_count, "downloads.inat21_file_count")])


@asset(group_name="downloads", **asset_attrs("bioscan_download"), kinds={"http"}, pool=POOL, retry_policy=DOWNLOAD_RETRY,
       check_specs=[_spec("bioscan_download", "verified", VERIFIED),
                    _spec("bioscan_download", "file_count", "images extracted = downloads.bioscan_file_count (1,128,313 published)")])
def bioscan_download(context: AssetExecutionContext, downloads: DownloadSettings, tol: TreeOfLifeConfig):
    """BIOSCAN-1M `cropped_256.zip` (parts extracted in parallel into `source_paths.bioscan_images`, count checked)
    and `BIOSCAN_Insect_Dataset_metadata.jsonld`."""
    settings = downloads.core()
    fetched = _run(context, F.fetch_bioscan, settings, tol.layout(), tol.resolved_sources_root())
    return MaterializeResult(metadata=_metadata(fetched), check_results=[
        _verified(fetched), _count(fetched, settings.bioscan_file_count, "downloads.bioscan_file_count")])


@asset(group_name="downloads", **asset_attrs("name_sources_download"), kinds={"http"}, pool=POOL, retry_policy=DOWNLOAD_RETRY,
       check_specs=[_spec("name_sources_download", "verified", VERIFIED)])
def name_sources_download(context: AssetExecutionContext, downloads: DownloadSettings, tol: TreeOfLifeConfig):
    """EOL vernacular names, the iNaturalist taxonomy DwC-A (taxa.csv, VernacularNames-english.csv)."""
    fetched = _run(context, F.fetch_name_sources, downloads.core(), tol.layout(), tol.resolved_sources_root())
    return MaterializeResult(metadata=_metadata(fetched), check_results=[_verified(fetched)])


@asset(group_name="downloads", **asset_attrs("rare_species_download"), kinds={"http"}, pool=POOL, retry_policy=DOWNLOAD_RETRY,
       check_specs=[_spec("rare_species_download", "verified", VERIFIED + "; each list is a JSON object")])
def rare_species_download(context: AssetExecutionContext, downloads: DownloadSettings, tol: TreeOfLifeConfig):
    """The Rare Species benchmark lists (seen / unseen in training) from the BioCLIP repository."""
    fetched = _run(context, F.fetch_rare_species, downloads.core(), tol.layout())
    return MaterializeResult(metadata=_metadata(fetched), check_results=[_verified(fetched)])


class PlannedSets(Config):
    sets: list[str] = Field(default_factory=lambda: list(S.EOL_IMAGE_SETS),
                            description="EOL image sets to download (01 … 63; default: all 63).")


@op(description="Register EOL image sets as partitions of eol_image_set_download (they show as Missing until downloaded).")
def register_eol_image_sets(context: OpExecutionContext, config: PlannedSets) -> list[str]:
    wrong = [s for s in config.sets if s not in S.EOL_IMAGE_SETS]
    if wrong:
        raise Failure(description=f"not EOL image sets (01 … 63): {', '.join(wrong)}")
    new = [s for s in dict.fromkeys(config.sets) if not context.instance.has_dynamic_partition(EOL_SETS, s)]
    if new:
        context.instance.add_dynamic_partitions(EOL_SETS, new)
    context.log.info(f"planned {len(config.sets)} EOL image set(s), {len(new)} new: {', '.join(new) or 'none'}; "
                     "download them: eol_image_set_download → Materialize → Missing (or Materialize unsynced)")
    return new


@job(name="plan_eol_image_sets", description="Plan EOL image-set downloads: register the sets (default all 63) as "
     "partitions of eol_image_set_download; then backfill its Missing partitions (download_eol_image_sets).")
def plan_eol_job():
    register_eol_image_sets()


# EOL first (partitioned), then the unpartitioned downloads: jobs.py selects download_assets[0] / [1:].
download_assets = [eol_image_set_download, tol_metadata_download, inat21_download, bioscan_download,
                   name_sources_download, rare_species_download]

# raw input asset → the download that fills it (lineage in the UI; read by defs/raw.py)
RAW_FROM_DOWNLOAD = {
    "eol_published_images": ["eol_image_set_download"],
    "published_metadata": ["tol_metadata_download"],
    "published_licenses": ["tol_metadata_download"],
    "published_name_lookups": ["tol_metadata_download"],
    "eol_hierarchy": ["tol_metadata_download"],
    "itis_chains": ["tol_metadata_download"],
    "inat21_images": ["inat21_download"],
    "bioscan_images": ["bioscan_download"],
    "bioscan_metadata": ["bioscan_download"],
    "eol_vernacular_names": ["name_sources_download"],
    "inaturalist_taxonomy": ["name_sources_download"],
    "rare_species_lists": ["rare_species_download"],
}


# --- checks of what is on disk (no download; cheap: records, markers, counts) ---------------------

def _on_disk(paths: list[Path]) -> AssetCheckResult:
    missing = [str(p) for p in paths if not p.exists()]
    unverified = [str(p) for p in paths if p.exists() and verified_record(p) is None]
    return AssetCheckResult(passed=not missing and not unverified, severity=AssetCheckSeverity.WARN,
                            metadata={"files": len(paths), "missing": MetadataValue.json(missing),
                                      "changed_since_verified": MetadataValue.json(unverified)})


def _extracted_on_disk(target: Path, expected: int) -> AssetCheckResult:
    marker_path = target.with_name(target.name + ".extracted.json")
    try:
        recorded = json.loads(marker_path.read_text())["files"]
    except (OSError, ValueError, KeyError):
        return AssetCheckResult(passed=False, severity=AssetCheckSeverity.WARN,
                                metadata={"reason": f"{target} has not been extracted (no {marker_path.name})"})
    found = count_files(target) if target.is_dir() else 0
    return AssetCheckResult(passed=found == recorded and (not expected or found == expected), severity=AssetCheckSeverity.WARN,
                            metadata={"files": found, "extracted": recorded, "expected": expected or "not checked"})


@asset_check(asset=eol_image_set_download, name="on_disk",
             description="how many of the 63 image sets are on disk, unchanged since verified (passes when all are)")
def eol_image_set_on_disk(tol: TreeOfLifeConfig) -> AssetCheckResult:
    folder = tol.layout().eol_published_images
    paths = [folder / Path(S.eol_set_path(nn)).name for nn in S.EOL_IMAGE_SETS]
    verified = [p.name for p in paths if verified_record(p) is not None]
    return AssetCheckResult(passed=len(verified) == len(paths), severity=AssetCheckSeverity.WARN,
                            metadata={"verified": len(verified), "expected": len(paths),
                                      "missing_or_changed": MetadataValue.json([p.name for p in paths if p.name not in verified])})


@asset_check(asset=tol_metadata_download, name="on_disk", description="the required metadata files are on disk, unchanged since verified")
def tol_metadata_on_disk(tol: TreeOfLifeConfig) -> AssetCheckResult:
    layout, root = tol.layout(), tol.resolved_sources_root()
    return _on_disk([item.destination(layout, root) for item in S.HF_METADATA if item.required])


@asset_check(asset=inat21_download, name="on_disk", description="train/ holds the files extracted (and the expected number)")
def inat21_on_disk(tol: TreeOfLifeConfig, downloads: DownloadSettings) -> AssetCheckResult:
    return _extracted_on_disk(tol.layout().inat21_train, downloads.inat21_file_count)


@asset_check(asset=bioscan_download, name="on_disk", description="cropped_256 holds the files extracted (and the expected number)")
def bioscan_on_disk(tol: TreeOfLifeConfig, downloads: DownloadSettings) -> AssetCheckResult:
    return _extracted_on_disk(tol.layout().bioscan_images, downloads.bioscan_file_count)


@asset_check(asset=name_sources_download, name="on_disk", description="the name sources are on disk")
def name_sources_on_disk(tol: TreeOfLifeConfig) -> AssetCheckResult:
    layout = tol.layout()
    result = _on_disk([layout.eol_vernacular])
    extracted = [str(p) for p in (layout.inat_taxa, layout.inat_vernacular) if not p.is_file()]
    return AssetCheckResult(passed=result.passed and not extracted, severity=AssetCheckSeverity.WARN,
                            metadata={**result.metadata, "inaturalist_missing": MetadataValue.json(extracted)})


@asset_check(asset=rare_species_download, name="on_disk", description="both Rare Species lists are on disk, unchanged since verified")
def rare_species_on_disk(tol: TreeOfLifeConfig) -> AssetCheckResult:
    layout = tol.layout()
    return _on_disk([layout.rare_seen, layout.rare_unseen])


download_checks = [eol_image_set_on_disk, tol_metadata_on_disk, inat21_on_disk, bioscan_on_disk, name_sources_on_disk, rare_species_on_disk]

__all__ = ["DownloadSettings", "EOL_SETS", "RAW_FROM_DOWNLOAD", "download_assets", "download_checks", "eol_set_partitions",
           "plan_eol_job"]
