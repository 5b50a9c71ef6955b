"""The Slurm side of the instance's runs, from the command line (``dagster run list`` prints ids only):

    python -m tol10m_assets.slurm status [--limit N]   # run, status, job id, Slurm state, node, reason, health
    python -m tol10m_assets.slurm sweep                # one sweep now (what SlurmRunCoordinator does periodically)
"""

from __future__ import annotations

import argparse
import sys

from tol10m_assets.slurm.launcher import (
    HEALTH_TAG,
    JOB_ID_TAG,
    NODE_TAG,
    REASON_TAG,
    STATE_TAG,
    SlurmRunLauncher,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tol10m_assets.slurm")
    sub = parser.add_subparsers(dest="command", required=True)
    status = sub.add_parser("status", help="the instance's recent runs with their Slurm job, state, node, reason and health")
    status.add_argument("--limit", type=int, default=20)
    sub.add_parser("sweep", help="cancel orphan jobs, fail runs whose job ended before starting, finish CANCELING runs")
    args = parser.parse_args(argv)

    from dagster import DagsterInstance

    with DagsterInstance.get() as instance:
        if args.command == "status":
            print("run_id    status     job      slurm_state  node       reason           health")
            for run in instance.get_runs(limit=args.limit):
                t = run.tags
                print(f"{run.run_id[:8]}  {run.status.value:<9}  {t.get(JOB_ID_TAG, '-'):<7}  {t.get(STATE_TAG, '-') or '-':<11}  "
                      f"{t.get(NODE_TAG, '') or '-':<9}  {t.get(REASON_TAG, '') or '-':<15}  {t.get(HEALTH_TAG, '-')}")
            return 0
        launcher = instance.run_launcher
        if not isinstance(launcher, SlurmRunLauncher):
            print(f"the instance's run launcher is {type(launcher).__name__}, not SlurmRunLauncher", file=sys.stderr)
            return 2
        print(launcher.sweep())
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
