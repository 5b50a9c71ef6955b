"""An EOL set's listing, column by column from its member index, holds the rows the record reader
gives (names of every kind, duplicates, both modes), and sets listed by worker processes come in order."""

import pandas as pd
import pytest

from tol10m_assets.errors import InputFormatError
from tol10m_assets.sources.images import _iter_eol_tar
from tol10m_assets.sources.listing import eol_set_listing, list_eol_sets, listing_from_images
from tol10m_assets_tests.core.test_eol_index import make_set

UUID = "0a1b2c3d-0000-4000-8000-00000000000{}.jpg"
NAMES = [
    "10_20_eol-full-size-copy.jpg", "./11_21_eol-full-size-copy.jpg", "sub/12_22_eol-full-size-copy.jpg",
    "10_20_eol-other-copy.jpg",  # the same image under another name: a duplicate
    "13_23_eol.png", "README.txt", UUID.format(1), "./" + UUID.format(2), UUID.format(1).replace(".jpg", "-x.jpg"),
    "14_24_eol-full-size-copy.jpg",
]


def _records(path, mode):
    frames = [t.to_pandas() for t in listing_from_images(rec for rec, _ in _iter_eol_tar(path, mode, False))]
    return pd.concat(frames, ignore_index=True)


@pytest.mark.parametrize("mode", ["generate", "reproduce"])
@pytest.mark.parametrize("suffix", [".tar", ".tar.gz"])
def test_the_columns_are_the_records(tmp_path, mode, suffix):
    path = make_set(tmp_path / f"image_set_03{suffix}", NAMES + ["./" + UUID.format(1)])
    got = eol_set_listing(path, mode).to_pandas()
    pd.testing.assert_frame_equal(got, _records(path, mode))
    assert got["bad_name"].sum() == (8 if mode == "generate" else 9)  # 3 or 2 images named as the mode names them


def test_sets_listed_by_workers_come_in_order_and_a_bad_set_is_named(tmp_path):
    sets = [make_set(tmp_path / f"image_set_0{i}.tar.gz", [f"{i}_{k}_eol-a.jpg" for k in range(i)]) for i in range(1, 6)]
    serial = [t.to_pandas() for t in list_eol_sets(sets, "generate")]
    parallel = [t.to_pandas() for t in list_eol_sets(sets, "generate", workers=2)]
    assert [len(t) for t in parallel] == [1, 2, 3, 4, 5]
    for a, b in zip(serial, parallel):
        pd.testing.assert_frame_equal(a, b)
    sets[3].write_bytes(sets[3].read_bytes()[:200])
    with pytest.raises(InputFormatError, match="image_set_04.tar.gz"):
        list(list_eol_sets(sets, "generate", workers=2))
