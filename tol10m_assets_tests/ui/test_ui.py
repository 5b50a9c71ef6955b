"""The web UI, in a real (headless) browser, and `dagster definitions validate`."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROME_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--hide-scrollbars"]


def env_for(tmp_path):
    (tmp_path / "home").mkdir(exist_ok=True)
    return {**os.environ, "DAGSTER_HOME": str(tmp_path / "home"), "TOL10M_DATA_ROOT": str(tmp_path / "data"), "TOL10M_SOURCES_ROOT": str(tmp_path / "sources")}


def test_definitions_validate(tmp_path):
    out = subprocess.run([str(BIN / "dagster"), "definitions", "validate", "-w", "workspace.yaml"], cwd=REPO, env=env_for(tmp_path),
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def webserver(tmp_path):
    port = free_port()
    proc = subprocess.Popen([str(BIN / "dagster-webserver"), "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)], cwd=REPO,
                            env=env_for(tmp_path), stdout=open(tmp_path / "web.log", "wb"), stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{base}/server_info", timeout=2).read()
            break
        except OSError:
            time.sleep(0.5)
    else:
        os.killpg(proc.pid, signal.SIGKILL)
        pytest.fail("the webserver did not answer: " + (tmp_path / "web.log").read_text()[-2000:])
    yield base
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=30)


def graphql(base, query):
    request = urllib.request.Request(f"{base}/graphql", data=json.dumps({"query": query}).encode(), headers={"Content-Type": "application/json"})
    return json.loads(urllib.request.urlopen(request, timeout=60).read())["data"]


def test_the_ui_shows_the_lineage_and_checks(webserver, tmp_path):
    data = graphql(webserver, "{ assetNodes { assetKey { path } isPartitioned hasAssetChecks dependencyKeys { path } } }")
    nodes = {"/".join(n["assetKey"]["path"]): n for n in data["assetNodes"]}
    for key in ("eol_image_set_download", "eol_images", "mapping", "splits", "labels", "predicted_catalog", "shards", "catalog", "taxa_report", "eol_licenses"):
        assert key in nodes, key
    assert nodes["shards"]["isPartitioned"] and nodes["shards"]["hasAssetChecks"] and nodes["catalog"]["hasAssetChecks"]
    assert {"shards", "mapping"} <= {"/".join(d["path"]) for d in nodes["catalog"]["dependencyKeys"]}
    assert "eol_published_images" in {"/".join(d["path"]) for d in nodes["mapping"]["dependencyKeys"]}

    if not CHROMIUM:
        pytest.skip("chromium is not installed (bash scripts/install-chromium.sh)")
    profile = tmp_path / "chrome"
    dom = subprocess.run([CHROMIUM, *CHROME_FLAGS, f"--user-data-dir={profile}", "--virtual-time-budget=20000", "--dump-dom", f"{webserver}/assets"],
                         capture_output=True, text=True, timeout=180)
    for key in ("bioscan_download", "catalog", "eol_hierarchy", "Never materialized"):  # the first rows of the catalog
        assert key in dom.stdout, f"{key} not rendered on /assets"
    shot = tmp_path / "asset-graph.png"
    subprocess.run([CHROMIUM, *CHROME_FLAGS, f"--user-data-dir={profile}", "--virtual-time-budget=20000", "--window-size=1600,1000",
                    f"--screenshot={shot}", f"{webserver}/asset-groups"], capture_output=True, timeout=180)
    assert shot.exists() and shot.stat().st_size > 10_000
    keep = os.environ.get("TOL10M_UI_SCREENSHOT")
    if keep:
        shutil.copyfile(shot, keep)
