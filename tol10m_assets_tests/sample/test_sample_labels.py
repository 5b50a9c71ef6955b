"""The sample world labelled by the taxonomy core equals its published catalog (what the
original's naming code gives: seven ranks and common name), and its photos past Pillow's warning
threshold are kept while real bombs are not."""

import csv
import io

import pytest
from PIL import Image

from tol10m_assets.layout import SourceLayout
from tol10m_assets.sample import make_sample_world
from tol10m_assets.sample.images import decompression_bomb, large_photo
from tol10m_assets.shards.images import (
    BOMB_PIXELS,
    CorruptImage,
    ImageSettings,
    resize_image,
)
from tol10m_assets.taxonomy import (
    display_common,
    resolve_bioscan,
    resolve_eol,
    resolve_inat21,
)

RANKS = ["kingdom", "phylum", "class", "order", "family", "genus", "species"]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    out = tmp_path_factory.mktemp("labels")
    return out, make_sample_world(out, images=150, seed=5, log=lambda *_: None)


def published_rows(layout):
    with open(layout.published_catalog, newline="") as handle:
        return [r for r in csv.DictReader(handle) if r["split"] != "train_small"]


def test_every_label_equals_the_published_catalog(world):
    out, _ = world
    layout = SourceLayout.under(out)
    rows = published_rows(layout)
    eol = resolve_eol(layout, sorted({int(r["eol_page_id"]) for r in rows if r["eol_page_id"]}))
    inat = resolve_inat21(layout, sorted({f"{int(r['inat21_cls_num']):05d}_{r['inat21_cls_name']}" for r in rows if r["inat21_cls_num"]}))
    bioscan = resolve_bioscan(layout)
    checked = {"eol": 0, "inat21": 0, "bioscan": 0}
    for r in rows:
        if r["eol_page_id"]:
            source, named = "eol", eol[int(r["eol_page_id"])]
        elif r["inat21_cls_num"]:
            source, named = "inat21", inat[int(r["inat21_cls_num"])]
        else:
            source, named = "bioscan", bioscan[(int(r["bioscan_part"]), r["bioscan_filename"])]
        expected = (tuple(r[k] for k in RANKS), r["common"])
        assert (named.taxon.as_tuple(), display_common(named.taxon, named.common)) == expected, (source, r["treeoflife_id"])
        checked[source] += 1
    assert all(checked.values()), checked


def test_the_defects_of_issue_11_are_in_the_world_and_labelled_as_the_original(world):
    out, _ = world
    layout = SourceLayout.under(out)
    answers = resolve_eol(layout, [7000001, 7000002])
    montanus = answers[7000001]
    assert montanus.taxon.is_complete  # scraped "Passer montanus (Linnaeus, 1758)": cleaned, genus page found
    assert montanus.common == "Eurasian Tree Sparrow"  # its first iNaturalist vernacular row is empty
    assert display_common(answers[7000002].taxon, answers[7000002].common) == "Aphelocoma"
    oak = {r["common"] for r in published_rows(layout) if r["genus"] == "Quercus" and r["species"] == "robur"}
    assert oak == {"english oak"}  # EOL's "English Oak", cleaned


def test_photos_past_pillows_warning_are_kept_and_bombs_are_not():
    data = large_photo()
    with pytest.warns(Image.DecompressionBombWarning), Image.open(io.BytesIO(data)) as image:
        pixels = image.width * image.height
    assert Image.MAX_IMAGE_PIXELS < pixels <= BOMB_PIXELS  # Pillow warns, and the original kept it
    out = resize_image(data, ImageSettings())
    assert Image.open(io.BytesIO(out)).size == (224, 224)
    with pytest.raises(CorruptImage, match="decompression bomb"):
        resize_image(decompression_bomb(), ImageSettings())
    just_over = decompression_bomb(width=13_380, height=13_380)  # 179,024,400 > 2 x 89,478,485
    with pytest.raises(CorruptImage, match="decompression bomb"):
        resize_image(just_over, ImageSettings())
