"""Run one job (or the whole build) against $DAGSTER_HOME in this process: the fault-injection
tests start it as a subprocess with TOL10M_FAULT set, so that SIGKILL ends a real run.

    python -m tol10m_assets_tests.pipeline.run_job JOB [PARTITION] --config JSON
"""

import argparse
import json
import sys

from dagster import DagsterInstance


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("job")
    parser.add_argument("partition", nargs="?")
    parser.add_argument("--config", default="{}")
    args = parser.parse_args()

    from tol10m_assets.definitions import build_definitions
    from tol10m_assets.defs.resources import TreeOfLifeConfig
    from tol10m_assets.run import BuildFailed, build

    tol = TreeOfLifeConfig(**json.loads(args.config))
    instance = DagsterInstance.get()
    if args.job == "build":
        try:
            build(instance=instance, tol=tol, log=lambda *_: None)
        except BuildFailed as exc:
            print(exc, file=sys.stderr)
            return 1
        return 0
    job = build_definitions(tol).resolve_job_def(args.job)
    result = job.execute_in_process(instance=instance, partition_key=args.partition, raise_on_error=False)
    for event in result.all_events:
        if event.is_step_failure:
            print(event.step_failure_data.error.message, file=sys.stderr)
    return 0 if result.success else 1


if __name__ == "__main__":
    raise SystemExit(main())
