"""The published release reads as BioCLIP, open_clip, wids and Hugging Face `datasets` expect."""

import json
import re
from pathlib import Path

import pytest
import webdataset as wds

SPLITS = ("train", "val", "train_small")


def test_open_clip_reads_every_sample_of_sizes_json_from_the_brace_pattern(built):
    """As open_clip's get_wds_dataset: brace-expanded shard list, tarfile_to_samples, decode, rename, to_tuple."""
    tol, instance, where, summary = built
    dataset = tol.paths().dataset
    for split in SPLITS:
        sizes = json.loads((dataset / split / "sizes.json").read_text())
        assert sorted(sizes) == [f"shard-{i:06d}.tar" for i in range(len(sizes))]  # no gap
        pattern = where["train_data"][split]
        pipeline = wds.DataPipeline(
            wds.SimpleShardList(pattern),
            wds.tarfile_to_samples(),
            wds.decode("pilrgb"),
            wds.rename(image="jpg;png;jpeg;webp", text="taxontag_com.txt"),  # webdataset lower-cases the keys
            wds.to_tuple("image", "text"),
        )
        samples = list(pipeline)
        assert len(samples) == sum(sizes.values()) > 0, split
        assert all(img.size == (224, 224) and text.startswith("a photo of ") for img, text in samples)
        line = next(l for l in (dataset / "open_clip.txt").read_text().splitlines() if l.startswith(f"{split}:"))
        kind = "val" if split == "val" else "train"  # a trainer reads val through --val-data / --val-num-samples
        relative = pattern.split("/224x224/", 1)[1]  # open_clip.txt: relative to the release's own folder
        assert f"--{kind}-data '{relative}' --{kind}-num-samples {sum(sizes.values())}" in line, line
        # the release's own folder, never the moving link (the session's build may have been published again
        # since by another module's test: the folder need not be the current one, but it must hold the shards)
        own = re.search(r"^(.*/releases/[^/]+)/224x224/", pattern)
        assert "/published/" not in pattern and own and (Path(own[1]) / "release.json").is_file(), pattern


def test_wids_index_lists_every_shard(built):
    tol, *_ = built
    dataset = tol.paths().dataset
    for split in SPLITS:
        index = json.loads((dataset / f"wids-{split}.json").read_text())
        sizes = json.loads((dataset / split / "sizes.json").read_text())
        assert index["__kind__"] == "wids-shard-index-v1"
        assert [(s["url"], s["nsamples"]) for s in index["shardlist"]] == [(f"{split}/{k}", v) for k, v in sizes.items()]
        assert all((dataset / s["url"]).stat().st_size == s["filesize"] for s in index["shardlist"])


def test_hugging_face_datasets_loads_three_splits(built, tmp_path, monkeypatch):
    datasets = pytest.importorskip("datasets")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    tol, *_ = built
    dataset = tol.paths().dataset
    loaded = datasets.load_dataset(str(dataset), cache_dir=str(tmp_path / "cache"))
    assert set(loaded) == set(SPLITS)
    for split in SPLITS:
        sizes = json.loads((dataset / split / "sizes.json").read_text())
        assert loaded[split].num_rows == sum(sizes.values()), split
    assert len(set(loaded["train_small"]["__key__"])) == loaded["train_small"].num_rows


def test_catalog_and_licences_are_where_the_published_dataset_has_them(built):
    tol, *_ = built
    metadata = tol.paths().published / "metadata"
    assert (metadata / "catalog.csv").is_file() and (metadata / "licenses.csv").is_file()
    assert tol.paths().published.is_symlink()  # switched atomically, one link
