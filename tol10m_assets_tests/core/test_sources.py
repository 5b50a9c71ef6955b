"""Readers of the raw layouts, on tiny layouts written here."""

import io
import tarfile

import pytest

from tol10m_assets.errors import MissingSourceError
from tol10m_assets.layout import SourceLayout
from tol10m_assets.sources import Chunking, iter_partition_images, list_source_images


def add(tar, name, data=b"jpegbytes"):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


@pytest.fixture
def layout(tmp_path):
    lay = SourceLayout.under(tmp_path)
    lay.eol_images.mkdir(parents=True)
    with tarfile.open(lay.eol_images / "image_set_01.tar.gz", "w:gz") as tar:
        add(tar, "12_34_eol-full-size-copy.jpg", b"a")
        add(tar, "README.txt")
        add(tar, "5_6_eol-full-size-copy.jpg", b"b")
    (lay.eol_images / "notes.txt").write_text("not an image set")
    for cls in ("00007_Animalia_Chordata_Aves_Passeriformes_Passeridae_Passer_domesticus", "00150_Plantae_A_B_C_D_E_f"):
        (lay.inat21_train / cls).mkdir(parents=True)
        (lay.inat21_train / cls / "x.jpg").write_bytes(b"i")
    (lay.inat21_train / "00150_Plantae_A_B_C_D_E_f" / "thumbs.db").write_bytes(b"?")
    for part in (1, 2, 11):
        (lay.bioscan_images / f"part{part}").mkdir(parents=True)
        (lay.bioscan_images / f"part{part}" / f"p{part}.jpg").write_bytes(b"s")
    return lay


def test_listing_names_every_image_and_flags_bad_names(layout):
    records = list(list_source_images(layout, Chunking()))
    eol = [r for r in records if r.source == "eol"]
    assert [(r.eol_content_id, r.eol_page_id, r.bad_name) for r in eol] == [(12, 34, False), (None, None, True), (5, 6, False)]
    assert {r.partition for r in records} == {"eol-01", "inat21-000", "inat21-001", "bioscan-000", "bioscan-001"}
    inat = [r for r in records if r.source == "inat21" and not r.bad_name]
    assert [(r.inat21_cls_num, r.inat21_cls_name) for r in inat][0] == (7, "Animalia_Chordata_Aves_Passeriformes_Passeridae_Passer_domesticus")
    assert sum(r.bad_name for r in records if r.source == "inat21") == 1


def test_a_partition_streams_only_its_own_images_with_bytes(layout):
    got = [(r.origin, data) for r, data in iter_partition_images(layout, Chunking(), "eol-01")]
    assert got == [
        ("image_set_01.tar.gz:12_34_eol-full-size-copy.jpg", b"a"),
        ("image_set_01.tar.gz:README.txt", None),
        ("image_set_01.tar.gz:5_6_eol-full-size-copy.jpg", b"b"),
    ]
    bio = [(r.bioscan_part, data) for r, data in iter_partition_images(layout, Chunking(), "bioscan-000")]
    assert [(part, data.read_bytes()) for part, data in bio] == [(1, b"s"), (2, b"s")]  # files: paths, read by the worker


def test_chunk_sizes_are_configurable(layout):
    keys = {r.partition for r in list_source_images(layout, Chunking(bioscan_parts_per_partition=1, inat21_classes_per_partition=1000))}
    assert {"bioscan-000", "bioscan-001", "bioscan-010", "inat21-000"} <= keys and "inat21-001" not in keys


def test_reproduce_mode_reads_members_named_by_id(tmp_path):
    lay = SourceLayout.under(tmp_path)
    lay.eol_published_images.mkdir(parents=True)
    tid = "0b4f6c7e-0d2b-4d3e-9a57-8f1e2f0c1a2b"
    with tarfile.open(lay.eol_published_images / "image_set_02.tar.gz", "w:gz") as tar:
        add(tar, f"{tid}.jpg")
        add(tar, "12_34_eol-full-size-copy.jpg")
    lay.inat21_train.mkdir(parents=True)
    lay.bioscan_images.mkdir(parents=True)
    records = list(list_source_images(lay, Chunking(mode="reproduce")))
    assert [(r.published_id, r.bad_name, r.partition) for r in records] == [(tid, False, "eol-02"), (None, True, "eol-02")]


def test_a_missing_directory_names_the_setting(tmp_path):
    with pytest.raises(MissingSourceError, match="eol_images"):
        list(list_source_images(SourceLayout.under(tmp_path), Chunking()))
    with pytest.raises(ValueError):
        Chunking(mode="guess")
