"""What the download assets fetch, and from where by default (the only place remote locations are
named). Every location is a setting of ``DownloadSettings``; ``mirror_dir`` replaces them all."""

HF_REPO = "imageomics/TreeOfLife-10M"
HF_REVISION = "main"  # pin a commit hash for a reproducible build
EOL_IMAGE_SETS = [f"{i:02d}" for i in range(1, 64)]
EOL_SET_PATH = "dataset/EOL/image_set_{nn}.tar.gz"
HF_METADATA = [
    "metadata/catalog.csv",
    "metadata/mapping.sqlite",
    "metadata/licenses.csv",
    "metadata/taxon.tab",
    "metadata/species_level_taxonomy_chains.csv",
]
INAT21_TRAIN_URL = "https://ml-inat-competition-datasets.s3.amazonaws.com/2021/train.tar.gz"
INAT_TAXONOMY_URL = "https://www.inaturalist.org/taxa/inaturalist-taxonomy.dwca.zip"
RARE_SEEN_URL = "https://raw.githubusercontent.com/Imageomics/bioclip/main/data/rarespecies/seen_in_training.json"
RARE_UNSEEN_URL = "https://raw.githubusercontent.com/Imageomics/bioclip/main/data/rarespecies/unseen_in_training.json"
# BIOSCAN-1M and the EOL vernacular-name dump are distributed through links that change: set them.
BIOSCAN_ZIP_URL = ""
BIOSCAN_METADATA_URL = ""
EOL_VERNACULAR_URL = ""
BIOSCAN_FILE_COUNT = 1_128_313
# The file name each remote has in a mirror_dir.
MIRROR_NAMES = {
    "inat21_train_url": "train.tar.gz",
    "bioscan_zip_url": "cropped_256.zip",
    "bioscan_metadata_url": "BIOSCAN_Insect_Dataset_metadata.jsonld",
    "eol_vernacular_url": "vernacularnames.csv",
    "inat_taxonomy_url": "inaturalist-taxonomy.dwca.zip",
    "rare_seen_url": "seen_in_training.json",
    "rare_unseen_url": "unseen_in_training.json",
}
