"""check_wds in chunks: with the writer's image offsets each worker walks and checks its own part of
a shard (headers and images); the report is the serial check's, problem for problem, whether the
offsets are right, stale (a shard damaged after it was written) or wrong."""

import pytest

from tol10m_assets.sample.images import encode, photo
from tol10m_assets.shards import check as check_mod
from tol10m_assets.shards import check_partition_shards, shard_paths, write_partition
from tol10m_assets_tests.shards.test_shards import RNG, SETTINGS, _report_fields, _rewrite, jobs


def _written(folder, n=60, max_samples=25):
    offsets: dict = {}

    def on_image(job, source, ok, payload, where):
        for split, shard, offset in where if ok else []:
            offsets.setdefault((split, shard), []).append(offset)

    result = write_partition(folder, "eol-01", jobs(n), SETTINGS, max_samples=max_samples, on_image=on_image)
    return result, offsets


def _no_serial_walk(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a shard was walked in this process")

    monkeypatch.setattr(check_mod, "_walk_shard", refuse)


def test_chunks_give_the_serial_report_and_this_process_walks_no_header(tmp_path, monkeypatch):
    result, offsets = _written(tmp_path)
    serial = check_partition_shards(tmp_path, "eol-01", SETTINGS, expected=result.samples)
    assert serial.passed and serial.images_checked == sum(result.samples.values())
    _no_serial_walk(monkeypatch)
    for batch in (1, 4, 256):
        got = check_partition_shards(tmp_path, "eol-01", SETTINGS, expected=result.samples, workers=2, batch=batch,
                                     image_offsets=offsets)
        assert _report_fields(got) == _report_fields(serial)


def test_an_image_damaged_in_place_is_found_by_its_chunk(tmp_path, monkeypatch):
    result, offsets = _written(tmp_path)
    train = shard_paths(tmp_path, split="train")[0]
    data = bytearray(train.read_bytes())
    at = sorted(offsets[("train", train.name)])[6]
    data[at + 200 : at + 900] = b"\x00" * 700  # the same length: every header stays where it was
    train.write_bytes(bytes(data))
    serial = check_partition_shards(tmp_path, "eol-01", SETTINGS, expected=result.samples)
    assert not serial.passed and serial.problem_count >= 1
    _no_serial_walk(monkeypatch)
    got = check_partition_shards(tmp_path, "eol-01", SETTINGS, expected=result.samples, workers=2, batch=4,
                                 image_offsets=offsets)
    assert _report_fields(got) == _report_fields(serial)


def test_a_reused_image_that_differs_is_named_in_chunks_too(tmp_path, monkeypatch):
    result, offsets = _written(tmp_path)
    shard = shard_paths(tmp_path, split="train")[1]
    heads = sorted(offsets[("train", shard.name)])
    known = {("train", shard.name): {heads[2]: (10, 0), heads[9]: (10, 0)}}  # recorded size and CRC that do not match
    serial = check_partition_shards(tmp_path, "eol-01", SETTINGS, expected=result.samples, known=known)
    assert serial.problem_count == 2 and "the reused image differs" in serial.problems[0]
    _no_serial_walk(monkeypatch)
    got = check_partition_shards(tmp_path, "eol-01", SETTINGS, expected=result.samples, workers=2, batch=4,
                                 known=known, image_offsets=offsets)
    assert _report_fields(got) == _report_fields(serial) and got.images_verified == serial.images_verified == 0


@pytest.mark.parametrize("hint", ["stale", "wrong"])
def test_stale_or_wrong_offsets_cost_a_walk_never_a_different_report(tmp_path, monkeypatch, hint):
    result, offsets = _written(tmp_path)
    train = shard_paths(tmp_path, split="train")
    if hint == "stale":  # the first train shard rewritten: a wrong-size image, a damaged one, a missing member, an image twice
        small = encode(photo(RNG, 100, 100))
        _rewrite(train[0], lambda ms: [(m, small if i == 0 else (b"xx" if i in (11, 33) else d))
                                       for i, (m, d) in enumerate(ms) if i != 5] + [ms[0]])
        data = train[1].read_bytes()
        train[1].write_bytes(data[: len(data) // 2])  # the second: cut short in the middle
    else:
        offsets = {k: [o + 7 for o in v] for k, v in offsets.items()}
    serial = check_partition_shards(tmp_path, "eol-01", SETTINGS, expected=result.samples)
    assert serial.passed == (hint == "wrong")
    for workers, batch in ((2, 1), (2, 4), (3, 256)):
        got = check_partition_shards(tmp_path, "eol-01", SETTINGS, expected=result.samples, workers=workers, batch=batch,
                                     image_offsets=offsets)
        assert _report_fields(got) == _report_fields(serial)
    monkeypatch.setattr(check_mod, "MAX_PROBLEMS", 3)
    serial = check_partition_shards(tmp_path, "eol-01", SETTINGS, expected=result.samples)
    got = check_partition_shards(tmp_path, "eol-01", SETTINGS, expected=result.samples, workers=2, batch=4, image_offsets=offsets)
    assert got.problems == serial.problems and got.problem_count == serial.problem_count


def test_a_sample_repeated_in_another_chunk_is_found(tmp_path):
    """Each chunk sees a whole, well-formed sample ``ka``; only the shard as a whole shows it twice."""
    from tol10m_assets.shards.images import resize_image
    from tol10m_assets.shards.tarfiles import TAR_END, sample_bytes
    from tol10m_assets_tests.shards.test_shards import JPEG, texts

    good = resize_image(JPEG, SETTINGS)
    folder = tmp_path / "train"
    folder.mkdir()
    parts = [sample_bytes(k, good, texts(k)) for k in ("ka", "kb", "kc", "ka", "kd")]
    starts = [sum(len(p) for p in parts[:i]) for i in range(len(parts))]
    shard = folder / "shard-eol-01-000000.tar"
    shard.write_bytes(b"".join(parts) + TAR_END)
    offsets = {("train", shard.name): [s + 512 for s in starts]}
    serial = check_partition_shards(tmp_path, "eol-01", SETTINGS)
    assert "sample ka: its members are not adjacent" in "\n".join(serial.problems)
    for batch in (1, 2, 3):
        got = check_partition_shards(tmp_path, "eol-01", SETTINGS, workers=2, batch=batch, image_offsets=offsets)
        assert _report_fields(got) == _report_fields(serial)
