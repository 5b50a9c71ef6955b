"""Issue 23, stable shard names: adding, retiring or rebuilding a partition changes only the names of
the shards holding its samples; the shard list, sizes, wids index and open_clip pattern follow the
numbers (gaps included) and webdataset reads every sample from the pattern."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import webdataset as wds
from dagster import instance_for_test

from tol10m_assets import releases_index
from tol10m_assets.definitions import build_definitions
from tol10m_assets.release import renamed_shards, shard_numbers
from tol10m_assets.run import build
from tol10m_assets.training import shard_pattern
from tol10m_assets_tests.pipeline.conftest import config, make_world

ROOT = Path(__file__).resolve().parents[2]


# --- the numbering, pure -------------------------------------------------------------------------


def table(numbers: dict) -> list[dict]:
    return [{"split": s, "partition": p, "number": n} for (s, p), ns in numbers.items() for n in ns]


def test_without_a_previous_release_the_numbering_is_dense_in_key_order():
    got = shard_numbers([], [("train", "a", 2), ("val", "a", 1), ("train", "b", 3), ("val", "b", 1)])
    assert got == {("train", "a"): [0, 1], ("val", "a"): [0], ("train", "b"): [2, 3, 4], ("val", "b"): [1]}


def test_a_new_partition_is_appended_and_the_others_keep_their_numbers():
    before = shard_numbers([], [("train", "b", 2), ("train", "c", 3)])
    after = shard_numbers(table(before), [("train", "a", 2), ("train", "b", 2), ("train", "c", 3)])
    assert after == {("train", "a"): [5, 6], ("train", "b"): [0, 1], ("train", "c"): [2, 3, 4]}


def test_a_changed_partition_moves_to_the_end_and_a_retired_one_leaves_a_gap():
    before = shard_numbers([], [("train", "a", 2), ("train", "b", 2), ("train", "c", 2)])
    after = shard_numbers(table(before), [("train", "b", 3), ("train", "c", 2)])  # a retired, b grew
    assert after == {("train", "b"): [6, 7, 8], ("train", "c"): [4, 5]}
    again = shard_numbers(table(after), [("train", "b", 3), ("train", "c", 2)])
    assert again == after  # republishing the same partitions gives the same names


def test_the_pattern_names_every_shard_once_in_brace_groups():
    assert shard_pattern("train", range(3)) == "train/shard-{000000..000002}.tar"
    assert shard_pattern("train", [4]) == "train/shard-000004.tar"
    pattern = shard_pattern("train", [8, 0, 1, 2, 5, 6])
    assert pattern == "train/shard-{000000..000002}.tar::train/shard-{000005..000006}.tar::train/shard-000008.tar"
    names = wds.shardlists.expand_urls(pattern)  # what open_clip's --train-data goes through
    assert names == [f"train/shard-{n:06d}.tar" for n in (0, 1, 2, 5, 6, 8)]


def test_renamed_shards_counts_names_holding_other_bytes():
    old = [{"split": "train", "name": "shard-000000.tar", "sha256": "a"}, {"split": "train", "name": "shard-000001.tar", "sha256": "b"}]
    new = [{"split": "train", "name": "shard-000000.tar", "sha256": "a"}, {"split": "train", "name": "shard-000001.tar", "sha256": "c"},
           {"split": "val", "name": "shard-000000.tar", "sha256": "d"}]
    assert renamed_shards(old, new) == {"in_both": 2, "other_bytes": 1, "new_names": 1, "gone_names": 0}


# --- a build: one EOL set added, then one retired ---------------------------------------------------


def release_record(paths) -> dict:
    return json.loads((paths.published / "release.json").read_text())


@pytest.fixture(scope="module")
def added(tmp_path_factory):
    """Release A without EOL set 01, B with it (one set added), C without EOL set 02 (one retired)."""
    root = tmp_path_factory.mktemp("stable")
    sources, aside = root / "world", root / "aside"
    make_world(sources, images=80, seed=11)
    aside.mkdir()
    shutil.move(sources / "eol" / "images" / "image_set_01.tar.gz", aside / "image_set_01.tar.gz")
    with instance_for_test() as instance:
        tol = config(sources, root / "data")
        build(instance=instance, tol=tol, log=lambda *_: None)
        paths = tol.paths()
        a = paths.published.resolve()
        releases_index.pin(paths.releases, a.name, "compared by the test")  # kept through B and C
        shutil.move(aside / "image_set_01.tar.gz", sources / "eol" / "images" / "image_set_01.tar.gz")
        build(instance=instance, tol=tol, log=lambda *_: None)
        b = paths.published.resolve()
        (sources / "eol" / "images" / "image_set_02.tar.gz").unlink()
        defs = build_definitions(tol)
        for job in ("prepare", "publish"):
            assert defs.resolve_job_def(job).execute_in_process(instance=instance, raise_on_error=False).success
        c = paths.published.resolve()
        yield {"a": a, "b": b, "c": c, "tables": [json.loads((r / "release.json").read_text())["shards"] for r in (a, b, c)]}


def test_adding_an_eol_set_renames_no_shard_and_adds_only_its_own(added):
    a, b, _ = added["tables"]
    assert "eol-01" not in {s["partition"] for s in a} and "eol-01" in {s["partition"] for s in b}
    got = renamed_shards(a, b)
    assert got["other_bytes"] == 0 and got["gone_names"] == 0
    assert got["new_names"] == sum(s["partition"] == "eol-01" for s in b) > 0
    assert got["in_both"] == len(a)


def test_retiring_a_set_renames_no_shard_and_leaves_gaps_the_pattern_expresses(added):
    _, b, c = added["tables"]
    assert "eol-02" not in {s["partition"] for s in c}
    got = renamed_shards(b, c)
    assert got["other_bytes"] == 0 and got["new_names"] == 0
    text = (added["c"] / "224x224" / "open_clip.txt").read_text()
    assert any("::" in line for line in text.splitlines() if line.startswith("train: "))  # eol-02's gap
    assert "# Shard numbers have gaps" in text
    assert got["gone_names"] == sum(s["partition"] == "eol-02" for s in b) > 0
    dataset = added["c"] / "224x224"
    lines = dict(x.split(": ", 1) for x in (dataset / "open_clip.txt").read_text().splitlines() if not x.startswith("#"))
    for split in ("train", "val", "train_small"):
        listed = (dataset / split / "shards.txt").read_text().split()
        assert listed == sorted(s["name"] for s in c if s["split"] == split)
        assert list(json.loads((dataset / split / "sizes.json").read_text())) == listed
        wids = json.loads((dataset / f"wids-{split}.json").read_text())
        assert [x["url"] for x in wids["shardlist"]] == [f"{split}/{n}" for n in listed]
        pattern = lines[split].split("'")[1]
        if split != "train_small":  # the card's "how to train" gives the same pattern
            assert f"'{pattern}'" in (dataset / "README.md").read_text()
        assert wds.shardlists.expand_urls(pattern) == [f"{split}/{n}" for n in listed]
        keys = [k for (k,) in wds.DataPipeline(wds.SimpleShardList(str(dataset / pattern.replace("::", f"::{dataset}/"))),
                                               wds.tarfile_to_samples(), wds.to_tuple("__key__"))]
        assert len(keys) == sum(json.loads((dataset / split / "sizes.json").read_text()).values())


def test_the_script_prints_the_figures(added):
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "shard-names.py"), str(added["a"]), str(added["b"])],
                         capture_output=True, text=True, check=True, cwd=ROOT).stdout
    assert "stable numbering (this build): 0 of the" in out and "partitions added: ['eol-01']" in out


def test_a_previous_table_that_cannot_be_trusted_gives_the_dense_numbering(tmp_path):
    from tol10m_assets.paths import BuildPaths
    from tol10m_assets.release import previous_shards

    release = tmp_path / "releases" / "r1"
    release.mkdir(parents=True)
    (tmp_path / "published").symlink_to(Path("releases") / "r1")
    paths = BuildPaths(tmp_path)
    good = [{"split": "train", "partition": "a", "number": 0}, {"split": "train", "partition": "b", "number": 1}]
    cases = {
        "linked": (good, good),
        "a number twice": ([*good, {"split": "train", "partition": "c", "number": 1}], []),
        "equal shards": ([{"split": "train", "number": 0, "partitions": {"a": 3}}], []),
        "negative": ([{"split": "train", "partition": "a", "number": -1}], []),
    }
    for why, (shards, expected) in cases.items():
        (release / "release.json").write_text(json.dumps({"size": "224x224", "shards": shards}))
        assert previous_shards(paths) == expected, why
    (release / "release.json").write_text("{torn")
    assert previous_shards(paths) == []
    (release / "release.json").write_text(json.dumps({"size": "448x448", "shards": good}))
    assert previous_shards(paths) == []  # another size: its numbers are not this one's


def test_the_cards_training_command_names_the_gapped_shards():
    from tol10m_assets.card import pattern, split_figures

    shards = [{"split": "train", "number": n, "samples": 2, "bytes": 10} for n in (7, 0, 1)]
    figures = split_figures(shards)["train"]
    assert (figures.samples, figures.shards, figures.numbers) == (6, 3, (0, 1, 7))
    assert pattern("train", figures) == "train/shard-{000000..000001}.tar::train/shard-000007.tar"
