"""Jobs: prepare (everything before the shards), shards (one run per partition), publish, and the
observation of the raw inputs (`observe_sources`, with a schedule that is off by default)."""


from dagster import AssetSelection, DefaultScheduleStatus, ScheduleDefinition, define_asset_job, in_process_executor, multiprocess_executor

from tol10m_assets.defs.build import build_assets
from tol10m_assets.defs.downloads import download_assets, plan_eol_job
from tol10m_assets.defs.publish import publish_assets
from tol10m_assets.defs.raw import raw_assets, shard_sources
from tol10m_assets.defs.shards import shards
from tol10m_assets.defs.takedowns import takedown_assets

input_sources = [a for a in raw_assets if a is not shard_sources]

prepare_job = define_asset_job(
    "prepare",
    selection=AssetSelection.assets(*input_sources, *build_assets, *takedown_assets),
    description="Observe the raw inputs → mapping → splits → labels → predicted catalog, and the takedowns.",
    executor_def=multiprocess_executor,  # splits and labels in parallel: minutes each at full size
)
shards_job = define_asset_job(
    "write_shards",
    selection=AssetSelection.assets(shard_sources, shards),
    description="One shard partition per run (a Slurm job each with the Slurm launcher); the partition's inputs "
    "are observed first, so its data version records what it was built from.",
    # both steps in the run's own process: a process per step (the default) loads the definitions again
    # for each, seconds per step on 2 cores (the shards step has its own worker pool)
    executor_def=in_process_executor,
)
publish_job = define_asset_job(
    "publish",
    selection=AssetSelection.assets(*publish_assets),
    description="One release: catalog, taxa report, licences and the shard layout, checked in staging and "
    "published atomically (refused while a shard partition's check_wds fails).",
)
observe_job = define_asset_job(
    "observe_sources",
    selection=AssetSelection.assets(*raw_assets),
    description="Observe every raw input and every shard partition's inputs: a changed file gets a new data "
    "version, and what depends on it shows as Unsynced (then: Materialize unsynced).",
)
observe_schedule = ScheduleDefinition(
    name="observe_sources_hourly",
    job=observe_job,
    cron_schedule="0 * * * *",
    default_status=DefaultScheduleStatus.STOPPED,
    description="Observe the raw inputs every hour (off by default: turn it on in Automation).",
)

update_job = define_asset_job(
    "update",
    selection=AssetSelection.all() - AssetSelection.groups("downloads"),
    description="Everything but the downloads, for its Materialize → Materialize unsynced: after a source "
    "changed (and observe_sources ran), it selects what the change feeds (e.g. labels and shards; the shard "
    "partitions shown Unsynced) and never starts a download.",
)

download_job = define_asset_job(
    "download",
    selection=AssetSelection.assets(*download_assets[1:]),
    description="Published metadata, iNat21, BIOSCAN-1M and the name sources (EOL image sets: the partitioned asset).",
    executor_def=multiprocess_executor,  # the transfers in parallel (within the downloads pool)
)
download_eol_job = define_asset_job("download_eol_image_sets", selection=AssetSelection.assets(download_assets[0]))
jobs = [prepare_job, shards_job, publish_job, observe_job, update_job, download_job, download_eol_job, plan_eol_job]
schedules = [observe_schedule]
