"""The `Definitions` that `workspace.yaml` and `dagster dev` load.

`TOL10M_SETTINGS=FILE` (a YAML file with the `tol` settings, the schema of run config
`resources.tol.config`) makes its settings the defaults of the UI and of every job.
"""

from dagster import Definitions, in_process_executor

from tol10m_assets.defs.build import build_assets
from tol10m_assets.defs.checks import asset_checks
from tol10m_assets.defs.downloads import DownloadSettings, download_assets, download_checks
from tol10m_assets.defs.jobs import jobs, schedules
from tol10m_assets.defs.liveness import dead_local_runs
from tol10m_assets.defs.publish import publish_assets
from tol10m_assets.defs.raw import raw_assets
from tol10m_assets.defs.resources import TreeOfLifeConfig, default_settings
from tol10m_assets.defs.shards import shards
from tol10m_assets.defs.takedowns import takedown_assets


def build_definitions(tol: TreeOfLifeConfig | None = None, downloads: DownloadSettings | None = None) -> Definitions:
    """All assets, checks, jobs and schedules; `tol` replaces the environment-driven default settings."""
    return Definitions(
        assets=[*download_assets, *raw_assets, *build_assets, *takedown_assets, shards, *publish_assets],
        asset_checks=[*asset_checks, *download_checks],
        jobs=jobs,
        schedules=schedules,
        sensors=[dead_local_runs],
        resources={"tol": tol or default_settings(), "downloads": downloads or DownloadSettings()},
        executor=in_process_executor,  # UI-launched runs (Materialize, backfills): no process per step (jobs.py)
    )


defs = build_definitions()
