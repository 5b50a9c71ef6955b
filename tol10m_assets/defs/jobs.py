"""Jobs: prepare (everything before the shards), shards (one run per partition), publish."""


from dagster import AssetSelection, define_asset_job

from tol10m_assets.defs.build import build_assets
from tol10m_assets.defs.downloads import download_assets
from tol10m_assets.defs.publish import publish_assets
from tol10m_assets.defs.raw import raw_assets
from tol10m_assets.defs.shards import shards

prepare_job = define_asset_job(
    "prepare",
    selection=AssetSelection.assets(*raw_assets, *build_assets),
    description="Raw inputs → mapping → splits → labels → predicted catalog.",
)
shards_job = define_asset_job(
    "write_shards",
    selection=AssetSelection.assets(shards),
    description="One shard partition per run (a Slurm job each with the Slurm launcher).",
)
publish_job = define_asset_job(
    "publish",
    selection=AssetSelection.assets(*publish_assets),
    description="One release: catalog, taxa report, licences and the shard layout, checked in staging and "
    "published atomically (refused while a shard partition's check_wds fails).",
)

download_job = define_asset_job(
    "download",
    selection=AssetSelection.assets(*download_assets[1:]),
    description="Published metadata, iNat21, BIOSCAN-1M and the name sources (EOL image sets: the partitioned asset).",
)
download_eol_job = define_asset_job("download_eol_image_sets", selection=AssetSelection.assets(download_assets[0]))
jobs = [prepare_job, shards_job, publish_job, download_job, download_eol_job]
