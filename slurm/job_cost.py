"""Where a Slurm job's time goes, on the local cluster (slurm/local-cluster.sh): a backfill of the
sample world's shard partitions through dagster-daemon and the launcher, then per run:

  start-up   the job's first log line → the ``shards`` step starts (interpreter, imports,
             definitions, instance, the run's first events, the inputs' observation step)
  build      the ``shards`` step (the partition itself)
  total      sacct's Elapsed

and how long the backfill daemon takes to create a backfill's runs (``--extra N``: N more keys with no
image, backfilled with their jobs held PENDING by ``tol10m/slurm.begin``, then cancelled).

    .venv/bin/python slurm/job_cost.py [--extra 100] [--storage sqlite|postgres]

With ``PYTHONPATH=<an older checkout>`` it measures that code (its launcher, definitions, tests'
cluster helper) with the same venv.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import tempfile
import time
from datetime import datetime
from pathlib import Path


def _first_log_time(path: str) -> float | None:
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return None
    m = re.search(r"tol10m-slurm: job \S+ on \S+ at (\S+)", text)
    return datetime.fromisoformat(m.group(1)).timestamp() if m else None


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--extra", type=int, default=0)
    parser.add_argument("--storage", default="sqlite")
    parser.add_argument("--root", default=None)
    args = parser.parse_args()

    import sys

    sys.path.insert(0, os.environ.get("PYTHONPATH", "").split(":")[0] or str(Path(__file__).resolve().parents[1]))
    from dagster import DagsterEventType, RunsFilter

    from tol10m_assets_tests.slurm.conftest import Cluster

    root = Path(args.root or tempfile.mkdtemp(prefix="tol10m-job-cost-"))
    cluster = Cluster(root, args.storage)
    try:
        cluster.prepare()
        keys = sorted(cluster.instance.get_dynamic_partitions("shard_partitions"))
        cluster.start_daemon()
        cluster.dagster("job", "backfill", "-w", str(cluster.workspace), "-l", "tol10m_assets", "-j", "write_shards",
                        "--partitions", ",".join(keys), "--noprompt")
        cluster.wait(lambda: len(cluster.runs("write_shards")) >= len(keys), timeout=3600, what=f"{len(keys)} runs created")
        cluster.wait(lambda: all(r.is_finished for r in cluster.runs("write_shards")), timeout=7200, what="every run to finish")
        rows = []
        for run in cluster.runs("write_shards"):
            if run.tags.get("dagster/partition") not in keys:
                continue
            events = {}
            for e in cluster.instance.all_logs(run.run_id):
                if e.dagster_event and e.dagster_event.event_type in (DagsterEventType.STEP_START, DagsterEventType.STEP_SUCCESS):
                    if (e.step_key or "").startswith("shards"):
                        events[e.dagster_event.event_type] = e.timestamp
            t0 = _first_log_time(run.tags.get("tol10m/slurm.log", ""))
            job = run.tags.get("tol10m/slurm.job_id", "")
            elapsed = subprocess.run(["sacct", "-n", "-P", "-X", "-j", job, "-o", "ElapsedRaw"], capture_output=True, text=True).stdout.strip()
            if t0 and DagsterEventType.STEP_START in events:
                rows.append((run.tags["dagster/partition"], run.status.value, events[DagsterEventType.STEP_START] - t0,
                             events.get(DagsterEventType.STEP_SUCCESS, float("nan")) - events[DagsterEventType.STEP_START],
                             float(elapsed or "nan")))
        print("partition     status    start-up  build  total (s)")
        for row in sorted(rows):
            print(f"{row[0]:<12}  {row[1]:<8}  {row[2]:7.1f}  {row[3]:5.1f}  {row[4]:5.0f}")
        if rows:
            print(f"median start-up {statistics.median(r[2] for r in rows):.1f} s, median job {statistics.median(r[4] for r in rows):.0f} s "
                  f"over {len(rows)} jobs; load average {open('/proc/loadavg').read().split()[0]}")
        if args.extra:  # run creation alone: more keys, their jobs held PENDING by --begin (then cancelled)
            extra = [f"bioscan-{900 + i:03d}" for i in range(args.extra)]
            cluster.instance.add_dynamic_partitions("shard_partitions", extra)
            before = {r.run_id for r in cluster.runs("write_shards")}
            started = time.time()
            cluster.dagster("job", "backfill", "-w", str(cluster.workspace), "-l", "tol10m_assets", "-j", "write_shards",
                            "--partitions", ",".join(extra), "--tags", '{"tol10m/slurm.begin": "now+3600"}', "--noprompt")
            cluster.wait(lambda: len(cluster.runs("write_shards")) >= len(before) + len(extra), timeout=3600, what="the extra runs")
            records = [r for r in cluster.instance.get_run_records(RunsFilter(job_name="write_shards")) if r.dagster_run.run_id not in before]
            created = sorted(r.create_timestamp.timestamp() for r in records)
            print(f"backfill of {len(extra)} partitions: the last run created {created[-1] - started:.1f} s after `dagster job backfill` "
                  f"started; {created[-1] - created[0]:.1f} s from the first run to the last "
                  f"({(created[-1] - created[0]) / max(len(extra) - 1, 1) * 10:.2f} s per 10 partitions)")
    finally:
        cluster.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
