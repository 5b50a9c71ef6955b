"""Raw inputs, one asset per source: they point at local files and report counts and bytes."""


import os
from pathlib import Path

from dagster import AssetExecutionContext, AssetsDefinition, MaterializeResult, MetadataValue, asset

from tol10m_assets.errors import MissingSourceError
from tol10m_assets.defs.resources import TreeOfLifeConfig

# asset name -> (layout fields it covers, required in which modes, description)
RAW_SOURCES: dict[str, tuple[tuple[str, ...], tuple[str, ...], str]] = {
    "eol_images": (("eol_images",), ("generate",), "EOL image sets image_set_NN.tar.gz (original member names)"),
    "eol_published_images": (("eol_published_images",), ("reproduce",), "EOL image sets of the published dataset (members <treeoflife_id>.jpg)"),
    "published_metadata": (("published_mapping", "published_catalog"), ("reproduce",), "The published mapping.sqlite and catalog.csv"),
    "inat21_images": (("inat21_train",), ("generate", "reproduce"), "iNat21 train/ class directories"),
    "bioscan_images": (("bioscan_images",), ("generate", "reproduce"), "BIOSCAN-1M cropped_256 part directories"),
    "bioscan_metadata": (("bioscan_metadata",), ("generate", "reproduce"), "BIOSCAN-1M metadata JSON"),
    "eol_hierarchy": (("taxon_tab",), ("generate", "reproduce"), "EOL Dynamic Hierarchy taxon.tab"),
    "eol_scraped_names": (("scraped_page_ids",), (), "names of EOL pages the hierarchy lacks (scraped_page_ids.csv)"),
    "eol_vernacular_names": (("eol_vernacular",), (), "EOL vernacular names"),
    "eol_media_manifest": (("eol_media_manifest",), (), "EOL media manifest (licences)"),
    "itis_chains": (("itis_chains",), (), "ITIS species-level taxonomy chains"),
    "inaturalist_taxonomy": (("inat_taxa", "inat_vernacular"), (), "iNaturalist taxonomy: taxa.csv and English vernacular names"),
    "resolved_names": (("resolved",), (), "Global Names Resolver answers (resolved.jsonl)"),
    "rare_species_lists": (("rare_seen", "rare_unseen"), (), "Rare Species benchmark lists: seen and unseen in training"),
}


def measure(path: Path) -> tuple[int, int]:
    """(files, bytes) of a file or a directory tree."""
    if path.is_file():
        return 1, path.stat().st_size
    files = size = 0
    for dirpath, _, names in os.walk(path):
        for name in names:
            files += 1
            size += os.stat(os.path.join(dirpath, name)).st_size
    return files, size


def _raw_asset(name: str, fields: tuple[str, ...], required_in: tuple[str, ...], description: str) -> AssetsDefinition:
    from tol10m_assets.defs.downloads import RAW_FROM_DOWNLOAD

    @asset(name=name, group_name="raw", description=description, kinds={"file"}, deps=RAW_FROM_DOWNLOAD.get(name, []))
    def _asset(context: AssetExecutionContext, tol: TreeOfLifeConfig) -> MaterializeResult:
        layout = tol.layout()
        metadata = {}
        total_files = total_bytes = 0
        for field in fields:
            path = getattr(layout, field)
            if not path.exists():
                if tol.mode in required_in:
                    raise MissingSourceError(path, f"source_paths.{field}", description)
                context.log.warning(f"{description}: {path} is absent; lookups that need it are skipped")
                metadata[f"{field}_path"] = MetadataValue.path(str(path))
                continue
            files, size = measure(path)
            total_files += files
            total_bytes += size
            metadata[f"{field}_path"] = MetadataValue.path(str(path))
            metadata[f"{field}_files"] = files
        metadata["files"] = total_files
        metadata["bytes"] = total_bytes
        return MaterializeResult(metadata=metadata)

    return _asset


raw_assets = [_raw_asset(name, *spec) for name, spec in RAW_SOURCES.items()]
