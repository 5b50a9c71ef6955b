"""Build the whole dataset from the command line, in this process, recording every run in the
Dagster instance (so ``dagster dev`` shows what was built).

    python -m tol10m_assets.run --sample          # the embedded sample world, end to end
    python -m tol10m_assets.run                   # your data: TOL10M_DATA_ROOT / TOL10M_SOURCES_ROOT

On a cluster, prefer backfills through the Slurm run launcher (docs/slurm.md).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

SAMPLE_DIR = Path("data/sample")
# The sample world damages images on purpose (about 1 in 12 in a small partition), far above what a
# real source has: its builds allow a higher corrupt share than the default of 1 %.
SAMPLE_SETTINGS = {"max_corrupt_share": 0.25}


class BuildFailed(RuntimeError):
    """A job of the build failed; the message carries each failed step's error."""


def root_cause(error) -> str:
    """The innermost message of a serialized error (the user code's, not Dagster's wrapper)."""
    while getattr(error, "cause", None) is not None:
        error = error.cause
    return error.message.strip()


def error_chain(error) -> str:
    """Every message of a serialized error and its causes, outermost first, Dagster's wrappers left out."""
    messages = []
    while error is not None:
        text = error.message.strip()
        if text and not text.startswith("dagster._core.errors.DagsterExecutionStepExecutionError"):
            messages.append(text.removeprefix("dagster._core.definitions.events.Failure: "))
        error = getattr(error, "cause", None) or getattr(error, "context", None)
    return "\n  caused by: ".join(messages) if messages else ""


def _execute(job, instance, **kwargs):
    quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    result = job.execute_in_process(instance=instance, raise_on_error=False, run_config=quiet, **kwargs)
    if not result.success:
        errors = [
            f"{event.step_key}: {error_chain(event.step_failure_data.error)}"
            for event in result.all_events
            if event.is_step_failure and event.step_failure_data and event.step_failure_data.error
        ]
        where = f" for partition {kwargs['partition_key']}" if "partition_key" in kwargs else ""
        raise BuildFailed(f"{job.name}{where} failed:\n" + "\n".join(errors))
    for check in result.get_asset_check_evaluations():
        if not check.passed:
            print(f"  check {check.asset_key.to_user_string()}:{check.check_name} did not pass ({check.severity.value})")
    return result


def build(instance=None, tol=None, log=print) -> dict:
    """prepare → every shard partition → publish; returns where the results are."""
    from dagster import DagsterInstance

    from tol10m_assets.defs.partitions import SHARD_PARTITIONS
    from tol10m_assets.defs.resources import TreeOfLifeConfig
    from tol10m_assets.definitions import build_definitions

    tol = tol or TreeOfLifeConfig()
    defs = build_definitions(tol)
    instance = instance or DagsterInstance.get()
    start = time.monotonic()
    log("prepare: raw inputs → mapping → splits → labels → predicted catalog")
    _execute(defs.resolve_job_def("prepare"), instance)
    partitions = sorted(instance.get_dynamic_partitions(SHARD_PARTITIONS))
    for key in partitions:
        log(f"shards: partition {key}")
        _execute(defs.resolve_job_def("write_shards"), instance, partition_key=key)
    log("publish: catalog, taxa report, licences and the shard layout, checked, then switched in")
    result = _execute(defs.resolve_job_def("publish"), instance)
    paths = tol.paths()
    train_data = {}
    for mat in result.asset_materializations_for_node("publish_release"):
        if mat.asset_key.to_user_string() == "catalog":
            train_data = mat.metadata["train_data"].value
    return {
        "published": str(paths.published),
        "shards": str(paths.dataset),
        "train_data": train_data,
        "catalog": str(paths.catalog_csv),
        "taxa_report": str(paths.taxa_report),
        "licenses": str(paths.licenses),
        "partitions": partitions,
        "seconds": round(time.monotonic() - start, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sample", action="store_true", help="generate and build the embedded sample world")
    parser.add_argument("--images", type=int, default=300, help="sample world size (with --sample)")
    parser.add_argument("--seed", type=int, default=0, help="sample world seed (with --sample)")
    args = parser.parse_args(argv)

    os.environ.setdefault("DAGSTER_HOME", str(Path(".dagster_home").absolute()))
    Path(os.environ["DAGSTER_HOME"]).mkdir(parents=True, exist_ok=True)
    if args.sample:
        from tol10m_assets.sample import make_sample_world

        sources = (SAMPLE_DIR / "sources").absolute()
        os.environ["TOL10M_SOURCES_ROOT"] = str(sources)
        os.environ["TOL10M_DATA_ROOT"] = str((SAMPLE_DIR / "TreeOfLife-10M").absolute())
        print(f"sample world: {args.images} images, seed {args.seed} → {sources}")
        make_sample_world(sources, images=args.images, seed=args.seed)
    tol = None
    if args.sample:
        from tol10m_assets.defs.resources import TreeOfLifeConfig

        tol = TreeOfLifeConfig(**SAMPLE_SETTINGS)
    try:
        where = build(tol=tol)
    except BuildFailed as exc:
        print(exc, file=sys.stderr)
        return 1
    print()
    print(f"Built {len(where['partitions'])} shard partitions in {where['seconds']} s:")
    print(f"  release      {where['published']} (a link to the current release)")
    print(f"  shards       {where['shards']}/<split>/shard-NNNNNN.tar, sizes.json, wids-<split>.json, README.md")
    for split, pattern in where["train_data"].items():
        print(f"  {split:<12} --train-data '{pattern}'")
    print(f"  catalog      {where['catalog']}")
    print(f"  taxa report  {where['taxa_report']}")
    print(f"  licences     {where['licenses']}")
    print(f"  runs         DAGSTER_HOME={os.environ['DAGSTER_HOME']} (see them with scripts/ui.sh)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
