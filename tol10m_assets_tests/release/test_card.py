"""The dataset card the Hub accepts: its YAML loads with huggingface_hub's DatasetCard / DatasetCardData
and carries every field; the body is written from the release."""

import json

import duckdb
import pytest
from huggingface_hub import DatasetCard, DatasetCardData

from tol10m_assets.card import SplitFigures, card_metadata, size_category

SPLITS = ("train", "val", "train_small")


@pytest.fixture(scope="module")
def card(built):
    tol, *_ = built
    dataset = tol.paths().dataset
    return dataset, DatasetCard((dataset / "README.md").read_text())


def test_the_card_loads_with_dataset_card_data_and_carries_every_field(card):
    dataset, loaded = card
    data = loaded.data
    assert isinstance(data, DatasetCardData)
    assert data.license == "cc0-1.0" and data.language == ["en", "la"]
    assert data.task_categories == ["image-classification", "zero-shot-classification"]
    assert data.size_categories == ["n<1K"] and {"biology", "taxonomy", "clip"} <= set(data.tags)
    assert data.pretty_name.startswith("TreeOfLife-10M")
    config = data.configs[0]
    assert config["config_name"] == "default"
    assert config["data_files"] == [{"split": s, "path": f"{s}/*.tar"} for s in SPLITS]
    info = data.dataset_info
    for split in info["splits"]:
        sizes = json.loads((dataset / split["name"] / "sizes.json").read_text())
        assert split["num_examples"] == sum(sizes.values()) > 0
        assert split["num_bytes"] == sum((dataset / split["name"] / n).stat().st_size for n in sizes)
    assert [s["name"] for s in info["splits"]] == list(SPLITS)
    assert [f["name"] for f in info["features"]][:2] == ["jpg", "scientific_name.txt"]
    # the same YAML through DatasetCardData's own round trip: nothing dropped
    again = DatasetCardData(**data.to_dict())
    assert again.to_dict() == data.to_dict()


def test_the_body_cites_bioclip_treeoflife_and_the_sources_and_counts_what_the_catalog_holds(card, built):
    dataset, loaded = card
    text = loaded.text
    for needle in ("@dataset{treeoflife_10m", "BioCLIP", "BIOSCAN-1M", "inat2021", "Encyclopedia of Life", "ITIS"):
        assert needle in text, needle
    catalog = str(dataset.parent / "metadata" / "catalog.parquet")
    rows = duckdb.sql(f"SELECT kingdom, count(*) FROM read_parquet('{catalog}') WHERE split <> 'train_small' "
                      "GROUP BY kingdom ORDER BY kingdom").fetchall()
    for kingdom, count in rows:
        line = next(l for l in text.splitlines() if l.startswith(f"| {kingdom or '(none)'} |"))
        assert line.endswith(f" | {count:,} |"), line  # the per-kingdom total
    assert "taxonTag_com.txt" in text and "--val-data 'val/shard-" in text and "--text_type random" in text
    assert "What differs from the original build" in text


def test_size_categories_and_split_rows_follow_the_release():
    meta = card_metadata("224x224", {"train": SplitFigures(1_500_000, 10, 9), "val": SplitFigures(5, 1, 1),
                                          "train_small": SplitFigures(0, 0, 0)})
    assert meta["size_categories"] == ["1M<n<10M"]
    assert [s["name"] for s in meta["dataset_info"]["splits"]] == ["train", "val"]  # an empty split is left out
    assert size_category(10_400_000) == "10M<n<100M" and size_category(999) == "n<1K"
