"""Resize, write, read back and check shards."""

import hashlib
import io
import os
import signal
import subprocess
import sys
import tarfile
import textwrap

import numpy as np
import pytest
import webdataset as wds
from PIL import Image

from tol10m_assets.sample.images import corrupt, decompression_bomb, encode, photo
from tol10m_assets.shards import (
    MEMBER_SUFFIXES,
    TEXT_SUFFIXES,
    CorruptImage,
    ImageSettings,
    SampleJob,
    check_partition_shards,
    iter_shard_members,
    naive_resize,
    resize_image,
    shard_paths,
    write_partition,
)

RNG = np.random.default_rng(1)
JPEG = encode(photo(RNG, 900, 600))
SETTINGS = ImageSettings()


def texts(key):
    return {suffix: f"a photo of {key} {suffix}." for suffix in TEXT_SUFFIXES}


def jobs(n, start=0, bad=()):
    for i in range(start, start + n):
        key = f"id{i:04d}"
        splits = ("val",) if i % 5 == 0 else (("train", "train_small") if i % 3 == 0 else ("train",))
        yield SampleJob(key, splits, texts(key), f"test:{i}"), (b"" if i in bad else JPEG)


def digest(paths):
    return {p.parent.name + "/" + p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


@pytest.mark.parametrize("mode", ["RGB", "L", "CMYK", "P", "RGBA"])
def test_every_mode_becomes_rgb_at_the_target_size(mode):
    fmt = "PNG" if mode in ("P", "RGBA") else "JPEG"
    out = Image.open(io.BytesIO(resize_image(encode(photo(RNG, 300, 500, mode), fmt), SETTINGS)))
    assert (out.format, out.mode, out.size) == ("JPEG", "RGB", (224, 224))


def test_sixteen_bit_and_la_images():
    for image in (Image.new("I;16", (300, 200), 40000), Image.new("LA", (300, 200), (10, 100))):
        buf = io.BytesIO()
        image.save(buf, "PNG")
        assert Image.open(io.BytesIO(resize_image(buf.getvalue(), SETTINGS))).size == (224, 224)


def test_exif_orientation_is_applied():
    wide = photo(RNG, 400, 200)
    rotated = encode(wide, "JPEG", exif_orientation=6)
    keep = ImageSettings(resize_mode="keep_ratio")
    out = Image.open(io.BytesIO(resize_image(rotated, keep))).convert("L")
    arr = np.asarray(out)
    # portrait after rotation: the padding is left and right, not top and bottom
    assert arr[:, :20].mean() < 5 and arr[100:120, 100:120].mean() > 5


@pytest.mark.parametrize("kind", ["truncated", "zero_bytes", "not_an_image", "bomb"])
def test_corrupt_inputs_raise_corrupt_image(kind):
    with pytest.raises(CorruptImage):
        resize_image(corrupt(kind, JPEG) if kind != "bomb" else decompression_bomb(), SETTINGS)


def test_resize_modes_and_reduced_decode_quality():
    for mode in ("squash", "center_crop", "keep_ratio"):
        assert Image.open(io.BytesIO(resize_image(JPEG, ImageSettings(resize_mode=mode, width=160, height=96)))).size == (160, 96)
    big = encode(photo(RNG, 3000, 2000))
    fast = np.asarray(Image.open(io.BytesIO(resize_image(big, SETTINGS))), dtype=np.float64)
    slow = np.asarray(Image.open(io.BytesIO(naive_resize(big, SETTINGS))), dtype=np.float64)
    psnr = 10 * np.log10(255**2 / np.mean((fast - slow) ** 2))
    assert psnr > 35
    with pytest.raises(ValueError):
        ImageSettings(resize_mode="stretch")


def test_write_read_check_and_determinism(tmp_path):
    a = write_partition(tmp_path / "a", "eol-01", jobs(40, bad={7}), SETTINGS, max_samples=10)
    b = write_partition(tmp_path / "b", "eol-01", jobs(40, bad={7}), SETTINGS, workers=2, max_samples=10)
    assert a.skipped == {"corrupt_image": 1} and a.skipped_samples[0]["origin"] == "test:7"
    assert a.samples == b.samples and a.samples["val"] == 8 and a.samples["train"] == 31
    assert len(a.shards["train"]) == 4  # rotated at 10 samples
    da, db = digest(shard_paths(tmp_path / "a")), digest(shard_paths(tmp_path / "b"))
    assert da == db and len(da) == 4 + 1 + 2
    from tol10m_assets.shards.tarfiles import _iter_with_tarfile

    for p in shard_paths(tmp_path / "a"):
        assert list(iter_shard_members(p)) == list(_iter_with_tarfile(p))  # the fast header walk agrees with tarfile
    members = [m for p in shard_paths(tmp_path / "a", split="val") for m in iter_shard_members(p)]
    assert len(members) == 8 and members[0]["sci.txt"].startswith("a photo of id0000") and members[0]["jpg_size"] > 0
    report = check_partition_shards(tmp_path / "a", "eol-01", SETTINGS, expected=a.samples)
    assert report.passed and report.images_checked == sum(a.samples.values())
    assert not check_partition_shards(tmp_path / "a", "eol-01", SETTINGS, expected={**a.samples, "val": 9}).passed
    data = wds.WebDataset([str(p) for p in shard_paths(tmp_path / "a", split="train")], shardshuffle=False, empty_check=False).decode("pil")
    first = next(iter(data))
    assert first["jpg"].size == (224, 224) and set(first) >= {"sci.txt", "com.txt", "taxon.txt", "sci_com.txt", "taxon_com.txt"}


def test_rewrite_replaces_only_its_own_shards(tmp_path):
    write_partition(tmp_path, "eol-01", jobs(30), SETTINGS, max_samples=5)
    write_partition(tmp_path, "eol-02", jobs(10, start=100), SETTINGS)
    other = digest(shard_paths(tmp_path, partition="eol-02"))
    write_partition(tmp_path, "eol-01", jobs(6), SETTINGS, max_samples=5)
    assert digest(shard_paths(tmp_path, partition="eol-02")) == other
    assert [p.name for p in shard_paths(tmp_path, split="train", partition="eol-01")] == ["shard-eol-01-000000.tar"]
    with pytest.raises(ValueError):
        write_partition(tmp_path, "../eol-01", jobs(1), SETTINGS)


def _rewrite(path, fn):
    with tarfile.open(path) as tar:
        members = [(m, tar.extractfile(m).read()) for m in tar]
    with tarfile.open(path, "w") as tar:
        for m, data in fn(members):
            m.size = len(data)
            tar.addfile(m, io.BytesIO(data))


def test_check_catches_missing_members_bad_images_and_wrong_sizes(tmp_path):
    result = write_partition(tmp_path, "eol-01", jobs(6), SETTINGS)
    path = shard_paths(tmp_path, split="train")[0]
    small = encode(photo(RNG, 100, 100))
    _rewrite(path, lambda ms: [(m, small if i == 0 else (b"xx" if i == 11 else d)) for i, (m, d) in enumerate(ms) if i != 5])
    report = check_partition_shards(tmp_path, "eol-01", SETTINGS, expected=result.samples)
    text = "\n".join(report.problems)
    assert not report.passed
    assert "not 224x224" in text and "does not decode" in text and "missing ['" in text
    path.write_bytes(b"garbage" * 100)
    assert "does not open as a tar" in "\n".join(check_partition_shards(tmp_path, "eol-01", SETTINGS).problems)
    assert set(MEMBER_SUFFIXES) == {"jpg", *TEXT_SUFFIXES}


def test_sigkill_mid_write_leaves_no_visible_shard(tmp_path):
    script = textwrap.dedent(
        f"""
        import sys, time
        sys.path.insert(0, {str(os.getcwd())!r})
        from tol10m_assets_tests.shards.test_shards import jobs
        from tol10m_assets.shards import write_partition, ImageSettings
        def slow():
            for i, item in enumerate(jobs(1000)):
                if i == 20:
                    print("writing", flush=True)
                    time.sleep(60)
                yield item
        write_partition({str(tmp_path)!r}, "eol-01", slow(), ImageSettings())
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, start_new_session=True)
    assert proc.stdout.readline().strip() == b"writing"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert shard_paths(tmp_path) == [] and list(tmp_path.rglob(".shard-eol-01-*"))
    write_partition(tmp_path, "eol-01", jobs(5), SETTINGS)
    assert len(shard_paths(tmp_path)) >= 1 and not list(tmp_path.rglob(".shard-eol-01-*"))


def test_files_are_read_by_the_workers_and_give_the_same_shards_as_bytes(tmp_path):
    path = tmp_path / "in.jpg"
    path.write_bytes(JPEG)
    as_files = lambda: ((job, path if i % 2 else data) for i, (job, data) in enumerate(jobs(12)))  # noqa: E731
    ref = write_partition(tmp_path / "bytes", "eol-01", jobs(12), SETTINGS)
    for workers in (1, 2):
        got = write_partition(tmp_path / f"files{workers}", "eol-01", as_files(), SETTINGS, workers=workers)
        assert got.samples == ref.samples
        assert list(digest(shard_paths(tmp_path / f"files{workers}")).values()) == list(digest(shard_paths(tmp_path / "bytes")).values())


@pytest.mark.parametrize("workers", [1, 2])
def test_an_unreadable_file_stops_the_partition_naming_it_and_publishes_nothing(tmp_path, workers):
    missing = tmp_path / "gone" / "vanished.jpg"
    items = ((job, missing if i == 5 else data) for i, (job, data) in enumerate(jobs(12)))
    with pytest.raises(OSError, match="vanished.jpg"):
        write_partition(tmp_path / "out", "eol-01", items, SETTINGS, workers=workers)
    assert not shard_paths(tmp_path / "out") and not list((tmp_path / "out").rglob("*.tmp-*"))


@pytest.mark.parametrize("name", ["a.jpg", "0000000a-0000-4000-8000-000000000001.taxonTag_com.txt", "x" * 99, "x" * 100, "é.txt"])
def test_member_headers_are_byte_for_byte_what_tarfile_writes(name):
    from tol10m_assets.shards.tarfiles import _tarfile_header, member_header

    for size in (0, 1, 511, 512, 40_000, 3_000_000_000, 8**11 - 1, 8**11):
        assert member_header(name, size) == _tarfile_header(name, size), (name, size)


def _shard_of(path, samples):
    from tol10m_assets.shards.tarfiles import TAR_END, sample_bytes

    path.write_bytes(b"".join(sample_bytes(key, image, texts(key) if t is None else t) for key, image, t in samples) + TAR_END)
    return path


def test_the_header_walk_takes_the_fast_path_over_a_writer_shard_and_agrees_with_tarfile_on_odd_ones(tmp_path):
    import mmap

    from tol10m_assets.shards.tarfiles import _iter_with_tarfile, _writer_layout_samples

    normal = _shard_of(tmp_path / "a.tar", [(f"k{i}", b"x" * (100 * i + 1), None) for i in range(6)])
    with open(normal, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        walk = _writer_layout_samples(mm, len(mm), TEXT_SUFFIXES)
        got = []
        with pytest.raises(StopIteration) as stop:
            while True:
                got.append(next(walk))
        assert len(got) == 6 and stop.value.value == len(mm) - 1024  # stopped at the end-of-archive blocks
    long_caption = {**texts("k2"), "sci.txt": "a photo of " + "very " * 200 + "long."}  # two payload blocks
    long_key = "k" * 120  # a GNU long-name member in the middle of the shard
    odd = _shard_of(tmp_path / "b.tar", [("k1", b"x", None), ("k2", b"yy", long_caption), (long_key, b"z", None), ("k4", b"w", None)])
    for wanted in (None, ("sci.txt",), ()):
        members = list(iter_shard_members(odd, texts=wanted))
        assert members == list(_iter_with_tarfile(odd, wanted))
        assert [m["__key__"] for m in members] == ["k1", "k2", long_key, "k4"]  # none twice, none lost
    assert list(iter_shard_members(odd))[1]["sci.txt"] == long_caption["sci.txt"]


def test_a_worker_that_dies_costs_only_its_own_image(tmp_path):
    from tol10m_assets.shards.writer import ordered_results
    from tol10m_assets_tests.shards.crashing_task import task

    items = [(job, b"KILL" if i == 5 else data) for i, (job, data) in enumerate(jobs(12))]
    got = list(ordered_results(items, SETTINGS, workers=2, task=task))
    assert [job.key for job, _, _ in got] == [job.key for job, _ in items]  # every image, in order
    assert [ok for _, ok, _ in got] == [i != 5 for i in range(12)]
    assert "crashed its worker process" in got[5][2]
    assert all(Image.open(io.BytesIO(out)).size == (224, 224) for _, ok, out in got if ok)


def test_check_wds_names_repeated_members_split_samples_and_keys_in_two_shards(tmp_path):
    from tol10m_assets.shards.tarfiles import TAR_END, member_header, sample_bytes

    good = resize_image(JPEG, SETTINGS)
    folder = tmp_path / "train"
    folder.mkdir()
    a = sample_bytes("ka", good, texts("ka"))
    b = sample_bytes("kb", good, texts("kb"))
    extra = member_header("ka.sci.txt", 1) + b"x" + b"\0" * 511  # a second ka.sci.txt, after kb
    (folder / "shard-eol-01-000000.tar").write_bytes(a + b + extra + TAR_END)
    (folder / "shard-eol-01-000001.tar").write_bytes(sample_bytes("kb", good, texts("kb")) + TAR_END)
    report = check_partition_shards(tmp_path, "eol-01", SETTINGS)
    text = "\n".join(report.problems)
    assert not report.passed
    assert "sample ka: its members are not adjacent" in text
    assert "sample ka: member sci.txt twice" in text
    assert "shard-eol-01-000001.tar: sample kb is also in shard-eol-01-000000.tar" in text


def _report_fields(report):
    return (report.passed, report.shards, report.samples, report.images_checked, report.problem_count, report.problems)


def test_check_wds_in_parallel_within_a_shard_reports_what_the_serial_check_does(tmp_path, monkeypatch):
    """Images of one shard decoded by two workers, a few at a time: the same problems, in the same
    order, the same counts as one process; a damaged partition and a clean one."""
    from tol10m_assets.shards import check as check_mod

    result = write_partition(tmp_path, "eol-01", jobs(60), SETTINGS, max_samples=25)
    clean = check_partition_shards(tmp_path, "eol-01", SETTINGS, expected=result.samples)
    par = check_partition_shards(tmp_path, "eol-01", SETTINGS, expected=result.samples, workers=2, batch=3)
    assert clean.passed and _report_fields(par) == _report_fields(clean) and clean.images_checked == sum(result.samples.values())
    small = encode(photo(RNG, 100, 100))
    train = shard_paths(tmp_path, split="train")
    # the first train shard: a wrong-size image, a damaged one, a missing member, an image twice
    _rewrite(train[0], lambda ms: [(m, small if i == 0 else (b"xx" if i in (11, 33) else d))
                                   for i, (m, d) in enumerate(ms) if i != 5] + [ms[0]])
    data = train[1].read_bytes()
    train[1].write_bytes(data[: len(data) // 2])  # the second: cut short in the middle
    serial = check_partition_shards(tmp_path, "eol-01", SETTINGS, expected=result.samples)
    monkeypatch.setattr(check_mod, "MAX_PROBLEMS", 3)  # the first problems kept must also be the same
    for workers, batch in ((2, 1), (2, 4), (3, 256)):
        got = check_partition_shards(tmp_path, "eol-01", SETTINGS, expected=result.samples, workers=workers, batch=batch)
        assert got.problems == serial.problems[:3] and got.problem_count == serial.problem_count
    monkeypatch.setattr(check_mod, "MAX_PROBLEMS", 200)
    for workers, batch in ((2, 1), (2, 4)):
        got = check_partition_shards(tmp_path, "eol-01", SETTINGS, expected=result.samples, workers=workers, batch=batch)
        assert _report_fields(got) == _report_fields(serial)
    text = "\n".join(serial.problems)
    assert not serial.passed and "not 224x224" in text and text.count("does not decode") >= 2
    assert "member jpg twice" in text and "does not open as a tar" in text and "samples in the shards" in text
