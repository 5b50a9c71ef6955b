"""Build the whole dataset from the command line, in this process, recording every run in the
Dagster instance (so ``dagster dev`` shows what was built).

    python -m tol10m_assets.run --sample          # the embedded sample world, end to end
    python -m tol10m_assets.run                   # your data: TOL10M_DATA_ROOT / TOL10M_SOURCES_ROOT
    python -m tol10m_assets.run --config my.yaml  # your data: the settings in a YAML file

The same as `tol10m build` (tol10m_assets/cli.py).

On a cluster, prefer backfills through the Slurm run launcher (docs/slurm.md).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import threading
import time
from pathlib import Path

SAMPLE_DIR = Path("data/sample")
# The sample world damages images on purpose (about 1 in 12 in a small partition), far above what a
# real source has: its builds allow a higher corrupt share than the default of 1 %.
SAMPLE_SETTINGS = {"max_corrupt_share": 0.25}


class BuildFailed(RuntimeError):
    """A job of the build failed; the message carries each failed step's error, ``details`` the full
    traces and Dagster's error log lines (for the log file, not the terminal)."""

    def __init__(self, message: str, details: str = ""):
        super().__init__(message)
        self.details = details


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


INTERRUPTED = "DagsterExecutionInterruptedError"


def _execute(job, instance, **kwargs):
    """Run `job` in this process. Dagster's own log lines stay off the terminal (`CRITICAL` only): a failure
    raises :class:`BuildFailed` (the steps' messages; traces and error logs in ``details``), an
    interrupted run (Ctrl-C, SIGTERM) ``KeyboardInterrupt``."""
    quiet = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
    with _signals_seen() as seen:
        result = job.execute_in_process(instance=instance, raise_on_error=False, run_config=quiet, **kwargs)
    if seen():  # Dagster defers a signal that lands between its interrupt points, and forgets it when the run ends
        raise KeyboardInterrupt(f"{job.name}: stopped by a signal")
    if not result.success:
        failures = [event for event in result.all_events
                    if event.is_step_failure and event.step_failure_data and event.step_failure_data.error]
        if any(_error_classes(event.step_failure_data.error) & {INTERRUPTED, "KeyboardInterrupt"} for event in failures):
            raise KeyboardInterrupt(f"{job.name}: stopped by a signal")
        errors = [f"{event.step_key}: {error_chain(event.step_failure_data.error)}" for event in failures]
        details = "\n".join(
            f"[{event.event_type_value}] {event.step_key or ''} {event.message or ''}"
            + (f"\n{event.step_failure_data.error.to_string()}" if event.is_step_failure and event.step_failure_data
               and event.step_failure_data.error else "")
            for event in result.all_events if event.is_failure or event.is_step_failure or event.event_type_value == "ENGINE_EVENT"
        )
        where = f" for partition {kwargs['partition_key']}" if "partition_key" in kwargs else ""
        raise BuildFailed(f"{job.name}{where} failed:\n" + "\n".join(errors), details)
    for check in result.get_asset_check_evaluations():
        if not check.passed:
            print(f"  check {check.asset_key.to_user_string()}:{check.check_name} did not pass ({check.severity.value})")
    return result


@contextlib.contextmanager
def _signals_seen():
    """Yields a function telling whether SIGINT or SIGTERM arrived meanwhile, whatever Python handler was
    installed then (a wakeup fd: the interpreter writes every handled signal's number to it)."""
    if threading.current_thread() is not threading.main_thread():
        yield lambda: False
        return
    reader, writer = socket.socketpair()
    reader.setblocking(False)
    writer.setblocking(False)
    previous = signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
    received: set[int] = set()

    def seen() -> bool:
        with contextlib.suppress(BlockingIOError, OSError):
            while data := reader.recv(512):
                received.update(data)
        return bool(received & {signal.SIGINT, signal.SIGTERM})

    try:
        yield seen
    finally:
        signal.set_wakeup_fd(previous)
        seen()
        reader.close()
        writer.close()


def _error_classes(error) -> set[str]:
    names = set()
    while error is not None:
        names.add(error.cls_name or "")
        error = getattr(error, "cause", None) or getattr(error, "context", None)
    return names


def partition_sizes(paths) -> dict[str, int]:
    """Images per shard partition, from the mapping (for progress)."""
    import pandas as pd

    try:
        counts = pd.read_parquet(paths.mapping, columns=["partition"])["partition"].value_counts()
    except (OSError, ValueError, KeyError):
        return {}
    return {str(k): int(v) for k, v in counts.items()}


def build(instance=None, tol=None, log=print, progress=None) -> dict:
    """prepare → every shard partition → publish; returns where the results are.

    ``progress(done_partitions, partitions, done_images, images, key)`` is called before and after
    each partition (the CLI draws a bar from it)."""
    from dagster import DagsterInstance

    from tol10m_assets.defs.partitions import SHARD_PARTITIONS
    from tol10m_assets.defs.resources import TreeOfLifeConfig
    from tol10m_assets.definitions import build_definitions

    tol = tol or TreeOfLifeConfig()
    defs = build_definitions(tol)
    instance = instance or DagsterInstance.get()
    start = time.monotonic()
    log("prepare: observe the raw inputs → mapping → splits → labels → predicted catalog")
    _execute(defs.resolve_job_def("prepare"), instance)
    paths = tol.paths()
    partitions = sorted(instance.get_dynamic_partitions(SHARD_PARTITIONS))
    sizes = partition_sizes(paths)
    total = sum(sizes.get(k, 0) for k in partitions)
    done = 0
    for i, key in enumerate(partitions):
        if progress:
            progress(i, len(partitions), done, total, key)
        else:
            log(f"shards: partition {key} ({i + 1}/{len(partitions)}, {sizes.get(key, 0)} images)")
        _execute(defs.resolve_job_def("write_shards"), instance, partition_key=key)
        done += sizes.get(key, 0)
    if progress:
        progress(len(partitions), len(partitions), done, total, "")
    log("publish: catalog, taxa report, licences and the shard layout, checked, then switched in")
    result = _execute(defs.resolve_job_def("publish"), instance)
    train_data, training = {}, {}
    for mat in result.asset_materializations_for_node("publish_release"):
        if mat.asset_key.to_user_string() == "catalog":
            train_data = mat.metadata["train_data"].value
            training = mat.metadata["training"].value if "training" in mat.metadata else {}
    return {
        "published": str(paths.published),
        "shards": str(paths.dataset),
        "train_data": train_data,
        "training": training,
        "catalog": str(paths.catalog_csv),
        "taxa_report": str(paths.taxa_report),
        "licenses": str(paths.licenses),
        "partitions": partitions,
        "images": total,
        "seconds": round(time.monotonic() - start, 1),
    }


def print_summary(where: dict, out=print) -> None:
    out()
    out(f"Built {len(where['partitions'])} shard partitions in {where['seconds']} s:")
    out(f"  release      {where['published']} (a link to the current release)")
    out(f"  shards       {where['shards']}/<split>/shard-NNNNNN.tar, sizes.json, wids-<split>.json, README.md")
    for split, pattern in where["train_data"].items():
        out(f"  {split:<12} {where.get('training', {}).get(split) or f'--train-data {pattern!r}'}")
    out(f"  catalog      {where['catalog']}")
    out(f"  taxa report  {where['taxa_report']}")
    out(f"  licences     {where['licenses']}")
    out(f"  runs         DAGSTER_HOME={os.environ.get('DAGSTER_HOME', '')} (see them with `tol10m ui`)")


def main(argv: list[str] | None = None) -> int:
    """`python -m tol10m_assets.run [--sample] [--images N] [--seed S] [--config FILE]`: `tol10m build`."""
    from tol10m_assets.cli import main as cli_main

    return cli_main(["build", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    raise SystemExit(main())
