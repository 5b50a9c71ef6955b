"""`tol10m`: the command line for people.

    tol10m build [--sample | --config FILE]        build everything in this process (progress, one error line)
    tol10m partitions [--sample | --config FILE]   the shard partitions: committed generation, samples, last check;
                                                   the time of a full build and of a backfill, from the measured runs
    tol10m observe [--sample | --config FILE]      observe the raw inputs (what changed shows as stale in the UI)
    tol10m explain ID [--sample | --config FILE]   where an image came from and what became of it (ID, <ID>.jpg, a file name)
    tol10m settings [--sample | --config FILE] [--run-config]   the settings in effect, as a file or as run config
    tol10m slurm status [--sample | --config FILE] the runs with their Slurm job, state, node, reason and health
    tol10m ui [--sample | --config FILE]           the Dagster UI on http://127.0.0.1:3000 (Ctrl-C stops it)
    tol10m push RELEASE --repo ORG/NAME            upload a release to a Hugging Face dataset repository (resumable)
    tol10m releases [pin|unpin NAME]               the releases (size, date, partitions, pins)
    tol10m diff [RELEASE_A] RELEASE_B [--json]     what changed from A to B (default: B's previous; B: published)

Every command resolves the settings the same way (`defs.resources.resolve_settings`, also used by the UI's code
location and `dagster` commands): `--sample` is the sample world in data/sample with its settings
(`$TOL10M_SAMPLE`); `--config FILE` (else `$TOL10M_SETTINGS`) is a YAML file of the `tol` settings (the schema of
run config `resources.tol.config`; a whole run config is accepted too). Runs are recorded in `$DAGSTER_HOME`
(default `./.dagster_home`). On an error, one line says what went wrong and the full trace, Dagster's own logs
included, is in the log file it names. SIGTERM and Ctrl-C stop every command, whatever the shell left ignored.
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


def settings(args):
    """The `tol` settings in effect (`resolve_settings`): `--sample`, then `--config FILE` (or `$TOL10M_SETTINGS`)."""
    from tol10m_assets.defs.resources import resolve_settings

    if getattr(args, "sample", False):
        use_sample_world(0, 0)
    return resolve_settings(config=getattr(args, "config", None))


def use_sample_world(images: int, seed: int, out=print) -> Path:
    """Point this process and its children at the sample world in data/sample (`$TOL10M_SAMPLE`); generate it
    when `images` is given."""
    from tol10m_assets.defs.resources import SAMPLE_ENV
    from tol10m_assets.run import SAMPLE_DIR
    from tol10m_assets.sample import make_sample_world

    folder = SAMPLE_DIR.absolute()
    os.environ[SAMPLE_ENV] = str(folder)
    if images:
        out(f"sample world: {images} images, seed {seed} → {folder / 'sources'}")
        make_sample_world(folder / "sources", images=images, seed=seed, log=lambda *a, **k: None)
    return folder


# --- signals -----------------------------------------------------------------------------------------


def obey_signals() -> None:
    """Ctrl-C and SIGTERM stop this process (with its clean-up: locks released, staging removed), whatever it
    inherited: `cmd &` in a script starts it with SIGINT ignored, and Dagster's in-process runs then give SIGTERM
    SIGINT's handler, so `kill PID` would be ignored too. Children started after this get the defaults."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _terminated)


def _terminated(signum, _frame):
    raise KeyboardInterrupt(f"stopped by signal {signum}")


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
        self.points = [*getattr(self, "points", []), (done, images_done, elapsed)]
        left = estimate_left(self.points, total, images)
        text = (f"shards [{'#' * filled}{'.' * (self.width - filled)}] {done}/{total} partitions, "
                f"{images_done:,}/{images:,} images" + (f", {rate:,.0f} images/s" if rate else "")
                + (f", about {_duration(left)} left" if left is not None and done < total else "")
                + (f" · now {key}" if key else ""))
        if self.tty:
            self.stream.write("\r\033[K" + text + ("\n" if done == total else ""))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()


def estimate_left(points: list[tuple[int, int, float]], partitions: int, images: int) -> float | None:
    """Seconds left from (partitions done, images done, seconds elapsed) so far: a fixed cost per partition
    (run start, definitions, checks) plus a cost per image, fitted by least squares; images alone made
    the estimate far too low where small partitions' fixed cost dominates."""
    done = [(p, i, t) for p, i, t in points if p > 0]
    if not done:
        return None
    p_left, i_left = partitions - done[-1][0], images - done[-1][1]
    spp = sum(p * p for p, _, _ in done); spi = sum(p * i for p, i, _ in done); sii = sum(i * i for _, i, _ in done)
    spt = sum(p * t for p, _, t in done); sit = sum(i * t for _, i, t in done)
    det = spp * sii - spi * spi
    if det > 1e-9 * max(spp * sii, 1):
        per_partition, per_image = (spt * sii - sit * spi) / det, (sit * spp - spt * spi) / det
        if per_partition >= 0 and per_image >= 0:
            return per_partition * p_left + per_image * i_left
    p, i, t = done[-1]  # one kind of point so far: its mean cost per partition, scaled by images when known
    return t / p * p_left if not i or not images else max(t / p * p_left, t / i * i_left)


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


# --- commands ----------------------------------------------------------------------------------------


def cmd_build(args) -> int:
    from tol10m_assets.run import build, print_summary

    if args.sample:
        use_sample_world(args.images, args.seed)
    tol = settings(args)
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
    from tol10m_assets.store import ManifestError, PartitionStore, check_passed

    store = PartitionStore(tol.paths().store)
    registered = set(instance.get_dynamic_partitions(SHARD_PARTITIONS))
    keys = sorted(registered | set(store.committed_partitions()))
    check_key = AssetCheckKey(AssetKey("shards"), CHECK_WDS)
    rows = []
    for key in keys:
        try:
            manifest = store.read_manifest(key)
        except ManifestError:
            manifest = None
        status = store.status(key)  # damaged: an unreadable manifest, a missing file, a sample table that differs
        history = instance.event_log_storage.get_asset_check_execution_history(
            check_key, limit=1, partition_filter=PartitionKeyFilter(key=key)
        )
        last = history[0].status.value.lower() if history else "never run"
        passed = check_passed(manifest)
        rows.append({
            "partition": key,
            "status": "retired" if key not in registered else ("committed" if manifest else "not built"),
            "generation": manifest["generation"] if manifest else "-",
            "samples": sum(manifest["samples"].values()) if manifest else 0,
            "committed": manifest.get("committed", "-") if manifest else "-",
            "damaged": status.removeprefix("damaged: ") if status.startswith("damaged") else "-",
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


def inputs_line(tol) -> str:
    """Which raw inputs this mode and label source read (the others are neither required nor observed)."""
    from tol10m_assets.defs.raw import used_inputs

    used = used_inputs(tol)
    return (f"\ninputs used (mode {tol.mode}, label_source {tol.chosen_label_source()}): {', '.join(k for k, v in used.items() if v)}"
            f"\nnot used: {', '.join(k for k, v in used.items() if not v) or 'none'}")


def cmd_partitions(args) -> int:
    from dagster import DagsterInstance

    tol = settings(args)
    from tol10m_assets.defs.metadata import estimate_for

    with DagsterInstance.get() as instance:
        rows = partition_rows(tol, instance)
        estimate = estimate_for(tol, instance)  # measured run and image costs → a full build, a backfill
    print(format_table(rows))
    print(f"\n{estimate}", file=sys.stderr)  # a note, as below: stdout stays the table
    print(inputs_line(tol), file=sys.stderr)  # a note: stdout stays the table
    print_root_hint(tol, rows)
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


def print_root_hint(tol, rows: list[dict]) -> None:
    """Partitions registered in this instance but none built under the data root in effect: say so."""
    if rows and all(r["status"] == "not built" for r in rows) and any(r["last_attempt"] == "succeeded" for r in rows):
        print(f"\nnote: this instance ($DAGSTER_HOME) has built these partitions, but not under {tol.resolved_data_root()}: "
              "give the settings of that build (--sample for the sample world, --config FILE)")


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
    """`python -m tol10m_assets.explain` over the settings in effect (roots, source layout, image size);
    `--data-root` / `--sources-root` override the settings' roots."""
    from tol10m_assets import explain

    tol = settings(args)
    argv = [args.id, "--data-root", args.data_root or str(tol.resolved_data_root()),
            "--sources-root", args.sources_root or str(tol.resolved_sources_root()),
            "--width", str(tol.width), "--height", str(tol.height)]
    return int(explain.main(argv, layout=None if args.sources_root else tol.layout()) or 0)


def cmd_settings(args) -> int:
    """The settings in effect as YAML: the flat file `--config` and `$TOL10M_SETTINGS` take, or (`--run-config`)
    the run config `dagster ... -c FILE` and the launchpad take (`resources: tol: config: ...`)."""
    import yaml

    values = settings(args).effective()
    print(yaml.safe_dump({"resources": {"tol": {"config": values}}} if args.run_config else values, sort_keys=True), end="")
    return 0


def cmd_slurm(args) -> int:
    from tol10m_assets.slurm.__main__ import main as slurm_main

    settings(args)  # the same flags as every command; the runs themselves are those of $DAGSTER_HOME
    return int(slurm_main([args.action, *(["--limit", str(args.limit)] if args.action == "status" else [])]) or 0)


def cmd_ui(args) -> int:
    from tol10m_assets.defs.resources import SETTINGS_ENV

    tol = settings(args)  # fail here, on the terminal, rather than in the UI's code location
    env = dict(os.environ)  # $TOL10M_SAMPLE (--sample) and $TOL10M_SETTINGS: the code location resolves the same
    if args.config:
        env[SETTINGS_ENV] = str(Path(args.config).absolute())
    print(f"data root {tol.resolved_data_root()}  ·  max_corrupt_share {tol.max_corrupt_share}", flush=True)
    # supersession warnings (FutureWarning) are about Dagster's own APIs, not the build: not shown
    env["PYTHONWARNINGS"] = "ignore::FutureWarning,ignore::DeprecationWarning"
    command = [str(Path(sys.executable).parent / "dagster"), "dev", "-m", "tol10m_assets.definitions",
               "-h", args.host, "-p", str(args.port)]
    print(f"Dagster UI on http://{args.host}:{args.port} (Ctrl-C stops it)", flush=True)
    return run_until_signal(command, env)


def run_until_signal(command: list[str], env: dict, grace: float = 30.0) -> int:
    """Run `command` in its own process group until it ends or Ctrl-C / SIGTERM arrive. A signal is passed
    on as SIGINT to the leader alone, the orderly way out of `dagster dev` (it tells the webserver and the
    daemon to stop over their shutdown pipes and waits for them); whatever of the group is still alive after
    `grace` seconds, or after the leader, is killed (SIGKILL)."""
    proc = subprocess.Popen(command, env=env, start_new_session=True)
    stopping = {"signal": None}

    def stop(signum, _frame):
        stopping["signal"] = signum
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGINT)

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


# --- push: a release to a Hugging Face dataset repository (tol10m_assets/push.py) ----------------------


def cmd_push(args) -> int:
    """Upload a release folder; a second push uploads only what the repository lacks."""
    from tol10m_assets.push import PushError, push_release, resolve_release

    tol = settings(args)
    paths = tol.paths()
    folder = resolve_release(paths.releases, paths.published, args.release)
    if not args.repo:
        raise PushError("give --repo ORG/NAME (the Hugging Face dataset repository to upload to)")
    staging = paths.root / ".push" / folder.name
    done = push_release(folder, args.repo, staging=staging, revision=args.revision, private=args.private or None,
                        log=lambda line: print(line, flush=True))
    print(f"pushed {done['release']} to {done['repo']}: {done['uploaded']} file(s) uploaded, "
          f"{done['already_there']} already there, {len(done['commits'])} commit(s)")
    return 0


def add_push_command(sub, with_config) -> None:
    p = with_config(sub.add_parser("push", help="upload a release to a Hugging Face dataset repository (resumable)"))
    p.add_argument("release", help="a release name under <data root>/releases, `published`, or a release folder")
    p.add_argument("--repo", required=True, metavar="ORG/NAME", help="the dataset repository (created if missing)")
    p.add_argument("--revision", default="main", help="the branch to commit to")
    p.add_argument("--private", action="store_true", help="create the repository private")
    p.set_defaults(run=cmd_push)


# --- releases: list, pin and unpin (tol10m_assets/releases_index.py) ------------------------------------


def cmd_releases(args) -> int:
    """``tol10m releases``: the recorded releases; ``pin NAME`` keeps one whatever the retention, ``unpin`` lets it go."""
    from tol10m_assets import releases_index
    from tol10m_assets.store import exclusive

    paths = settings(args).paths()
    if args.action == "list":
        published = Path(os.readlink(paths.published)).name if paths.published.is_symlink() else ""
        rows = releases_index.listing(paths.releases, published)
        print(format_releases(rows, paths.releases))
        return 0
    if not args.name:
        raise ValueError(f"tol10m releases {args.action} NAME: give the release's name (see `tol10m releases`)")
    with exclusive(paths.releases / ".lock", {"command": f"tol10m releases {args.action}"}, "the release"):
        if args.action == "pin":
            releases_index.pin(paths.releases, args.name, args.reason or "")
            print(f"pinned {args.name}: kept until `tol10m releases unpin {args.name}`")
        else:
            releases_index.unpin(paths.releases, args.name)
            print(f"unpinned {args.name}: the next publish removes it if it is beyond the newest keep_releases")
    return 0


def format_releases(rows: list[dict], releases: Path) -> str:
    if not rows:
        return f"no release recorded in {releases}"
    lines = [f"{'':2}{'release':<24} {'created':<25} {'size':>10} {'partitions':>10} {'shards':>6}  pin"]
    for r in rows:
        mark = "* " if r["published"] else "  "
        size = f"{r['bytes'] / 1e6:.1f} MB" if r["present"] else "missing"
        pin = ("pinned" + (f": {r['reason']}" if r["reason"] else "")) if r["pinned"] else ""
        lines.append(f"{mark}{r['name']:<24} {r['created'] or '-':<25} {size:>10} {r['partitions']:>10} {r['shards']:>6}  {pin}")
    lines.append("* published")
    return "\n".join(lines)


def add_releases_command(sub, with_config) -> None:
    r = with_config(sub.add_parser("releases", help="list the releases (size, date, partitions, pins); pin or unpin one"))
    r.add_argument("action", nargs="?", default="list", choices=["list", "pin", "unpin"])
    r.add_argument("name", nargs="?", help="the release to pin or unpin (a name from the list)")
    r.add_argument("--reason", help="why it is pinned (shown in the list), e.g. the run that trains on it")
    r.set_defaults(run=cmd_releases)


# --- diff: what changed between two releases (tol10m_assets/changelog.py) ------------------------------


def find_release(paths, name: str) -> Path:
    """A release folder from a name of `tol10m releases`, `published`, or a path (a folder or a catalog file)."""
    if name == "published":
        if not (paths.published / "release.json").is_file():
            raise FileNotFoundError(f"no published release under {paths.root} (build and publish first)")
        return paths.published.resolve()
    candidates = [Path(name)] if ("/" in name or Path(name).exists()) else []
    candidates.append(paths.releases / name)
    for folder in candidates:
        if (folder / "release.json").is_file() or (folder / "metadata" / "catalog.csv").is_file() or (
                folder.is_file() and folder.suffix in (".csv", ".parquet")):
            return folder.resolve()
    raise FileNotFoundError(f"no release {name!r} under {paths.releases} (see `tol10m releases`), nor a release folder "
                            "or catalog file of that path")


def diff_why(paths, new: Path):
    """What says why an id left, from the data root: takedowns, mapping, labels, and the skips recorded by
    the manifests of the partitions' generations ``new`` names (where the store still has them)."""
    import json

    from tol10m_assets import changelog

    manifests = []
    for partition, generation in (changelog.read_record(new).get("partitions") or {}).items():
        try:
            manifests.append(json.loads((paths.store / partition / generation / "manifest.json").read_text()))
        except (OSError, ValueError, TypeError):
            continue
    return changelog.Why(takedowns=paths.metadata / changelog.TAKEDOWNS, mapping=paths.mapping, labels=paths.labels,
                         skipped=changelog.skipped_of(manifests))


def cmd_diff(args) -> int:
    """``tol10m diff A B``: A → B; ``tol10m diff B``: B against the release it replaced; no name: the published one."""
    import json

    from tol10m_assets import changelog

    paths = settings(args).paths()
    names = [n for n in (args.release_a, args.release_b) if n]
    old = find_release(paths, names[0]) if len(names) == 2 else None  # the first missing one is named
    new = find_release(paths, names[-1] if names else "published")
    if old is None:
        recorded = changelog.read_record(new).get("changes") or {}
        if recorded.get("first_release") or not recorded.get("previous"):
            out = {"old": None, "new": changelog.read_record(new).get("name") or str(new), **(recorded or changelog.first_release())}
            print(json.dumps(out, indent=2) if args.json else f"{out['new']}: {changelog.FIRST} (nothing to compare with)")
            return 0
        old = find_release(paths, recorded["previous"])
    import tempfile

    with tempfile.TemporaryDirectory(prefix="tol10m-diff-") as scratch:
        table = Path(args.table) if args.table else Path(scratch) / "changes.parquet"
        changes = changelog.compare_releases(old, new, why=diff_why(paths, new), table=table)
        changes["listed"] = changelog.listed(table, args.ids)
        if not args.table:
            changes.pop("table", None)
    print(json.dumps(changes, indent=2, ensure_ascii=False) if args.json else changelog.text_report(changes))
    return 0


def add_diff_command(sub, with_config) -> None:
    d = with_config(sub.add_parser("diff", help="what changed between two releases (ids added, removed, relabelled; partitions)"))
    d.add_argument("release_a", nargs="?", metavar="RELEASE_A", help="the older release: a name of `tol10m releases`, "
                   "`published` or a path (without it: the release RELEASE_B replaced)")
    d.add_argument("release_b", nargs="?", metavar="RELEASE_B", help="the newer release (default: published)")
    d.add_argument("--json", action="store_true", help="the whole difference as JSON (for machines)")
    d.add_argument("--table", metavar="FILE", help="also write every changed id to this Parquet file")
    d.add_argument("--ids", type=int, default=20, metavar="N", help="ids listed per split and kind (default 20)")
    d.set_defaults(run=cmd_diff)


# --- entry point ---------------------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="tol10m", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def with_config(p):
        p.add_argument("--config", metavar="FILE", help="YAML file of `tol` settings (schema of resources.tol.config)")
        p.add_argument("--sample", action="store_true", help="the embedded sample world (data/sample) and its settings")
        return p

    b = with_config(sub.add_parser("build", help="build everything in this process"))
    b.add_argument("--images", type=int, default=300, help="sample world size (with --sample)")
    b.add_argument("--seed", type=int, default=0, help="sample world seed (with --sample)")
    b.set_defaults(run=cmd_build)
    with_config(sub.add_parser("partitions", help="list the shard partitions with their status")).set_defaults(run=cmd_partitions)
    with_config(sub.add_parser("observe", help="observe the raw inputs (staleness in the UI)")).set_defaults(run=cmd_observe)
    e = with_config(sub.add_parser("explain", help="explain one image or id (tol10m_assets.explain)"))
    e.add_argument("id", help="a treeoflife_id, a shard member (<id>.jpg) or a source file / member name")
    e.add_argument("--data-root", help="where the build wrote (instead of the settings' data_root)")
    e.add_argument("--sources-root", help="where the raw inputs live (instead of the settings' sources_root)")
    e.set_defaults(run=cmd_explain)
    st = with_config(sub.add_parser("settings", help="print the settings in effect (a settings file, or run config)"))
    st.add_argument("--run-config", action="store_true", help="as run config for `dagster ... -c FILE` and the launchpad")
    st.set_defaults(run=cmd_settings)
    sl = with_config(sub.add_parser("slurm", help="the Slurm side of the runs (tol10m_assets.slurm)"))
    sl.add_argument("action", choices=["status", "sweep"])
    sl.add_argument("--limit", type=int, default=20)
    sl.set_defaults(run=cmd_slurm)
    u = with_config(sub.add_parser("ui", help="the Dagster UI (webserver and daemon)"))
    u.add_argument("--host", default="127.0.0.1")
    u.add_argument("--port", type=int, default=int(os.environ.get("PORT", "3000")))
    u.set_defaults(run=cmd_ui)
    add_push_command(sub, with_config)
    add_releases_command(sub, with_config)
    add_diff_command(sub, with_config)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    obey_signals()
    quiet_dagster_warnings()
    home = prepare_home()
    try:
        return args.run(args)
    except KeyboardInterrupt as exc:
        print(f"\ntol10m {args.command}: {str(exc) or 'interrupted'}", file=sys.stderr)
        return 130
    except Exception as exc:  # one line on the terminal, the whole story in the log file
        path = log_path(home, args.command)
        details = getattr(exc, "details", "")
        path.write_text(f"tol10m {' '.join(argv if argv is not None else sys.argv[1:])}\n\n"
                        + "".join(traceback.format_exception(exc)) + f"\n{exc}\n" + (f"\n{details}\n" if details else ""))
        lead = "\n" if sys.stdout.isatty() else ""  # after a progress bar's unfinished line
        print(f"{lead}tol10m {args.command} failed: {one_line(exc)} (full trace: {path})", file=sys.stderr)
        return 1


def one_line(exc: BaseException) -> str:
    """The message that says what went wrong, on one line: a settings error names the setting and keeps
    pydantic's message; else the first line and the first failed step's message."""
    from tol10m_assets.defs.resources import settings_message_in

    text = str(exc)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    setting = settings_message_in(text)
    if setting and len(lines) > 1:
        return f"{lines[0]} {setting}"
    steps = [line for line in lines[1:] if not line.startswith("caused by:")]
    if len(lines) > 1 and steps:
        return f"{lines[0]} {steps[0]}"
    return lines[0]


if __name__ == "__main__":
    raise SystemExit(main())
