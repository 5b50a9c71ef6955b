"""Where every raw input lives, relative to one *sources root*.

The layout mirrors the published Hugging Face dataset (``dataset/EOL``, ``metadata/``) and the
original downloads, so a user can point the platform at an existing download. The sample world
(``tol10m_assets.sample``) and the download assets write exactly this layout; every path can be
overridden one by one in the Dagster config.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from pathlib import Path

# Relative defaults: key -> path under the sources root.
DEFAULT_PATHS: dict[str, str] = {
    # EOL, original generation: image_set_NN.tar.gz, members <content>_<page>_eol-full-size-copy.jpg
    "eol_images": "eol/images",
    # EOL, published reproduction flavour: image_set_NN.tar.gz, members <treeoflife_id>.jpg
    "eol_published_images": "dataset/EOL",
    "published_mapping": "metadata/mapping.sqlite",
    "published_catalog": "metadata/catalog.csv",
    "published_licenses": "metadata/licenses.csv",
    # the published name lookups (reproduce mode's labels): metadata/naming/<source>_name_lookup.json
    "eol_name_lookup": "metadata/naming/eol_name_lookup.json",
    "inat21_name_lookup": "metadata/naming/inat21_name_lookup.json",
    "bioscan_name_lookup": "metadata/naming/bioscan_name_lookup.json",
    # EOL names
    "taxon_tab": "metadata/taxon.tab",
    "scraped_page_ids": "eol/scraped_page_ids.csv",
    "eol_vernacular": "eol/vernacularnames.csv",
    "eol_media_manifest": "eol/media_manifest.csv",
    # upgrading and common names
    "itis_chains": "metadata/species_level_taxonomy_chains.csv",
    "resolved": "metadata/resolved.jsonl",
    "inat_taxa": "inaturalist/taxa.csv",
    "inat_vernacular": "inaturalist/VernacularNames-english.csv",
    # iNat21: train/<NNNNN>_<K>_<P>_<C>_<O>_<F>_<G>_<s>/<uuid>.jpg
    "inat21_train": "inat21/train",
    # BIOSCAN-1M: part1/ ... part113/ of cropped_256, plus the metadata JSON
    "bioscan_images": "bioscan/cropped_256",
    "bioscan_metadata": "bioscan/BIOSCAN_Insect_Dataset_metadata.jsonld",
    # Rare Species benchmark lists
    "rare_seen": "rarespecies/seen_in_training.json",
    "rare_unseen": "rarespecies/unseen_in_training.json",
}


@dataclass(frozen=True)
class SourceLayout:
    """Absolute paths of every raw input. Build with :meth:`under`."""

    eol_images: Path
    eol_published_images: Path
    published_mapping: Path
    published_catalog: Path
    published_licenses: Path
    eol_name_lookup: Path
    inat21_name_lookup: Path
    bioscan_name_lookup: Path
    taxon_tab: Path
    scraped_page_ids: Path
    eol_vernacular: Path
    eol_media_manifest: Path
    itis_chains: Path
    resolved: Path
    inat_taxa: Path
    inat_vernacular: Path
    inat21_train: Path
    bioscan_images: Path
    bioscan_metadata: Path
    rare_seen: Path
    rare_unseen: Path
    # the takedown list: a setting of its own (`remove_list`), not a source path; None when there is none
    remove_list: Path | None = None

    @classmethod
    def under(cls, root: str | Path, **overrides: str | Path | None) -> "SourceLayout":
        """The default layout under ``root``; a non-empty override replaces one path (relative = under root)."""
        root = Path(root)
        values = {}
        for key, rel in DEFAULT_PATHS.items():
            chosen = overrides.get(key) or rel
            p = Path(chosen)
            values[key] = p if p.is_absolute() else root / p
        return cls(**values)

    def with_paths(self, **changes: Path) -> "SourceLayout":
        return replace(self, **changes)

    def items(self):
        return [(f.name, getattr(self, f.name)) for f in fields(self) if getattr(self, f.name) is not None]
