"""A release a running job can rely on: paths naming the release's own folder, a reader started on
release A keeps reading A while B is published, `load_dataset` on the rebuilt release gives B's rows,
and B laid out in equal shards."""

import json
from pathlib import Path

import duckdb
import pytest
import webdataset as wds
from dagster import instance_for_test

from tol10m_assets.run import build
from tol10m_assets_tests.pipeline.conftest import config, make_world

EQUAL = 30  # B's release_shard_samples


def open_clip_lines(dataset: Path) -> dict[str, str]:
    lines = (dataset / "open_clip.txt").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if not line.startswith("#"))


def catalog_ids(release: Path, split: str) -> list[str]:
    path = str(release / "metadata" / "catalog.parquet")
    return [r[0] for r in duckdb.sql(f"SELECT treeoflife_id FROM read_parquet('{path}') WHERE split = '{split}' ORDER BY 1").fetchall()]


@pytest.fixture(scope="module")
def releases(tmp_path_factory):
    """Release A (80 images, per-partition shards), a reader started on A's train split, then
    release B (150 other images, equal shards of 30) published over it in the same data root."""
    root = tmp_path_factory.mktemp("releases")
    world_a, world_b = root / "world-a", root / "world-b"
    make_world(world_a, images=80, seed=1)
    make_world(world_b, images=150, seed=2)
    data, cache = root / "data", root / "hf-cache"
    datasets = pytest.importorskip("datasets")
    with instance_for_test() as instance:
        tol_a = config(world_a, data)
        build(instance=instance, tol=tol_a, log=lambda *_: None)
        release_a = tol_a.paths().published.resolve()
        train = open_clip_lines(release_a / "224x224")["train"]
        pattern = train.split("'")[1]
        reader = iter(wds.DataPipeline(wds.SimpleShardList(str(release_a / "224x224" / pattern)), wds.tarfile_to_samples(),
                                       wds.to_tuple("__key__")))
        first = [next(reader)[0]]  # the job has started: its first shard is open
        loaded_a = datasets.load_dataset(str(tol_a.paths().dataset), cache_dir=str(cache))
        tol_b = config(world_b, data, release_shard_samples=EQUAL)
        where_b = build(instance=instance, tol=tol_b, log=lambda *_: None)
        rest = [k for (k,) in reader]
        loaded_b = datasets.load_dataset(str(tol_b.paths().dataset), cache_dir=str(cache))
        yield {"a": release_a, "b": tol_b.paths().published.resolve(), "read_a": first + rest, "train_a": train,
               "loaded_a": loaded_a, "loaded_b": loaded_b, "where_b": where_b, "data": data}


def test_a_reader_started_on_a_release_keeps_reading_it_while_the_next_is_published(releases):
    a, b = releases["a"], releases["b"]
    assert a != b and a.is_dir() and a.parent.name == "releases"  # the previous release is kept (retention)
    assert sorted(releases["read_a"]) == catalog_ids(a, "train")  # every sample of A, none of B
    assert not set(releases["read_a"]) & set(catalog_ids(b, "train"))


def test_training_arguments_name_the_release_folder_never_the_published_link(releases):
    b = releases["b"]
    lines = open_clip_lines(b / "224x224")
    sizes = {s: sum(json.loads((b / "224x224" / s / "sizes.json").read_text()).values()) for s in ("train", "val", "train_small")}
    assert lines["train"].startswith("--train-data 'train/shard-{000000..") and lines["train"].endswith(f"--train-num-samples {sizes['train']}")
    assert lines["val"].startswith("--val-data 'val/shard-") and lines["val"].endswith(f"--val-num-samples {sizes['val']}")
    assert lines["train_small"].endswith(f"--train-num-samples {sizes['train_small']}")
    assert lines["text_type"] == "--text_type random"
    assert "taxontag_com" in (b / "224x224" / "open_clip.txt").read_text()  # BioCLIP's values, lower case
    summary = releases["where_b"]["training"]
    assert summary["val"].startswith(f"--val-data '{b / '224x224' / 'val'}/shard-")
    assert all("/published/" not in v and f"/releases/{b.name}/" in v for v in summary.values())
    wids = json.loads((b / "224x224" / "wids-train.json").read_text())
    assert all(s["url"].startswith("train/") for s in wids["shardlist"])  # relative to the release folder


def test_load_dataset_on_the_rebuilt_release_gives_the_new_rows(releases):
    a, b = releases["a"], releases["b"]
    for release, loaded in ((a, releases["loaded_a"]), (b, releases["loaded_b"])):
        for split in ("train", "val", "train_small"):
            assert sorted(loaded[split]["__key__"]) == catalog_ids(release, split), (release.name, split)


def test_equal_shards_in_a_release_hold_the_same_count_but_the_last_and_read_every_sample_once(releases):
    b = releases["b"]
    record = json.loads((b / "release.json").read_text())
    for split in ("train", "val", "train_small"):
        sizes = json.loads((b / "224x224" / split / "sizes.json").read_text())
        counts = list(sizes.values())
        assert counts[:-1] == [EQUAL] * (len(counts) - 1) and 0 < counts[-1] <= EQUAL, (split, counts)
        keys = [k for (k,) in wds.DataPipeline(wds.SimpleShardList(sorted(str(b / "224x224" / split / n) for n in sizes)),
                                               wds.tarfile_to_samples(), wds.to_tuple("__key__"))]
        assert sorted(keys) == catalog_ids(b, split)  # each sample once
        shards = [s for s in record["shards"] if s["split"] == split]
        assert [s["samples"] for s in shards] == counts
        if len(counts) > 1 and len({p for s in shards for p in s["partitions"]}) > 1:
            assert all(len(s["partitions"]) > 1 for s in shards[:-1]), split  # no full shard holds one partition only
