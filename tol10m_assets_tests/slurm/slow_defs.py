"""A tiny code location for the launcher's terminate / kill tests: one asset that sleeps."""

import time

from dagster import Definitions, asset, define_asset_job


@asset
def sleeper() -> None:
    """Sleeps long enough to be cancelled or killed while running."""
    time.sleep(300)


defs = Definitions(assets=[sleeper], jobs=[define_asset_job("sleep_job", selection=[sleeper])])
