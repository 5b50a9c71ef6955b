"""Issue 19, "trust nothing you did not check": each fault of the issue's table injected into a built
sample world. Each gives a clear error naming the culprit and the repair, leaves the published files
byte-identical, and the next run recovers without deleting anything by hand."""

import errno
import io
import json
import os
import shutil
import subprocess
import sys
import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dagster import instance_for_test

from tol10m_assets.cli import partition_rows
from tol10m_assets.definitions import build_definitions
from tol10m_assets.run import SAMPLE_SETTINGS, build

from .conftest import config, make_world
from .test_gates import digest, failure_text, fresh, run  # noqa: F401 - fresh is a fixture

pytestmark = pytest.mark.slow
PARTITION = "eol-01"
REPAIR = f"dagster asset materialize -m tol10m_assets.definitions --select shards --partition {PARTITION}"


def store_folder(tol, partition=PARTITION):
    return tol.paths().store / partition


def committed(tol, partition=PARTITION) -> dict:
    return json.loads((store_folder(tol, partition) / "manifest.json").read_text())


def samples_table(tol, partition=PARTITION):
    return store_folder(tol, partition) / committed(tol, partition)["generation"] / "samples.parquet"


def damaged_column(tol, instance, partition=PARTITION) -> str:
    return next(r for r in partition_rows(tol, instance) if r["partition"] == partition)["damaged"]


def assert_heals(tol, instance, defs):
    """The repair the message names works, with nothing deleted by hand, and the release follows."""
    shard = run(defs, instance, "write_shards", PARTITION)
    assert shard.success, failure_text(shard)
    meta = shard.asset_materializations_for_node("shards")[0].metadata
    assert "healed" in meta and damaged_column(tol, instance) == "-"
    published = run(defs, instance, "publish")
    assert published.success, failure_text(published)
    return published


def test_bit_rot_in_a_sample_table_refuses_the_release_naming_partition_file_and_repair(fresh):
    tol, instance, defs, _ = fresh
    paths = tol.paths()
    table = samples_table(tol)
    original = table.read_bytes()
    before = digest(paths.published)
    for offset in (4, len(original) // 3, len(original) // 2, len(original) - 12):  # data pages, footer, magic
        rotten = bytearray(original)
        rotten[offset] ^= 0x01
        table.write_bytes(bytes(rotten))
        result = run(defs, instance, "publish")
        assert not result.success, offset
        text = failure_text(result)
        assert f"{PARTITION}: {table} does not match the sha256 in its manifest" in text, text
        assert REPAIR in text
        assert digest(paths.published) == before
        assert "does not match the sha256" in damaged_column(tol, instance)  # tol10m partitions shows it
    table.write_bytes(bytes(rotten))
    assert_heals(tol, instance, defs)


def swap_two_labels(path):
    table = pq.read_table(path)
    rows = table.to_pylist()
    i, j = 0, next(k for k, r in enumerate(rows) if r["genus"] != rows[0]["genus"])
    labels = [c for c in table.column_names if c not in ("split", "treeoflife_id", "shard")]
    for c in labels:
        rows[i][c], rows[j][c] = rows[j][c], rows[i][c]
    pq.write_table(pa.Table.from_pylist(rows, schema=table.schema), path)
    return rows[i]["treeoflife_id"], rows[j]["treeoflife_id"]


def test_swapped_labels_in_a_sample_table_are_never_published(fresh):
    tol, instance, defs, _ = fresh
    paths = tol.paths()
    before = digest(paths.published)
    table = samples_table(tol)
    a, b = swap_two_labels(table)
    result = run(defs, instance, "publish")  # the manifest's hash catches the rewrite
    assert not result.success and f"{PARTITION}: {table} " in failure_text(result)  # its size or its sha256
    assert REPAIR in failure_text(result)
    assert digest(paths.published) == before

    # rewritten consistently, manifest hash included: the captions in the shards still disagree
    from tol10m_assets.store import sha256_file, write_json_durable

    manifest = committed(tol)
    size, sha = sha256_file(table)
    manifest["files"]["samples.parquet"] = {"bytes": size, "sha256": sha}
    (store_folder(tol) / "DAMAGED").unlink(missing_ok=True)
    write_json_durable(manifest, store_folder(tol) / "manifest.json")
    result = run(defs, instance, "publish")
    assert not result.success
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    consistency = checks["catalog_consistency"]
    assert not consistency.passed
    differ = consistency.metadata["captions_differ_from_catalog"].value
    assert any(a in line for line in differ) and any(b in line for line in differ), differ
    assert all("differ from the catalog row" in line for line in differ)
    assert digest(paths.published) == before
    shard = run(defs, instance, "write_shards", PARTITION)
    assert shard.success and run(defs, instance, "publish").success


def test_a_truncated_manifest_is_damaged_named_and_rebuilt_without_deleting_anything(fresh):
    tol, instance, defs, _ = fresh
    paths = tol.paths()
    before = digest(paths.published)
    manifest = store_folder(tol) / "manifest.json"
    manifest.write_bytes(manifest.read_bytes()[:300])
    result = run(defs, instance, "publish")
    assert not result.success
    text = failure_text(result)
    assert f"{PARTITION}: {manifest}: unreadable manifest" in text and REPAIR in text
    assert digest(paths.published) == before
    assert "unreadable manifest" in damaged_column(tol, instance)
    assert_heals(tol, instance, defs)
    assert (store_folder(tol) / ".manifest.json.damaged").is_file()  # kept aside for a look, not in the way
    assert len(list(store_folder(tol).glob("gen-*"))) == 1


def test_a_folder_a_person_put_in_releases_is_never_removed_and_the_previous_release_stays(fresh):
    tol, instance, defs, _ = fresh
    paths = tol.paths()
    backup = paths.releases / "2025-backup"
    backup.mkdir()
    (backup / "catalog.csv").write_text("my copy\n")
    names = []
    for _ in range(3):
        assert run(defs, instance, "publish").success
        names.append(os.readlink(paths.published).split("/")[-1])
    assert (backup / "catalog.csv").read_text() == "my copy\n"
    kept = sorted(p.name for p in paths.releases.iterdir() if p.is_dir() and not p.name.startswith("."))
    assert kept == sorted(["2025-backup", *names[-2:]])  # keep_releases 2: the published one and the one before
    index = json.loads((paths.releases / "index.json").read_text())
    assert [r["name"] for r in index["releases"]] == names[-2:]


def test_a_partition_rebuilt_under_a_release_that_cannot_lock_it_is_named(fresh):
    """Where locks do not work (NFS without lockd), the snapshot of generations still catches it."""
    from tol10m_assets import release
    from tol10m_assets.store import write_json_durable

    tol, instance, defs, _ = fresh
    paths = tol.paths()
    before = digest(paths.published)
    partitions = sorted(p.name for p in paths.store.iterdir() if (p / "manifest.json").exists())
    staged = release.stage_release(paths, partitions)
    manifest = committed(tol)
    write_json_durable({**manifest, "generation": "gen-another"}, store_folder(tol) / "manifest.json")
    with pytest.raises(release.ReleaseRefused, match=f"partition {PARTITION} was rebuilt during the release: run publish again"):
        release.publish(staged)
    staged.discard()
    assert digest(paths.published) == before
    write_json_durable(manifest, store_folder(tol) / "manifest.json")


def test_too_little_free_space_fails_first_naming_the_file_system(fresh, monkeypatch):
    tol, instance, defs, _ = fresh
    paths = tol.paths()
    before = digest(paths.published)
    generations = sorted(store_folder(tol).glob("gen-*"))
    monkeypatch.setenv("TOL10M_FREE_BYTES", "1000")
    release = run(defs, instance, "publish")
    assert not release.success and "the release's catalog, licences and indexes needs about" in failure_text(release)
    assert "not enough free space on the file system mounted at" in failure_text(release)
    assert not list(paths.releases.glob(".staging-*"))
    shard = run(defs, instance, "write_shards", PARTITION)
    assert not shard.success
    assert "not enough free space on the file system mounted at" in failure_text(shard)
    assert f"partition {PARTITION} needs about" in failure_text(shard)
    assert sorted(store_folder(tol).glob("gen-*")) == generations  # nothing was written
    assert digest(paths.published) == before
    monkeypatch.delenv("TOL10M_FREE_BYTES")
    assert run(defs, instance, "write_shards", PARTITION).success and run(defs, instance, "publish").success


def test_a_disk_that_fills_during_a_partition_is_an_error_and_the_next_run_leaves_nothing_behind(fresh, monkeypatch):
    from tol10m_assets.shards import writer

    tol, instance, defs, _ = fresh
    paths = tol.paths()
    before = digest(paths.published)
    old = committed(tol)
    real_write = writer._SplitSink.write
    calls = {"n": 0}

    def fill_up(self, data):
        calls["n"] += 1
        if calls["n"] == 5:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(self, data)

    monkeypatch.setattr(writer._SplitSink, "write", fill_up)
    shard = run(defs, instance, "write_shards", PARTITION)
    assert not shard.success
    assert "not enough free space on the file system mounted at" in failure_text(shard)
    assert committed(tol) == old and digest(paths.published) == before
    assert sorted(p.name for p in store_folder(tol).glob("gen-*")) == [old["generation"]]  # the space is given back
    monkeypatch.setattr(writer._SplitSink, "write", real_write)
    # a run killed while writing its manifest leaves a temporary file: the next run removes it
    (store_folder(tol) / ".manifest.json.tmp-4242-deadbeef").write_text('{"generation": ')
    assert run(defs, instance, "write_shards", PARTITION).success
    left = sorted(p.name for p in store_folder(tol).iterdir())
    assert left == [".lock", ".readers", committed(tol)["generation"], "manifest.json"], left


def solid_jpeg(size: int) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (64, 64), (250, 10, 10)).save(out, "JPEG", quality=95)
    data = out.getvalue()
    assert len(data) <= size
    return data + bytes(size - len(data))  # decoders stop at the end-of-image marker


@pytest.fixture
def plain_tar_world(tmp_path):
    """A built world whose set 01 is a plain ``.tar`` (members read in place): (tol, instance, defs, set)."""
    from tol10m_assets.sources.decompress import decompress_image_sets

    sources = tmp_path / "world"
    make_world(sources, images=80, seed=11)
    decompress_image_sets(sources / "eol" / "images", log=lambda *a: None)
    with instance_for_test() as instance:
        tol = config(sources, tmp_path / "data")
        build(instance=instance, tol=tol, log=lambda *_: None)
        yield tol, instance, build_definitions(tol), sources / "eol" / "images" / "image_set_01.tar"


def test_an_eol_set_rewritten_with_the_same_size_and_mtime_is_an_error_naming_it_then_reindexed(plain_tar_world):
    from tol10m_assets.shards import iter_shard_members
    from tol10m_assets.sources.eolindex import index_path, load_index

    tol, instance, defs, archive = plain_tar_world
    paths = tol.paths()
    before = digest(paths.published)
    index = load_index(archive)
    total = archive.stat().st_size
    catalog = {r["eol_content_id"]: r for r in _catalog_rows(paths)}
    middle = [m for m in index.members if 1.1e6 < m.offset < total - 1.1e6 and m.size > 2000
              and int(m.name.split("_")[0]) in catalog]
    victim = max(middle, key=lambda m: m.size)  # past the fingerprint's edges, header unchanged
    st = archive.stat()
    with open(archive, "r+b") as f:
        f.seek(victim.offset)
        f.write(solid_jpeg(victim.size))
    os.utime(archive, ns=(st.st_atime_ns, st.st_mtime_ns))  # touch -r: size and mtime as before
    shard = run(defs, instance, "write_shards", PARTITION)
    assert not shard.success
    text = failure_text(shard)
    assert f"{archive}: member '{victim.name}' is not the one indexed" in text and "re-materialize `mapping`" in text, text
    assert digest(paths.published) == before
    assert not index_path(archive).exists()  # the stale index is gone by itself

    assert run(defs, instance, "prepare").success  # the repair the message names
    assert run(defs, instance, "write_shards", PARTITION).success and run(defs, instance, "publish").success
    key = catalog[int(victim.name.split("_")[0])]["treeoflife_id"]
    for shard_path in sorted((paths.dataset / "train").glob("*.tar")) + sorted((paths.dataset / "val").glob("*.tar")):
        for sample in iter_shard_members(shard_path):
            if sample["__key__"] == key:
                return _assert_red(shard_path, key)
    pytest.fail(f"{key} not published")


def _catalog_rows(paths):
    import pandas as pd

    frame = pd.read_parquet(paths.catalog_parquet)
    frame = frame[frame["eol_content_id"].notna()]
    return [{"eol_content_id": int(r.eol_content_id), "treeoflife_id": r.treeoflife_id} for r in frame.itertuples()]


def _assert_red(shard_path, key):
    import tarfile

    from PIL import Image

    with tarfile.open(shard_path) as tar:
        image = Image.open(tar.extractfile(f"{key}.jpg")).convert("RGB")
    r, g, b = image.resize((1, 1)).getpixel((0, 0))
    assert r > 200 and g < 60 and b < 60  # the image the member holds now, not the stale one


LONG_GENUS = ('Quo"ted, comma\u200fשם\u202b species ' * 400)[:10_000].strip()


def test_names_with_control_characters_stop_at_the_reader_and_long_odd_names_survive_the_csv(tmp_path):
    import csv

    import pandas as pd

    from tol10m_assets.taxonomy import Taxon

    sources = tmp_path / "world"
    make_world(sources, images=80, seed=11)
    tab = sources / "metadata" / "taxon.tab"
    lines = tab.read_text(encoding="utf-8").splitlines(keepends=True)
    header = lines[0].rstrip("\n").split("\t")
    col = {c: header.index(c) for c in ("taxonRank", "canonicalName", "scientificName")}
    at = next(i for i, line in enumerate(lines) if line.split("\t")[col["taxonRank"]] == "genus" and "Passer" in line)
    fields = lines[at].rstrip("\n").split("\t")
    fields[col["canonicalName"]] = fields[col["scientificName"]] = LONG_GENUS
    lines[at] = "\t".join(fields) + "\n"
    tab.write_text("".join(lines), encoding="utf-8")
    with instance_for_test() as instance:
        tol = config(sources, tmp_path / "data")
        build(instance=instance, tol=tol, log=lambda *_: None)
        paths = tol.paths()
        expected = Taxon(genus=LONG_GENUS).as_tuple()[5]
        assert len(expected) > 9000 and '"' in expected and "," in expected and "\u200f" in expected
        parquet = pd.read_parquet(paths.catalog_parquet)
        with open(paths.catalog_csv, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        long_rows = [r for r in rows if r["genus"] == expected]
        assert long_rows and len(long_rows) == (parquet["genus"] == expected).sum()  # byte for byte, every row
        # a NUL in a name stops the build at the reader, naming file and line; nothing published changes
        before = digest(paths.published)
        fields[col["canonicalName"]] = "Pas\x00ser"
        lines[at] = "\t".join(fields) + "\n"
        tab.write_text("".join(lines), encoding="utf-8")
        defs = build_definitions(tol)
        result = run(defs, instance, "prepare")
        assert not result.success
        assert f"{tab}:{at + 1}: column canonicalName holds a control character (U+0000)" in failure_text(result)
        assert digest(paths.published) == before


# --- two processes: a release and a rebuild of a partition it reads -------------------------------


def _job(case, *args, env_extra=None, **cfg):
    env = {**os.environ, "DAGSTER_HOME": str(case / "home"), **(env_extra or {})}
    env.pop("TOL10M_FAULT", None)
    settings = {"sources_root": str(case / "world"), "data_root": str(case / "data"), "workers": 1, **SAMPLE_SETTINGS, **cfg}
    cmd = [sys.executable, "-m", "tol10m_assets_tests.pipeline.run_job", *args, "--config", json.dumps(settings)]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_a_rebuild_during_a_release_waits_for_it_and_the_release_publishes_what_it_read(tmp_path):
    case = tmp_path
    make_world(case / "world", images=80, seed=11)
    (case / "home").mkdir()
    built = _job(case, "build")
    assert built.wait(600) == 0, built.stderr.read()[-3000:]
    store = case / "data" / "store" / "224x224" / PARTITION
    old = json.loads((store / "manifest.json").read_text())["generation"]

    flag = case / "paused"
    release = _job(case, "publish", env_extra={"TOL10M_PAUSE": f"release.linked={flag}"})
    writer = None
    try:
        deadline = time.monotonic() + 300
        while not flag.exists():
            assert release.poll() is None, release.stderr.read()[-3000:]
            assert time.monotonic() < deadline
            time.sleep(0.2)
        writer = _job(case, "write_shards", PARTITION, jpeg_quality=90)
        while not [g for g in store.glob("gen-*") if g.name != old and (g / "manifest.json").exists()]:
            assert writer.poll() is None, writer.stderr.read()[-3000:]  # it must wait, not fail
            assert time.monotonic() < deadline
            time.sleep(0.2)
        time.sleep(2)
        assert writer.poll() is None  # staged and checked, waiting for the release to let go
        assert json.loads((store / "manifest.json").read_text())["generation"] == old
        assert (store / old).is_dir()
        flag.unlink()
        assert release.wait(300) == 0, release.stderr.read()[-3000:]
        assert writer.wait(300) == 0, writer.stderr.read()[-3000:]
    finally:
        for proc in (release, writer):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
        flag.unlink(missing_ok=True)
    published = json.loads((case / "data" / "published" / "release.json").read_text())
    assert published["partitions"][PARTITION] == old  # what it read, consistently
    new = json.loads((store / "manifest.json").read_text())
    assert new["generation"] != old and new["settings"]["image"]["quality"] == 90
    again = _job(case, "publish")
    assert again.wait(600) == 0, again.stderr.read()[-3000:]
    assert json.loads((case / "data" / "published" / "release.json").read_text())["partitions"][PARTITION] == new["generation"]
    shutil.rmtree(case / "data", ignore_errors=True)


def test_caption_check_zero_reads_no_shard_and_one_reads_every_shard(fresh):
    from tol10m_assets import release

    tol, _, _, _ = fresh
    paths = tol.paths()
    partitions = sorted(p.name for p in paths.store.iterdir() if (p / "manifest.json").exists())
    got = {}
    for share in (0.0, 1.0):
        staged = release.stage_release(paths, partitions, caption_check=share)
        try:
            release.write_catalog(staged, paths.mapping)
            got[share] = (release.check_captions(staged), len(staged.shards))
        finally:
            staged.discard()
    none, shards = got[0.0]
    assert (none["shards"], none["samples"], none["mismatches"], none["bytes_of_shards"]) == (0, 0, 0, 0)
    every, shards = got[1.0]
    assert every["shards"] == shards > 0 and every["samples"] > 0 and every["mismatches"] == 0
