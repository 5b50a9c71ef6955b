"""Equal shards: copied tar members, equal counts but the last, every sample once, same bytes every time."""

import hashlib
import tarfile

import pytest
import webdataset as wds

from tol10m_assets.shards.reshard import ShardFormatError, SourceShard, interleaved_order, sample_spans, write_equal_shards
from tol10m_assets.shards.tarfiles import TAR_END, TEXT_SUFFIXES, sample_bytes


def texts(key: str) -> dict[str, str]:
    return {s: f"{s} of {key}" for s in TEXT_SUFFIXES}


def make_shard(path, keys, image_size=700):
    path.parent.mkdir(parents=True, exist_ok=True)
    body = b"".join(sample_bytes(k, hashlib.sha256(k.encode()).digest() * (image_size // 32), texts(k)) for k in keys)
    path.write_bytes(body + TAR_END)
    return path


def partitions(tmp_path, layout: dict[str, list[int]]) -> tuple[list[SourceShard], dict[str, str]]:
    """Shards per partition (sizes given per shard); returns the sources and key -> partition."""
    sources, owner = [], {}
    for part, sizes in layout.items():
        for n, size in enumerate(sizes):
            keys = [f"{part}-{n}-{i:04d}" for i in range(size)]
            owner.update({k: part for k in keys})
            sources.append(SourceShard(part, make_shard(tmp_path / "in" / part / f"s{n}.tar", keys), size))
    return sources, owner


LAYOUT = {"bioscan-001": [40, 7], "eol-01": [100, 100, 13], "inat21-000": [3], "inat21-001": [61]}


def read_keys(pattern: str) -> list[tuple[str, str]]:
    pipeline = wds.DataPipeline(wds.SimpleShardList(pattern), wds.tarfile_to_samples(), wds.decode(),
                                wds.to_tuple("__key__", "taxontag_com.txt"))
    return list(pipeline)


def test_every_shard_but_the_last_holds_the_same_count_and_every_sample_reads_once(tmp_path):
    sources, owner = partitions(tmp_path, LAYOUT)
    shards = write_equal_shards(sources, tmp_path / "out", 50)
    total = sum(sum(v) for v in LAYOUT.values())
    assert [s["samples"] for s in shards] == [50] * (total // 50) + [total % 50]
    assert [s["name"] for s in shards] == [f"shard-{i:06d}.tar" for i in range(len(shards))]
    samples = read_keys(str(tmp_path / "out" / f"shard-{{000000..{len(shards) - 1:06d}}}.tar"))
    assert sorted(k for k, _ in samples) == sorted(owner)  # each sample exactly once, nothing lost
    assert all(text == f"taxonTag_com.txt of {k}" for k, text in samples)  # members copied byte for byte
    for s in shards:
        data = (tmp_path / "out" / s["name"]).read_bytes()
        assert len(data) == s["bytes"] and hashlib.sha256(data).hexdigest() == s["sha256"]
        with tarfile.open(tmp_path / "out" / s["name"]) as tar:  # a valid tar for the stdlib too
            assert len(tar.getnames()) == 11 * s["samples"]


def test_partitions_are_interleaved_in_every_shard(tmp_path):
    sources, owner = partitions(tmp_path, LAYOUT)
    shards = write_equal_shards(sources, tmp_path / "out", 50)
    for s in shards[:-1]:
        assert len(s["partitions"]) >= 3, s  # never a single source; the big ones in every shard
        assert s["partitions"]["eol-01"] >= 20
    # proportional: eol-01 holds 213 of 324 samples, so about 2/3 of every full shard
    assert all(abs(s["partitions"]["eol-01"] / s["samples"] - 213 / 324) < 0.05 for s in shards[:-1])


def test_same_inputs_give_the_same_bytes(tmp_path):
    sources, _ = partitions(tmp_path, LAYOUT)
    first = write_equal_shards(sources, tmp_path / "a", 37)
    second = write_equal_shards(list(sources), tmp_path / "b", 37)
    assert first == second
    assert all((tmp_path / "a" / s["name"]).read_bytes() == (tmp_path / "b" / s["name"]).read_bytes() for s in first)


def test_interleaved_order_visits_each_sample_once_in_order_within_a_partition():
    order = interleaved_order([5, 0, 3, 1])
    assert sorted(map(tuple, order.tolist())) == sorted([(0, i) for i in range(5)] + [(2, i) for i in range(3)] + [(3, 0)])
    for p in (0, 2):
        assert [i for q, i in order.tolist() if q == p] == sorted(i for q, i in order.tolist() if q == p)


def test_long_member_names_are_copied_with_their_extension_headers(tmp_path):
    key = "k" * 120  # > 100 bytes: tarfile writes a GNU long-name header before each member
    path = make_shard(tmp_path / "long.tar", [key, "short"])
    spans = sample_spans(path)
    assert len(spans) == 2
    shards = write_equal_shards([SourceShard("eol-01", path, 2)], tmp_path / "out", 1)
    assert [read_keys(str(tmp_path / "out" / s["name"]))[0][0] for s in shards] == [key, "short"]


def test_a_shard_that_does_not_match_its_manifest_or_is_cut_short_is_an_error_naming_it(tmp_path):
    path = make_shard(tmp_path / "a.tar", ["x", "y"])
    with pytest.raises(ShardFormatError, match="a.tar: 2 samples in the tar, its manifest says 3"):
        write_equal_shards([SourceShard("eol-01", path, 3)], tmp_path / "out", 2)
    cut = tmp_path / "cut.tar"
    cut.write_bytes(path.read_bytes()[: -len(TAR_END)])
    with pytest.raises(ShardFormatError, match="cut.tar: cut short"):
        sample_spans(cut)


def test_the_coverage_model_counts_what_whole_shard_consumers_see():
    from bench.equal_shards_bench import coverage, equal

    assert coverage(equal(3200, 100), 4, 8) == 1.0  # one shard per consumer, all equal: every sample once
    assert coverage([1000] + [10] * 31, 4, 8) == pytest.approx((41 + 31 * 10) / 1310)  # the big shard's consumer stops at its share (41)
    assert coverage([10] * 31, 4, 8) != coverage([10] * 31, 4, 8)  # fewer shards than consumers: open_clip refuses (nan)
