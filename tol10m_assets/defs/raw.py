"""Raw inputs as observable source assets: their data version is their content.

Each raw input (a file or a folder of the sources layout) is observed, not built: the observation
records a data version made from its content (a SHA-256 of small files; size and modification time
of large files and of every file of a folder) and its counts and bytes. When an input changes, the
next observation (job `observe_sources`, or its schedule) gives it a new data version and every asset
that reads it shows as stale in the UI.

`shard_sources` is the same per shard partition: the version of partition `eol-07` covers its own
image set, the Rare Species lists, the settings that shape its shards and its slice of the mapping,
splits and labels (`tol10m_assets.slices`). A name source reaches a partition only through `labels`:
a changed `taxon.tab` makes `labels` Unsynced; once `labels` is rebuilt, it observes every partition
again (`observe_partition_slices`), and exactly the partitions whose rows changed show Unsynced.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from pathlib import Path

from dagster import (
    AssetKey,
    AssetMaterialization,
    AssetObservation,
    AssetSpec,
    DataVersion,
    MetadataValue,
    ObserveResult,
    multi_observable_source_asset,
)
from dagster._core.definitions.data_version import CODE_VERSION_TAG, DATA_VERSION_TAG

from tol10m_assets.defs.metadata import CODE_VERSIONS, OWNERS, human_bytes, unsynced_links
from tol10m_assets.defs.partitions import SHARD_PARTITIONS, shard_partitions
from tol10m_assets.defs.resources import TreeOfLifeConfig
from tol10m_assets.errors import MissingSourceError

# asset name -> (layout fields it covers, required when the build uses it, description)
RAW_SOURCES: dict[str, tuple[tuple[str, ...], bool, str]] = {
    "eol_images": (("eol_images",), True, "EOL image sets `image_set_NN.tar.gz` (original member names)"),
    "eol_published_images": (("eol_published_images",), True, "EOL image sets of the published dataset (members `<treeoflife_id>.jpg`)"),
    "published_metadata": (("published_mapping", "published_catalog"), True, "The published `mapping.sqlite` and `catalog.csv`"),
    "published_licenses": (("published_licenses",), False, "The published `metadata/licenses.csv` (a reproduction's licences)"),
    "published_name_lookups": (("eol_name_lookup", "inat21_name_lookup", "bioscan_name_lookup"), True,
                               "The published name lookups `metadata/naming/*.json` (label_source: published)"),
    "inat21_images": (("inat21_train",), True, "iNat21 `train/` class directories"),
    "bioscan_images": (("bioscan_images",), True, "BIOSCAN-1M `cropped_256` part directories"),
    "bioscan_metadata": (("bioscan_metadata",), True, "BIOSCAN-1M metadata JSON"),
    "eol_hierarchy": (("taxon_tab",), True, "EOL Dynamic Hierarchy `taxon.tab`"),
    "eol_scraped_names": (("scraped_page_ids",), False, "Names of EOL pages the hierarchy lacks (`scraped_page_ids.csv`)"),
    "eol_vernacular_names": (("eol_vernacular",), False, "EOL vernacular names"),
    "eol_media_manifest": (("eol_media_manifest",), False, "EOL media manifest (licences)"),
    "itis_chains": (("itis_chains",), False, "ITIS species-level taxonomy chains"),
    "inaturalist_taxonomy": (("inat_taxa", "inat_vernacular"), False, "iNaturalist taxonomy: `taxa.csv` and English vernacular names"),
    "resolved_names": (("resolved",), False, "Global Names Resolver answers (`resolved.jsonl`)"),
    "rare_species_lists": (("rare_seen", "rare_unseen"), False, "Rare Species benchmark lists: seen and unseen in training"),
    "remove_list": (("remove_list",), False, "The takedown list (setting `remove_list`, a CSV): images to remove, with a reason"),
}
# the layout fields each source's labels (and exclusions) are made from, with the computed label source
# (what `used_fields` requires; a partition's version has none of them: its labels' rows instead)
COMMON = ("itis_chains", "inat_taxa", "inat_vernacular", "eol_vernacular", "rare_seen", "rare_unseen")
NAME_INPUTS = {
    "eol": ("taxon_tab", "scraped_page_ids", "resolved", "published_mapping", *COMMON),
    "inat21": COMMON,
    "bioscan": ("bioscan_metadata", "resolved", *COMMON),
}
RARE = ("rare_seen", "rare_unseen")


def used_fields(tol: TreeOfLifeConfig) -> set[str]:
    """The layout fields a build with these settings reads: its mode's images and ids, its label source's
    inputs, the rare-species lists, and what its licences come from. Nothing else is required or observed."""
    from tol10m_assets.labelsources import label_inputs

    used = {"inat21_train", "bioscan_images", *RARE, "eol_media_manifest"}
    if tol.mode == "reproduce":
        used |= {"eol_published_images", "published_mapping", "published_catalog", "published_licenses"}
    else:
        used |= {"eol_images"}
    source = tol.chosen_label_source()
    used |= set(label_inputs(source))
    if source == "computed":
        used |= {f for fields in NAME_INPUTS.values() for f in fields if f != "published_mapping"}
    if tol.remove_list:
        used.add("remove_list")
    return used


def used_inputs(tol: TreeOfLifeConfig) -> dict[str, bool]:
    """Raw input asset → whether a build with these settings uses it (the UI and `tol10m partitions`)."""
    used = used_fields(tol)
    return {name: any(f in used for f in spec[0]) for name, spec in RAW_SOURCES.items()}


# settings that change what a partition writes
PARTITION_SETTINGS = ("mode", "width", "height", "jpeg_quality", "resize_mode", "val_percent", "train_small_percent", "seed",
                      "shard_max_samples", "shard_max_bytes", "inat21_classes_per_partition", "bioscan_parts_per_partition",
                      "exclude_rare_species")
HASH_LIMIT = 64 << 20  # files up to this size are hashed; larger ones and folders: size + mtime of every file
# files the build and the downloads write beside the sources (an image set's index, verification and
# extraction records, a failed transfer): not content, so they change no data version
DERIVED_SUFFIXES = (".index", ".verified.json", ".extracted.json", ".corrupt", ".part")


def is_derived(name: str) -> bool:
    return name.endswith(DERIVED_SUFFIXES)
SHARD_SOURCES = "shard_sources"


def measure(path: Path) -> tuple[int, int]:
    """(files, bytes) of a file or a directory tree."""
    if path.is_file():
        return 1, path.stat().st_size
    files = size = 0
    for dirpath, _, names in os.walk(path):
        for name in names:
            if is_derived(name):
                continue
            files += 1
            size += os.stat(os.path.join(dirpath, name)).st_size
    return files, size


def fingerprint(path: Path) -> str:
    """The content version of a file or folder: sha256 of a small file; size + mtime (ns) of every file
    otherwise (folders: with their relative paths, in sorted order; derived files such as an image set's
    `.index` left out). `absent` when it does not exist."""
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
            if is_derived(name):
                continue
            full = os.path.join(dirpath, name)
            st = os.stat(full)
            digest.update(f"{os.path.relpath(full, path)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return "tree:" + digest.hexdigest()[:24]


def combine(parts: list[str]) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def observed_files(name: str) -> str:
    """The files an observable raw asset covers, by default path and setting (`metadata/taxon.tab` …)."""
    from tol10m_assets.layout import DEFAULT_PATHS

    return ", ".join(f"`{DEFAULT_PATHS[f]}` (source_paths.{f})" if f in DEFAULT_PATHS else f"setting `{f}`" for f in RAW_SOURCES[name][0])


def _raw_spec(name: str, description: str) -> AssetSpec:
    from tol10m_assets.defs.downloads import RAW_FROM_DOWNLOAD

    files = observed_files(name)
    return AssetSpec(name, group_name="raw", description=f"{description}. Observes {files} under the sources root.",
                     kinds={"file"}, owners=OWNERS, deps=RAW_FROM_DOWNLOAD.get(name, []),
                     metadata={"observes": MetadataValue.text(files)})


def _observe(name: str, tol: TreeOfLifeConfig, log) -> ObserveResult:
    fields, required, description = RAW_SOURCES[name]
    layout = tol.layout()
    used = used_fields(tol)
    why = f"mode {tol.mode}, label_source {tol.chosen_label_source()}"
    if not any(f in used for f in fields):  # not read by this build: neither required nor observed
        return ObserveResult(asset_key=name, data_version=DataVersion(f"unused ({why})"),
                             metadata={"used": False, "note": f"not used with {why}: not observed"})
    metadata, parts = {"used": True, "settings": why}, []
    total_files = total_bytes = 0
    for field in fields:
        path = getattr(layout, field)
        metadata[f"{field}_path"] = MetadataValue.path(str(path))
        if not path.exists():
            if required and field in used:
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


def downloads_observed_by() -> dict[str, list[str]]:
    """Raw asset → the (unpartitioned) download assets its observation also reports: each download once,
    by the first raw input it writes."""
    from tol10m_assets.defs.downloads import RAW_FROM_DOWNLOAD

    out: dict[str, list[str]] = {}
    seen: set[str] = set()
    for raw, downloads in RAW_FROM_DOWNLOAD.items():
        for download in downloads:
            if download not in seen and download != "eol_image_set_download":  # partitioned: per set, not here
                seen.add(download)
                out.setdefault(raw, []).append(download)
    return out


def download_fields(download: str) -> list[str]:
    """The layout fields a download asset writes (those of the raw inputs it feeds)."""
    from tol10m_assets.defs.downloads import RAW_FROM_DOWNLOAD

    return [f for raw, ds in RAW_FROM_DOWNLOAD.items() if download in ds for f in RAW_SOURCES[raw][0]]


def download_report(download: str, tol: TreeOfLifeConfig) -> AssetMaterialization | None:
    """What a never-run download asset would have written is on disk (put there by hand or by another
    tool): a reported materialization (Dagster's way to record an asset made outside it) with its content
    version and the asset's code version, so the UI shows it up to date instead of never materialized, and
    "Materialize unsynced" leaves it out. None while a file is missing."""
    layout = tol.layout()
    paths = {f: getattr(layout, f) for f in download_fields(download)}
    if not all(p.exists() for p in paths.values()):
        return None
    version = combine([f"{f}={fingerprint(p)}" for f, p in paths.items()])
    metadata = {"on_disk": MetadataValue.md("\n".join(f"- `{f}`: `{p}`" for f, p in paths.items())),
                "reported_by": "observe_sources: the files were already on disk (not downloaded by Dagster)"}
    return AssetMaterialization(download, metadata=metadata,
                                tags={DATA_VERSION_TAG: version, CODE_VERSION_TAG: CODE_VERSIONS[download]})


def _raw_asset(name: str, description: str):
    @multi_observable_source_asset(name=f"observe_{name}", specs=[_raw_spec(name, description)])
    def _asset(context, tol: TreeOfLifeConfig):
        yield _observe(name, tol, context.log)
        for download in downloads_observed_by().get(name, []):
            if context.instance.get_latest_materialization_event(AssetKey(download)) is not None:
                continue  # downloaded (or reported) before: its own record stands
            event = download_report(download, tol)
            if event is not None:
                context.log_event(event)
        if name == "eol_published_images":  # the partitioned download: per set on disk (defs/eol_sets.py)
            from tol10m_assets.defs.eol_sets import report_sets_on_disk

            report_sets_on_disk(context, tol)

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


def partition_versions(tol: TreeOfLifeConfig, partitions: list[str], digests: dict[str, str] | None = None) -> dict[str, str]:
    """Data version of each shard partition's inputs: the settings that shape its shards, its image files,
    the Rare Species lists and its slice of mapping, splits and labels (``slices.partition_digests``;
    ``unbuilt`` before they are all written). No name source file is in it: names reach a partition
    only through `labels`, so a name change stales exactly the partitions that hold the name, once
    `labels` is rebuilt."""
    from tol10m_assets.slices import UNBUILT, partition_digests

    layout = tol.layout()
    settings = ";".join(f"{k}={getattr(tol, k)}" for k in PARTITION_SETTINGS)
    rare = [f"{f}={fingerprint(getattr(layout, f))}" for f in RARE]
    if digests is None:
        digests = partition_digests(tol.paths(), partitions if len(partitions) == 1 else None)
    inputs = partition_inputs(tol)
    versions = {}
    for key in partitions:
        images = [f"{p.name}={fingerprint(p)}" for p in sorted(inputs.get(key, []))] or ["images=absent"]
        versions[key] = combine([settings, *rare, *images, f"slice={digests.get(key, UNBUILT)}"])
    return versions


def observe_partition_slices(context, tol: TreeOfLifeConfig, by: str) -> dict:
    """Observe every registered shard partition again (an `AssetObservation` of `shard_sources` per
    partition whose version changed or was never observed), after `by` (mapping, splits or labels)
    wrote new content: the partitions whose slice changed show Unsynced at once. Logs them and returns
    the materialization's metadata (`changed_partitions`, `unsynced_partitions`)."""
    instance = context.instance
    registered = sorted(instance.get_dynamic_partitions(SHARD_PARTITIONS))
    versions = partition_versions(tol, registered)
    key = AssetKey(SHARD_SOURCES)
    changed = []
    for partition, version in versions.items():
        record = instance.get_latest_data_version_record(key, is_source=True, partition_key=partition)
        before = record.asset_observation.tags.get(DATA_VERSION_TAG) if record and record.asset_observation else None
        if before != version:
            changed.append(partition)
            context.log_event(AssetObservation(SHARD_SOURCES, partition=partition, tags={DATA_VERSION_TAG: version},
                                               metadata={"observed_by": by}))
    unsynced = unsynced_partitions(instance, versions)
    context.log.info(f"{by}: {len(changed)} of {len(versions)} shard partitions have a new slice version "
                     f"({', '.join(changed) or 'none'}); unsynced (built, inputs changed): {', '.join(unsynced) or 'none'}")
    return {
        "changed_partitions": MetadataValue.text(", ".join(changed) or "none"),
        "unsynced_count": len(unsynced),
        # what "Materialize unsynced" would have to run: paste into the dialog's Custom partition selection
        "unsynced_partitions": MetadataValue.text(", ".join(unsynced) or "none"),
        **unsynced_links(unsynced),  # open `update` / `shards` with them preselected (metadata.py)
    }


with warnings.catch_warnings():  # multi_observable_source_asset is beta in Dagster 1.13
    warnings.simplefilter("ignore")
    raw_assets = [_raw_asset(name, spec[2]) for name, spec in RAW_SOURCES.items()]

    @multi_observable_source_asset(
        name="observe_shard_sources",
        partitions_def=shard_partitions,
        specs=[AssetSpec(
            SHARD_SOURCES, group_name="raw", partitions_def=shard_partitions, kinds={"file"}, owners=OWNERS,
            # the name sources reach a partition through labels (its rows of them), not as files
            deps=["eol_images", "eol_published_images", "inat21_images", "bioscan_images", "rare_species_lists",
                  "mapping", "splits", "labels", "takedowns"],
            description="The inputs of each shard partition, observed per partition: its image set or class/part "
            "folders, the Rare Species lists, the settings that shape its shards, and its own rows of mapping, "
            "splits and labels. `mapping`, `splits` and `labels` observe every partition again when they are "
            "rebuilt: only the partitions whose rows changed show as stale; the others stay fresh.",
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
        unsynced = unsynced_partitions(context.instance, versions)
        context.log.info(f"observed {len(versions)} shard partitions; unsynced: {', '.join(unsynced) or 'none'}")
        yield ObserveResult(asset_key=SHARD_SOURCES, metadata={
            "partitions": len(versions),
            "unsynced_count": len(unsynced),
            # what "Materialize unsynced" would have to run: paste into the dialog's Custom partition selection
            "unsynced_partitions": MetadataValue.text(", ".join(unsynced) or "none"),
            **unsynced_links(unsynced),  # open `update` / `shards` with them preselected (metadata.py)
        })


def unsynced_partitions(instance, versions: dict[str, str]) -> list[str]:
    """Built partitions whose inputs' version differs from the one their last build was made from, read as
    Dagster's stale status reads it: the partition's last observation up to the event its materialization
    points at (`dagster/input_event_pointer/shard_sources`; the recorded `input_data_version` of a
    partitioned source is the asset's latest observation of any partition), else before the materialization."""
    from dagster import AssetRecordsFilter
    from dagster._core.definitions.data_version import INPUT_EVENT_POINTER_TAG_PREFIX

    key, tag = AssetKey(SHARD_SOURCES), f"{INPUT_EVENT_POINTER_TAG_PREFIX}/{SHARD_SOURCES}"
    out = []
    for partition, version in versions.items():
        records = instance.fetch_materializations(AssetRecordsFilter(asset_key=AssetKey("shards"), asset_partitions=[partition]),
                                                  limit=1).records
        if not records:
            continue  # never built: Missing, not Unsynced
        pointer = records[0].asset_materialization.tags.get(tag)
        before = int(pointer) + 1 if pointer and pointer.isdigit() else records[0].storage_id
        observed = instance.get_latest_data_version_record(key, True, partition, before_cursor=before)
        built_from = observed.asset_observation.tags.get(DATA_VERSION_TAG) if observed and observed.asset_observation else None
        if built_from != version:
            out.append(partition)
    return out


raw_assets.append(shard_sources)
