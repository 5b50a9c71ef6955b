"""Raw inputs as observable source assets: their data version is their content.

Each raw input (a file or a folder of the sources layout) is observed, not built: the observation
records a data version made from its content (a SHA-256 of small files; size and modification time
of large files and of every file of a folder) and its counts and bytes. When an input changes, the
next observation (job `observe_sources`, or its schedule) gives it a new data version and every asset
that reads it shows as stale in the UI.

`shard_sources` is the same per shard partition: the version of partition `eol-07` covers its own
image set, the name sources its labels come from and the settings that shape its shards, so a change
of `taxon.tab` makes the EOL partitions stale and leaves iNat21 and BIOSCAN partitions fresh.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from pathlib import Path

from dagster import (
    AssetObservation,
    AssetSpec,
    DataVersion,
    MetadataValue,
    ObserveResult,
    multi_observable_source_asset,
)
from dagster._core.definitions.data_version import DATA_VERSION_TAG

from tol10m_assets.defs.metadata import OWNERS, human_bytes
from tol10m_assets.defs.partitions import SHARD_PARTITIONS, shard_partitions
from tol10m_assets.defs.resources import TreeOfLifeConfig
from tol10m_assets.errors import MissingSourceError

# asset name -> (layout fields it covers, required in which modes, description)
RAW_SOURCES: dict[str, tuple[tuple[str, ...], tuple[str, ...], str]] = {
    "eol_images": (("eol_images",), ("generate",), "EOL image sets `image_set_NN.tar.gz` (original member names)"),
    "eol_published_images": (("eol_published_images",), ("reproduce",), "EOL image sets of the published dataset (members `<treeoflife_id>.jpg`)"),
    "published_metadata": (("published_mapping", "published_catalog"), ("reproduce",), "The published `mapping.sqlite` and `catalog.csv`"),
    "inat21_images": (("inat21_train",), ("generate", "reproduce"), "iNat21 `train/` class directories"),
    "bioscan_images": (("bioscan_images",), ("generate", "reproduce"), "BIOSCAN-1M `cropped_256` part directories"),
    "bioscan_metadata": (("bioscan_metadata",), ("generate", "reproduce"), "BIOSCAN-1M metadata JSON"),
    "eol_hierarchy": (("taxon_tab",), ("generate", "reproduce"), "EOL Dynamic Hierarchy `taxon.tab`"),
    "eol_scraped_names": (("scraped_page_ids",), (), "Names of EOL pages the hierarchy lacks (`scraped_page_ids.csv`)"),
    "eol_vernacular_names": (("eol_vernacular",), (), "EOL vernacular names"),
    "eol_media_manifest": (("eol_media_manifest",), (), "EOL media manifest (licences)"),
    "itis_chains": (("itis_chains",), (), "ITIS species-level taxonomy chains"),
    "inaturalist_taxonomy": (("inat_taxa", "inat_vernacular"), (), "iNaturalist taxonomy: `taxa.csv` and English vernacular names"),
    "resolved_names": (("resolved",), (), "Global Names Resolver answers (`resolved.jsonl`)"),
    "rare_species_lists": (("rare_seen", "rare_unseen"), (), "Rare Species benchmark lists: seen and unseen in training"),
}
# the layout fields each source's labels (and exclusions) are made from
COMMON = ("itis_chains", "inat_taxa", "inat_vernacular", "eol_vernacular", "rare_seen", "rare_unseen")
NAME_INPUTS = {
    "eol": ("taxon_tab", "scraped_page_ids", "resolved", "published_mapping", *COMMON),
    "inat21": COMMON,
    "bioscan": ("bioscan_metadata", "resolved", *COMMON),
}
# settings that change what a partition writes
PARTITION_SETTINGS = ("mode", "width", "height", "jpeg_quality", "resize_mode", "val_percent", "train_small_percent", "seed",
                      "shard_max_samples", "shard_max_bytes", "inat21_classes_per_partition", "bioscan_parts_per_partition",
                      "exclude_rare_species")
HASH_LIMIT = 64 << 20  # files up to this size are hashed; larger ones and folders: size + mtime of every file
SHARD_SOURCES = "shard_sources"


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


def fingerprint(path: Path) -> str:
    """The content version of a file or folder: sha256 of a small file; size + mtime (ns) of every file
    otherwise (folders: with their relative paths, in sorted order). `absent` when it does not exist."""
    if path.is_file():
        st = path.stat()
        if st.st_size <= HASH_LIMIT:
            return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()[:24]
        return f"stat:{st.st_size}:{st.st_mtime_ns}"
    if not path.is_dir():
        return "absent"
    digest = hashlib.sha256()
    for dirpath, dirnames, names in os.walk(path):
        dirnames.sort()
        for name in sorted(names):
            full = os.path.join(dirpath, name)
            st = os.stat(full)
            digest.update(f"{os.path.relpath(full, path)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return "tree:" + digest.hexdigest()[:24]


def combine(parts: list[str]) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def _raw_spec(name: str, description: str) -> AssetSpec:
    from tol10m_assets.defs.downloads import RAW_FROM_DOWNLOAD

    return AssetSpec(name, group_name="raw", description=description, kinds={"file"}, owners=OWNERS,
                     deps=RAW_FROM_DOWNLOAD.get(name, []))


def _observe(name: str, tol: TreeOfLifeConfig, log) -> ObserveResult:
    fields, required_in, description = RAW_SOURCES[name]
    layout = tol.layout()
    metadata, parts = {}, []
    total_files = total_bytes = 0
    for field in fields:
        path = getattr(layout, field)
        metadata[f"{field}_path"] = MetadataValue.path(str(path))
        if not path.exists():
            if tol.mode in required_in:
                raise MissingSourceError(path, f"source_paths.{field}", description)
            log.warning(f"{description}: {path} is absent; lookups that need it are skipped")
            parts.append(f"{field}=absent")
            continue
        files, size = measure(path)
        total_files += files
        total_bytes += size
        metadata[f"{field}_files"] = files
        parts.append(f"{field}={fingerprint(path)}")
    metadata.update({"files": total_files, "bytes": total_bytes, "size": human_bytes(total_bytes)})
    version = combine(parts)
    metadata["content"] = MetadataValue.md("\n".join(f"- `{p}`" for p in parts))
    return ObserveResult(asset_key=name, data_version=DataVersion(version), metadata=metadata)


def _raw_asset(name: str, description: str):
    @multi_observable_source_asset(name=f"observe_{name}", specs=[_raw_spec(name, description)])
    def _asset(context, tol: TreeOfLifeConfig):
        yield _observe(name, tol, context.log)

    return _asset


def partition_inputs(tol: TreeOfLifeConfig) -> dict[str, list[Path]]:
    """Shard partition → the image files or folders it reads (sources that are absent give none)."""
    from tol10m_assets.sources import Chunking
    from tol10m_assets.sources.chunks import bioscan_partitions, eol_partition, inat21_partitions
    from tol10m_assets.sources.images import bioscan_parts, eol_image_sets, inat21_class_dirs

    layout, chunking = tol.layout(), Chunking(tol.mode, tol.inat21_classes_per_partition, tol.bioscan_parts_per_partition)
    out: dict[str, list[Path]] = {}
    listings = (
        (lambda: [(eol_partition(p.name), p) for p in eol_image_sets(layout, chunking.mode)]),
        (lambda: _counted(inat21_class_dirs(layout), inat21_partitions, chunking.inat21_classes_per_partition)),
        (lambda: _counted(bioscan_parts(layout), bioscan_partitions, chunking.bioscan_parts_per_partition)),
    )
    for listing in listings:
        try:
            for key, path in listing():
                out.setdefault(key, []).append(path)
        except MissingSourceError:
            continue
    return out


def _counted(dirs, keys_of, per_partition):
    keys = keys_of((n for n, _ in dirs), per_partition)
    return [(keys[n], p) for n, p in dirs]


def partition_versions(tol: TreeOfLifeConfig, partitions: list[str]) -> dict[str, str]:
    """Data version of each shard partition's inputs: its image files, its source's name inputs, the settings."""
    from tol10m_assets.sources.chunks import parse_partition

    layout = tol.layout()
    settings = ";".join(f"{k}={getattr(tol, k)}" for k in PARTITION_SETTINGS)
    names = {kind: [f"{f}={fingerprint(getattr(layout, f))}" for f in fields] for kind, fields in NAME_INPUTS.items()}
    inputs = partition_inputs(tol)
    versions = {}
    for key in partitions:
        kind, _ = parse_partition(key)
        images = [f"{p.name}={fingerprint(p)}" for p in sorted(inputs.get(key, []))] or ["images=absent"]
        versions[key] = combine([settings, *names[kind], *images])
    return versions


with warnings.catch_warnings():  # multi_observable_source_asset is beta in Dagster 1.13
    warnings.simplefilter("ignore")
    raw_assets = [_raw_asset(name, spec[2]) for name, spec in RAW_SOURCES.items()]

    @multi_observable_source_asset(
        name="observe_shard_sources",
        partitions_def=shard_partitions,
        specs=[AssetSpec(
            SHARD_SOURCES, group_name="raw", partitions_def=shard_partitions, kinds={"file"}, owners=OWNERS,
            deps=["eol_images", "eol_published_images", "inat21_images", "bioscan_images", "bioscan_metadata",
                  "eol_hierarchy", "eol_scraped_names", "eol_vernacular_names", "itis_chains", "inaturalist_taxonomy",
                  "resolved_names", "rare_species_lists", "published_metadata"],
            description="The inputs of each shard partition, observed per partition: its image set or class/part "
            "folders, the name sources its labels come from, and the settings that shape its shards. A partition "
            "whose inputs changed shows as stale; the others stay fresh.",
        )],
    )
    def shard_sources(context, tol: TreeOfLifeConfig):
        """All registered partitions; only its own in a partition's run (`write_shards` observes first)."""
        if context.has_partition_key:  # one observation, of this run's partition (the output's own)
            version = partition_versions(tol, [context.partition_key])[context.partition_key]
            yield ObserveResult(asset_key=SHARD_SOURCES, data_version=DataVersion(version))
            return
        # every partition in one run: an observation event per partition; the output's own observation
        # (no partition, no data version) changes no partition's version
        versions = partition_versions(tol, sorted(context.instance.get_dynamic_partitions(SHARD_PARTITIONS)))
        for key, version in versions.items():
            context.log_event(AssetObservation(SHARD_SOURCES, partition=key, tags={DATA_VERSION_TAG: version}))
        context.log.info(f"observed {len(versions)} shard partitions")
        yield ObserveResult(asset_key=SHARD_SOURCES, metadata={"partitions": len(versions)})

raw_assets.append(shard_sources)
