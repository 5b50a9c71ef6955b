"""plan_samples works column by column; each planned sample is what the row says, row by row."""

import pandas as pd

from tol10m_assets.labels import RANK_COLUMNS
from tol10m_assets.partition import PlannedSample, plan_samples
from tol10m_assets.splits import splits_of
from tol10m_assets.taxonomy import RareSpecies, Taxon, captions

CHAIN = ["Animalia", "Chordata", "Aves", "Passeriformes", "Passeridae", "Passer", "domesticus"]
RARE_CHAIN = ["Animalia", "Chordata", "Reptilia", "Testudines", "Cheloniidae", "Chelonia", "mydas"]


def _rows() -> pd.DataFrame:
    rows = []
    for i in range(12):
        source = ("eol", "inat21", "bioscan")[i % 3]
        chain = RARE_CHAIN if i == 4 else CHAIN[: 7 - i % 4] + [None] * (i % 4) if i != 7 else [None] * 7
        rows.append({
            "treeoflife_id": f"id-{i:02d}", "source": source,
            "eol_content_id": 1000 + i if source == "eol" else None, "eol_page_id": 50 + i if source == "eol" else None,
            "inat21_cls_num": i if source == "inat21" else None,
            "inat21_filename": f"train/0000{i}_x/{i}.jpg" if source == "inat21" else None,
            "bioscan_part": 3 if source == "bioscan" else None,
            "bioscan_filename": f"part3/{i}.jpg" if source == "bioscan" else None,
            "is_val": i % 5 == 0, "is_train_small": i % 2 == 0,
            **dict(zip(RANK_COLUMNS, chain)), "common": "house sparrow" if i % 2 else None,
            "removed": "licence" if i == 9 else None,
        })
    return pd.DataFrame(rows)


def _expected(row: dict, mode: str, rare: RareSpecies) -> tuple:
    """The plan of one row, from its fields alone."""
    text = lambda v: "" if v is None or pd.isna(v) else str(v)  # noqa: E731
    label = [text(row[c]) for c in RANK_COLUMNS]
    taxon = Taxon(*label)
    source = row["source"]
    if source == "eol":
        key = row["treeoflife_id"] if mode == "reproduce" else (int(row["eol_content_id"]), int(row["eol_page_id"]))
        rare_file = rare.excludes_eol(int(row["eol_content_id"]), int(row["eol_page_id"]))
    else:
        name = row["inat21_filename"] if source == "inat21" else row["bioscan_filename"]
        key = (int(row["inat21_cls_num"]), name) if source == "inat21" else (int(row["bioscan_part"]), name)
        rare_file = rare.excludes_file(name)
    sample = PlannedSample(
        row["treeoflife_id"], splits_of(bool(row["is_val"]), bool(row["is_train_small"])),
        None if taxon.is_empty else captions(taxon, text(row["common"])),
        (not taxon.is_empty and rare.excludes_species(taxon)) or rare_file,
        () if taxon.is_empty else taxon.as_tuple(), text(row["removed"]),
    )
    return key, sample


def test_every_planned_sample_is_what_its_row_says():
    rare = RareSpecies({"chelonia mydas"}, {(1006, 56)}, {"5.jpg"})
    frame = _rows()
    for mode in ("generate", "reproduce"):
        plan = plan_samples(frame, mode, rare)
        want = dict(_expected(row, mode, rare) for row in frame.to_dict("records"))
        assert plan == want
        assert len(plan) == 12
    plan = plan_samples(frame, "generate", rare)
    assert plan[(1006, 56)].rare and plan[(4, "train/00004_x/4.jpg")].rare  # a rare file, a rare species
    assert plan[(3, "part3/5.jpg")].rare and not plan[(1000, 50)].rare
    assert plan[(3, "part3/2.jpg")].removed == "" and plan[(1009, 59)].removed == "licence"
    assert next(p for p in plan.values() if p.treeoflife_id == "id-07").texts is None  # no rank: no captions


def test_one_source_partition_without_rare_rules_and_an_empty_one():
    frame = _rows()
    eol = frame[frame["source"] == "eol"].iloc[::-1]  # any row order, any index
    plan = plan_samples(eol, "generate")
    assert list(plan) == [(1009, 59), (1006, 56), (1003, 53), (1000, 50)]
    assert not any(p.rare for p in plan.values())
    assert plan_samples(frame.iloc[:0], "generate") == {}
