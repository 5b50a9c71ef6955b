"""The partitioned shard asset: write into a new generation, ``check_wds`` on the staged files, commit.

``check_wds`` is a blocking check of every partition, recorded per partition. A partition whose
check fails is not published (its last committed shards stay as they were) and its run fails, so
the backfill dialog's "Failed" selection picks it for a re-run.
"""

import warnings

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
)

from tol10m_assets.defs.liveness import record_process
from tol10m_assets.defs.metadata import (
    asset_attrs,
    check_wds_partitions,
    human_bytes,
    planned_per_partition,
    records_table,
    run_seconds,
    shard_totals,
    thumbnail_entries_from_samples,
)
from tol10m_assets.defs.partitions import SHARD_PARTITIONS, shard_partitions
from tol10m_assets.defs.resources import TreeOfLifeConfig

CHECK_WDS = "check_wds"
CHECK_WDS_DESCRIPTION = (
    "Runs on the staged shards before they are published: every shard opens; every sample has the eleven "
    "members; every image decodes at the configured size (an image reused from the last committed generation "
    "matches the CRC-32 recorded when it was checked there); no key repeats; sample counts equal the writer's; "
    "planned images (mapping) = written + skipped by reason; corrupt share under `max_corrupt_share`. "
    "On failure nothing is published and the partition's run fails: read `problems`, fix the source or "
    "setting, and re-run the partition (backfill → Failed)."
)


def rare_species_rules(tol: TreeOfLifeConfig):
    """The Rare Species exclusion rules, or None when switched off; missing lists are an error."""
    if not tol.exclude_rare_species:
        return None
    from tol10m_assets.errors import MissingSourceError
    from tol10m_assets.taxonomy import RareSpecies

    layout = tol.layout()
    for path, setting in ((layout.rare_seen, "rare_seen"), (layout.rare_unseen, "rare_unseen")):
        if not path.exists():
            raise MissingSourceError(
                path, f"source_paths.{setting}", "Rare Species list (exclude_rare_species is on; "
                "set exclude_rare_species: false to build without the exclusion)"
            )
    return RareSpecies.from_files(layout.rare_seen, layout.rare_unseen)


with warnings.catch_warnings():  # per-partition check records: a preview feature of Dagster 1.13 we rely on
    warnings.simplefilter("ignore")
    CHECK_WDS_SPEC = AssetCheckSpec(
        CHECK_WDS, asset="shards", blocking=True, partitions_def=shard_partitions, description=CHECK_WDS_DESCRIPTION
    )


@asset(
    group_name="shards",
    partitions_def=shard_partitions,
    # shard_sources: this partition's inputs, observed per partition (its image files and its rows of
    # splits and labels: not splits and labels whole, whose every new version would stale every partition)
    deps=["shard_sources"],
    check_specs=[CHECK_WDS_SPEC],
    kinds={"webdataset"},
    **asset_attrs("shards"),
)
def shards(context: AssetExecutionContext, tol: TreeOfLifeConfig):
    """webdataset shards of one source chunk, all three splits in one pass, published as one transaction."""
    from tol10m_assets.partition import build_partition

    record_process(context)
    partition = context.partition_key
    if not context.instance.has_dynamic_partition(SHARD_PARTITIONS, partition):
        raise Failure(f"partition {partition!r} is not registered by `mapping`; its keys: materialize `mapping` first")
    paths = tol.paths()
    build = build_partition(
        tol.layout(),
        tol.chunking(),
        paths,
        partition,
        tol.image_settings(),
        rare=rare_species_rules(tol),
        workers=tol.worker_count(),
        max_samples=tol.shard_max_samples,
        max_bytes=tol.shard_max_bytes,
        max_corrupt_share=tol.max_corrupt_share,
        owner={"run_id": context.run.run_id},
        log=context.log.info,
    )
    result, report = build.result, build.report
    check = AssetCheckResult(
        check_name=CHECK_WDS,
        passed=report.passed,
        severity=AssetCheckSeverity.ERROR,
        metadata={**check_metadata(build, context.run.run_id), **check_wds_partitions(context.instance, partition, report.passed)},
    )
    if not build.committed:
        # the evaluation targets the partition's last materialization (if any): the grid shows it Failed
        yield check
        raise Failure(
            description=f"check_wds failed for partition {partition}; nothing was published (the last committed "
            f"shards are unchanged). {report.problem_count} problem(s), first: "
            + "; ".join(report.problems[:3])
            + f". The rejected files are kept in {build.generation} until the next run of this partition.",
            metadata={"problems": MetadataValue.md(problems_table(report.problems)),
                      "skipped_samples": MetadataValue.md(skipped_table(result.skipped_samples, total=sum(result.skipped.values())))},
        )
    # The check ran on the staged files before the commit; its evaluation is recorded after the
    # materialization so that it targets it (Dagster shows a partition's check status only while the
    # evaluation targets the partition's latest materialization: else the grid says Missing).
    registered = sorted(context.instance.get_dynamic_partitions(SHARD_PARTITIONS))
    yield MaterializeResult(metadata=materialization_metadata(build, paths, partition, registered, context.instance))
    yield check


def materialization_metadata(build, paths, partition: str, registered: list[str], instance=None) -> dict:
    result = build.result
    written = build.accounting["written"]
    seconds = max(result.seconds, 1e-9)
    return {
        **{f"samples_{split}": n for split, n in sorted(result.samples.items())},
        "dagster/row_count": written,
        "skipped": MetadataValue.json(dict(sorted(result.skipped.items()))),
        "skipped_samples": MetadataValue.md(skipped_table(result.skipped_samples, total=sum(result.skipped.values()))),
        "shards": MetadataValue.json({s: len(n) for s, n in sorted(result.shards.items())}),
        "bytes": result.bytes,
        "size": human_bytes(result.bytes),
        "images_per_s": round(written / seconds, 1),
        "seconds": round(result.seconds, 2),
        "generation": build.manifest["generation"],
        # reuse (shards/reuse.py): images copied from the last committed generation, not decoded
        "images_reused": (build.reuse or {}).get("images_reused", 0),
        "images_decoded": (build.reuse or {}).get("images_decoded", 0),
        "bytes_copied": (build.reuse or {}).get("bytes_copied", 0),
        "manifest": MetadataValue.path(str(paths.store / partition / "manifest.json")),
        **thumbnail_entries_from_samples(result.first_samples),  # the writer's first samples: no shard read again
        **({"healed": f"was damaged: {build.healed}"} if build.healed else {}),
        **totals_over_partitions(paths, registered, instance),
    }


def totals_over_partitions(paths, registered: list[str], instance=None) -> dict:
    """Totals over all registered partitions, so the asset's overview (its latest materialization) shows them."""
    from tol10m_assets.store import PartitionStore

    from tol10m_assets.store import ManifestError

    store = PartitionStore(paths.store)

    def manifest(key: str):
        try:
            return store.read_manifest(key)
        except ManifestError:  # a damaged neighbour counts as not built; it must not fail this partition
            return None

    manifests = {k: manifest(k) for k in registered}
    try:  # the runs' wall time, for the estimates; never a reason to fail a built partition
        timed = run_seconds(instance, manifests) if instance is not None else None
    except Exception as exc:  # noqa: BLE001 - an instance storage refusing a query: estimate from the writer's seconds
        warnings.warn(f"run times for the estimates are unavailable ({exc}); estimating from the writer's seconds", stacklevel=2)
        timed = None
    return shard_totals(manifests, planned_per_partition(paths.mapping), timed)


def check_metadata(build, run_id: str, limit: int = 50) -> dict:
    """check_wds's record of this attempt, committed or rejected: figures, problems and the skipped images
    (tables: the UI shows them inline in a check's result)."""
    report, result = build.report, build.result
    samples, total = result.skipped_samples, sum(result.skipped.values())
    rows = [[s["origin"], s["reason"], s["detail"]] for s in samples[:limit]]
    if total > len(rows):
        rows.append([f"… {total - len(rows)} more (of {total} skipped)", "", ""])
    return {
        "attempt": MetadataValue.text(
            f"run {run_id}: " + ("committed" if build.committed else "REJECTED: nothing published, the last committed "
                                 "shards are unchanged") + f"; generation {build.generation.name}"),
        # counts as one table, not numbers: Dagster would plot each number over every partition's
        # evaluations as one series, which means nothing
        "figures": records_table(["figure", "value"], [["shards", report.shards], ["images_checked", report.images_checked],
                                                        ["images_verified", report.images_verified],
                                                        ["problem_count", report.problem_count], ["skipped_total", total]]),
        "samples": MetadataValue.json(report.samples),
        "accounting": MetadataValue.json(build.accounting),
        "problems": records_table(["#", "problem"], list(enumerate(report.problems[:limit], 1)), empty="No problem."),
        "skipped_by_reason": records_table(["reason", "images"], sorted(result.skipped.items()), empty="No image was skipped."),
        "skipped_images": records_table(["origin", "reason", "detail"], rows, empty="No image was skipped."),
        "generation": MetadataValue.path(str(build.generation)),
    }


def problems_table(problems: list[str], limit: int = 50) -> str:
    """The first problems as a markdown table (one row each, text in full)."""
    if not problems:
        return "No problem."
    esc = lambda s: str(s).replace("|", "\\|").replace("\n", " ")  # noqa: E731
    lines = ["| # | problem |", "|--:|---|"] + [f"| {i} | {esc(p)} |" for i, p in enumerate(problems[:limit], 1)]
    if len(problems) > limit:
        lines.append(f"| | … {len(problems) - limit} more (problem_count) |")
    return "\n".join(lines)


def skipped_table(samples: list[dict], limit: int = 50, total: int | None = None) -> str:
    """The first skipped images as a markdown table (origin, reason, detail), with the total skipped."""
    total = len(samples) if total is None else total
    if not samples and not total:
        return "No image was skipped."
    esc = lambda s: str(s).replace("|", "\\|").replace("\n", " ")  # noqa: E731
    lines = ["| origin | reason | detail |", "|---|---|---|"]
    lines += [f"| {esc(s['origin'])} | {esc(s['reason'])} | {esc(s['detail'])} |" for s in samples[:limit]]
    if total > min(limit, len(samples)):
        lines.append(f"| … {total - min(limit, len(samples))} more (of {total} skipped) | | |")
    return f"{total} image(s) skipped; the first {min(limit, len(samples))}:\n\n" + "\n".join(lines)
