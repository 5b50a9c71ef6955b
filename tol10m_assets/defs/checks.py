"""Data-quality gates on the mapping, the predicted catalog and the catalog."""


import json

import pandas as pd
from dagster import AssetCheckResult, AssetCheckSeverity, MetadataValue, asset_check

from tol10m_assets import catalog as catalog_core
from tol10m_assets.defs.build import mapping, predicted_catalog
from tol10m_assets.defs.publish import catalog
from tol10m_assets.defs.resources import TreeOfLifeConfig
from tol10m_assets.defs.shards import rare_species_rules
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


@asset_check(asset=catalog, name="check_taxa", description="The original check_taxa figures, judged by thresholds.")
def check_taxa_catalog(tol: TreeOfLifeConfig) -> AssetCheckResult:
    return _taxa_check(pd.read_parquet(tol.paths().catalog_parquet), tol)


@asset_check(asset=catalog, blocking=True, description="No Rare Species benchmark species or image in any shard.")
def rare_species_excluded(tol: TreeOfLifeConfig) -> AssetCheckResult:
    from tol10m_assets.taxonomy import Taxon

    rules = rare_species_rules(tol)
    if rules is None:
        return AssetCheckResult(passed=True, metadata={"skipped": "exclude_rare_species is off"})
    frame = pd.read_parquet(tol.paths().catalog_parquet)
    leaks = []
    species_cache: dict[tuple, bool] = {}
    for row in frame.to_dict("records"):
        ranks = tuple("" if pd.isna(row[c]) else str(row[c]) for c in RANK_COLUMNS)
        if ranks not in species_cache:
            species_cache[ranks] = rules.excludes_species(Taxon(*ranks))
        by_file = False
        if not pd.isna(row["eol_content_id"]):
            by_file = rules.excludes_eol(int(row["eol_content_id"]), int(row["eol_page_id"]))
        else:
            name = row["inat21_filename"] if not pd.isna(row["inat21_filename"]) else row["bioscan_filename"]
            by_file = rules.excludes_file(str(name))
        if species_cache[ranks] or by_file:
            leaks.append(f"{row['split']}/{row['treeoflife_id']}")
    return AssetCheckResult(passed=not leaks, metadata={"rows": len(frame), "leaks": len(leaks), "examples": MetadataValue.json(leaks[:20])})


@asset_check(asset=catalog, blocking=True, description="Each sample once per split; train_small ⊂ train; "
             "train ∩ val = ∅; rows equal the shards' sample counts.")
def catalog_consistency(tol: TreeOfLifeConfig) -> AssetCheckResult:
    paths = tol.paths()
    frame = pd.read_parquet(paths.catalog_parquet)
    ids = {s: set(frame.loc[frame["split"] == s, "treeoflife_id"]) for s in ("train", "val", "train_small")}
    problems = {
        "duplicates_within_split": int(frame.duplicated(["split", "treeoflife_id"]).sum()),
        "train_small_not_in_train": len(ids["train_small"] - ids["train"]),
        "in_train_and_val": len(ids["train"] & ids["val"]),
        "ids_without_mapping_row": int(frame[["eol_content_id", "inat21_cls_num", "bioscan_part"]].isna().all(axis=1).sum()),
    }
    stats_counts = {"train": 0, "val": 0, "train_small": 0}
    for stats_file in sorted((paths.dataset / "stats").glob("*.json")):
        for split, n in json.loads(stats_file.read_text()).get("samples", {}).items():
            stats_counts[split] = stats_counts.get(split, 0) + n
    rows = frame["split"].value_counts().to_dict()
    mismatch = {s: [int(rows.get(s, 0)), n] for s, n in stats_counts.items() if int(rows.get(s, 0)) != n}
    return AssetCheckResult(
        passed=not any(problems.values()) and not mismatch,
        metadata={**problems, "rows_vs_stats_mismatch": MetadataValue.json(mismatch), "rows": len(frame)},
    )


asset_checks = [mapping_ids_unique, check_taxa_predicted, check_taxa_catalog, rare_species_excluded, catalog_consistency]
