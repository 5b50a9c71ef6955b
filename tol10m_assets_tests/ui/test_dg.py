"""Dagster's `dg` CLI works on this project (pyproject.toml `[tool.dg]`): `dg check defs`, `dg list
defs` and `dg dev` (its webserver loads the code location)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request

import pytest

from tol10m_assets_tests.ui.test_ui import BIN, REPO, WORKSPACE, env_for, free_port, graphql

pytestmark = [pytest.mark.timeout(600)]


def dg(args: list[str], tmp_path, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**env_for(tmp_path), "VIRTUAL_ENV": str(BIN.parent)}
    return subprocess.run([str(BIN / "dg"), *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)


def test_dg_check_defs_passes(tmp_path):
    done = dg(["check", "defs"], tmp_path)
    assert done.returncode == 0, f"dg check defs failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    assert "All definitions loaded successfully" in done.stdout + done.stderr


def test_dg_list_defs_lists_the_assets_checks_and_jobs(tmp_path):
    done = dg(["list", "defs", "--json"], tmp_path)
    assert done.returncode == 0, f"dg list defs failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    listing = json.loads(done.stdout)
    assets = {a["asset_key"] for a in listing["assets"]}
    assert {"shards", "mapping", "labels", "catalog", "eol_hierarchy", "shard_sources"} <= assets, sorted(assets)
    checks = {c["key"] for c in listing["asset_checks"]}
    assert "shards:check_wds" in checks, sorted(checks)
    jobs = {j["name"] for j in listing["jobs"]}
    assert {"prepare", "write_shards", "publish", "observe_sources"} <= jobs, sorted(jobs)


def test_dg_dev_serves_the_code_location(tmp_path):
    port = free_port()
    env = {**env_for(tmp_path), "VIRTUAL_ENV": str(BIN.parent)}
    with open(tmp_path / "dg-dev.log", "wb") as log:
        proc = subprocess.Popen([str(BIN / "dg"), "dev", "-h", "127.0.0.1", "-p", str(port)], cwd=REPO, env=env,
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240
        while True:
            assert proc.poll() is None, (tmp_path / "dg-dev.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "dg dev did not load the code location:\n" + (tmp_path / "dg-dev.log").read_text()[-3000:]
            try:
                urllib.request.urlopen(f"{base}/server_info", timeout=3).read()
                entries = graphql(base, WORKSPACE, timeout=10)["workspaceOrError"]["locationEntries"]
            except (OSError, ValueError, KeyError):
                time.sleep(1)
                continue
            if entries and all(e["loadStatus"] == "LOADED" for e in entries):
                break
            time.sleep(1)
        assert [e["name"] for e in entries] == ["tol10m_assets"], entries
        assert all(e["locationOrLoadError"]["__typename"] == "RepositoryLocation" for e in entries), entries
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        except ProcessLookupError:
            pass
