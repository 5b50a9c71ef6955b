"""`tol10m`: the command line for people.

    tol10m build [--config FILE] [--sample]     build everything in this process (progress, one error line)
    tol10m partitions [--config FILE]           the shard partitions: committed generation, samples, last check
    tol10m observe [--config FILE]              observe the raw inputs (what changed shows as stale in the UI)
    tol10m explain ID                           where an image came from and what became of it
    tol10m ui [--config FILE] [--sample]        the Dagster UI on http://127.0.0.1:3000 (Ctrl-C stops it)

`--config FILE` is a YAML file of the `tol` settings (the schema of run config `resources.tol.config`;
a whole run config is accepted too). Runs are recorded in `$DAGSTER_HOME` (default `./.dagster_home`).
On an error, one line says what went wrong and the full trace is in the log file it names.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import signal
import subprocess
import sys
import time
import traceback
import warnings
from pathlib import Path

DEFAULT_HOME = ".dagster_home"
MINIMAL_INSTANCE = "# written by tol10m: local runs, telemetry off (see dagster.yaml in the repository)\ntelemetry:\n  enabled: false\n"


class UsageError(RuntimeError):
    """A mistake of the command line itself (the message says what to type instead)."""


def quiet_dagster_warnings() -> None:
    """No supersession / beta / preview warnings on the terminal: they are about Dagster's APIs, not the build."""
    from dagster._utils.warnings import BetaWarning, PreviewWarning, SupersessionWarning

    for category in (BetaWarning, PreviewWarning, SupersessionWarning):
        warnings.filterwarnings("ignore", category=category)


def prepare_home() -> Path:
    """`$DAGSTER_HOME` (default ./.dagster_home), created, with an instance file (the repository's, if here)."""
    home = Path(os.environ.get("DAGSTER_HOME") or DEFAULT_HOME).absolute()
    os.environ["DAGSTER_HOME"] = str(home)
    home.mkdir(parents=True, exist_ok=True)
    target = home / "dagster.yaml"
    if not target.exists():
        repo_file = Path(__file__).resolve().parents[1] / "dagster.yaml"
        target.write_text(repo_file.read_text() if repo_file.is_file() else MINIMAL_INSTANCE)
    return home


def log_path(home: Path, command: str) -> Path:
    folder = home / "logs"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"tol10m-{command}-{dt.datetime.now().strftime('%Y%m%dT%H%M%S')}.log"


def settings(args, sample_overrides: dict | None = None):
    """The `tol` settings: the YAML file (if any) over the environment defaults, sample settings under both."""
    from tol10m_assets.defs.resources import TreeOfLifeConfig, read_settings_file

    data = dict(sample_overrides or {})
    if getattr(args, "config", None):
        data.update(read_settings_file(args.config))
    elif os.environ.get("TOL10M_SETTINGS"):
        data.update(read_settings_file(os.environ["TOL10M_SETTINGS"]))
    return TreeOfLifeConfig(**data)


def use_sample_world(images: int, seed: int, out=print) -> dict:
    """Generate the sample world under data/sample and point the environment at it."""
    from tol10m_assets.run import SAMPLE_DIR, SAMPLE_SETTINGS
    from tol10m_assets.sample import make_sample_world

    sources = (SAMPLE_DIR / "sources").absolute()
    os.environ["TOL10M_SOURCES_ROOT"] = str(sources)
    os.environ["TOL10M_DATA_ROOT"] = str((SAMPLE_DIR / "TreeOfLife-10M").absolute())
    if images:
        out(f"sample world: {images} images, seed {seed} → {sources}")
        make_sample_world(sources, images=images, seed=seed, log=lambda *a, **k: None)
    return dict(SAMPLE_SETTINGS)


# --- progress ----------------------------------------------------------------------------------------


class Progress:
    """A one-line bar on a terminal (plain lines otherwise): partitions, images, rate, time left."""

    def __init__(self, stream=None, width: int = 30):
        self.stream = stream or sys.stdout
        self.tty = self.stream.isatty()
        self.width = width
        self.start = None

    def __call__(self, done: int, total: int, images_done: int, images: int, key: str) -> None:
        if self.start is None:
            self.start = time.monotonic()
        elapsed = max(time.monotonic() - self.start, 1e-9)
        share = images_done / images if images else (done / total if total else 1.0)
        filled = round(self.width * share)
        rate = images_done / elapsed if images_done else 0.0
        left = (images - images_done) / rate if rate else None
        text = (f"shards [{'#' * filled}{'.' * (self.width - filled)}] {done}/{total} partitions, "
                f"{images_done:,}/{images:,} images" + (f", {rate:,.0f} images/s" if rate else "")
                + (f", about {_duration(left)} left" if left is not None and done < total else "")
                + (f" · now {key}" if key else ""))
        if self.tty:
            self.stream.write("\r\033[K" + text + ("\n" if done == total else ""))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


# --- commands ----------------------------------------------------------------------------------------


def cmd_build(args) -> int:
    from tol10m_assets.run import build, print_summary

    overrides = use_sample_world(args.images, args.seed) if args.sample else None
    tol = settings(args, overrides)
    print(f"data root {tol.resolved_data_root()}  ·  sources {tol.resolved_sources_root()}")
    where = build(tol=tol, log=lambda line: print(line, flush=True), progress=Progress())
    print_summary(where)
    return 0


def partition_rows(tol, instance) -> list[dict]:
    """One row per registered (or committed) shard partition: generation, samples, last check_wds."""
    from dagster import AssetCheckKey, AssetKey
    from dagster._core.storage.event_log.base import PartitionKeyFilter

    from tol10m_assets.defs.partitions import SHARD_PARTITIONS
    from tol10m_assets.defs.shards import CHECK_WDS
    from tol10m_assets.store import PartitionStore

    store = PartitionStore(tol.paths().store)
    registered = set(instance.get_dynamic_partitions(SHARD_PARTITIONS))
    keys = sorted(registered | set(store.committed_partitions()))
    check_key = AssetCheckKey(AssetKey("shards"), CHECK_WDS)
    rows = []
    for key in keys:
        manifest = store.read_manifest(key)
        history = instance.event_log_storage.get_asset_check_execution_history(
            check_key, limit=1, partition_filter=PartitionKeyFilter(key=key)
        )
        last = history[0].status.value.lower() if history else "never run"
        passed = bool(manifest and (manifest.get("check") or {}).get("passed") is True)
        rows.append({
            "partition": key,
            "status": "retired" if key not in registered else ("committed" if manifest else "not built"),
            "generation": manifest["generation"] if manifest else "-",
            "samples": sum(manifest["samples"].values()) if manifest else 0,
            "committed": manifest.get("committed", "-") if manifest else "-",
            "check_wds": "passed" if passed else "-",  # the committed generation's: what the release publishes
            "last_attempt": last,  # the latest check_wds, of whatever run tried last
        })
    return rows


def format_table(rows: list[dict]) -> str:
    if not rows:
        return "no shard partition: build first (tol10m build), or materialize `mapping`"
    columns = list(rows[0])
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in columns}
    lines = ["  ".join(c.ljust(widths[c]) for c in columns)]
    lines += ["  ".join(str(r[c]).ljust(widths[c]) for c in columns) for r in rows]
    return "\n".join(line.rstrip() for line in lines)


def cmd_partitions(args) -> int:
    from dagster import DagsterInstance

    tol = settings(args)
    with DagsterInstance.get() as instance:
        rows = partition_rows(tol, instance)
    print(format_table(rows))
    live = [r for r in rows if r["status"] != "retired"]
    failed = [r["partition"] for r in live if r["check_wds"] != "passed"]
    retried = [r["partition"] for r in live if r["check_wds"] == "passed" and r["last_attempt"] != "succeeded"]
    if failed:
        print(f"\n{len(failed)} partition(s) without a committed generation that passed check_wds (not publishable): "
              f"{', '.join(failed)}; rebuild one with "
              "`dagster asset materialize -m tol10m_assets.definitions --select shards --partition KEY`")
    if retried:
        print(f"\n{len(retried)} partition(s) whose last attempt did not pass (their committed generation is still "
              f"published): {', '.join(retried)}")
    return 0


def cmd_observe(args) -> int:
    from dagster import DagsterInstance

    from tol10m_assets.definitions import build_definitions
    from tol10m_assets.run import _execute

    tol = settings(args)
    with DagsterInstance.get() as instance:
        _execute(build_definitions(tol).resolve_job_def("observe_sources"), instance)
    print("observed the raw inputs: what changed since it was built shows as Unsynced in the UI (then: Materialize unsynced)")
    return 0


def cmd_explain(args) -> int:
    from tol10m_assets import explain

    return int(explain.main([args.id, *args.rest]) or 0)


def cmd_ui(args) -> int:
    env = dict(os.environ)
    if args.sample:
        use_sample_world(0, 0)
        env.update({k: os.environ[k] for k in ("TOL10M_SOURCES_ROOT", "TOL10M_DATA_ROOT")})
    if args.config:
        settings(args)  # fail here, on the terminal, rather than in the UI's code location
        env["TOL10M_SETTINGS"] = str(Path(args.config).absolute())
    # supersession warnings (FutureWarning) are about Dagster's own APIs, not the build: not shown
    env["PYTHONWARNINGS"] = "ignore::FutureWarning,ignore::DeprecationWarning"
    command = [str(Path(sys.executable).parent / "dagster"), "dev", "-m", "tol10m_assets.definitions",
               "-h", args.host, "-p", str(args.port)]
    print(f"Dagster UI on http://{args.host}:{args.port} (Ctrl-C stops it)", flush=True)
    return run_until_signal(command, env)


def run_until_signal(command: list[str], env: dict, grace: float = 10.0) -> int:
    """Run `command` in its own process group; Ctrl-C or SIGTERM stop the whole group (SIGTERM, then
    SIGKILL after `grace` seconds), so the webserver, daemon and code servers all end."""
    proc = subprocess.Popen(command, env=env, start_new_session=True)
    stopping = {"signal": None}

    def stop(signum, _frame):
        stopping["signal"] = signum
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)

    previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        while True:
            try:
                code = proc.wait(timeout=0.5)
                break
            except subprocess.TimeoutExpired:
                if stopping["signal"] is not None:
                    try:
                        code = proc.wait(timeout=grace)
                    except subprocess.TimeoutExpired:
                        with contextlib.suppress(ProcessLookupError):
                            os.killpg(proc.pid, signal.SIGKILL)
                        code = proc.wait()
                    break
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        with contextlib.suppress(ProcessLookupError):  # anything of the group still alive
            os.killpg(proc.pid, signal.SIGKILL)
    if stopping["signal"] is not None:
        print("stopped", flush=True)
        return 0
    return code


# --- entry point ---------------------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="tol10m", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def with_config(p):
        p.add_argument("--config", metavar="FILE", help="YAML file of `tol` settings (schema of resources.tol.config)")
        return p

    b = with_config(sub.add_parser("build", help="build everything in this process"))
    b.add_argument("--sample", action="store_true", help="generate and build the embedded sample world (data/sample)")
    b.add_argument("--images", type=int, default=300, help="sample world size (with --sample)")
    b.add_argument("--seed", type=int, default=0, help="sample world seed (with --sample)")
    b.set_defaults(run=cmd_build)
    with_config(sub.add_parser("partitions", help="list the shard partitions with their status")).set_defaults(run=cmd_partitions)
    with_config(sub.add_parser("observe", help="observe the raw inputs (staleness in the UI)")).set_defaults(run=cmd_observe)
    e = sub.add_parser("explain", help="explain one image or id (tol10m_assets.explain)")
    e.add_argument("id")
    e.add_argument("rest", nargs=argparse.REMAINDER)
    e.set_defaults(run=cmd_explain)
    u = with_config(sub.add_parser("ui", help="the Dagster UI (webserver and daemon)"))
    u.add_argument("--sample", action="store_true", help="point the UI at the sample world (data/sample)")
    u.add_argument("--host", default="127.0.0.1")
    u.add_argument("--port", type=int, default=int(os.environ.get("PORT", "3000")))
    u.set_defaults(run=cmd_ui)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    quiet_dagster_warnings()
    home = prepare_home()
    try:
        return args.run(args)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # one line on the terminal, the whole story in the log file
        path = log_path(home, args.command)
        path.write_text(f"tol10m {' '.join(argv if argv is not None else sys.argv[1:])}\n\n"
                        + "".join(traceback.format_exception(exc)) + f"\n{exc}\n")
        print(f"\ntol10m {args.command} failed: {one_line(exc)}\n  (full trace: {path})", file=sys.stderr)
        return 1


def one_line(exc: BaseException) -> str:
    """The message that says what went wrong: the last meaningful line of a failed step, else the first."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    steps = [line for line in lines[1:] if not line.startswith("caused by:")]
    if len(lines) > 1 and steps:
        return f"{lines[0]} {steps[0]}"
    return lines[0]


if __name__ == "__main__":
    raise SystemExit(main())
