"""EOL image sets into shards: the same bytes whatever the flavour, the index and the number of
workers; duplicates and sub-folders counted, never written; a damaged set stops its partition
with the archive's name and publishes nothing."""

import hashlib
import io
import os
import tarfile

import numpy as np
import pytest

from tol10m_assets.errors import SKIP_DUPLICATE, SKIP_UNEXPECTED_PATH, InputFormatError
from tol10m_assets.layout import SourceLayout
from tol10m_assets.partition import PlannedSample, iter_jobs
from tol10m_assets.sample.images import encode, photo
from tol10m_assets.shards import TEXT_SUFFIXES, ImageSettings, SampleJob, shard_paths, write_partition
from tol10m_assets.sources import Chunking, MemberSlice, iter_partition_images, list_source_images
from tol10m_assets.sources.eolindex import index_path

SETTINGS = ImageSettings()
RNG = np.random.default_rng(7)
JPEGS = [encode(photo(RNG, w, h)) for w, h in [(640, 480), (300, 800), (1024, 768), (500, 500), (800, 300)]]
LONG = "12345678901234567890_4_eol-full-size-copy-" + "x" * 80 + ".jpg"  # a long-name header
MEMBERS = [
    ("1_1_eol-full-size-copy.jpg", JPEGS[0]),
    ("README.txt", b"EOL image set\n"),
    (LONG, JPEGS[1]),
    ("2_2_eol-full-size-copy.jpg", JPEGS[2]),
    ("3_3_eol-full-size-copy.jpg", b"not a jpeg"),  # corrupt: counted by the writer
    ("4_4_eol-full-size-copy.jpg", JPEGS[3]),
    ("5_5_eol-full-size-copy.jpg", JPEGS[4]),
]


def texts(key):
    return {s: f"a photo of {key} {s}." for s in TEXT_SUFFIXES}


def write_set(path, members):
    mode = "w:gz" if path.name.endswith(".gz") else "w:"
    with tarfile.open(path, mode, format=tarfile.GNU_FORMAT) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def layout_with(tmp_path, name, members):
    lay = SourceLayout.under(tmp_path / "sources")
    lay.eol_images.mkdir(parents=True)
    write_set(lay.eol_images / name, members)
    return lay


def digests(out):
    return {p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in shard_paths(out)}


def key(rec):
    return f"k{rec.eol_content_id}-{rec.eol_page_id}"


def build(lay, out, workers):
    items = [
        (SampleJob(key(r), ("train",), texts(key(r)), r.origin), d)
        for r, d in iter_partition_images(lay, Chunking(), "eol-01")
        if not r.bad_name
    ]
    result = write_partition(out, "eol-01", items, SETTINGS, workers=workers, max_samples=2)
    return digests(out), result


def reference(tmp_path):
    """The shards as the reader wrote them before the index: every member's bytes from tarfile."""
    import re

    items = []
    for name, data in MEMBERS:
        m = re.fullmatch(r"(\d+)_(\d+)_eol.*jpg", name)
        if m:
            k = f"k{m.group(1)}-{m.group(2)}"
            items.append((SampleJob(k, ("train",), texts(k), f"image_set_01.tar.gz:{name}"), data))
    out = tmp_path / "reference"
    write_partition(out, "eol-01", items, SETTINGS, workers=1, max_samples=2)
    return digests(out)


@pytest.mark.parametrize("name", ["image_set_01.tar.gz", "image_set_01.tar"])
def test_shards_are_the_same_bytes_for_both_flavours_any_workers_with_or_without_an_index(tmp_path, name):
    expected = reference(tmp_path)
    lay = layout_with(tmp_path, name, MEMBERS)
    archive = lay.eol_images / name
    fresh, result = build(lay, tmp_path / "fresh", 1)  # builds the index on the way
    assert fresh == expected and result.skipped == {"corrupt_image": 1}
    assert index_path(archive).exists()
    assert [r.origin.split(":", 1)[1] for r in list_source_images_eol(lay)] == [n for n, _ in MEMBERS]
    reused, _ = build(lay, tmp_path / "reused2", 2)  # the stored index, two workers
    assert reused == expected
    data = [d for _, d in iter_partition_images(lay, Chunking(), "eol-01") if d is not None]
    if name.endswith(".gz"):
        assert all(isinstance(d, bytes) for d in data)
    else:
        assert all(isinstance(d, MemberSlice) for d in data)  # read in place by the workers


def list_source_images_eol(lay):
    lay.inat21_train.mkdir(parents=True, exist_ok=True)
    lay.bioscan_images.mkdir(parents=True, exist_ok=True)
    return [r for r in list_source_images(lay, Chunking()) if r.source == "eol"]


DUPLICATED = [
    ("1_2_eol-full-size-copy.jpg", JPEGS[0]),
    ("3_4_eol-full-size-copy.jpg", JPEGS[1]),
    ("1_2_eol-full-size-copy.jpg", JPEGS[2]),  # the same member again (tar --append)
    ("1_2_eol-thumbnail.jpg", JPEGS[3]),  # the same ids under another name
]


@pytest.mark.parametrize("name", ["image_set_01.tar.gz", "image_set_01.tar"])
def test_the_same_image_twice_in_a_set_is_counted_as_duplicate_and_the_first_kept(tmp_path, name):
    lay = layout_with(tmp_path, name, DUPLICATED)
    got = [(r.origin.split(":", 1)[1], r.skip_reason, d) for r, d in iter_partition_images(lay, Chunking(), "eol-01")]
    assert [(n, reason) for n, reason, _ in got] == [
        ("1_2_eol-full-size-copy.jpg", None),
        ("3_4_eol-full-size-copy.jpg", None),
        ("1_2_eol-full-size-copy.jpg", SKIP_DUPLICATE),
        ("1_2_eol-thumbnail.jpg", SKIP_DUPLICATE),
    ]
    first = got[0][2]
    assert (first if isinstance(first, bytes) else first.read_bytes()) == JPEGS[0]
    assert got[2][2] is None and got[3][2] is None
    # the planner never makes a job of a duplicate: one sample per id, every image accounted for
    plan = {(c, p): PlannedSample(f"id-{c}-{p}", ("train",), texts("x"), False) for c, p in [(1, 2), (3, 4)]}
    skipped, samples = {}, []
    jobs = list(iter_jobs(lay, Chunking(), "eol-01", plan, skipped, samples))
    assert [j.key for j, _ in jobs] == ["id-1-2", "id-3-4"]
    assert skipped == {SKIP_DUPLICATE: 2} and len(samples) == 2
    assert {s["origin"] for s in samples} == {f"{name}:1_2_eol-full-size-copy.jpg", f"{name}:1_2_eol-thumbnail.jpg"}
    assert {s["detail"] for s in samples} == {"the same image again in its set (the first is kept)"}


def test_duplicates_in_a_published_set_are_found_by_their_id(tmp_path):
    lay = SourceLayout.under(tmp_path)
    lay.eol_published_images.mkdir(parents=True)
    tid = "0b4f6c7e-0d2b-4d3e-9a57-8f1e2f0c1a2b"
    write_set(lay.eol_published_images / "image_set_01.tar", [(f"{tid}.jpg", b"a"), (f"{tid}.jpg", b"b")])
    got = [(r.skip_reason, d) for r, d in iter_partition_images(lay, Chunking(mode="reproduce"), "eol-01")]
    assert got[0][0] is None and got[0][1].read_bytes() == b"a"
    assert got[1] == (SKIP_DUPLICATE, None)


HOSTILE = [
    ("sub/5_6_eol-full-size-copy.jpg", JPEGS[0]),
    ("./7_8_eol-full-size-copy.jpg", JPEGS[1]),  # './' is the top level (tar -C dir .)
    ("../../9_9_eol-full-size-copy.jpg", JPEGS[2]),
    ("/tmp/1_1_eol-full-size-copy.jpg", JPEGS[3]),
    ("a/b/c/2_2_eol-full-size-copy.jpg", JPEGS[4]),
]


@pytest.mark.parametrize("name", ["image_set_01.tar.gz", "image_set_01.tar"])
def test_members_in_sub_folders_are_counted_never_used_and_never_choose_a_path(tmp_path, name):
    lay = layout_with(tmp_path, name, HOSTILE)
    got = [(r.origin.split(":", 1)[1], r.skip_reason, r.bad_name, d) for r, d in iter_partition_images(lay, Chunking(), "eol-01")]
    assert [(n, reason) for n, reason, _, _ in got] == [
        ("sub/5_6_eol-full-size-copy.jpg", SKIP_UNEXPECTED_PATH),
        ("./7_8_eol-full-size-copy.jpg", None),
        ("../../9_9_eol-full-size-copy.jpg", SKIP_UNEXPECTED_PATH),
        ("/tmp/1_1_eol-full-size-copy.jpg", SKIP_UNEXPECTED_PATH),
        ("a/b/c/2_2_eol-full-size-copy.jpg", SKIP_UNEXPECTED_PATH),
    ]
    assert all(bad and d is None for _, reason, bad, d in got if reason)
    plan = {(7, 8): PlannedSample("id-7-8", ("train",), texts("x"), False)}
    skipped, samples = {}, []
    assert [j.key for j, _ in iter_jobs(lay, Chunking(), "eol-01", plan, skipped, samples)] == ["id-7-8"]
    assert skipped == {SKIP_UNEXPECTED_PATH: 4}
    before = set(tmp_path.parent.rglob("*"))
    out = tmp_path / "out"
    digest, result = build(lay, out, 1)
    assert sum(result.samples.values()) == 1
    created = set(tmp_path.parent.rglob("*")) - before
    assert all(p == out or out in p.parents for p in created), sorted(map(str, created))  # shards and stats only


def _cut_plain(path):
    raw = path.read_bytes()
    with tarfile.open(path) as tar:
        last = [m for m in tar if m.isfile()][-1]
    path.write_bytes(raw[: last.offset_data + (last.size + 511) // 512 * 512])  # at a member boundary


def _cut_gz(path):
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) * 2 // 3])


@pytest.mark.parametrize("name,cut", [("image_set_01.tar", _cut_plain), ("image_set_01.tar.gz", _cut_gz)])
def test_a_truncated_set_stops_its_partition_naming_the_archive_and_keeps_the_published_shards(tmp_path, name, cut):
    lay = layout_with(tmp_path, name, MEMBERS)
    out = tmp_path / "out"
    published, _ = build(lay, out, 2)
    cut(lay.eol_images / name)  # a later copy of the set is incomplete; its stored index is now stale
    with pytest.raises(InputFormatError, match=name.replace(".", r"\.") + ": truncated"):
        build(lay, out, 2)
    assert digests(out) == published
    assert not [p for p in out.rglob("*") if ".tmp-" in p.name]


def test_a_gzip_set_damaged_after_indexing_fails_its_partition_before_anything_is_published(tmp_path):
    name = "image_set_01.tar.gz"
    lay = layout_with(tmp_path, name, MEMBERS)
    archive = lay.eol_images / name
    list_source_images_eol(lay)  # the index is built and stored
    st = archive.stat()
    raw = bytearray(archive.read_bytes())
    raw[-8] ^= 0xFF  # the gzip CRC: the same size and, restored below, the same mtime: the index stays current
    archive.write_bytes(bytes(raw))
    os.utime(archive, ns=(st.st_atime_ns, st.st_mtime_ns))
    out = tmp_path / "out"
    with pytest.raises(InputFormatError, match=r"image_set_01\.tar\.gz(\[.*\])?: truncated or corrupt archive.*CRC"):
        build(lay, out, 2)
    assert shard_paths(out) == [] and not [p for p in out.rglob("*") if ".tmp-" in p.name]
