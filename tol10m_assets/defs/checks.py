"""Data-quality gates on the mapping and the predicted catalog (the catalog's run in ``publish``)."""


from dagster import AssetCheckResult, AssetCheckSeverity, MetadataValue, asset_check

from tol10m_assets.defs.build import catalog_core, mapping, mapping_core, predicted_catalog
from tol10m_assets.defs.metadata import records_table
from tol10m_assets.defs.resources import TreeOfLifeConfig


@asset_check(asset=mapping, blocking=True, description="One id per source image and no duplicate ids.")
def mapping_ids_unique(tol: TreeOfLifeConfig) -> AssetCheckResult:
    counts = mapping_core.duplicate_counts(tol.paths().mapping)
    return AssetCheckResult(
        passed=counts["duplicate_ids"] == 0 and counts["duplicate_source_images"] == 0, metadata=counts
    )


def _taxa_check(figures: dict, tol: TreeOfLifeConfig) -> AssetCheckResult:
    level, reasons = catalog_core.judge_taxa(figures, {k: tuple(v) for k, v in tol.taxa_thresholds.items()})
    return AssetCheckResult(
        passed=level == "PASS",
        severity=AssetCheckSeverity.ERROR if level == "ERROR" else AssetCheckSeverity.WARN,
        description=taxa_verdict(level, reasons),
        metadata={
            "verdict": level,
            "above_thresholds": records_table(["figure above its threshold"], [[r] for r in reasons], empty="none"),
            "reasons": MetadataValue.json(reasons),
            "figures": MetadataValue.json(figures),
            "complete_share": figures["complete_share"],
            "kingdom_count": figures["kingdom_count"],
        },
    )


def taxa_verdict(level: str, reasons: list[str]) -> str:
    """One line for the UI beside the check's status (Dagster labels a WARN "Failed", in orange)."""
    if level == "PASS":
        return "PASS: every figure within its thresholds (tol.taxa_thresholds)"
    kind = "ERROR (blocks publishing)" if level == "ERROR" else "WARNING only (publishes)"
    return f"{kind}: " + "; ".join(reasons)


@asset_check(asset=predicted_catalog, name="check_taxa", description="The original check_taxa figures, judged by thresholds.")
def check_taxa_predicted(tol: TreeOfLifeConfig) -> AssetCheckResult:
    return _taxa_check(catalog_core.taxa_figures_from_parquet(tol.paths().predicted_catalog), tol)


asset_checks = [mapping_ids_unique, check_taxa_predicted]
