"""What the console says is true, clicked through in a real headless Chromium (DevTools protocol,
ui/cdp.py) over the sample build of test_ui.World (one partition whose check_wds failed, then a
changed `taxon.tab` observed): the check's partition grid counts passes and the failure, the failed
check lists the rejected attempt's skipped images, the partition page shows the failed attempt, and
"Materialize unsynced" selects what a changed name source feeds and no download.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from tol10m_assets_tests.ui.test_ui import CHROMIUM, World, serving, free_port, graphql

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900),
              pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK), reason="/usr/bin/chromium is absent")]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return World(tmp_path_factory.mktemp("truth"))


@pytest.fixture(scope="module")
def webserver(world):
    with serving(world) as server:
        yield server


@pytest.fixture
def browser(tmp_path, request):
    from tol10m_assets_tests.ui.cdp import Browser

    opened = Browser(tmp_path / "profile", free_port())
    yield opened
    try:
        shot = opened.screenshot(tmp_path / f"{request.node.name}.png")
        keep = os.environ.get("TOL10M_UI_ARTIFACTS")
        if keep:
            Path(keep).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(shot, Path(keep) / shot.name)
    finally:
        opened.close()


def committed_skips(world) -> list[dict]:
    """The skipped images of the failed partition's first, committed build (the world then removes it)."""
    return world.built_manifests[world.failed]["skipped_samples"]


def failed_run(webserver, world) -> str:
    query = """{ runsOrError(filter: {pipelineName: "__ASSET_JOB", statuses: [FAILURE]}) { ... on Runs { results { runId tags { key value } } } } }"""
    runs = graphql(webserver.base, query)["runsOrError"]["results"]
    shard_runs = [r for r in runs if {"key": "dagster/partition", "value": world.failed} in r["tags"]]
    assert shard_runs, runs
    return shard_runs[0]["runId"]


def open_check_partitions(browser, webserver) -> str:
    browser.goto(f"{webserver.base}/assets/shards?view=checks&checkDetail=check_wds")
    browser.wait_for("Execution history")
    browser.click("Partitions", index=-1)  # the check's tab (the first is the asset's)
    return browser.wait_for("Passed (", "Failed (")


def test_the_check_grid_counts_the_passes_and_the_failure(browser, webserver, world):
    browser.goto(f"{webserver.base}/assets/shards?view=checks&checkDetail=check_wds")
    # no numeric entry: Dagster draws no plot of them over all partitions as one series (its placeholder;
    # waited for, as the plots render after the rest of the page)
    overview = browser.wait_for("Latest execution", "figures", "skipped_by_reason",
                                "Include numeric metadata entries in your check metadata to see data graphed")
    assert "Include numeric metadata entries in your check metadata to see data graphed" in overview, overview
    page = open_check_partitions(browser, webserver)
    assert f"Passed ({len(world.partitions) - 1})" in page, page
    assert "Failed (1)" in page and "Missing (0)" in page, page


def test_the_failed_check_lists_the_rejected_attempts_images(browser, webserver, world):
    open_check_partitions(browser, webserver)
    browser.click(world.failed, index=-1)
    skips = committed_skips(world)  # the same inputs: the rejected attempt skipped the same images
    assert skips
    page = browser.wait_for("REJECTED", "skipped_images", "skipped_by_reason", "corrupt_image", *[s["origin"] for s in skips])
    assert failed_run(webserver, world) in page.replace("\n", " ") or failed_run(webserver, world)[:8] in page


def test_the_partition_page_shows_the_failed_attempt(browser, webserver, world):
    browser.goto(f"{webserver.base}/assets/shards?view=partitions&partition={world.failed}")
    page = browser.wait_for(world.failed, "failed, and did not materialize this asset", "Latest materialization")
    assert failed_run(webserver, world)[:8] in page


def unsynced_dialog(browser, url: str) -> list[str]:
    """Opens Materialize ▾ → Materialize unsynced on a graph page; returns the assets the dialog selects."""
    browser.goto(url)
    browser.wait_for("Materialize")
    browser.evaluate("""(() => { const m = [...document.querySelectorAll('button')].find(b => (b.innerText || '').trim().startsWith('Materialize'));
      let p = m.parentElement; while (p.querySelectorAll('button').length < 2) p = p.parentElement;
      const all = [...p.querySelectorAll('button')]; all[all.indexOf(m) + 1].click(); })()""")  # the ▾ beside it
    browser.click("Materialize unsynced")
    page = browser.wait_for("Materialize unsynced assets", "Asset Name")
    import re
    import time

    for _ in range(40):  # until the dialog's button names the count
        page = browser.text()
        found = re.search(r"Asset Name\n(.*?)\nMaterialize (\d+) assets?", page, re.S)
        if found:
            names = sorted(set(found.group(1).split("\n")))
            assert len(names) == int(found.group(2)), page
            return names
        time.sleep(0.5)
    raise AssertionError(page[-3000:])


def test_materialize_unsynced_after_a_taxon_tab_change_selects_labels_and_shards_and_no_download(browser, webserver, world):
    assert unsynced_dialog(browser, f"{webserver.base}/locations/tol10m_assets/jobs/update") == ["labels", "shards"]
    everything = unsynced_dialog(browser, f"{webserver.base}/asset-groups")
    # the global graph: no download at all (the EOL image-set download's partitions are the sets on disk
    # or planned: this world's two, reported by observe_sources)
    assert [a for a in everything if a.endswith("_download")] == [], everything
    assert {"labels", "shards"} <= set(everything) and "mapping" not in everything, everything


def test_the_unsynced_partitions_are_named(browser, webserver, world):
    # changed on purpose (issue 22): the partitions holding the renamed genus, not every EOL partition
    named = world.genus_partitions
    browser.goto(f"{webserver.base}/assets/shard_sources")
    page = browser.wait_for("unsynced_partitions", ", ".join(named))
    assert f"unsynced_count\n{len(named)}" in page or str(len(named)) in page


def test_the_shards_overview_shows_totals_over_partitions(browser, webserver, world):
    manifests = list(world.built_manifests.values())  # the totals of the last materialization: as built
    images = sum(m["samples"].get("train", 0) + m["samples"].get("val", 0) for m in manifests)
    browser.goto(f"{webserver.base}/assets/shards")
    page = browser.wait_for("total_images", "total_partitions", "total_skipped", "estimate_full_build", "corrupt_image")
    assert f"{len(manifests)} of {len(world.partitions)} committed" in page, page
    assert f"total_images\n{images}" in page or f"total_images\t{images}" in page or str(images) in page, page


def test_eol_hierarchy_names_taxon_tab(browser, webserver):
    browser.goto(f"{webserver.base}/assets/eol_hierarchy")
    browser.wait_for("eol_hierarchy", "metadata/taxon.tab")
