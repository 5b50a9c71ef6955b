"""A tiny code location for the launcher's fault tests: assets that sleep, and jobs whose batch
script fails before the worker starts (their setup is in the test instance's ``per_job``)."""

import os
import time
from pathlib import Path

from dagster import Config, Definitions, asset, define_asset_job


@asset
def sleeper() -> None:
    """Sleeps long enough to be cancelled or killed while running."""
    time.sleep(300)


class NapConfig(Config):
    seconds: float = 5.0
    marker_dir: str = ""


@asset
def nap(context, config: NapConfig) -> None:
    """Writes ``<run id>.pid`` (its process), sleeps, then ``<run id>.done``: a write after the run
    ended would show as a ``.done`` file. ``<run id>.env`` says whether the job got the secret."""
    markers = Path(config.marker_dir) if config.marker_dir else None
    if markers:
        (markers / f"{context.run_id}.pid").write_text(str(os.getpid()))
        (markers / f"{context.run_id}.env").write_text(os.environ.get("TOL10M_TEST_SECRET", ""))
        (markers / f"{context.run_id}.names").write_text("\n".join(sorted(os.environ)))
    time.sleep(config.seconds)
    if markers:
        (markers / f"{context.run_id}.done").write_text("done")


class WriterConfig(Config):
    seconds: float = 20.0
    store: str = ""
    marker_dir: str = ""
    partition: str = "eol-01"


@asset
def partition_writer(context, config: WriterConfig) -> None:
    """What a shard partition does, with a nap in the middle: take the partition's lock, drop the
    uncommitted generations of earlier attempts, stage a generation, nap, commit. ``<run id>.attempts``
    gets one ``start <pid>`` line per attempt and ``commit <pid> <generation>`` when it commits."""
    from tol10m_assets.store import PartitionStore

    store = PartitionStore(Path(config.store))
    attempts = Path(config.marker_dir) / f"{context.run_id}.attempts"
    with store.lock(config.partition, {"run_id": context.run_id}):
        store.remove_uncommitted(config.partition)
        with open(attempts, "a") as handle:
            handle.write(f"start {os.getpid()}\n")
        generation = store.new_generation(config.partition)
        (generation / "train").mkdir()
        (generation / "train" / "shard.tar").write_bytes(b"x" * 1024)
        time.sleep(config.seconds)
        store.commit(config.partition, generation, {"shards": [{"split": "train", "name": "shard.tar"}], "run": {"run_id": context.run_id}})
        with open(attempts, "a") as handle:
            handle.write(f"commit {os.getpid()} {generation.name}\n")
    context.add_output_metadata({"generation": generation.name})


defs = Definitions(
    assets=[sleeper, nap, partition_writer],
    jobs=[
        define_asset_job("sleep_job", selection=[sleeper]),
        define_asset_job("nap_job", selection=[nap]),
        define_asset_job("writer_job", selection=[partition_writer]),
        define_asset_job("setup_fails_job", selection=[nap]),  # per_job setup_lines: module load …
        define_asset_job("no_python_job", selection=[nap]),  # per_job python_executable: a missing path
    ],
)
