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
    time.sleep(config.seconds)
    if markers:
        (markers / f"{context.run_id}.done").write_text("done")


defs = Definitions(
    assets=[sleeper, nap],
    jobs=[
        define_asset_job("sleep_job", selection=[sleeper]),
        define_asset_job("nap_job", selection=[nap]),
        define_asset_job("setup_fails_job", selection=[nap]),  # per_job setup_lines: module load …
        define_asset_job("no_python_job", selection=[nap]),  # per_job python_executable: a missing path
    ],
)
