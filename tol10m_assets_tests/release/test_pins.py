"""Issue 23, pins: a pinned release survives every publish until unpinned, `tol10m releases` lists
the releases with their size, date, partitions and pins, and a name that is not a release is refused."""

import json
import os

import pytest
import yaml
from dagster import instance_for_test

from tol10m_assets import cli, releases_index
from tol10m_assets.definitions import build_definitions
from tol10m_assets.run import build
from tol10m_assets_tests.pipeline.conftest import config, make_world


def make_release(releases, name):
    (releases / name).mkdir(parents=True)
    (releases / name / "release.json").write_text(json.dumps({"name": name, "partitions": {"p1": "g"}, "shards": []}))
    releases_index.record(releases, name)


NAMES = [f"2026010{i}T000000Z-abcdef" for i in range(1, 7)]


def test_prune_keeps_pinned_releases_plus_the_newest_keep(tmp_path):
    releases = tmp_path / "releases"
    for name in NAMES:
        make_release(releases, name)
    releases_index.pin(releases, NAMES[0], "run 42 trains on it")
    removed = releases_index.prune(releases, NAMES[-1], keep=2)
    assert removed == NAMES[1:4]
    assert (releases / NAMES[0]).is_dir()
    assert [r["name"] for r in releases_index.load(releases)] == [NAMES[0], *NAMES[4:]]
    entry = releases_index.load(releases)[0]
    assert entry["pinned"]["reason"] == "run 42 trains on it" and entry["pinned"]["at"]
    releases_index.unpin(releases, NAMES[0])
    assert releases_index.prune(releases, NAMES[-1], keep=2) == [NAMES[0]]
    assert not (releases / NAMES[0]).exists()


def test_a_pin_survives_recording_new_releases(tmp_path):
    releases = tmp_path / "releases"
    make_release(releases, NAMES[0])
    releases_index.pin(releases, NAMES[0])
    make_release(releases, NAMES[1])
    assert releases_index.load(releases)[0]["pinned"]["reason"] == ""


@pytest.mark.parametrize("name", ["../etc", "..", ".", "a/b", "", ".staging-x", "2025-backup", "x\\..\\y", "nope"])
def test_a_name_that_is_not_a_release_of_the_index_is_refused_and_nothing_changes(tmp_path, name):
    releases = tmp_path / "releases"
    make_release(releases, NAMES[0])
    (releases / "2025-backup").mkdir()  # a folder the build did not make: not a release, cannot be pinned
    before = releases_index.index_path(releases).read_bytes()
    for call in (releases_index.pin, releases_index.unpin):
        with pytest.raises(releases_index.UnknownRelease, match="not a release"):
            call(releases, name)
    assert releases_index.index_path(releases).read_bytes() == before


def test_listing_gives_size_date_partitions_pins_and_the_published_one(tmp_path):
    releases = tmp_path / "releases"
    for name in NAMES[:2]:
        make_release(releases, name)
    (releases / NAMES[1] / "data.bin").write_bytes(bytes(1000))
    releases_index.pin(releases, NAMES[0], "paper")
    rows = releases_index.listing(releases, published=NAMES[1])
    assert [r["name"] for r in rows] == NAMES[:2]
    assert rows[0]["pinned"] and rows[0]["reason"] == "paper" and not rows[0]["published"]
    assert rows[1]["published"] and not rows[1]["pinned"]
    assert rows[1]["bytes"] == 1000 + (releases / NAMES[1] / "release.json").stat().st_size
    assert all(r["partitions"] == 1 and r["created"] for r in rows)


@pytest.fixture
def fresh(tmp_path):
    sources = tmp_path / "world"
    make_world(sources, images=60, seed=5)
    with instance_for_test() as instance:
        tol = config(sources, tmp_path / "data")
        build(instance=instance, tol=tol, log=lambda *_: None)
        settings = tmp_path / "settings.yaml"
        settings.write_text(yaml.safe_dump({"data_root": str(tol.resolved_data_root()),
                                            "sources_root": str(tol.resolved_sources_root())}))
        yield tol, instance, build_definitions(tol), settings


def publish(defs, instance, paths) -> str:
    assert defs.resolve_job_def("publish").execute_in_process(instance=instance, raise_on_error=False).success
    return os.readlink(paths.published).split("/")[-1]


def test_a_pinned_release_survives_publishes_and_goes_at_the_next_publish_after_unpin(fresh, capsys):
    tol, instance, defs, settings = fresh
    paths = tol.paths()
    old = os.readlink(paths.published).split("/")[-1]
    assert cli.main(["releases", "pin", old, "--reason", "run 7", "--config", str(settings)]) == 0
    later = [publish(defs, instance, paths) for _ in range(3)]  # keep_releases 2: old is beyond it twice over
    assert (paths.releases / old / "release.json").is_file()
    capsys.readouterr()
    assert cli.main(["releases", "--config", str(settings)]) == 0
    listed = capsys.readouterr().out
    line = next(x for x in listed.splitlines() if old in x)
    assert "pinned: run 7" in line and " MB" in line
    assert next(x for x in listed.splitlines() if later[-1] in x).startswith("* ")
    assert later[0] not in listed  # not pinned, beyond the newest two: removed
    assert cli.main(["releases", "unpin", old, "--config", str(settings)]) == 0
    assert (paths.releases / old).is_dir()  # unpinning removes nothing by itself
    publish(defs, instance, paths)
    assert not (paths.releases / old).exists()
    assert old not in [r["name"] for r in releases_index.load(paths.releases)]


def test_the_cli_refuses_a_path_as_a_release_name(fresh, capsys):
    tol, _, _, settings = fresh
    before = releases_index.index_path(tol.paths().releases).read_bytes()
    assert cli.main(["releases", "pin", "../data", "--config", str(settings)]) == 1
    assert "not a release name" in capsys.readouterr().err
    assert cli.main(["releases", "unpin", "--config", str(settings)]) == 1
    assert releases_index.index_path(tol.paths().releases).read_bytes() == before


def test_pinning_while_a_publish_holds_the_release_lock_is_refused_and_changes_nothing(tmp_path, capsys):
    from tol10m_assets.store import exclusive

    data = tmp_path / "data"
    settings = tmp_path / "settings.yaml"
    settings.write_text(yaml.safe_dump({"data_root": str(data), "sources_root": str(tmp_path / "sources")}))
    releases = data / "releases"
    make_release(releases, NAMES[0])
    before = releases_index.index_path(releases).read_bytes()
    with exclusive(releases / ".lock", {"run_id": "publish-run"}, "the release"):
        assert cli.main(["releases", "pin", NAMES[0], "--config", str(settings)]) == 1
    assert "the release" in capsys.readouterr().err
    assert releases_index.index_path(releases).read_bytes() == before
    assert cli.main(["releases", "pin", NAMES[0], "--config", str(settings)]) == 0
    assert releases_index.load(releases)[0]["pinned"]
