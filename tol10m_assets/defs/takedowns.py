"""The `takedowns` asset: the remove list resolved against the mapping (a thin wrapper around the core).

Always written (an empty table without a list), so the shard partitions and the release can rely on it.
"""

from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset

from tol10m_assets.defs.build import mapping
from tol10m_assets.defs.lazy import lazy_module
from tol10m_assets.defs.metadata import OWNERS, records_table
from tol10m_assets.defs.raw import observe_partition_slices
from tol10m_assets.defs.resources import TreeOfLifeConfig

takedowns_core = lazy_module("tol10m_assets.takedowns")


@asset(group_name="mapping", deps=[mapping, "remove_list"], kinds={"parquet"}, owners=OWNERS, code_version="1")
def takedowns(context: AssetExecutionContext, tol: TreeOfLifeConfig) -> MaterializeResult:
    """`metadata/takedowns.parquet` (treeoflife_id, reason): the images of the `remove_list` setting (by id or
    by source file), which shard partitions skip as `removed` and the release check keeps out. Entries no
    image matches are reported (`unknown`), not ignored; `partitions` are the ones to rebuild."""
    paths = tol.paths()
    remove = takedowns_core.read_remove_list(tol.remove_list_path())
    summary = takedowns_core.write_takedowns(remove, paths.mapping, paths.takedowns, paths.takedowns_summary)
    if summary.unknown:
        context.log.warning(
            f"takedowns: {summary.unknown} of {summary.entries} entries of {summary.remove_list} match no image of the "
            "mapping: " + ", ".join(f"line {e['line']}: {e['value']}" for e in summary.unknown_entries[:10])
        )
    context.log.info(f"takedowns: {summary.ids} image(s) in {len(summary.partitions)} partition(s)")
    slices = observe_partition_slices(context, tol, "takedowns")  # only the partitions holding listed ids change
    return MaterializeResult(metadata={
        **slices,
        "dagster/row_count": summary.ids,
        "remove_list": summary.remove_list or "none (setting `remove_list` is empty)",
        "entries": summary.entries,
        "by_id": summary.by_id,
        "by_source_file": summary.by_source_file,
        "unknown": summary.unknown,
        "unknown_entries": records_table(["line", "entry"], [[e["line"], e["value"]] for e in summary.unknown_entries],
                                         empty="Every entry matches an image."),
        "partitions": MetadataValue.json(summary.partitions),
        "reasons": MetadataValue.json(summary.reasons),
        "path": MetadataValue.path(str(paths.takedowns)),
    })


takedown_assets = [takedowns]
