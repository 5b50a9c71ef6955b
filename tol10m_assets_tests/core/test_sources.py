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
    # classes 7 and 150, parts 1, 2 and 11: 2 classes and 3 parts, one partition each at k = 100 and 10
    # (changed on purpose, issue 21: partitions counted class and part numbers)
    assert {r.partition for r in records} == {"eol-01", "inat21-000", "bioscan-000"}
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
    assert [(part, data.read_bytes()) for part, data in bio] == [(1, b"s"), (2, b"s"), (11, b"s")]  # files: paths, read by the worker


def test_chunk_sizes_are_configurable(layout):
    records = list_source_images(layout, Chunking(bioscan_parts_per_partition=1, inat21_classes_per_partition=1))
    keys = {(r.source, r.bioscan_part or r.inat21_cls_num, r.partition) for r in records if not r.bad_name and r.source != "eol"}
    # one part / class each, keyed by its rank (changed on purpose, issue 21: part 11 was bioscan-010)
    assert keys == {("bioscan", 1, "bioscan-000"), ("bioscan", 2, "bioscan-001"), ("bioscan", 11, "bioscan-002"),
                    ("inat21", 7, "inat21-000"), ("inat21", 150, "inat21-001")}


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


def _decompress(gz_path):
    import gzip
    import shutil

    plain = gz_path.with_suffix("")  # image_set_NN.tar
    with gzip.open(gz_path) as src, open(plain, "wb") as dst:
        shutil.copyfileobj(src, dst)
    return plain


def test_a_decompressed_image_set_is_read_in_place_by_member_slices(layout):
    from tol10m_assets.sources import MemberSlice

    gz = layout.eol_images / "image_set_01.tar.gz"
    from_gz = list(iter_partition_images(layout, Chunking(), "eol-01"))
    plain = _decompress(gz)
    gz.unlink()
    from_tar = list(iter_partition_images(layout, Chunking(), "eol-01"))
    assert [r.origin for r, _ in from_tar] == [r.origin.replace(".tar.gz:", ".tar:") for r, _ in from_gz]
    assert [r.eol_content_id for r, _ in from_tar] == [r.eol_content_id for r, _ in from_gz]
    slices = [d for _, d in from_tar if d is not None]
    assert all(isinstance(d, MemberSlice) for d in slices)
    assert [d.read_bytes() for d in slices] == [b"a", b"b"]
    plain.write_bytes(plain.read_bytes()[:512])  # cut right after the first member's header
    with pytest.raises(OSError, match="image_set_01.tar:12_34_eol-full-size-copy.jpg"):
        slices[0].read_bytes()


def test_the_same_image_set_twice_is_refused(layout):
    from tol10m_assets.errors import InputFormatError

    _decompress(layout.eol_images / "image_set_01.tar.gz")
    with pytest.raises(InputFormatError, match="both image_set_01.tar and image_set_01.tar.gz"):
        list(list_source_images(layout, Chunking()))


def test_shards_from_a_decompressed_image_set_are_the_same_bytes(layout, tmp_path):
    import hashlib

    import numpy as np

    from tol10m_assets.sample.images import encode, photo
    from tol10m_assets.shards import ImageSettings, SampleJob, TEXT_SUFFIXES, shard_paths, write_partition

    rng = np.random.default_rng(3)
    gz = layout.eol_images / "image_set_01.tar.gz"
    with tarfile.open(gz, "w:gz") as tar:
        for i in range(6):
            add(tar, f"{i + 1}_{i + 1}_eol-full-size-copy.jpg", encode(photo(rng, 640, 480)))

    def build(out, workers):
        items = [
            (SampleJob(f"k{r.eol_content_id}", ("train",), {s: "x" for s in TEXT_SUFFIXES}, r.origin), d)
            for r, d in iter_partition_images(layout, Chunking(), "eol-01")
        ]
        write_partition(out, "eol-01", items, ImageSettings(), workers=workers)
        return [hashlib.sha256(p.read_bytes()).hexdigest() for p in shard_paths(out)]

    from_gz = build(tmp_path / "gz", 1)
    _decompress(gz)
    gz.unlink()
    assert build(tmp_path / "tar2", 2) == from_gz


def test_decompressing_image_sets_keeps_what_the_readers_see(layout):
    from tol10m_assets.sources.decompress import decompress_image_sets

    before = [(r.eol_content_id, d) for r, d in iter_partition_images(layout, Chunking(), "eol-01")]
    assert (layout.eol_images / "image_set_01.tar.gz.index").exists()
    (layout.eol_images / ".image_set_01.tar.tmp-1").write_bytes(b"a crashed run's leftover")
    made = decompress_image_sets(layout.eol_images, log=lambda _: None)
    assert [p.name for p in made] == ["image_set_01.tar"] and not (layout.eol_images / "image_set_01.tar.gz").exists()
    assert not (layout.eol_images / "image_set_01.tar.gz.index").exists()  # went with its set
    after = [(r.eol_content_id, d if d is None else d.read_bytes()) for r, d in iter_partition_images(layout, Chunking(), "eol-01")]
    assert after == before
    assert decompress_image_sets(layout.eol_images, log=lambda _: None) == []  # nothing left to do


def test_files_in_nested_folders_are_counted_as_unexpected_paths_never_used(layout):
    from tol10m_assets.errors import SKIP_BAD_MEMBER_NAME, SKIP_UNEXPECTED_PATH

    cls = layout.inat21_train / "00007_Animalia_Chordata_Aves_Passeriformes_Passeridae_Passer_domesticus"
    (cls / "more" / "deeper").mkdir(parents=True)
    (cls / "more" / "y.jpg").write_bytes(b"i")
    (cls / "more" / "deeper" / "z.jpg").write_bytes(b"i")
    (layout.bioscan_images / "part1" / "sub").mkdir()
    (layout.bioscan_images / "part1" / "sub" / "q.jpg").write_bytes(b"s")
    one_class = Chunking(inat21_classes_per_partition=1, bioscan_parts_per_partition=2)  # partitions counted (issue 21)
    inat = [(r.origin, r.skip_reason, d) for r, d in iter_partition_images(layout, one_class, "inat21-000")]
    c = f"train/{cls.name}"
    assert [(o, reason) for o, reason, _ in inat] == [
        (f"{c}/more/y.jpg", SKIP_UNEXPECTED_PATH),  # 'more' sorts before 'x.jpg'; a folder's files, then its folders
        (f"{c}/more/deeper/z.jpg", SKIP_UNEXPECTED_PATH),
        (f"{c}/x.jpg", None),
    ]
    assert [d for _, reason, d in inat if reason] == [None, None]
    bio = [(r.origin, r.skip_reason, r.bad_name) for r, _ in iter_partition_images(layout, one_class, "bioscan-000")]
    assert bio == [("part1/p1.jpg", None, False), ("part1/sub/q.jpg", SKIP_UNEXPECTED_PATH, True), ("part2/p2.jpg", None, False)]
    listed = [r for r in list_source_images(layout, Chunking()) if r.skip_reason]
    assert sorted(r.skip_reason for r in listed) == sorted(
        [SKIP_BAD_MEMBER_NAME] * 2 + [SKIP_UNEXPECTED_PATH] * 3  # README.txt, thumbs.db; the three nested files
    )
