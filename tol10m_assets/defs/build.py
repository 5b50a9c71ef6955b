"""mapping → splits → labels (taxonomy) → predicted catalog: thin wrappers around the core.

mapping, splits and labels end by observing every shard partition's slice of them again
(`raw.observe_partition_slices`): a partition whose rows changed shows Unsynced, the others stay fresh.
"""


from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset

from tol10m_assets.defs.lazy import lazy_module

catalog_core = lazy_module("tol10m_assets.catalog")  # pandas, DuckDB: imported when an asset runs
labels_core = lazy_module("tol10m_assets.labels")
mapping_core = lazy_module("tol10m_assets.mapping")
splits_core = lazy_module("tol10m_assets.splits")
from tol10m_assets.defs.metadata import asset_attrs, table_metadata
from tol10m_assets.defs.partitions import SHARD_PARTITIONS
from tol10m_assets.defs.raw import observe_partition_slices
from tol10m_assets.defs.resources import TreeOfLifeConfig

IMAGE_SOURCES = ["eol_images", "eol_published_images", "inat21_images", "bioscan_images", "published_metadata"]
NAME_SOURCES = [
    "eol_hierarchy",
    "eol_scraped_names",
    "eol_vernacular_names",
    "itis_chains",
    "inaturalist_taxonomy",
    "resolved_names",
    "bioscan_metadata",
]


def sync_partitions(context: AssetExecutionContext, keys: list[str]) -> dict[str, list[str]]:
    """Register the shard partitions the sources have; retire the ones they no longer have (their shards
    leave the next release; the committed files stay in the store)."""
    instance = context.instance
    have = set(instance.get_dynamic_partitions(SHARD_PARTITIONS))
    if have and not keys:
        raise RuntimeError("the sources hold no image: refusing to retire every shard partition")
    added = sorted(set(keys) - have)
    removed = sorted(have - set(keys))
    if added:
        instance.add_dynamic_partitions(SHARD_PARTITIONS, added)
    for key in removed:
        instance.delete_dynamic_partition(SHARD_PARTITIONS, key)
    return {"added": added, "removed": removed}


@asset(group_name="mapping", deps=IMAGE_SOURCES, kinds={"parquet"}, **asset_attrs("mapping"))
def mapping(context: AssetExecutionContext, tol: TreeOfLifeConfig) -> MaterializeResult:
    """One treeoflife_id per source image (UUID5 in generate mode, published ids in reproduce mode).
    Refuses to replace a non-empty mapping by an empty one (sources not mounted)."""
    paths, layout, chunking = tol.paths(), tol.layout(), tol.chunking()
    summary = mapping_core.write_mapping(
        mapping_core.iter_mapping_sources(layout, chunking, tol.worker_count()),  # EOL indexes built in parallel
        chunking.mode,
        paths.mapping,
        mapping_core.published_for(layout, chunking),
        mapping_core.source_roots(layout, chunking),
    )
    changes = sync_partitions(context, summary.partitions)
    context.log.info(f"mapping: {summary.rows} images in {len(summary.partitions)} shard partitions; {changes}")
    slices = observe_partition_slices(context, tol, "mapping")
    return MaterializeResult(
        metadata={
            **slices,
            "images": summary.rows,
            "images_per_source": MetadataValue.json(summary.per_source),
            "shard_partitions": MetadataValue.json(summary.partitions),
            "left_out": MetadataValue.json(summary.left_out),
            "path": MetadataValue.path(str(paths.mapping)),
            **table_metadata(paths.mapping),
        }
    )


@asset(group_name="mapping", deps=[mapping, "published_metadata"], kinds={"parquet", "sqlite"}, **asset_attrs("splits"))
def splits(context: AssetExecutionContext, tol: TreeOfLifeConfig) -> MaterializeResult:
    """val / train / train_small per id by a seeded hash (reproduce mode: the published split table),
    and ``mapping.sqlite`` (the original four tables), written once here where all four are known."""
    paths = tol.paths()
    published = None
    if tol.mode == "reproduce":
        published = mapping_core.read_published_mapping(tol.layout().published_mapping)["split"]
    counts = splits_core.write_splits(
        paths.mapping, paths.splits, seed=tol.seed, val_percent=tol.val_percent,
        train_small_percent=tol.train_small_percent, published_split=published,
    )
    mapping_core.write_mapping_sqlite_from_parquet(paths.mapping_sqlite, paths.mapping, paths.splits)
    totals = {s: sum(c[s] for c in counts.values()) for s in splits_core.SPLITS}
    slices = observe_partition_slices(context, tol, "splits")
    return MaterializeResult(
        metadata={
            **slices,
            **{f"{split}_images": n for split, n in totals.items()},
            "per_source": MetadataValue.json(counts),
            "path": MetadataValue.path(str(paths.splits)),
            "sqlite": MetadataValue.path(str(paths.mapping_sqlite)),
            **table_metadata(paths.splits),
        }
    )


@asset(group_name="taxonomy", deps=[mapping, *NAME_SOURCES, "published_name_lookups"], kinds={"parquet", "json"},
       **asset_attrs("labels"))
def labels(context: AssetExecutionContext, tol: TreeOfLifeConfig) -> MaterializeResult:
    """Seven ranks and a common name for every image, with provenance, from the chosen `label_source`
    (`computed`: the naming code; `published`: the published name lookups; `table`: `label_table`); and
    the build's own name lookups in the original's format (`metadata/naming/*.json`, beside mapping.sqlite)."""
    from tol10m_assets.labelsources import resolve_labels
    from tol10m_assets.labelsources.original_format import naming_dir, write_name_lookups

    paths, source = tol.paths(), tol.chosen_label_source()
    context.log.info(f"label_source: {source}")
    lookups = resolve_labels(source, tol.layout(), paths.mapping, table=tol.label_table_path() or "", log=context.log.info)
    for name, table in lookups.items():
        labels_core.write_lookup_atomic(table, paths.lookup(name))
    rows = labels_core.write_labels(paths.mapping, lookups, paths.labels)
    share = labels_core.complete_share_from_parquet(paths.labels, paths.mapping)
    entries = write_name_lookups(paths.mapping, paths.labels, naming_dir(paths.metadata))
    slices = observe_partition_slices(context, tol, "labels")
    return MaterializeResult(
        metadata={
            **slices,
            "images": rows,
            "label_source": source,
            "complete_share_per_source": MetadataValue.json(share),
            "lookup_keys": MetadataValue.json({s: len(t) for s, t in lookups.items()}),
            "name_lookups": MetadataValue.json(entries),
            "naming": MetadataValue.path(str(naming_dir(paths.metadata))),
            "path": MetadataValue.path(str(paths.labels)),
            **table_metadata(paths.labels),
        }
    )


@asset(group_name="taxonomy", deps=[splits, labels], kinds={"csv"}, **asset_attrs("predicted_catalog"))
def predicted_catalog(context: AssetExecutionContext, tol: TreeOfLifeConfig) -> MaterializeResult:
    """The catalog as predicted before shards are written (`predicted-catalog.csv`; rare species still in)."""
    paths = tol.paths()
    counts = catalog_core.write_predicted_catalog(paths.mapping, paths.splits, paths.labels, paths.predicted_catalog)
    return MaterializeResult(
        metadata={
            "rows": sum(counts.values()),
            "rows_per_split": MetadataValue.json({s: n for s, n in sorted(counts.items()) if n}),
            "path": MetadataValue.path(str(paths.predicted_catalog)),
            **table_metadata(paths.predicted_catalog, sum(counts.values())),
        }
    )


build_assets = [mapping, splits, labels, predicted_catalog]
