"""The member index of an EOL image set: built once, reused, rebuilt when stale; truncated or
corrupt sets are errors naming the archive."""

import gzip
import io
import json
import os
import tarfile

import pytest

from tol10m_assets.errors import InputFormatError
from tol10m_assets.sources import eolindex
from tol10m_assets.sources.eolindex import build_index, index_path, load_index, read_members, set_index

LONG = "9" * 60 + "_1_eol-full-size-copy" + "x" * 60 + ".jpg"  # > 100 chars: a GNU long-name / pax header


def payload(i: int) -> bytes:
    return bytes([i % 251]) * (700 + 613 * i)  # sizes that are not multiples of 512


def make_set(path, names, fmt=tarfile.GNU_FORMAT):
    mode = "w:gz" if path.name.endswith(".gz") else "w:"
    with tarfile.open(path, mode, format=fmt) as tar:
        for i, name in enumerate(names):
            info = tarfile.TarInfo(name)
            data = payload(i)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        d = tarfile.TarInfo("somedir")
        d.type = tarfile.DIRTYPE
        tar.addfile(d)
    return path


NAMES = ["1_2_eol-full-size-copy.jpg", LONG, "3_4_eol-full-size-copy.jpg", "README.txt"]


def plain_bytes(path):
    raw = path.read_bytes()
    return gzip.decompress(raw) if path.name.endswith(".gz") else raw


@pytest.mark.parametrize("fmt", [tarfile.GNU_FORMAT, tarfile.PAX_FORMAT])
@pytest.mark.parametrize("name", ["image_set_01.tar", "image_set_01.tar.gz"])
def test_the_index_lists_every_file_with_its_data_offset(tmp_path, name, fmt):
    path = make_set(tmp_path / name, NAMES, fmt)
    index = build_index(path)
    assert [m.name for m in index.members] == NAMES  # files only, in archive order
    stream = plain_bytes(path)
    assert [stream[m.offset : m.offset + m.size] for m in index.members] == [payload(i) for i in range(len(NAMES))]
    with tarfile.open(path) as tar:  # the offsets tarfile itself finds
        assert [(m.name, m.offset_data, m.size) for m in tar if m.isfile()] == [(m.name, m.offset, m.size) for m in index.members]
    assert list(read_members(index, index.members)) == [payload(i) for i in range(len(NAMES))]


def test_built_once_kept_next_to_the_set_and_reused(tmp_path, monkeypatch):
    path = make_set(tmp_path / "image_set_01.tar.gz", NAMES)
    first = set_index(path)
    stored = index_path(path)
    assert stored.name == "image_set_01.tar.gz.index" and stored.exists()
    assert not [p for p in tmp_path.iterdir() if ".tmp-" in p.name]  # written atomically, nothing left over
    data = json.loads(stored.read_text())
    assert data["end_seen"] is True and data["size"] == path.stat().st_size

    def no_walk(_):
        raise AssertionError("the stored index should have been used")

    monkeypatch.setattr(eolindex, "build_index", no_walk)
    assert set_index(path).members == first.members


def test_a_changed_archive_makes_its_index_stale(tmp_path):
    path = make_set(tmp_path / "image_set_01.tar", NAMES)
    set_index(path)
    make_set(path, NAMES + ["5_6_eol-full-size-copy.jpg"])  # another size
    assert load_index(path) is None
    assert [m.name for m in set_index(path).members][-1] == "5_6_eol-full-size-copy.jpg"
    # the same size, another mtime (rewritten in place): stale too
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert load_index(path) is None
    set_index(path)
    assert load_index(path) is not None


@pytest.mark.parametrize(
    "damage",
    [
        lambda text: text[: len(text) // 2],  # a torn file
        lambda text: "not json",
        lambda text: text.replace('"end_seen":true', '"end_seen":false'),
        lambda text: text.replace('"version":1', '"version":99'),
    ],
)
def test_an_unreadable_or_foreign_index_is_built_again(tmp_path, damage):
    path = make_set(tmp_path / "image_set_01.tar", NAMES)
    set_index(path)
    stored = index_path(path)
    stored.write_text(damage(stored.read_text()))
    assert load_index(path) is None
    assert [m.name for m in set_index(path).members] == NAMES
    assert load_index(path) is not None


def test_an_index_that_cannot_be_written_is_kept_in_memory(tmp_path, monkeypatch):
    path = make_set(tmp_path / "image_set_01.tar", NAMES)

    def refuse(*_):
        raise PermissionError("read-only file system")

    monkeypatch.setattr(eolindex.os, "replace", refuse)
    with pytest.warns(UserWarning, match="image_set_01.tar: cannot write its index"):
        index = set_index(path)
    assert [m.name for m in index.members] == NAMES
    assert list(tmp_path.iterdir()) == [path]  # no index, no temporary file


def _cut_at_member_boundary(path):
    """A plain tar cut right after its last member's data: no end-of-archive blocks."""
    index = build_index(path)
    last = index.members[-1]
    end = last.offset + (last.size + 511) // 512 * 512
    raw = path.read_bytes()
    path.write_bytes(raw[:end])
    assert tarfile.open(path).getnames()  # tarfile alone reads it without a complaint


def test_a_plain_tar_cut_at_a_member_boundary_is_an_error_naming_the_archive(tmp_path):
    path = make_set(tmp_path / "image_set_01.tar", NAMES[:3])
    _cut_at_member_boundary(path)
    with pytest.raises(InputFormatError, match=r"image_set_01\.tar: truncated: no end-of-archive block after member '3_4_eol"):
        set_index(path)
    assert not index_path(path).exists()  # nothing half-listed is stored


def test_a_gzip_stream_of_a_tar_cut_at_a_member_boundary_is_an_error(tmp_path):
    plain = make_set(tmp_path / "image_set_01.tar", NAMES[:3])
    _cut_at_member_boundary(plain)
    gz = tmp_path / "x" / "image_set_01.tar.gz"
    gz.parent.mkdir()
    gz.write_bytes(gzip.compress(plain.read_bytes()))  # a complete gzip stream of an incomplete tar
    with pytest.raises(InputFormatError, match="image_set_01.tar.gz: truncated: no end-of-archive block"):
        set_index(gz)


@pytest.mark.parametrize("name", ["image_set_01.tar", "image_set_01.tar.gz"])
@pytest.mark.parametrize("keep", [0.3, 0.6, 0.97])
def test_a_set_cut_anywhere_is_an_error_naming_the_archive(tmp_path, name, keep):
    path = make_set(tmp_path / name, NAMES)
    last = build_index(path).members[-1]
    raw = path.read_bytes()
    if name.endswith(".gz"):
        path.write_bytes(raw[: int(len(raw) * keep)])
    else:  # a cut before the end of the last member's data (after it, a tar has only its zero padding)
        path.write_bytes(raw[: int((last.offset + last.size) * keep)])
    with pytest.raises(InputFormatError, match=name.replace(".", r"\.") + ": (truncated|.*corrupt)"):
        set_index(path)


def test_garbage_where_a_header_should_be_is_an_error(tmp_path):
    path = make_set(tmp_path / "image_set_01.tar", NAMES[:1])
    index = build_index(path)
    end = index.members[0].offset + (index.members[0].size + 511) // 512 * 512
    raw = bytearray(path.read_bytes())
    raw[end : end + 512] = b"\x7f" * 512  # tarfile stops here silently (an invalid header past the first)
    path.write_bytes(bytes(raw))
    with pytest.raises(InputFormatError, match="image_set_01.tar: truncated: no end-of-archive block"):
        build_index(path)


def test_a_corrupt_gzip_stream_is_an_error_naming_the_archive(tmp_path):
    path = make_set(tmp_path / "image_set_01.tar.gz", NAMES)
    raw = bytearray(path.read_bytes())
    raw[-8] ^= 0xFF  # the CRC of the gzip trailer: only reading to the very end sees it
    path.write_bytes(bytes(raw))
    with pytest.raises(InputFormatError, match="image_set_01.tar.gz: truncated or corrupt archive"):
        build_index(path)


def test_an_empty_set_has_no_members_and_an_empty_file_is_an_error(tmp_path):
    empty = tmp_path / "image_set_01.tar"
    with tarfile.open(empty, "w"):
        pass
    assert build_index(empty).members == ()
    nothing = tmp_path / "image_set_02.tar"
    nothing.write_bytes(b"")
    with pytest.raises(InputFormatError, match="image_set_02.tar"):
        build_index(nothing)


def test_reading_members_of_a_set_damaged_after_indexing_names_archive_and_member(tmp_path):
    path = make_set(tmp_path / "image_set_01.tar.gz", NAMES)
    index = set_index(path)
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(InputFormatError, match="image_set_01.tar.gz") as err:
        list(read_members(index, index.members))
    assert err.value.member in NAMES


def test_indexes_of_many_sets_are_built_in_parallel_and_errors_name_the_set(tmp_path):
    from tol10m_assets.sources.eolindex import ensure_indexes

    sets = [make_set(tmp_path / f"image_set_0{i}.tar.gz", NAMES[: i + 1]) for i in range(1, 4)]
    got = ensure_indexes(sets, workers=2)
    assert [len(i.members) for i in got] == [2, 3, 4] and all(index_path(s).exists() for s in sets)
    bad = make_set(tmp_path / "image_set_05.tar.gz", NAMES)
    bad.write_bytes(bad.read_bytes()[:200])
    index_path(sets[0]).unlink()
    with pytest.raises(InputFormatError, match="image_set_05.tar.gz: truncated"):
        ensure_indexes([sets[0], bad], workers=2)
