"""What a release adds for reproduction: `mapping.sqlite` and `naming/*.json` beside the catalog, and,
in reproduce mode, the `matches_published` check against the published catalog (blocking)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from dagster import AssetCheckResult, AssetCheckSpec, MetadataValue

from tol10m_assets.defs.resources import TreeOfLifeConfig

MATCHES_PUBLISHED = AssetCheckSpec(
    "matches_published",
    asset="catalog",
    blocking=True,
    description="Reproduce mode, on the staged release: the catalog against the published catalog.csv (rows per split, "
    "the set of (split, id), the seven ranks and common name of every id). Differences are counted by cause; a label "
    "or split difference fails it and the release is not switched in. Generate mode: skipped (passes).",
)


def _link_or_copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def add_reproduction_files(tol: TreeOfLifeConfig, metadata: Path) -> list[str]:
    """The build's `mapping.sqlite` and `naming/*.json` into a staged release's `metadata/` (hard links)."""
    from tol10m_assets.labelsources.original_format import LOOKUP_NAMES, naming_dir

    paths = tol.paths()
    files = [(paths.mapping_sqlite, metadata / "mapping.sqlite")]
    files += [(naming_dir(paths.metadata) / n, naming_dir(metadata) / n) for n in LOOKUP_NAMES.values()]
    added = []
    for source, target in files:
        if source.is_file():
            _link_or_copy(source, target)
            added.append(str(target.relative_to(metadata)))
    return added


def reproduction_licences(tol: TreeOfLifeConfig, eol, manifest):
    """Reproduce mode: the published licenses.csv rows (the manifest, when there is one, fills unlisted images)."""
    from tol10m_assets.licenses import published_eol_licenses

    return published_eol_licenses(eol, tol.layout().published_licenses, manifest)


def matches_published(tol: TreeOfLifeConfig, catalog_parquet: Path, rules) -> tuple[AssetCheckResult, str]:
    """The check result and its Markdown section for the taxa report ('' outside reproduce mode)."""
    if tol.mode != "reproduce":
        return AssetCheckResult(asset_key="catalog", check_name="matches_published", passed=True,
                                metadata={"skipped": "generate mode: there is no published catalog to match"}), ""
    from tol10m_assets.published_check import compare_catalogs, report_markdown

    result = compare_catalogs(catalog_parquet, tol.layout().published_catalog, rules)
    report = report_markdown(result)
    examples = {c: e for c, e in result["examples"].items() if e}
    check = AssetCheckResult(
        asset_key="catalog", check_name="matches_published", passed=result["passed"],
        description=None if result["passed"] else "differs from the published catalog: " + ", ".join(
            f"{c} {result['by_cause'][c]} (e.g. {_first(examples.get(c))})" for c in result["failing"]),
        metadata={
            "differences": MetadataValue.md(report),
            "by_cause": MetadataValue.json(result["by_cause"]),
            "rows_per_split": MetadataValue.json(result["rows_per_split"]),
            "label_differences_per_column": MetadataValue.json(result["label_differences_per_column"]),
            "examples": MetadataValue.json(examples),
            "published_catalog": MetadataValue.path(str(tol.layout().published_catalog)),
        },
    )
    return check, report


def _first(examples) -> str:
    if not examples:
        return "-"
    first = examples[0]
    return first["treeoflife_id"] if isinstance(first, dict) else str(first)
