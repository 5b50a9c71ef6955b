"""Data-quality gates on the mapping and the predicted catalog (the catalog's run in ``publish``)."""


import pandas as pd
from dagster import AssetCheckResult, AssetCheckSeverity, MetadataValue, asset_check

from tol10m_assets import catalog as catalog_core
from tol10m_assets.defs.build import mapping, predicted_catalog
from tol10m_assets.defs.resources import TreeOfLifeConfig
from tol10m_assets.labels import RANK_COLUMNS
from tol10m_assets.mapping import source_identity_columns


@asset_check(asset=mapping, blocking=True, description="One id per source image and no duplicate ids.")
def mapping_ids_unique(tol: TreeOfLifeConfig) -> AssetCheckResult:
    frame = pd.read_parquet(tol.paths().mapping)
    dup_ids = int(frame["treeoflife_id"].duplicated().sum())
    dup_sources = int(frame.duplicated(source_identity_columns()).sum())
    return AssetCheckResult(
        passed=dup_ids == 0 and dup_sources == 0,
        metadata={"images": len(frame), "duplicate_ids": dup_ids, "duplicate_source_images": dup_sources},
    )


def _taxa_check(frame: pd.DataFrame, tol: TreeOfLifeConfig) -> AssetCheckResult:
    figures = catalog_core.taxa_figures(frame)
    level, reasons = catalog_core.judge_taxa(figures, {k: tuple(v) for k, v in tol.taxa_thresholds.items()})
    return AssetCheckResult(
        passed=level == "PASS",
        severity=AssetCheckSeverity.ERROR if level == "ERROR" else AssetCheckSeverity.WARN,
        metadata={
            "verdict": level,
            "reasons": MetadataValue.json(reasons),
            "figures": MetadataValue.json(figures),
            "complete_share": figures["complete_share"],
            "kingdom_count": figures["kingdom_count"],
        },
    )


@asset_check(asset=predicted_catalog, name="check_taxa", description="The original check_taxa figures, judged by thresholds.")
def check_taxa_predicted(tol: TreeOfLifeConfig) -> AssetCheckResult:
    frame = pd.read_csv(tol.paths().predicted_catalog, dtype=str, keep_default_na=False)
    return _taxa_check(frame.replace({"": None}).fillna({c: "" for c in RANK_COLUMNS + ["common"]}), tol)


asset_checks = [mapping_ids_unique, check_taxa_predicted]
