"""catalog → taxa report, and the EOL licence file. The catalog refuses to build over failed shards."""


import pandas as pd
from dagster import (
    AssetCheckKey,
    AssetExecutionContext,
    AssetKey,
    AssetRecordsFilter,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
)
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

from tol10m_assets import catalog as catalog_core
from tol10m_assets.defs.build import mapping
from tol10m_assets.defs.partitions import SHARD_PARTITIONS
from tol10m_assets.defs.resources import TreeOfLifeConfig
from tol10m_assets.defs.shards import CHECK_WDS, shards
from tol10m_assets.licenses import eol_licenses as licenses_core
from tol10m_assets.licenses import read_media_manifest


def failed_shard_partitions(instance, partition_keys: list[str]) -> dict[str, str]:
    """Partitions whose latest materialization has no passing ``check_wds`` (from any earlier run).

    Check records of a partitioned asset carry no partition, so each partition's latest
    materialization is matched with the check evaluation of the same run.
    """
    asset_key = AssetKey("shards")
    history = instance.event_log_storage.get_asset_check_execution_history(
        AssetCheckKey(asset_key, CHECK_WDS), limit=1_000_000
    )
    status_by_run: dict[str, AssetCheckExecutionRecordStatus] = {}
    for record in history:  # newest first
        status_by_run.setdefault(record.run_id, record.status)
    bad = {}
    for pk in partition_keys:
        latest = instance.fetch_materializations(AssetRecordsFilter(asset_key=asset_key, asset_partitions=[pk]), limit=1)
        if not latest.records:
            bad[pk] = "never materialized"
            continue
        run_id = latest.records[0].run_id
        status = status_by_run.get(run_id)
        if status is None:
            bad[pk] = f"check_wds did not run with the latest materialization (run {run_id})"
        elif status != AssetCheckExecutionRecordStatus.SUCCEEDED:
            bad[pk] = f"check_wds {status.value} in run {run_id}"
    return bad


@asset(group_name="catalog", deps=[shards, mapping], kinds={"csv", "parquet"})
def catalog(context: AssetExecutionContext, tol: TreeOfLifeConfig) -> MaterializeResult:
    """``catalog.csv`` (published column order) from shard headers and text members, plus Parquet,
    ``sizes.json`` and ``shards.txt`` per split. Blocked while any shard partition's check_wds fails."""
    partitions = sorted(context.instance.get_dynamic_partitions(SHARD_PARTITIONS))
    bad = failed_shard_partitions(context.instance, partitions)
    if bad:
        raise Failure(
            description=f"{len(bad)} shard partition(s) have no passing check_wds: "
            + "; ".join(f"{k}: {v}" for k, v in sorted(bad.items())),
            metadata={"blocked_by": MetadataValue.json(bad)},
        )
    paths = tol.paths()
    table = catalog_core.catalog_from_shards(paths.dataset, pd.read_parquet(paths.mapping))
    catalog_core.write_frame_atomic(table, paths.catalog_csv)
    catalog_core.write_frame_atomic(table, paths.catalog_parquet)
    sizes = catalog_core.write_split_indexes(paths.dataset, table)
    return MaterializeResult(
        metadata={
            "rows": len(table),
            "rows_per_split": MetadataValue.json(sizes),
            "shard_partitions": len(partitions),
            "csv": MetadataValue.path(str(paths.catalog_csv)),
            "parquet": MetadataValue.path(str(paths.catalog_parquet)),
            "dataset": MetadataValue.path(str(paths.dataset)),
        }
    )


@asset(group_name="reports", deps=[catalog], kinds={"markdown"})
def taxa_report(context: AssetExecutionContext, tol: TreeOfLifeConfig) -> MaterializeResult:
    """The figures of the original check_taxa and the unique taxa per source, beside the catalog."""
    paths = tol.paths()
    figures = catalog_core.taxa_figures(pd.read_parquet(paths.catalog_parquet))
    level, reasons = catalog_core.judge_taxa(figures, {k: tuple(v) for k, v in tol.taxa_thresholds.items()})
    text = catalog_core.taxa_report_markdown(figures, level, reasons)
    paths.taxa_report.write_text(text)
    return MaterializeResult(
        metadata={
            "report": MetadataValue.md(text),
            "path": MetadataValue.path(str(paths.taxa_report)),
            "unique_taxa": MetadataValue.json(figures["unique_taxa"]),
            "complete_share": figures["complete_share"],
        }
    )


@asset(group_name="reports", deps=[catalog, "eol_media_manifest"], kinds={"csv"})
def eol_licenses(context: AssetExecutionContext, tol: TreeOfLifeConfig) -> MaterializeResult:
    """``licenses.csv``: licence and owner of every EOL image in the catalog, from the media manifest."""
    paths = tol.paths()
    manifest_path = tol.layout().eol_media_manifest
    if manifest_path.exists():
        manifest = read_media_manifest(manifest_path)
    else:
        context.log.warning(f"no EOL media manifest at {manifest_path}: licence fields stay empty")
        manifest = pd.DataFrame(columns=["eol_content_id", "eol_page_id", "license", "owner"]).astype({"eol_content_id": "Int64", "eol_page_id": "Int64"})
    table = licenses_core(pd.read_parquet(paths.catalog_parquet), manifest)
    catalog_core.write_frame_atomic(table, paths.licenses)
    return MaterializeResult(
        metadata={
            "rows": len(table),
            "without_licence": int((table["license"] == "").sum()),
            "path": MetadataValue.path(str(paths.licenses)),
        }
    )


publish_assets = [catalog, taxa_report, eol_licenses]
