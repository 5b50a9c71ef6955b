"""Where the time of a UI-launched shard partition run goes: starts `dagster dev` (webserver + daemon, as
`tol10m ui` does) over a built instance, launches `write_shards` for one partition through the UI's
GraphQL API (as the Materialize button does), and splits the run's wall time by its events:
queued (until the daemon dequeues it), launch (run worker process start + definitions load), each
step (and the per-step process of the multiprocess executor), finish.

    DAGSTER_HOME=… TOL10M_SETTINGS=… python -m tol10m_assets_tests.ui.run_overhead PARTITION [--runs N]

Prints one table per run; the figures in docs/operating.md come from it."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tol10m_assets_tests.ui.test_ui import BIN, REPO, WORKSPACE, free_port, graphql

LAUNCH = """mutation($partition: String!) { launchRun(executionParams: {
  selector: {repositoryLocationName: "tol10m_assets", repositoryName: "__repository__", jobName: "write_shards"},
  executionMetadata: {tags: [{key: "dagster/partition", value: $partition}]}, runConfigData: "{}" }) {
  __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message } ... on RunConfigValidationInvalid { errors { message } } } }"""


def launch(base: str, partition: str) -> str:
    request = urllib.request.Request(f"{base}/graphql", headers={"Content-Type": "application/json"},
                                     data=json.dumps({"query": LAUNCH, "variables": {"partition": partition}}).encode())
    answer = json.loads(urllib.request.urlopen(request, timeout=60).read())
    result = answer["data"]["launchRun"]
    if result["__typename"] != "LaunchRunSuccess":
        raise RuntimeError(result)
    return result["run"]["runId"]


def phases(run_id: str) -> list[tuple[str, float]]:
    """(phase, seconds) from the run's event log: enqueued → dequeued → process started → steps → end."""
    from dagster import DagsterInstance

    with DagsterInstance.get() as instance:
        events = [e for e in instance.all_logs(run_id) if e.dagster_event is not None]
    marks = [(e.dagster_event.event_type.name, e.step_key, e.timestamp) for e in events]
    start = marks[0][2]
    out, last = [], start
    for kind, step, ts in marks:
        if kind in ("RUN_DEQUEUED", "RUN_STARTING", "RUN_START", "ENGINE_EVENT", "STEP_START", "STEP_SUCCESS", "STEP_FAILURE",
                    "RUN_SUCCESS", "RUN_FAILURE"):
            out.append((f"{kind} {step or ''}".strip(), ts - last))
            last = ts
    out.append(("total (enqueued → end)", last - start))
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("partition")
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args(argv)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = open(Path(os.environ["DAGSTER_HOME"]) / "run-overhead-dev.log", "wb")
    dev = subprocess.Popen([str(BIN / "dagster"), "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
                           cwd=REPO, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        while True:
            try:
                entries = graphql(base, WORKSPACE, timeout=10)["workspaceOrError"]["locationEntries"]
                if entries and all(e["loadStatus"] == "LOADED" for e in entries):
                    break
            except (OSError, ValueError, KeyError):
                pass
            time.sleep(1)
        time.sleep(5)  # the daemon's first loop
        for _ in range(args.runs):
            run_id = launch(base, args.partition)
            clicked = time.time()
            status = ""
            while status not in ("SUCCESS", "FAILURE", "CANCELED"):
                time.sleep(1)
                status = graphql(base, '{ runOrError(runId: "%s") { ... on Run { status } } }' % run_id)["runOrError"]["status"]
            print(f"run {run_id} ({status}), {time.time() - clicked:.1f} s from the click to the end seen by the UI")
            for phase, seconds in phases(run_id):
                print(f"  {phase:<45} {seconds:7.1f} s")
    finally:
        os.killpg(dev.pid, signal.SIGTERM)
        try:
            dev.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(dev.pid, signal.SIGKILL)
    return 0


if __name__ == "__main__":
    sys.exit(main())
