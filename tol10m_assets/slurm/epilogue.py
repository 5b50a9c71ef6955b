"""Run at the end of a Slurm job whose run worker exited non-zero: if the run is not finished
(the worker died before it could say so, e.g. a missing interpreter or an import error), mark it
failed now with the tail of the job's log, instead of leaving it STARTING until the start timeout.

    python -m tol10m_assets.slurm.epilogue <instance_ref.json> <run_id> <exit status>
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    ref_path, run_id, status = argv[:3]
    from dagster import DagsterInstance
    from dagster._serdes import deserialize_value

    instance = DagsterInstance.from_ref(deserialize_value(Path(ref_path).read_text()))
    run = instance.get_run_by_id(run_id)
    if run is None or run.is_finished:
        return 0
    job = os.environ.get("SLURM_JOB_ID", "?")
    log = run.tags.get("tol10m/slurm.log", "")
    tail = ""
    if log and os.path.exists(log):
        tail = "".join(open(log, errors="replace").readlines()[-30:])
    instance.report_run_failed(run, f"Slurm job {job}: the run worker exited with status {status} before the run finished.\n{tail}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
