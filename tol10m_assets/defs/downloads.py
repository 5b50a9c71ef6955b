"""Raw downloads: Hugging Face (EOL image sets, published metadata), iNat21, BIOSCAN-1M and the
name sources, into the sources layout. Resumable, verified, a no-op once done (unless ``force``)."""

import posixpath
import shutil
import urllib.parse
from pathlib import Path

from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetExecutionContext,
    ConfigurableResource,
    Failure,
    MaterializeResult,
    MetadataValue,
    StaticPartitionsDefinition,
    asset,
)

from tol10m_assets.defs.resources import TreeOfLifeConfig
from tol10m_assets.download import count_files, download, extract_tar, extract_zip, hf_download
from tol10m_assets.download import sources as S

eol_set_partitions = StaticPartitionsDefinition(S.EOL_IMAGE_SETS)


class DownloadSettings(ConfigurableResource):
    """Where downloads come from. ``mirror_dir``: a local folder (or file:// tree) standing in for
    every remote, with the remote's relative names (``dataset/EOL/…``, ``metadata/…``, and the file
    name of each HTTP URL)."""

    hf_repo: str = S.HF_REPO
    hf_revision: str = S.HF_REVISION
    inat21_train_url: str = S.INAT21_TRAIN_URL
    bioscan_zip_url: str = S.BIOSCAN_ZIP_URL
    bioscan_metadata_url: str = S.BIOSCAN_METADATA_URL
    bioscan_file_count: int = S.BIOSCAN_FILE_COUNT
    eol_vernacular_url: str = S.EOL_VERNACULAR_URL
    inat_taxonomy_url: str = S.INAT_TAXONOMY_URL
    rare_seen_url: str = S.RARE_SEEN_URL
    rare_unseen_url: str = S.RARE_UNSEEN_URL
    mirror_dir: str = ""
    force: bool = False
    retries: int = 5

    def url(self, setting: str, name: str | None = None) -> str:
        value = getattr(self, setting)
        if self.mirror_dir:
            base = name or S.MIRROR_NAMES.get(setting) or posixpath.basename(urllib.parse.urlparse(value).path)
            return (Path(self.mirror_dir).absolute() / base).as_uri()
        if not value:
            raise Failure(f"`downloads.{setting}` is not set: give the URL of this file, or a mirror_dir")
        return value

    def hf_file(self, context, path_in_repo: str, dest_root: Path):
        if self.mirror_dir:
            return download(self.url("hf_repo", path_in_repo), dest_root / path_in_repo, force=self.force, log=context.log.info)
        return hf_download(self.hf_repo, path_in_repo, self.hf_revision, dest_root, force=self.force)

    def http_file(self, context, setting: str, dest: Path):
        return download(self.url(setting), dest, force=self.force, retries=self.retries, log=context.log.info)


def _figures(results) -> dict:
    return {
        "files": MetadataValue.json({str(r.path.name): {"bytes": r.bytes, "sha256": r.sha256, "fetched": r.fetched} for r in results}),
        "bytes": sum(r.bytes for r in results),
        "fetched": sum(r.fetched for r in results),
    }


@asset(group_name="raw", partitions_def=eol_set_partitions, kinds={"huggingface"},
       check_specs=[AssetCheckSpec("verified", asset="eol_image_set_download", description="size and SHA-256 match the hub's")])
def eol_image_set_download(context: AssetExecutionContext, downloads: DownloadSettings, tol: TreeOfLifeConfig):
    """One EOL image set of the published dataset (``dataset/EOL/image_set_NN.tar.gz``)."""
    result = downloads.hf_file(context, S.EOL_SET_PATH.format(nn=context.partition_key), tol.resolved_sources_root())
    yield MaterializeResult(metadata=_figures([result]))
    yield AssetCheckResult(check_name="verified", passed=Path(str(result.path) + ".verified.json").exists(), metadata={"sha256": result.sha256})


@asset(group_name="raw", kinds={"huggingface"})
def tol_metadata_download(context: AssetExecutionContext, downloads: DownloadSettings, tol: TreeOfLifeConfig) -> MaterializeResult:
    """The published metadata: catalog.csv, mapping.sqlite, licenses.csv, taxon.tab, ITIS chains."""
    return MaterializeResult(metadata=_figures([downloads.hf_file(context, p, tol.resolved_sources_root()) for p in S.HF_METADATA]))


@asset(group_name="raw", kinds={"http"})
def inat21_download(context: AssetExecutionContext, downloads: DownloadSettings, tol: TreeOfLifeConfig) -> MaterializeResult:
    """iNat21 ``train.tar.gz``, extracted so that the layout's ``inat21_train`` is its ``train/``."""
    layout = tol.layout()
    archive = downloads.http_file(context, "inat21_train_url", tol.resolved_sources_root() / "downloads" / "train.tar.gz")
    target = layout.inat21_train.parent
    marker = target / ".extracted-from.json"
    if archive.fetched or not marker.exists() or downloads.force:
        files = extract_tar(archive.path, target)
        marker.write_text(f'{{"sha256": "{archive.sha256}", "files": {files}}}')
    classes = sum(1 for p in layout.inat21_train.iterdir() if p.is_dir())
    return MaterializeResult(metadata={**_figures([archive]), "classes": classes, "images": count_files(layout.inat21_train, ".jpg")})


@asset(group_name="raw", kinds={"http"},
       check_specs=[AssetCheckSpec("file_count", asset="bioscan_download", description="the published number of BIOSCAN images")])
def bioscan_download(context: AssetExecutionContext, downloads: DownloadSettings, tol: TreeOfLifeConfig):
    """BIOSCAN-1M ``cropped_256.zip`` (parts extracted in parallel) and its metadata JSON."""
    layout = tol.layout()
    archive = downloads.http_file(context, "bioscan_zip_url", tol.resolved_sources_root() / "downloads" / "cropped_256.zip")
    meta = downloads.http_file(context, "bioscan_metadata_url", layout.bioscan_metadata)
    target = layout.bioscan_images.parent
    marker = target / ".extracted-from.json"
    if archive.fetched or not marker.exists() or downloads.force:
        extract_zip(archive.path, target, workers=4, group_depth=2)
        marker.write_text(f'{{"sha256": "{archive.sha256}"}}')
    images = count_files(layout.bioscan_images, ".jpg")
    yield MaterializeResult(metadata={**_figures([archive, meta]), "images": images})
    yield AssetCheckResult(check_name="file_count", passed=images == downloads.bioscan_file_count,
                           metadata={"images": images, "expected": downloads.bioscan_file_count})


@asset(group_name="raw", kinds={"http"})
def name_sources_download(context: AssetExecutionContext, downloads: DownloadSettings, tol: TreeOfLifeConfig) -> MaterializeResult:
    """EOL vernacular names, the iNaturalist taxonomy (taxa.csv, English vernaculars), the rare-species lists."""
    layout = tol.layout()
    results = [
        downloads.http_file(context, "rare_seen_url", layout.rare_seen),
        downloads.http_file(context, "rare_unseen_url", layout.rare_unseen),
        downloads.http_file(context, "inat_taxonomy_url", tol.resolved_sources_root() / "downloads" / "inaturalist-taxonomy.dwca.zip"),
    ]
    if downloads.eol_vernacular_url or downloads.mirror_dir:
        results.append(downloads.http_file(context, "eol_vernacular_url", layout.eol_vernacular))
    else:
        context.log.warning("downloads.eol_vernacular_url is not set: EOL common names are skipped")
    staging = tol.resolved_sources_root() / "downloads" / "inaturalist"
    extract_zip(results[2].path, staging, workers=1)
    for name, dest in (("taxa.csv", layout.inat_taxa), ("VernacularNames-english.csv", layout.inat_vernacular)):
        found = next(staging.rglob(name), None)
        if found is None:
            raise Failure(f"{results[2].path} has no {name}: is inat_taxonomy_url the iNaturalist DwC-A zip?")
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(found, dest)
    return MaterializeResult(metadata=_figures(results))


download_assets = [eol_image_set_download, tol_metadata_download, inat21_download, bioscan_download, name_sources_download]
# raw input asset → the download that fills it (lineage in the UI)
RAW_FROM_DOWNLOAD = {
    "eol_published_images": ["eol_image_set_download"],
    "published_metadata": ["tol_metadata_download"],
    "eol_hierarchy": ["tol_metadata_download"],
    "itis_chains": ["tol_metadata_download"],
    "inat21_images": ["inat21_download"],
    "bioscan_images": ["bioscan_download"],
    "bioscan_metadata": ["bioscan_download"],
    "eol_vernacular_names": ["name_sources_download"],
    "inaturalist_taxonomy": ["name_sources_download"],
    "rare_species_lists": ["name_sources_download"],
}
