"""The EOL image sets already on disk, as partitions of `eol_image_set_download`.

`eol_image_set_download` is partitioned by the sets on disk or planned (a dynamic partitions definition,
`defs/downloads.py`). `observe_sources` calls :func:`report_sets_on_disk`: each published set file found
in `source_paths.eol_published_images` becomes a partition and, when Dagster never materialized it, gets a
reported materialization (its content version and the asset's code version), as `download_report` does
for the unpartitioned downloads. The UI then shows those sets up to date, and "Materialize unsynced"
selects no set download unless a planned set is still missing.
"""

from __future__ import annotations

from pathlib import Path

from dagster import AssetKey, AssetMaterialization, MetadataValue
from dagster._core.definitions.data_version import CODE_VERSION_TAG, DATA_VERSION_TAG

from tol10m_assets.defs.downloads import EOL_SETS
from tol10m_assets.defs.metadata import CODE_VERSIONS, human_bytes
from tol10m_assets.download import sources as S

ASSET = "eol_image_set_download"


def sets_on_disk(folder: Path) -> dict[str, Path]:
    """Published set number (`01` … `63`) → its `image_set_NN.tar.gz` in `folder`, for the files present."""
    found = {nn: folder / Path(S.eol_set_path(nn)).name for nn in S.EOL_IMAGE_SETS}
    return {nn: path for nn, path in found.items() if path.is_file()}


def report_sets_on_disk(context, tol) -> list[str]:
    """Registers the sets on disk as partitions and reports a materialization of each that Dagster never
    materialized (downloaded by hand or by another tool). Returns the partitions reported."""
    from tol10m_assets.defs.raw import fingerprint

    instance = context.instance
    on_disk = sets_on_disk(tol.layout().eol_published_images)
    new = [nn for nn in on_disk if not instance.has_dynamic_partition(EOL_SETS, nn)]
    if new:
        instance.add_dynamic_partitions(EOL_SETS, new)
    done = instance.get_materialized_partitions(AssetKey(ASSET))
    reported = []
    for nn, path in on_disk.items():
        if nn in done:
            continue  # downloaded (or reported) before: its own record stands
        size = path.stat().st_size
        context.log_event(AssetMaterialization(
            ASSET, partition=nn,
            metadata={"path": MetadataValue.path(str(path)), "bytes": size, "size": human_bytes(size),
                      "reported_by": "observe_sources: the file was already on disk (not downloaded by Dagster)"},
            tags={DATA_VERSION_TAG: fingerprint(path), CODE_VERSION_TAG: CODE_VERSIONS[ASSET]}))
        reported.append(nn)
    if new or reported:
        context.log.info(f"EOL image sets on disk: {', '.join(on_disk)}; registered {', '.join(new) or 'none'}, "
                         f"reported {', '.join(reported) or 'none'}")
    return reported
