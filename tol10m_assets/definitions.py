"""The ``Definitions`` that ``workspace.yaml`` and ``dagster dev`` load."""

from dagster import Definitions

from tol10m_assets.defs.build import build_assets
from tol10m_assets.defs.checks import asset_checks
from tol10m_assets.defs.downloads import DownloadSettings, download_assets
from tol10m_assets.defs.jobs import jobs
from tol10m_assets.defs.liveness import dead_local_runs
from tol10m_assets.defs.publish import publish_assets
from tol10m_assets.defs.raw import raw_assets
from tol10m_assets.defs.resources import TreeOfLifeConfig
from tol10m_assets.defs.shards import shards


def build_definitions(tol: TreeOfLifeConfig | None = None, downloads: DownloadSettings | None = None) -> Definitions:
    """All assets, checks and jobs; ``tol`` replaces the environment-driven default settings."""
    return Definitions(
        assets=[*download_assets, *raw_assets, *build_assets, shards, *publish_assets],
        asset_checks=asset_checks,
        jobs=jobs,
        sensors=[dead_local_runs],
        resources={"tol": tol or TreeOfLifeConfig(), "downloads": downloads or DownloadSettings()},
    )


defs = build_definitions()
