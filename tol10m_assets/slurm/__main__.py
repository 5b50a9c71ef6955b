"""The Slurm side of the instance's runs, from the command line (``dagster run list`` prints ids only):

    python -m tol10m_assets.slurm status [--limit N]   # run, status, job id, Slurm state, node, reason, health
                                                       # (Slurm unreachable: says so, exit 3, no stale states)
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
from tol10m_assets.slurm.states import controller_reachable


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
            live, why = _reachable(instance.run_launcher)
            if not live:  # the tags are the last states seen: not shown as if they were live
                print(f"Slurm is unreachable ({why}): job states are unknown until it answers; Dagster's run status below",
                      file=sys.stderr)
            print("run_id    status     job      slurm_state  node       reason           health")
            for run in instance.get_runs(limit=args.limit):
                t = run.tags if live else {JOB_ID_TAG: run.tags.get(JOB_ID_TAG, "-"), STATE_TAG: "unreachable"}
                print(f"{run.run_id[:8]}  {run.status.value:<9}  {t.get(JOB_ID_TAG, '-'):<7}  {t.get(STATE_TAG, '-') or '-':<11}  "
                      f"{t.get(NODE_TAG, '') or '-':<9}  {t.get(REASON_TAG, '') or '-':<15}  {t.get(HEALTH_TAG, '-')}")
            return 0 if live else 3
        launcher = instance.run_launcher
        if not isinstance(launcher, SlurmRunLauncher):
            print(f"the instance's run launcher is {type(launcher).__name__}, not SlurmRunLauncher", file=sys.stderr)
            return 2
        print(launcher.sweep())
        return 0


def _reachable(launcher) -> tuple[bool, str]:
    """Whether a Slurm launcher's controller answers (always true for another launcher)."""
    if not isinstance(launcher, SlurmRunLauncher):
        return True, ""
    return controller_reachable(launcher.commands["scontrol"])


if __name__ == "__main__":
    raise SystemExit(main())
