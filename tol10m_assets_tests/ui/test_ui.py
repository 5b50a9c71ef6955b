"""The web UI, in a real browser: `dagster definitions validate`, the GraphQL asset graph, and
Debian's Chromium (headless) rendering the lineage and the checks from a live `dagster-webserver`,
over a sample world built with `tol10m build --config FILE`: one partition whose check_wds failed,
a catalog preview and charts, thumbnails on a shard partition, and what a changed `taxon.tab` makes
stale once `observe_sources` has run.

The browser part needs /usr/bin/chromium (`bash scripts/install-chromium.sh`) and skips without it.
Screenshots and DOM dumps land in the test's tmp dir; set TOL10M_UI_ARTIFACTS=DIR to keep a copy.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
CHROMIUM = "/usr/bin/chromium"
# The flags this machine needs (no sandbox as root, no GPU, no background traffic on a closed network).
CHROME_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars"]
WINDOW = "--window-size=1600,1600"  # the global lineage (with the takedowns asset) fits: tall enough for every group
BUDGETS_MS = (15_000, 45_000)  # virtual time for the React app; the second only if the first was not enough

ASSETS = ("shard_sources", "eol_hierarchy", "eol_image_set_download", "tol_metadata_download", "inat21_download", "bioscan_download", "name_sources_download",
          "eol_images", "eol_published_images", "inat21_images", "bioscan_images", "published_metadata",
          "mapping", "splits", "labels", "predicted_catalog", "shards", "catalog", "taxa_report", "eol_licenses")
LINEAGE = {  # asset: upstream assets it must show (README: raw → mapping → splits → labels → … → reports)
    "mapping": {"eol_images", "eol_published_images", "inat21_images", "bioscan_images"},
    "splits": {"mapping"},
    "labels": {"mapping"},
    "predicted_catalog": {"labels", "splits"},
    "shards": {"shard_sources"},  # its rows of mapping, splits and labels come through shard_sources (issue 22)
    "shard_sources": {"eol_images", "inat21_images", "bioscan_images", "rare_species_lists", "mapping", "splits", "labels"},
    "catalog": {"shards", "mapping"},
    "taxa_report": {"catalog"},
    "eol_licenses": {"catalog"},
}
CHECKS = {  # asset: {check: blocking}
    "mapping": {"mapping_ids_unique": True},
    "predicted_catalog": {"check_taxa": False},
    "shards": {"check_wds": True},
    "catalog": {"check_taxa": False, "rare_species_excluded": True, "catalog_consistency": True},
}


def env_for(root: Path) -> dict[str, str]:
    """A throwaway instance (with the repository's dagster.yaml: telemetry off) and empty data roots."""
    home = root / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    if (REPO / "dagster.yaml").exists():
        shutil.copyfile(REPO / "dagster.yaml", home / "dagster.yaml")
    env = {**os.environ, "DAGSTER_HOME": str(home), "TOL10M_DATA_ROOT": str(root / "data"),
           "TOL10M_SOURCES_ROOT": str(root / "sources")}
    env.pop("TOL10M_SETTINGS", None)
    return env


def run_ok(args: list[str], env: dict, expect_failure: bool = False, timeout: float = 600) -> subprocess.CompletedProcess:
    done = subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)
    if expect_failure:
        assert done.returncode != 0, f"{' '.join(args)} should have failed:\n{done.stdout[-2000:]}"
    else:
        assert done.returncode == 0, f"{' '.join(args)} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


class World:
    """The sample world built with `tol10m build --config FILE`, then: one partition rebuilt with a zero
    corrupt-image allowance (its check_wds fails, nothing is published); in `taxon.tab` one genus of EOL
    images renamed, observed, and `labels` and `predicted_catalog` rebuilt (the EOL partitions holding the
    genus, `genus_partitions`, are then Unsynced, and only they); then a new name no image has added to
    `taxon.tab` and `tol10m observe` (the `observe_sources` job) run: `labels` is Unsynced again."""

    def __init__(self, root: Path):
        from tol10m_assets.sample import make_sample_world

        self.root = root
        make_sample_world(root / "sources", images=120, seed=0, log=lambda *a, **k: None)
        self.settings = root / "settings.yaml"
        self.settings.write_text("sources_root: sources\ndata_root: data\nworkers: 1\nmax_corrupt_share: 0.25\n")
        self.env = {**env_for(root), "TOL10M_SETTINGS": str(self.settings)}
        python = [sys.executable, "-m", "tol10m_assets.cli"]
        run_ok([*python, "build", "--config", str(self.settings)], self.env)
        store = root / "data" / "store" / "224x224"
        manifests = {p.parent.name: json.loads(p.read_text()) for p in sorted(store.glob("*/manifest.json"))}
        self.partitions = sorted(manifests)
        self.failed = next(k for k, m in manifests.items() if m["skipped"].get("corrupt_image"))
        self.healthy = next(k for k, m in manifests.items() if k != self.failed and sum(m["samples"].values()))
        strict = root / "strict.yaml"
        strict.write_text("resources:\n  tol:\n    config:\n      sources_root: %s\n      data_root: %s\n      workers: 1\n"
                          "      max_corrupt_share: 0.0\n" % (root / "sources", root / "data"))
        self.built_manifests = manifests  # as built: what the last materialization's totals count
        self.genus, self.genus_partitions = eol_genus(store, manifests, self.failed, root / "sources" / "metadata" / "taxon.tab")
        # its committed generation gone (as if never built): a failed attempt of a committed partition no
        # longer blocks the release (issue 21), one that never passed does (changed on purpose)
        shutil.rmtree(store / self.failed)
        run_ok([str(BIN / "dagster"), "asset", "materialize", "-m", "tol10m_assets.definitions", "--select", "shards",
                "--partition", self.failed, "-c", str(strict)], self.env, expect_failure=True)
        run_ok([str(BIN / "dagster"), "job", "execute", "-m", "tol10m_assets.definitions", "-j", "publish"], self.env,
               expect_failure=True)  # refused: the failed partition has no committed generation that passed check_wds
        self.first_catalog_id = (root / "data" / "published" / "metadata" / "catalog.csv").read_text().splitlines()[1].split(",")[1]
        taxon_tab = root / "sources" / "metadata" / "taxon.tab"
        rows = [line.split("\t") for line in taxon_tab.read_text().split("\n")]
        for cells in rows:  # the genus renamed: the EOL partitions holding it change, once labels is rebuilt
            if len(cells) > 5 and cells[4] == "genus" and cells[5] == self.genus:
                cells[5] = self.genus + "ix"
        taxon_tab.write_text("\n".join("\t".join(cells) for cells in rows))
        run_ok([*python, "observe", "--config", str(self.settings)], self.env)
        run_ok([str(BIN / "dagster"), "asset", "materialize", "-m", "tol10m_assets.definitions", "--select",
                "labels,predicted_catalog"], self.env)
        columns = taxon_tab.read_text().splitlines()[0].split("\t")
        row = {"taxonID": "EOL-99999999", "scientificName": "Novus observatus", "taxonRank": "species",
               "canonicalName": "Novus observatus", "eolID": "99999999"}
        with open(taxon_tab, "a") as handle:  # a new name no image has: labels is Unsynced, no partition changes
            handle.write("\t".join(row.get(c, "") for c in columns) + "\n")
        run_ok([*python, "observe", "--config", str(self.settings)], self.env)


def eol_genus(store: Path, manifests: dict, failed: str, taxon_tab: Path) -> tuple[str, list[str]]:
    """A genus of EOL images (read from the committed samples tables) that a genus row of `taxon.tab` names,
    held by the fewest EOL partitions (one of them not `failed`), with the partitions that hold it."""
    import duckdb

    named = {cells[5] for cells in (line.split("\t") for line in taxon_tab.read_text().splitlines()) if len(cells) > 5 and cells[4] == "genus"}
    holders: dict[str, list[str]] = {}
    for key, m in sorted(manifests.items()):
        if key.startswith("eol-"):
            table = str(store / key / m["generation"] / "samples.parquet")
            for (genus,) in duckdb.execute("SELECT DISTINCT genus FROM read_parquet(?)", [table]).fetchall():
                holders.setdefault(genus, []).append(key)
    candidates = sorted(g for g, keys in holders.items() if g in named and set(keys) - {failed})
    genus = min(candidates, key=lambda g: (len(holders[g]), g))
    return genus, holders[genus]


def test_definitions_validate(tmp_path):
    started = time.monotonic()
    out = subprocess.run([str(BIN / "dagster"), "definitions", "validate", "-w", "workspace.yaml"], cwd=REPO,
                         env=env_for(tmp_path), capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, f"dagster definitions validate failed ({time.monotonic() - started:.0f} s):\n{out.stdout}\n{out.stderr}"


# --- the webserver ---------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def graphql(base: str, query: str, timeout: float = 30) -> dict:
    request = urllib.request.Request(f"{base}/graphql", data=json.dumps({"query": query}).encode(),
                                     headers={"Content-Type": "application/json"})
    answer = json.loads(urllib.request.urlopen(request, timeout=timeout).read())
    assert not answer.get("errors"), answer["errors"]
    return answer["data"]


WORKSPACE = """{ workspaceOrError { __typename ... on Workspace { locationEntries { name loadStatus
  locationOrLoadError { __typename ... on PythonError { message stack } } } } } }"""


class Webserver:
    def __init__(self, root: Path, env: dict | None = None):
        self.root = root
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = root / "webserver.log"
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [str(BIN / "dagster-webserver"), "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(self.port)],
                cwd=REPO, env=env or env_for(root), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def wait_until_loaded(self, timeout: float = 150) -> None:
        """Until /server_info answers and the code location has loaded; fails on a load error."""
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                pytest.fail(f"dagster-webserver exited with {self.proc.returncode}:\n{self.log()}")
            if time.monotonic() > deadline:
                pytest.fail(f"dagster-webserver did not load the workspace within {timeout:.0f} s:\n{self.log()}")
            try:
                urllib.request.urlopen(f"{self.base}/server_info", timeout=3).read()
                entries = graphql(self.base, WORKSPACE, timeout=10)["workspaceOrError"]["locationEntries"]
            except (OSError, ValueError, KeyError):
                time.sleep(0.5)
                continue
            if entries and all(e["loadStatus"] == "LOADED" for e in entries):
                for entry in entries:
                    error = entry["locationOrLoadError"]
                    if error and error["__typename"] == "PythonError":
                        pytest.fail(f"code location {entry['name']} failed to load in the UI:\n{error['message']}\n"
                                    + "".join(error.get("stack") or []))
                return
            time.sleep(0.5)

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
            except ProcessLookupError:
                pass
        try:  # the code server it started shares its process group
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return World(tmp_path_factory.mktemp("world"))


@contextlib.contextmanager
def serving(world):
    """The UI over `world`, loaded, stopped on exit (each UI test module serves its own world)."""
    server = Webserver(world.root, world.env)
    try:
        server.wait_until_loaded()
        # The "Join the Dagster community" dialog that a fresh instance shows on 127.0.0.1 would cover the
        # screenshots: mark it seen in the throwaway instance, as its "Skip" button does.
        assert graphql(server.base, "mutation { setNuxSeen }")["setNuxSeen"] is True
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def webserver(world):
    with serving(world) as server:
        yield server


# --- the asset graph the UI is built from ------------------------------------------------------------

ASSET_NODES = """{ assetNodes { assetKey { path } groupName isPartitioned
  partitionDefinition { type dimensionTypes { type dynamicPartitionsDefinitionName } }
  dependencyKeys { path }
  assetChecksOrError { __typename ... on AssetChecks { checks { name blocking } } } } }"""


def test_graphql_shows_the_lineage_and_the_checks(webserver):
    nodes = {"/".join(n["assetKey"]["path"]): n for n in graphql(webserver.base, ASSET_NODES)["assetNodes"]}
    missing = [key for key in ASSETS if key not in nodes]
    assert not missing, f"assets missing from the UI's asset graph: {missing}; it has {sorted(nodes)}"

    for key, upstream in LINEAGE.items():
        deps = {"/".join(d["path"]) for d in nodes[key]["dependencyKeys"]}
        assert upstream <= deps, f"{key}: upstream {sorted(upstream - deps)} missing (has {sorted(deps)})"

    shards = nodes["shards"]
    assert shards["isPartitioned"], "shards is not partitioned"
    assert shards["partitionDefinition"]["type"] == "DYNAMIC", shards["partitionDefinition"]
    assert nodes["eol_image_set_download"]["isPartitioned"]
    assert not nodes["catalog"]["isPartitioned"]

    for key, expected in CHECKS.items():
        result = nodes[key]["assetChecksOrError"]
        assert result["__typename"] == "AssetChecks", f"{key}: {result}"
        checks = {c["name"]: c["blocking"] for c in result["checks"]}
        assert set(expected) <= set(checks), f"{key}: checks {sorted(set(expected) - set(checks))} missing (has {sorted(checks)})"
        for name, blocking in expected.items():
            assert checks[name] is blocking, f"{key}.{name}: blocking is {checks[name]}, expected {blocking}"


# --- a real browser ----------------------------------------------------------------------------------

def run_chromium(args: list[str], profile: Path, timeout: float) -> subprocess.CompletedProcess:
    """One headless Chromium run in its own process group (killed whole on timeout), fresh profile."""
    proc = subprocess.Popen([CHROMIUM, *CHROME_FLAGS, f"--user-data-dir={profile}", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate(timeout=10)
        pytest.fail(f"chromium did not finish within {timeout:.0f} s: {' '.join(args)}\n{err[-2000:]}")
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # any helper process left behind
        except ProcessLookupError:
            pass
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def render(url: str, out_dir: Path, name: str, expect: tuple[str, ...]) -> tuple[str, Path]:
    """Loads `url`, dumps its DOM and takes a screenshot in the same run; a longer virtual time budget
    if some expected text has not rendered yet. Returns the DOM and the PNG."""
    for attempt, budget in enumerate(BUDGETS_MS):
        shot = out_dir / f"{name}.png"
        shot.unlink(missing_ok=True)
        done = run_chromium([f"--virtual-time-budget={budget}", WINDOW, "--dump-dom", f"--screenshot={shot}", url],
                            out_dir / f"profile-{name}-{attempt}", timeout=budget / 1000 + 90)
        dom = done.stdout
        (out_dir / f"{name}.html").write_text(dom)
        missing = [text for text in expect if text not in dom]
        if not missing:
            break
    assert done.returncode == 0, f"chromium exited with {done.returncode} on {url}:\n{done.stderr[-2000:]}"
    assert not missing, f"{url}: {missing} not rendered after {budget} ms virtual time (DOM in {out_dir / (name + '.html')})"
    assert shot.exists() and shot.stat().st_size > 20_000, f"no screenshot of {url}"
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return dom, shot


# Expanded groups of the global lineage ("global@global:<group>"); `raw` stays collapsed so the whole
# pipeline fits the window. The names that only a graph node carries (predicted_catalog, splits, labels,
# taxa_report, eol_licenses) prove the React app rendered the graph from the server's data: the shell
# and the sidebar's group list (mapping, shards, catalog …) hold none of them.
EXPANDED = ",".join(f"global@global:{group}" for group in ("mapping", "taxonomy", "shards", "catalog", "reports"))
PAGES = [
    ("asset-graph", "/asset-groups?" + urllib.parse.urlencode({"expanded": EXPANDED}),
     ("Global asset lineage", "mapping", "splits", "labels", "predicted_catalog", "shards", "catalog", "taxa_report",
      "eol_licenses")),
    ("mapping-upstream", "/assets/mapping?view=lineage&lineageScope=upstream&lineageDepth=1",
     ("eol_images", "inat21_images", "bioscan_images", "mapping")),
    ("shards-checks", "/assets/shards?view=checks", ("check_wds",)),
    ("catalog-checks", "/assets/catalog?view=checks", ("check_taxa", "rare_species_excluded", "catalog_consistency")),
]


@pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK), reason="/usr/bin/chromium is absent (bash scripts/install-chromium.sh installs it)")
@pytest.mark.parametrize("name,path,expect", PAGES, ids=[p[0] for p in PAGES])
def test_chromium_renders_the_ui(webserver, tmp_path, name, path, expect):
    dom, shot = render(webserver.base + path, tmp_path, name, expect)
    assert "Join the Dagster community" not in dom
    keep = os.environ.get("TOL10M_UI_ARTIFACTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, Path(keep) / shot.name)
        shutil.copyfile(tmp_path / f"{name}.html", Path(keep) / f"{name}.html")


# --- the data and what to do, on the sample build ------------------------------------------------------

needs_chromium = pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK), reason="/usr/bin/chromium is absent")


def keep(tmp_path: Path, name: str) -> None:
    target = os.environ.get("TOL10M_UI_ARTIFACTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        for suffix in (".png", ".html"):
            shutil.copyfile(tmp_path / f"{name}{suffix}", Path(target) / f"{name}{suffix}")


PARTITION_STATUS = """{ assetNodeOrError(assetKey: {path: ["shards"]}) { ... on AssetNode {
  assetPartitionStatuses { ... on DefaultPartitionStatuses { materializedPartitions failedPartitions } } } } }"""


@needs_chromium
def test_the_check_names_the_failed_partition_and_its_run_failed(webserver, world, tmp_path):
    statuses = graphql(webserver.base, PARTITION_STATUS)["assetNodeOrError"]["assetPartitionStatuses"]
    assert world.failed in statuses["failedPartitions"], statuses  # "Failed" in the backfill dialog selects it
    assert world.healthy not in statuses["failedPartitions"]
    dom, _ = render(f"{webserver.base}/assets/shards?view=checks&checkDetail=check_wds", tmp_path, "check-grid",
                    ("check_wds", "Partition", world.failed, "Failed", "max_corrupt_share"))
    keep(tmp_path, "check-grid")


@needs_chromium
def test_the_catalog_shows_a_row_preview_a_schema_and_charts(webserver, world, tmp_path):
    dom, _ = render(f"{webserver.base}/assets/catalog", tmp_path, "catalog",
                    ("Row count", "Columns", "Species epithet only", "preview", world.first_catalog_id,
                     "Images per kingdom", "Images per source", "Rank completeness", "█", "tol10m"))
    keep(tmp_path, "catalog")


@needs_chromium
def test_a_shard_partition_shows_thumbnails_and_skips(webserver, world, tmp_path):
    dom, _ = render(f"{webserver.base}/assets/shards?view=partitions&partition={world.healthy}", tmp_path, "partition",
                    ("thumbnail_1", "images_per_s", "skipped_samples"))
    assert 'src="data:image/webp;base64,' in dom, "no thumbnail image rendered"
    keep(tmp_path, "partition")


STALE = """{ assetNodes(assetKeys: [{path: ["labels"]}, {path: ["splits"]}]) { assetKey { path } staleStatus }
  shards: assetNodes(assetKeys: [{path: ["shards"]}]) { staleStatusByPartition(partitions: %s) } }"""


@needs_chromium
def test_a_changed_taxon_tab_makes_labels_and_the_eol_partitions_stale(webserver, world, tmp_path):
    partitions = [p for p in world.partitions if p != world.failed]
    answer = graphql(webserver.base, STALE % json.dumps(partitions))
    nodes = {"/".join(n["assetKey"]["path"]): n for n in answer["assetNodes"]}
    assert nodes["labels"]["staleStatus"] == "STALE"
    assert nodes["splits"]["staleStatus"] == "FRESH"
    by_partition = dict(zip(partitions, answer["shards"][0]["staleStatusByPartition"]))
    stale = sorted(p for p, status in by_partition.items() if status == "STALE")
    # exactly the partitions holding an image of the renamed genus (changed on purpose, issue 22: before,
    # every EOL partition; a name reaches a partition through its rows of labels, not through taxon.tab)
    assert stale == [p for p in world.genus_partitions if p != world.failed] and stale, (world.genus, by_partition)
    assert set(stale) <= {p for p in partitions if p.startswith("eol-")}, by_partition
    dom, _ = render(f"{webserver.base}/assets/labels", tmp_path, "labels-stale", ("labels", "Unsynced"))
    keep(tmp_path, "labels-stale")
    eol = stale[0]
    dom, _ = render(f"{webserver.base}/assets/shards?view=partitions&partition={eol}", tmp_path, "partition-stale",
                    (eol, "Latest materialization", "Unsynced"))
    keep(tmp_path, "partition-stale")
    fresh = next(p for p in partitions if p not in stale)
    dom, _ = render(f"{webserver.base}/assets/shards?view=partitions&partition={fresh}", tmp_path, "partition-fresh",
                    (fresh, "Latest materialization", "thumbnail_1"))
    assert "Unsynced" not in dom, f"{fresh} shows as unsynced although none of its inputs changed"
    keep(tmp_path, "partition-fresh")


FAILED_PUBLISH = """{ runsOrError(filter: {pipelineName: "publish", statuses: [FAILURE]}, limit: 1) {
  ... on Runs { results { runId } } } }"""


@needs_chromium
def test_the_refused_release_names_the_partition_and_the_repair(webserver, world, tmp_path):
    runs = graphql(webserver.base, FAILED_PUBLISH)["runsOrError"]["results"]
    assert runs, "the publish run that should have been refused is not recorded"
    dom, _ = render(f"{webserver.base}/runs/{runs[0]['runId']}", tmp_path, "refused",
                    ("not published", world.failed, "repair", "--partition KEY"))
    keep(tmp_path, "refused")


def test_check_taxa_names_its_setting_and_examples(world, monkeypatch):
    """On the catalog's last evaluated check_taxa (the refused release after it left no evaluation)."""
    from dagster import AssetCheckEvaluation, AssetCheckKey, AssetKey, DagsterInstance

    monkeypatch.setenv("DAGSTER_HOME", world.env["DAGSTER_HOME"])
    with DagsterInstance.get() as instance:
        history = instance.event_log_storage.get_asset_check_execution_history(
            AssetCheckKey(AssetKey("catalog"), "check_taxa"), limit=10)
        events = [r.event.dagster_event.event_specific_data for r in history if r.event is not None]
    evaluations = [e for e in events if isinstance(e, AssetCheckEvaluation)]  # not the refused run's planned one
    assert evaluations, "check_taxa never evaluated on the catalog"
    metadata = evaluations[0].metadata
    assert metadata["setting"].value.startswith("tol.taxa_thresholds")
    assert set(metadata["thresholds"].value) >= {"hierarchy_gap_share", "multiword_species_share", "incomplete_share"}
    examples = {k: v.value for k, v in metadata.items() if k.startswith("examples_")}
    assert {"examples_multiword_species", "examples_unidentified_species", "examples_gap_missing_above_genus"} <= set(examples)
    multiword = evaluations[0].metadata.get("figures").value["multiword_species"]
    assert (examples["examples_multiword_species"] == "none") == (multiword == 0), examples
