"""mapping → splits → labels (taxonomy) → predicted catalog: thin wrappers around the core."""


import pandas as pd
from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset

from tol10m_assets import catalog as catalog_core
from tol10m_assets import labels as labels_core
from tol10m_assets import mapping as mapping_core
from tol10m_assets import splits as splits_core
from tol10m_assets.defs.metadata import asset_attrs, table_metadata
from tol10m_assets.defs.partitions import SHARD_PARTITIONS
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


@asset(group_name="mapping", deps=IMAGE_SOURCES, kinds={"parquet", "sqlite"}, **asset_attrs("mapping"))
def mapping(context: AssetExecutionContext, tol: TreeOfLifeConfig) -> MaterializeResult:
    """One treeoflife_id per source image (UUID5 in generate mode, published ids in reproduce mode)."""
    paths = tol.paths()
    frame, stats = mapping_core.build_mapping(tol.layout(), tol.chunking())
    if frame.empty and paths.mapping.exists():
        layout = tol.layout()
        raise RuntimeError(
            "the sources hold no image: refusing to replace the mapping by an empty one (look at "
            f"{layout.eol_images}, {layout.inat21_train}, {layout.bioscan_images}; sources_root {tol.resolved_sources_root()})"
        )
    catalog_core.write_frame_atomic(frame, paths.mapping)
    mapping_core.write_mapping_sqlite(paths.mapping_sqlite, frame)
    partitions = sorted(frame["partition"].unique())
    changes = sync_partitions(context, partitions)
    per_source = frame["source"].value_counts().to_dict()
    context.log.info(f"mapping: {len(frame)} images in {len(partitions)} shard partitions; {changes}")
    return MaterializeResult(
        metadata={
            "images": len(frame),
            "images_per_source": MetadataValue.json({k: int(v) for k, v in sorted(per_source.items())}),
            "shard_partitions": MetadataValue.json(partitions),
            "left_out": MetadataValue.json(stats),
            "path": MetadataValue.path(str(paths.mapping)),
            "sqlite": MetadataValue.path(str(paths.mapping_sqlite)),
            **table_metadata(paths.mapping),
        }
    )


@asset(group_name="mapping", deps=[mapping, "published_metadata"], kinds={"parquet"}, **asset_attrs("splits"))
def splits(context: AssetExecutionContext, tol: TreeOfLifeConfig) -> MaterializeResult:
    """val / train / train_small per id by a seeded hash (reproduce mode: the published split table)."""
    paths = tol.paths()
    frame = pd.read_parquet(paths.mapping)
    hash_args = dict(seed=tol.seed, val_percent=tol.val_percent, train_small_percent=tol.train_small_percent)
    if tol.mode == "reproduce":
        published = mapping_core.read_published_mapping(tol.layout().published_mapping)["split"]
        table = splits_core.published_splits(frame["treeoflife_id"], published, **hash_args)
    else:
        table = splits_core.assign_splits(frame["treeoflife_id"], **hash_args)
    catalog_core.write_frame_atomic(table, paths.splits)
    mapping_core.write_mapping_sqlite(paths.mapping_sqlite, frame, table)
    by_source = table.merge(frame[["treeoflife_id", "source"]], on="treeoflife_id")
    counts = {
        source: splits_core.split_counts(group) for source, group in sorted(by_source.groupby("source"), key=lambda g: g[0])
    }
    return MaterializeResult(
        metadata={
            **{f"{split}_images": n for split, n in splits_core.split_counts(table).items()},
            "per_source": MetadataValue.json(counts),
            "path": MetadataValue.path(str(paths.splits)),
            **table_metadata(paths.splits),
        }
    )


@asset(group_name="taxonomy", deps=[mapping, *NAME_SOURCES], kinds={"parquet"}, **asset_attrs("labels"))
def labels(context: AssetExecutionContext, tol: TreeOfLifeConfig) -> MaterializeResult:
    """Seven ranks and a common name for every image, with provenance (the name lookups per source)."""
    paths = tol.paths()
    frame = pd.read_parquet(paths.mapping)
    lookups = labels_core.resolve_lookups(tol.layout(), frame, log=context.log.info)
    for source, table in lookups.items():
        catalog_core.write_frame_atomic(table, paths.lookup(source))
    table = labels_core.join_labels(frame, lookups)
    catalog_core.write_frame_atomic(table, paths.labels)
    share = labels_core.complete_share(table, frame)
    return MaterializeResult(
        metadata={
            "images": len(table),
            "complete_share_per_source": MetadataValue.json(share),
            "lookup_keys": MetadataValue.json({s: len(t) for s, t in lookups.items()}),
            "path": MetadataValue.path(str(paths.labels)),
            **table_metadata(paths.labels),
        }
    )


@asset(group_name="taxonomy", deps=[splits, labels], kinds={"csv"}, **asset_attrs("predicted_catalog"))
def predicted_catalog(context: AssetExecutionContext, tol: TreeOfLifeConfig) -> MaterializeResult:
    """The catalog as predicted before shards are written (`predicted-catalog.csv`; rare species still in)."""
    paths = tol.paths()
    table = catalog_core.predicted_catalog(
        pd.read_parquet(paths.mapping), pd.read_parquet(paths.splits), pd.read_parquet(paths.labels)
    )
    catalog_core.write_frame_atomic(table, paths.predicted_catalog)
    return MaterializeResult(
        metadata={
            "rows": len(table),
            "rows_per_split": MetadataValue.json(table["split"].value_counts().sort_index().to_dict()),
            "path": MetadataValue.path(str(paths.predicted_catalog)),
            **table_metadata(paths.predicted_catalog, len(table)),
        }
    )


build_assets = [mapping, splits, labels, predicted_catalog]
