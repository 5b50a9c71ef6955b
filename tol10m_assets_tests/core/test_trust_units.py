"""Issue 19, the pure core: what the build made is the only thing it removes; sources are checked by
content; text is data; a full disk is an error naming the file system."""

import errno
import io
import json
import os
import random
import tarfile

import pytest

from tol10m_assets import releases_index
from tol10m_assets.errors import InputFormatError
from tol10m_assets.sources import eolindex
from tol10m_assets.sources.eolindex import SetChanged, index_path, load_index, read_members, set_index
from tol10m_assets.store import DiskFull, PartitionStore, ensure_free, write_json_durable


# --- releases index -----------------------------------------------------------------------------


def make_release(releases, name):
    (releases / name).mkdir(parents=True)
    (releases / name / "release.json").write_text(json.dumps({"name": name}))
    releases_index.record(releases, name)


def test_clean_up_removes_only_recorded_releases_and_keeps_the_previous_one(tmp_path):
    releases = tmp_path / "releases"
    backup = releases / "2025-backup"
    backup.mkdir(parents=True)
    (backup / "catalog.csv").write_text("a person's copy\n")
    names = [f"2026010{i}T000000Z-abcdef" for i in range(1, 6)]
    for name in names:
        make_release(releases, name)
    removed = releases_index.prune(releases, names[-1], keep=2)
    assert removed == names[:3]
    assert sorted(p.name for p in releases.iterdir() if p.is_dir()) == ["2025-backup", *names[3:]]
    assert (backup / "catalog.csv").read_text() == "a person's copy\n"  # never touched
    assert [r["name"] for r in releases_index.load(releases)] == names[3:]
    # keep is at least 2: the published release and the one before it, for a roll-back
    assert releases_index.prune(releases, names[-1], keep=1) == []
    assert (releases / names[3]).is_dir()


def test_a_rolled_back_release_and_the_one_before_it_are_kept(tmp_path):
    releases = tmp_path / "releases"
    names = [f"2026010{i}T000000Z-abcdef" for i in range(1, 5)]
    for name in names:
        make_release(releases, name)
    removed = releases_index.prune(releases, names[1], keep=2)  # published points at an older one
    assert names[1] in [p.name for p in releases.iterdir()] and names[0] in [p.name for p in releases.iterdir()]
    assert removed == []


def test_releases_of_a_store_from_before_the_index_are_adopted_by_their_own_record(tmp_path):
    releases = tmp_path / "releases"
    for name in ("20250101T000000Z-aaaaaa", "20250102T000000Z-bbbbbb"):
        (releases / name).mkdir(parents=True)
        (releases / name / "release.json").write_text(json.dumps({"name": name}))
    (releases / "2025-backup").mkdir()
    (releases / "2025-backup" / "release.json").write_text(json.dumps({"name": "something else"}))
    assert [r["name"] for r in releases_index.load(releases)] == ["20250101T000000Z-aaaaaa", "20250102T000000Z-bbbbbb"]


def test_an_unreadable_releases_index_removes_nothing_and_says_so(tmp_path):
    releases = tmp_path / "releases"
    make_release(releases, "20260101T000000Z-abcdef")
    releases_index.index_path(releases).write_text("{torn")
    with pytest.raises(RuntimeError, match="index.json: unreadable releases index"):
        releases_index.prune(releases, "x", 2)
    assert (releases / "20260101T000000Z-abcdef").is_dir()


# --- EOL sets by content --------------------------------------------------------------------------


def make_set(path, payloads):
    mode = "w:gz" if path.name.endswith(".gz") else "w:"
    with tarfile.open(path, mode, format=tarfile.GNU_FORMAT) as tar:
        for i, data in enumerate(payloads):
            info = tarfile.TarInfo(f"{i + 1}_{i + 2}_eol-full-size-copy.jpg")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def rewrite_same_size_and_mtime(path, payloads):
    """Another set with the same size and mtime (``touch -r``)."""
    st = path.stat()
    make_set(path, payloads)
    assert path.stat().st_size == st.st_size
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


@pytest.mark.parametrize("name", ["image_set_01.tar", "image_set_01.tar.gz"])
def test_a_set_rewritten_with_the_same_size_and_mtime_is_indexed_again(tmp_path, name):
    images = [random.Random(i).randbytes(3000) for i in range(5)]  # incompressible: a .tar.gz of the same size
    path = make_set(tmp_path / name, images)
    first = set_index(path)
    assert load_index(path) is not None
    rewrite_same_size_and_mtime(path, images[::-1])  # the members' images swapped
    assert load_index(path) is None  # the fingerprint differs: never trusted again
    again = set_index(path)
    assert [m.crc for m in again.members] == [m.crc for m in reversed(first.members)]
    assert list(read_members(again, again.members))[0] == images[4]


@pytest.mark.parametrize("name", ["image_set_01.tar", "image_set_01.tar.gz"])
def test_a_member_changed_past_the_fingerprint_is_an_error_naming_the_set_and_the_next_run_reindexes(tmp_path, name, monkeypatch):
    monkeypatch.setattr(eolindex, "FINGERPRINT_EDGE", 16)  # a fingerprint that does not see the member's bytes
    payloads = [random.Random(i).randbytes(20000) for i in range(3)]
    path = make_set(tmp_path / name, payloads)
    index = set_index(path)
    changed = list(payloads)
    changed[1] = payloads[1][:10000] + random.Random(9).randbytes(10000)  # same size, other bytes, headers unchanged
    if name.endswith(".gz"):  # a gzip stream's end (its CRC) is in any fingerprint: read with the index in memory
        make_set(path, changed)
        stale = index
    else:
        rewrite_same_size_and_mtime(path, changed)
        stale = load_index(path)  # size, mtime, headers and the (shortened) edges all agree
        assert stale is not None
    with pytest.raises(SetChanged, match=rf"{name}: member '2_3_eol-full-size-copy.jpg' is not the one indexed") as err:
        list(read_members(stale, stale.members))
    assert "re-materialize `mapping`" in str(err.value)
    assert not index_path(path).exists()  # the stale index is gone: the next run indexes the set again
    fresh = set_index(path)
    assert list(read_members(fresh, fresh.members)) == changed


def test_a_member_read_in_place_is_checked_against_its_crc(tmp_path, monkeypatch):
    from tol10m_assets.sources.images import MemberSlice

    monkeypatch.setattr(eolindex, "FINGERPRINT_EDGE", 16)
    path = make_set(tmp_path / "image_set_01.tar", [bytes([i]) * 20000 for i in range(3)])
    index = set_index(path)
    m = index.members[1]
    member = MemberSlice(path, m.name, m.offset, m.size, m.crc)
    assert member.read_bytes() == bytes([1]) * 20000
    with open(path, "r+b") as f:  # flip bytes inside the member, in place
        f.seek(m.offset + 5000)
        f.write(b"\xff" * 10)
    with pytest.raises(SetChanged, match="image_set_01.tar: member '2_3_eol-full-size-copy.jpg'"):
        member.read_bytes()


def test_an_index_from_before_the_fingerprint_is_stale(tmp_path):
    path = make_set(tmp_path / "image_set_01.tar", [b"x" * 100])
    set_index(path)
    data = json.loads(index_path(path).read_text())
    data.pop("fingerprint")
    data["members"] = [m[:3] for m in data["members"]]
    index_path(path).write_text(json.dumps(data))
    assert load_index(path) is None


# --- text is data ---------------------------------------------------------------------------------


TAXON_HEADER = "taxonID\tparentNameUsageID\ttaxonRank\tcanonicalName\tscientificName\teolID\n"


def test_a_nul_in_a_taxon_tab_name_is_an_error_naming_file_line_and_column(tmp_path):
    from tol10m_assets.taxonomy.eol import EolHierarchy

    tab = tmp_path / "taxon.tab"
    tab.write_text(TAXON_HEADER + "1\t\tgenus\tPasser\tPasser\t10\n" + "2\t1\tspecies\tPasser mon\x00tanus\tx\t11\n")
    with pytest.raises(InputFormatError, match=r"taxon.tab:3: column canonicalName holds a control character \(U\+0000\)"):
        EolHierarchy.from_files(tab)


@pytest.mark.parametrize("bad", ["Tree\nSparrow", "Tree\tSparrow", "Tree\x1bSparrow", "Tree\x85Sparrow"])
def test_a_control_character_in_a_quoted_csv_name_is_an_error_naming_the_line(tmp_path, bad):
    from tol10m_assets.taxonomy.readers import iter_rows

    path = tmp_path / "names.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        f.write('id,vernacularName\n1,"House Sparrow"\n2,"' + bad + '"\n')
    rows = iter_rows(path, ["id", "vernacularName"], names=["vernacularName"])
    assert next(rows) == (2, {"id": "1", "vernacularName": "House Sparrow"})
    with pytest.raises(InputFormatError, match=r"names.csv:3: column vernacularName holds a control character"):
        next(rows)


def test_control_characters_outside_the_name_columns_are_left_alone_but_a_nul_is_not(tmp_path):
    from tol10m_assets.taxonomy.readers import iter_rows

    path = tmp_path / "media.csv"
    path.write_text('id,title\n1,"two\nlines"\n')
    assert list(iter_rows(path, ["id"])) == [(2, {"id": "1", "title": "two\nlines"})]
    path.write_text('id,title\n1,"a\x00b"\n')
    with pytest.raises(InputFormatError, match="media.csv:2: column title"):
        list(iter_rows(path, ["id"]))


def test_the_checked_captions_are_the_written_ones():
    from tol10m_assets.taxonomy import Taxon, captions
    from tol10m_assets.taxonomy.taxon import caption_texts

    for taxon, common in [(Taxon("Animalia", "", "", "", "", "Passer", "montanus"), "Eurasian Tree Sparrow"),
                          (Taxon("", "", "", "", "", "", "aphelocoma"), ""),
                          (Taxon("Plantae", "Tracheophyta"), "")]:
        assert caption_texts(taxon.as_tuple(), common) == captions(taxon, common)


# --- a full disk ----------------------------------------------------------------------------------


def test_too_little_free_space_fails_before_writing_naming_the_file_system(tmp_path, monkeypatch):
    monkeypatch.setenv("TOL10M_FREE_BYTES", "1000")
    with pytest.raises(DiskFull, match=r"file system mounted at /.*1.0 KB free, partition eol-01 needs about 2.0 MB") as err:
        ensure_free(tmp_path, 2_000_000, "partition eol-01")
    assert err.value.errno == errno.ENOSPC
    monkeypatch.setenv("TOL10M_FREE_BYTES", str(10**9))
    ensure_free(tmp_path, 2_000_000, "partition eol-01")


def test_enospc_writing_a_manifest_leaves_no_temporary_file(tmp_path, monkeypatch):
    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(DiskFull, match="not enough free space on the file system mounted at"):
        write_json_durable({"a": 1}, tmp_path / "manifest.json")
    assert list(tmp_path.iterdir()) == []


def test_the_next_writer_removes_temporary_manifests_and_sets_an_unreadable_manifest_aside(tmp_path):
    store = PartitionStore(tmp_path)
    folder = store.folder("eol-01")
    (folder / "gen-aaaa").mkdir(parents=True)
    (folder / "manifest.json").write_text('{"generation": "gen-aa')  # truncated
    (folder / ".manifest.json.tmp-123-abcd").write_text("{")
    assert store.status("eol-01").startswith("damaged: ") and "unreadable manifest" in store.status("eol-01")
    with store.lock("eol-01", {}):
        removed = store.remove_uncommitted("eol-01")
    assert set(removed) == {"manifest.json", "gen-aaaa", ".manifest.json.tmp-123-abcd"}
    assert sorted(p.name for p in folder.iterdir()) == [".lock", ".manifest.json.damaged"]
    assert store.read_manifest("eol-01") is None and store.status("eol-01") == "never committed"
