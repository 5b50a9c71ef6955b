"""The partitioned shard asset, with ``check_wds`` as a blocking check of every partition."""


from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    MaterializeResult,
    MetadataValue,
    asset,
)

from tol10m_assets.defs.build import labels, splits
from tol10m_assets.defs.partitions import shard_partitions
from tol10m_assets.defs.resources import TreeOfLifeConfig

CHECK_WDS = "check_wds"


def rare_species_rules(tol: TreeOfLifeConfig):
    """The Rare Species exclusion rules, or None when switched off."""
    if not tol.exclude_rare_species:
        return None
    from tol10m_assets.taxonomy import RareSpecies

    layout = tol.layout()
    return RareSpecies.from_files(layout.rare_seen, layout.rare_unseen)


@asset(
    group_name="shards",
    partitions_def=shard_partitions,
    deps=[splits, labels, "rare_species_lists", "eol_images", "eol_published_images", "inat21_images", "bioscan_images"],
    check_specs=[
        AssetCheckSpec(
            CHECK_WDS,
            asset="shards",
            blocking=True,
            description="Every shard opens; every sample has the eleven members; every image decodes at the "
            "configured size; counts equal the partition's stats.",
        )
    ],
    kinds={"webdataset"},
)
def shards(context: AssetExecutionContext, tol: TreeOfLifeConfig):
    """webdataset shards of one source chunk, all three splits written in one pass."""
    from tol10m_assets.partition import build_partition
    from tol10m_assets.shards import check_partition_shards

    partition = context.partition_key
    paths = tol.paths()
    settings = tol.image_settings()
    result = build_partition(
        tol.layout(),
        tol.chunking(),
        paths,
        partition,
        settings,
        rare=rare_species_rules(tol),
        workers=tol.worker_count(),
        max_samples=tol.shard_max_samples,
        max_bytes=tol.shard_max_bytes,
        log=context.log.info,
    )
    yield MaterializeResult(
        metadata={
            **{f"samples_{split}": n for split, n in sorted(result.samples.items())},
            "skipped": MetadataValue.json(dict(sorted(result.skipped.items()))),
            "shards": MetadataValue.json(result.shards),
            "bytes": result.bytes,
            "seconds": round(result.seconds, 2),
            "stats": MetadataValue.path(str(paths.stats(partition))),
        }
    )
    report = check_partition_shards(paths.dataset, partition, settings, expected=dict(result.samples))
    yield AssetCheckResult(
        check_name=CHECK_WDS,
        passed=report.passed,
        severity=AssetCheckSeverity.ERROR,
        metadata={
            "shards": report.shards,
            "samples": MetadataValue.json(report.samples),
            "images_checked": report.images_checked,
            "problems": MetadataValue.json(report.problems[:50]),
        },
    )
