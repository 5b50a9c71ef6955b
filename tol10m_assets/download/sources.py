"""The catalogue of what the download assets fetch, and from where by default.

This module is the ONE place where remote hosts are named: every default URL is in
:data:`DEFAULT_URLS` (and the Hugging Face repository in :data:`HF_REPO`). Every location is a
setting of ``DownloadSettings`` (``<key>_url``); ``mirror_dir`` replaces them all with a local copy
holding each file under :attr:`RemoteFile.mirror_name` and each Hugging Face file at its path in
the repository.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tol10m_assets.layout import SourceLayout

# --- Hugging Face: the published dataset -------------------------------------------------------
HF_REPO = "imageomics/TreeOfLife-10M"
HF_REPO_TYPE = "dataset"
# A commit of the dataset's main branch ("Update citation by adding pages (#7)") that has the EOL
# image sets, the metadata and metadata/naming/. Pinned so a build is reproducible; set
# `downloads.hf_revision` to another commit (or a branch, which is logged as unpinned).
HF_REVISION = "217ae7deafd3b07f3549ad6542f87ae3cf8c31bd"
EOL_IMAGE_SETS = [f"{i:02d}" for i in range(1, 64)]


def eol_set_path(nn: str) -> str:
    """``dataset/EOL/image_set_NN.tar.gz`` (``nn`` is ``"01"`` … ``"63"``)."""
    if nn not in EOL_IMAGE_SETS:
        raise ValueError(f"EOL image set {nn!r} is not one of 01 … 63")
    return f"dataset/EOL/image_set_{nn}.tar.gz"


EOL_SET_PATH = "dataset/EOL/image_set_{nn}.tar.gz"


@dataclass(frozen=True)
class HubFile:
    """A file of the Hugging Face repository and where it lands."""

    path: str  # in the repository
    layout_field: str | None = None  # SourceLayout field it fills; None = the same relative path under the sources root
    required: bool = True  # optional files that the repository lacks are skipped with a warning
    description: str = ""

    def destination(self, layout: SourceLayout, root: Path) -> Path:
        return getattr(layout, self.layout_field) if self.layout_field else Path(root) / self.path


HF_METADATA: list[HubFile] = [
    HubFile("metadata/catalog.csv", "published_catalog", description="the published catalog"),
    HubFile("metadata/mapping.sqlite", "published_mapping", description="the published mapping (ids, splits)"),
    HubFile("metadata/licenses.csv", "published_licenses", description="licences of the EOL images"),
    HubFile("metadata/taxon.tab", "taxon_tab", description="EOL Dynamic Hierarchy"),
    HubFile("metadata/species_level_taxonomy_chains.csv", "itis_chains", description="ITIS species-level chains"),
    HubFile("metadata/naming/eol_name_lookup.json", "eol_name_lookup", required=False, description="EOL name lookup of the published build"),
    HubFile("metadata/naming/inat21_name_lookup.json", "inat21_name_lookup", required=False, description="iNat21 name lookup of the published build"),
    HubFile("metadata/naming/bioscan_name_lookup.json", "bioscan_name_lookup", required=False, description="BIOSCAN name lookup of the published build"),
]

# --- HTTP sources ------------------------------------------------------------------------------
DEFAULT_URLS: dict[str, str] = {
    "inat21_train": "https://ml-inat-competition-datasets.s3.amazonaws.com/2021/train.tar.gz",
    # BIOSCAN-1M on Zenodo (record 8030065); the project also lists Google Drive folders.
    "bioscan_zip": "https://zenodo.org/records/8030065/files/cropped_256.zip",
    "bioscan_metadata": "https://zenodo.org/records/8030065/files/BIOSCAN_Insect_Dataset_metadata.jsonld",
    # EOL's vernacular-name dump (listed on opendata.eol.org/dataset/vernacular-names).
    "eol_vernacular": "https://eol.org/data/vernacularnames.csv",
    "inat_taxonomy": "https://www.inaturalist.org/taxa/inaturalist-taxonomy.dwca.zip",
    "rare_seen": "https://raw.githubusercontent.com/Imageomics/bioclip/main/data/rarespecies/seen_in_training.json",
    "rare_unseen": "https://raw.githubusercontent.com/Imageomics/bioclip/main/data/rarespecies/unseen_in_training.json",
}


@dataclass(frozen=True)
class RemoteFile:
    """A file fetched over HTTP: its setting, its name in a mirror, and what its source publishes."""

    key: str
    mirror_name: str
    description: str
    md5: str | None = None  # published by the source
    sha256: str | None = None

    @property
    def setting(self) -> str:
        return f"downloads.{self.key}_url"

    @property
    def default_url(self) -> str:
        return DEFAULT_URLS[self.key]


HTTP_FILES: dict[str, RemoteFile] = {f.key: f for f in [
    RemoteFile("inat21_train", "train.tar.gz", "iNat21 training images (about 224 GB)"),
    RemoteFile("bioscan_zip", "cropped_256.zip", "BIOSCAN-1M cropped_256 images", md5="fe1175815742db14f7372d505345284a"),
    RemoteFile("bioscan_metadata", "BIOSCAN_Insect_Dataset_metadata.jsonld", "BIOSCAN-1M metadata"),
    RemoteFile("eol_vernacular", "vernacularnames.csv", "EOL vernacular names"),
    RemoteFile("inat_taxonomy", "inaturalist-taxonomy.dwca.zip", "iNaturalist taxonomy (Darwin Core archive)"),
    RemoteFile("rare_seen", "seen_in_training.json", "Rare Species benchmark: species seen in training"),
    RemoteFile("rare_unseen", "unseen_in_training.json", "Rare Species benchmark: species unseen in training"),
]}
# file name of each HTTP source in a mirror, by setting name (kept for older callers)
MIRROR_NAMES = {f"{f.key}_url": f.mirror_name for f in HTTP_FILES.values()}

# --- expected counts ---------------------------------------------------------------------------
BIOSCAN_FILE_COUNT = 1_128_313  # cropped_256: part1 … part113
INAT21_FILE_COUNT = 2_686_843  # train/: 10,000 class folders
INAT_TAXONOMY_MEMBERS = {"taxa.csv": "inat_taxa", "VernacularNames-english.csv": "inat_vernacular"}

# Where archives are kept under the sources root (so a finished download is not fetched again).
ARCHIVE_DIR = "downloads"
