"""What a click will run, clicked through in a real headless Chromium (ui/cdp.py) over the sample build of
test_ui.World (one partition whose check_wds failed, then a changed `taxon.tab` observed):

- the global graph's "Materialize unsynced" selects no download (the EOL image-set download is partitioned
  by the sets on disk or planned: both sets of this world, reported by observe_sources);
- `shard_sources`' `materialize_unsynced` link opens the job `update` so that Materialize unsynced →
  Materialize opens the partition dialog with exactly the unsynced partitions (those holding the renamed
  genus, once labels was rebuilt) selected (Dagster's own
  dialog selects none), and the backfill it launches asks for `labels` and those partitions only; its
  `materialize_unsynced_shards` link does the same on the `shards` asset page;
- check_wds says how many partitions passed (Dagster's node counts checks, not partitions);
- the `shards` overview estimates a build from the measured runs.
"""

from __future__ import annotations

import os
import re
import time
import urllib.parse

import pytest

from tol10m_assets_tests.ui.test_ui import CHROMIUM, World, serving, graphql
from tol10m_assets_tests.ui.test_ui_truth import browser, unsynced_dialog  # noqa: F401 (the fixture)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900),
              pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK), reason="/usr/bin/chromium is absent")]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return World(tmp_path_factory.mktemp("click"))


@pytest.fixture(scope="module")
def webserver(world):
    with serving(world) as server:
        yield server


def eol(world) -> list[str]:
    return [p for p in world.partitions if p.startswith("eol-")]


def unsynced(world) -> list[str]:
    """The partitions the world's renamed genus makes Unsynced once labels is rebuilt (issue 22: only those)."""
    return sorted(world.genus_partitions)


def n_partitions(keys: list[str]) -> str:
    return f"{len(keys)} partition" + ("" if len(keys) == 1 else "s")


EOL_SETS = """{ assetNodeOrError(assetKey: {path: ["eol_image_set_download"]}) { ... on AssetNode {
  partitionKeys partitionStats { numMaterialized numPartitions numFailed } } } }"""


def test_the_global_graph_selects_no_download(browser, webserver, world):  # noqa: F811
    node = graphql(webserver.base, EOL_SETS)["assetNodeOrError"]
    assert node["partitionKeys"] == ["01", "02"], node  # the sets on disk, not the 63 published
    assert node["partitionStats"]["numMaterialized"] == node["partitionStats"]["numPartitions"] == 2, node
    everything = unsynced_dialog(browser, f"{webserver.base}/asset-groups")
    assert [a for a in everything if a.endswith("_download")] == [], everything
    assert {"labels", "shards"} <= set(everything) and "mapping" not in everything, everything


def unsynced_link(browser, webserver, prefix: str = "/guess/update") -> str:
    browser.goto(f"{webserver.base}/assets/shard_sources")
    browser.wait_for("materialize_unsynced", f"{prefix}?default_range=")
    links = browser.evaluate("[...document.querySelectorAll('a')].map(a => a.getAttribute('href'))"
                             f".filter(h => h && h.startsWith({prefix!r}))")
    assert links, browser.text()[:3000]
    return links[0]


def dialog_partitions(browser, world, button: str | None = None) -> tuple[str, list[str]]:
    """After Materialize unsynced → Materialize N assets (or `button`): the partition dialog's count and
    selected keys."""
    if button:  # the first button whose text starts with it ("Materialize…" on an asset page), until it opens
        for _ in range(10):
            browser.evaluate(f"[...document.querySelectorAll('button')].find(b => (b.innerText || '').trim()"
                             f".startsWith({button!r}))?.click()")
            if _wait(browser, "Partition selection"):
                break
    else:
        browser.click(re.search(r"Materialize \d+ assets?", browser.text()).group(0))
    page = browser.wait_for("Partition selection")
    seen = None
    for _ in range(30):  # the dialog opens with "0 partitions", then applies the query string's selection
        page = browser.text()
        section = page.split("Partition selection", 1)[1].split("Add a partition", 1)[0]
        count = re.search(r"(\d+) partitions?", section)
        if count:
            keys = sorted({line.strip() for line in section.splitlines() if line.strip() in world.partitions})
            if len(keys) == int(count.group(1)):
                seen = count.group(0), keys
                if keys:
                    return seen
        time.sleep(0.5)
    if seen is None:
        raise AssertionError(page[-3000:])
    return seen


def _wait(browser, text: str, seconds: float = 5) -> bool:
    try:
        browser.wait_for(text, timeout=seconds)
        return True
    except AssertionError:
        return False


BACKFILLS = """{ partitionBackfillsOrError { ... on PartitionBackfills { results { id partitionNames
  assetSelection { path } } } } }"""


def test_the_unsynced_link_preselects_exactly_the_unsynced_partitions(browser, webserver, world):  # noqa: F811
    href = unsynced_link(browser, webserver)
    assert urllib.parse.parse_qs(urllib.parse.urlsplit(href).query)["default_range"] == [",".join(unsynced(world))], href
    assert unsynced_dialog(browser, webserver.base + href) == ["labels", "shards"]
    assert "/locations/" in browser.evaluate("location.pathname")  # /guess/ found the job's code location
    count, keys = dialog_partitions(browser, world)
    assert keys == unsynced(world) and count == n_partitions(unsynced(world)), (count, keys)
    # what the click runs: labels and exactly those partitions. One partition is one run ("Launch 1 run"):
    # not clicked here, as the run would execute and change the world the next tests read; more
    # partitions are a backfill, only requested (no daemon here)
    if len(unsynced(world)) == 1:
        assert "Launch 1 run" in browser.text(), browser.text()[-2000:]
        return
    browser.click("Launch backfill")
    for _ in range(60):
        backfills = graphql(webserver.base, BACKFILLS)["partitionBackfillsOrError"]["results"]
        if backfills:
            break
        time.sleep(0.5)
    assert len(backfills) == 1, backfills
    assert sorted(backfills[0]["partitionNames"]) == unsynced(world), backfills
    assert sorted("/".join(a["path"]) for a in backfills[0]["assetSelection"]) == ["labels", "shards"], backfills


def test_the_shards_link_preselects_them_for_shards_alone(browser, webserver, world):  # noqa: F811
    """For when Materialize unsynced leaves `shards` out (no partition missing or failed)."""
    href = unsynced_link(browser, webserver, "/assets/shards")
    browser.goto(webserver.base + href)
    browser.wait_for("Materialize")
    count, keys = dialog_partitions(browser, world, button="Materialize")
    assert keys == unsynced(world) and count == n_partitions(unsynced(world)), (count, keys)


def test_check_wds_counts_the_partitions_that_passed(browser, webserver, world):  # noqa: F811
    n = len(world.partitions)
    # the asset node's Checks row ("0 / 1 Passed": Dagster counts checks) links to view=checks; there the
    # latest execution (the failed attempt) counts every partition's latest evaluation
    for url in ("/assets/shards?view=checks", "/assets/shards?view=checks&checkDetail=check_wds"):
        browser.goto(webserver.base + url)
        page = browser.wait_for("Latest execution", "check_wds_partitions")
        assert f"{n - 1} of {n} partitions passed check_wds; failed: {world.failed}" in page, page


def test_the_shards_overview_estimates_from_the_measured_runs(browser, webserver, world):  # noqa: F811
    browser.goto(f"{webserver.base}/assets/shards")
    page = browser.wait_for("run_cost", "s per run", "estimate_full_build", "estimate_remaining")
    cost = re.search(r"([\d.]+) s per run \+ ([\d.]+) ms per image \(fitted on (\d+) committed run", page)
    assert cost and float(cost.group(1)) + float(cost.group(2)) > 0, page
    full = re.search(r"estimate_full_build.*?\d+ min \d+ s for [\d,]+ images in (\d+) partitions, one run at a time", page, re.S)
    assert full and int(full.group(1)) == len(world.partitions), page
    # the last build's last materialization: fitted on the runs of the partitions committed before it
    assert int(cost.group(3)) == len(world.partitions) - 1, page
