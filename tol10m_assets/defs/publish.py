"""Publishing a release: catalog, taxa report and licences with the shards, as one transaction.

One step (a multi-asset) stages the whole release from the committed partitions' manifests, runs
the catalog's checks on the staged files, and switches ``published`` to it only if every blocking
check passes. A failure leaves the previous release (catalog, taxa report, licences, shards, split
indexes) exactly as it was.
"""


from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetSpec,
    Failure,
    MaterializeResult,
    MetadataValue,
    multi_asset,
)

from tol10m_assets.defs.build import mapping
from tol10m_assets.defs.checks import taxa_verdict
from tol10m_assets.defs.liveness import record_process
from tol10m_assets.defs.metadata import (
    asset_attrs,
    catalog_charts,
    human_bytes,
    records_table,
    table_metadata,
    taxa_example_entries,
)
from tol10m_assets.defs.partitions import SHARD_PARTITIONS
from tol10m_assets.defs.reproduce import MATCHES_PUBLISHED, add_reproduction_files, matches_published, reproduction_licences
from tol10m_assets.defs.resources import TreeOfLifeConfig
from tol10m_assets.defs.shards import rare_species_rules, shards

REPAIR = (
    "repair: UI → shards → Materialize (or a backfill over the Failed partitions); "
    "CLI: dagster asset materialize -m tol10m_assets.definitions --select shards --partition KEY"
)


def failed_shard_partitions(store, partition_keys: list[str]) -> dict[str, str]:
    """Partitions with no committed generation that passed ``check_wds``: the release judges what it
    publishes (the committed generation's manifest records its check), not the latest attempt, so
    a later attempt that failed (refused by sbatch, killed, a failing check) leaves the partition
    publishable with the generation it had."""
    from tol10m_assets.store import ManifestError, check_passed

    bad = {}
    for pk in partition_keys:
        try:
            manifest = store.read_manifest(pk)
        except ManifestError:
            continue  # damaged: the release refuses it with the repair and marks it (release.stage_release)
        if manifest is None:
            bad[pk] = "no committed generation (never built, or no attempt passed check_wds)"
        elif not check_passed(manifest):
            bad[pk] = f"committed generation {manifest.get('generation')} has no passing check_wds in its manifest; rebuild it"
    return bad


CATALOG_CHECKS = [
    AssetCheckSpec(
        "catalog_consistency",
        asset="catalog",
        blocking=True,
        description="On the staged release: each sample once per split; train_small ⊂ train; train ∩ val = ∅; "
        "every id has a mapping row; rows per split = samples in the shards' manifests.",
    ),
    AssetCheckSpec(
        "rare_species_excluded",
        asset="catalog",
        blocking=True,
        description="On the staged release: no Rare Species benchmark species or image in any split.",
    ),
    AssetCheckSpec(
        "no_takedown_published",
        asset="catalog",
        blocking=True,
        description="On the staged release: no image of the takedown list (`remove_list`: its ids and its source "
        "files) is in the catalog or a partition's samples table. Fails naming the ids and their partitions: "
        "materialize `takedowns`, rebuild those partitions, publish again.",
    ),
    AssetCheckSpec(
        "check_taxa",
        asset="catalog",
        description="The original check_taxa figures, judged by `taxa_thresholds` (ERROR blocks publishing; WARN "
        "publishes and names the figures above their warn threshold).",
    ),
]


@multi_asset(
    name="publish_release",
    specs=[
        AssetSpec(
            "catalog",
            deps=[shards, mapping],
            group_name="catalog",
            kinds={"csv", "parquet"},
            **asset_attrs("catalog"),
            description="`metadata/catalog.csv` (published columns) and the published shard layout "
            "(`<W>x<H>/<split>/shard-NNNNNN.tar`, `sizes.json`, wids index, dataset card), from the committed "
            "partitions' manifests, verified against the files. Refused while any partition's check_wds fails.",
        ),
        AssetSpec("taxa_report", deps=["catalog"], group_name="reports", kinds={"markdown"}, **asset_attrs("taxa_report"),
                  description="`metadata/taxa_report.md`: the original check_taxa figures and unique taxa per source."),
        AssetSpec("eol_licenses", deps=["catalog", "eol_media_manifest"], group_name="reports", kinds={"csv"}, **asset_attrs("eol_licenses"),
                  description="`metadata/licenses.csv`: licence and owner of every EOL image in the catalog."),
    ],
    check_specs=[*CATALOG_CHECKS, MATCHES_PUBLISHED],
)
def publish_release(context: AssetExecutionContext, tol: TreeOfLifeConfig):
    """Stage, check and publish a release (catalog, taxa report, licences, shard layout) atomically."""
    from tol10m_assets import release
    from tol10m_assets.faults import fault_point
    from tol10m_assets.store import PartitionStore, exclusive

    record_process(context)
    instance = context.instance
    partitions = sorted(instance.get_dynamic_partitions(SHARD_PARTITIONS))
    bad = failed_shard_partitions(PartitionStore(tol.paths().store), partitions)
    if bad:
        raise Failure(
            description=f"not published: {len(bad)} shard partition(s) have no passing check_wds: "
            + "; ".join(f"{k}: {v}" for k, v in sorted(bad.items())) + f". {REPAIR}",
            metadata={"blocked_by": MetadataValue.json(bad)},
        )
    paths = tol.paths()
    retired = sorted(set(PartitionStore(paths.store).committed_partitions()) - set(partitions))
    paths.releases.mkdir(parents=True, exist_ok=True)
    with exclusive(paths.releases / ".lock", {"run_id": context.run.run_id}, "the release"):
        try:
            staged = release.stage_release(paths, partitions, verify_hashes=tol.verify_hashes, hash_workers=max(2, tol.worker_count()),
                                           caption_check=tol.caption_check_fraction, keep_releases=tol.keep_releases,
                                           shard_samples=tol.release_shard_samples)
        except release.ReleaseRefused as exc:
            raise Failure(description=f"not published: {exc}", metadata={"damaged": MetadataValue.json(exc.damaged)}) from None
        try:
            outcome = _stage_and_check(context, tol, staged)
            for check in outcome["checks"]:
                yield check
            failed = [c.check_name for c in outcome["checks"] if not c.passed and c.severity == AssetCheckSeverity.ERROR]
            if failed:
                raise Failure(
                    description=f"not published: check(s) {', '.join(failed)} failed on the staged release; the "
                    "previous release is unchanged. See the checks' metadata for the rows at fault."
                )
            fault_point("release.checked")
            final = release.publish(staged, {"rows": outcome["rows"], "retired": retired})
        except BaseException:
            staged.discard()
            raise
    yield from _materializations(paths, final, staged, outcome, retired)


def _stage_and_check(context, tol: TreeOfLifeConfig, staged) -> dict:
    """Write the catalog, split indexes, licences and taxa report into the staged release; run its checks."""
    import pandas as pd

    from tol10m_assets import catalog as catalog_core
    from tol10m_assets import release
    from tol10m_assets.faults import fault_point
    from tol10m_assets.licenses import eol_licenses as licenses_core
    from tol10m_assets.licenses import read_media_manifest

    paths = tol.paths()
    rows = release.write_catalog(staged, paths.mapping)
    train_data = release.write_split_indexes(staged)
    eol = release.eol_rows(staged)  # treeoflife_id, eol_content_id, eol_page_id: only the EOL images
    manifest_path = tol.layout().eol_media_manifest
    if manifest_path.exists():
        manifest = read_media_manifest(manifest_path, keep=zip(eol["eol_content_id"], eol["eol_page_id"]))
    else:
        context.log.warning(f"no EOL media manifest at {manifest_path}: licence fields stay empty")
        manifest = pd.DataFrame({"eol_content_id": pd.Series(dtype="Int64"), "eol_page_id": pd.Series(dtype="Int64")})
    licences = reproduction_licences(tol, eol, manifest) if tol.mode == "reproduce" else licenses_core(eol, manifest)
    catalog_core.write_frame_atomic(licences, staged.licenses)
    add_reproduction_files(tol, staged.metadata)  # mapping.sqlite and naming/*.json: anyone can reproduce it
    figures = catalog_core.taxa_figures_from_parquet(staged.catalog_parquet)
    thresholds = {k: tuple(v) for k, v in tol.taxa_thresholds.items()}
    level, reasons = catalog_core.judge_taxa(figures, thresholds)
    report = catalog_core.taxa_report_markdown(figures, level, reasons)
    staged.taxa_report.write_text(report)
    rules = rare_species_rules(tol)
    published_check, published_report = matches_published(tol, staged.catalog_parquet, rules)
    if published_report:
        report += "\n" + published_report
        staged.taxa_report.write_text(report)
    fault_point("release.catalog-written")

    consistency = release.consistency_problems(staged)
    consistent = not any(v for k, v in consistency.items() if k != "rows")
    rare = catalog_core.rare_leaks(staged.catalog_parquet, rules) if rules is not None else None
    checks = [
        AssetCheckResult(
            asset_key="catalog", check_name="catalog_consistency", passed=consistent,
            metadata={k: MetadataValue.json(v) if isinstance(v, dict) else v for k, v in consistency.items()},
        ),
        AssetCheckResult(
            asset_key="catalog", check_name="rare_species_excluded",
            passed=rare is None or rare["leaks"] == 0,
            metadata={"skipped": "exclude_rare_species is off"} if rare is None else
            {"rows": rare["rows"], "leaks": rare["leaks"], "examples": MetadataValue.json(rare["examples"])},
        ),
        AssetCheckResult(
            asset_key="catalog", check_name="check_taxa", passed=level == "PASS",
            severity=AssetCheckSeverity.ERROR if level == "ERROR" else AssetCheckSeverity.WARN,
            description=taxa_verdict(level, reasons),
            metadata={
                "verdict": level,
                "above_thresholds": records_table(["figure above its threshold"], [[r] for r in reasons]),
                "reasons": MetadataValue.json(reasons),
                "thresholds": MetadataValue.json({**catalog_core.DEFAULT_THRESHOLDS, **thresholds}),
                "setting": "tol.taxa_thresholds: figure -> [warn_above, error_above]",
                "figures": MetadataValue.json(figures),
                **taxa_example_entries(staged.catalog_parquet),
            },
        ),
    ]
    checks.append(published_check)
    checks.append(takedown_check(tol, staged))
    return {"rows": rows, "train_data": train_data, "licences": licences, "figures": figures, "report": report,
            "level": level, "checks": checks}


def takedown_check(tol: TreeOfLifeConfig, staged) -> AssetCheckResult:
    """`no_takedown_published` on the staged catalog and samples tables (logic: `takedowns.published_takedowns`)."""
    from tol10m_assets import takedowns as takedowns_core
    from tol10m_assets.store import SAMPLES_TABLE, PartitionStore

    store = PartitionStore(tol.paths().store)
    tables = {p: store.generation_dir(p, m) / SAMPLES_TABLE for p, m in staged.manifests.items()}
    remove = takedowns_core.read_remove_list(tol.remove_list_path())
    found = takedowns_core.published_takedowns(staged.catalog_parquet, tables, remove, tol.paths().takedowns)
    return AssetCheckResult(
        asset_key="catalog", check_name="no_takedown_published", passed=found["leaks"] == 0,
        description=takedowns_core.leak_message(found),
        metadata={
            "remove_list": str(remove.path) if remove.path else "none",
            "listed_ids": found["listed_ids"], "listed_files": found["listed_files"], "leaks": found["leaks"],
            "rebuild_partitions": MetadataValue.json(found["partitions"]),
            "leaked": records_table(["treeoflife_id", "partition", "reason", "found in"],
                                    [[r["treeoflife_id"], r["partition"], r["reason"], r["found_in"]] for r in found["leaked"]],
                                    empty="No listed image is published."),
        },
    )


def _materializations(paths, final, staged, outcome, retired):
    total = sum(outcome["rows"].values())
    verify = staged.verify
    yield MaterializeResult(
        asset_key="catalog",
        metadata={
            "dagster/row_count": total,
            "rows_per_split": MetadataValue.json(outcome["rows"]),
            "shard_partitions": len(staged.partitions),
            "retired_partitions": MetadataValue.json(retired),
            "release": staged.name,
            "train_data": MetadataValue.json(outcome["train_data"]),
            "training": MetadataValue.json(staged.training),
            "verified": MetadataValue.json({**verify, "size": human_bytes(verify["bytes"])}),
            "csv": MetadataValue.path(str(paths.catalog_csv)),
            "dataset": MetadataValue.path(str(paths.dataset)),
            **changes_metadata(staged.changes),
            **table_metadata(paths.catalog_parquet, total),
            **catalog_charts(paths.catalog_parquet),
        },
    )
    yield MaterializeResult(
        asset_key="taxa_report",
        metadata={
            "report": MetadataValue.md(outcome["report"]),
            "verdict": outcome["level"],
            "path": MetadataValue.path(str(paths.taxa_report)),
            "unique_taxa": MetadataValue.json(outcome["figures"]["unique_taxa"]),
            "complete_share": outcome["figures"]["complete_share"],
            **catalog_charts(paths.catalog_parquet),
        },
    )
    licences = outcome["licences"]
    yield MaterializeResult(
        asset_key="eol_licenses",
        metadata={
            "dagster/row_count": len(licences),
            "without_licence": int((licences["license_name"].fillna("") == "").sum()),
            "path": MetadataValue.path(str(paths.licenses)),
            **table_metadata(paths.licenses, len(licences)),
        },
    )


def changes_metadata(changes: dict | None) -> dict:
    """What changed since the previous release (release.json → changes), as a table in the UI."""
    from tol10m_assets.changelog import markdown, one_line

    if changes is None:
        return {}
    return {"changes": MetadataValue.md(markdown(changes, heading="", table_path="metadata/changes.parquet",
                                                 record="release.json")),
            "changes_summary": changes.get("summary") or one_line(changes),
            "previous_release": changes.get("previous") or "none (first release)"}


publish_assets = [publish_release]
