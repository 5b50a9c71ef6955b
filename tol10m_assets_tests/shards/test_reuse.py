"""Reuse instead of re-encode (issue 22): a rebuild copies every unchanged resized image from the
partition's last committed generation and gives the same bytes as a build from scratch."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from bench import relabel_bench as rb
from tol10m_assets.layout import SourceLayout
from tol10m_assets.paths import BuildPaths
from tol10m_assets.shards import ImageSettings
from tol10m_assets.shards.reuse import REUSE_TABLE
from tol10m_assets.sources import Chunking
from tol10m_assets.store import PartitionStore

IMAGES = 300


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    return rb.make_world(tmp_path_factory.mktemp("reuse-world") / "world", IMAGES)


@pytest.fixture
def built(pristine, tmp_path):
    """A copy of the world (its sources may be changed) with every partition built once."""
    world = tmp_path / "world"
    shutil.copytree(pristine, world)  # copy2: sizes and mtimes kept
    layout, chunking, paths = SourceLayout.under(world), Chunking(), BuildPaths(tmp_path / "build")
    rb.prepare(layout, chunking, paths)
    parts = rb.partitions(paths)
    rb.build(layout, chunking, paths, parts)
    return layout, chunking, paths, parts


def same_as_scratch(layout, chunking, paths, tmp_path) -> None:
    diffs = rb.compare_with_scratch(layout, chunking, paths, BuildPaths(tmp_path / "scratch"))
    assert diffs == [], f"differs from a build from scratch: {diffs[:10]}"


def manifest(paths, partition):
    return PartitionStore(paths.store).read_manifest(partition)


def test_relabel_reuses_every_image_and_matches_a_build_from_scratch(built, tmp_path):
    layout, chunking, paths, parts = built
    what, touched = rb.one_name(layout, chunking, paths)
    assert touched and set(touched) < set(parts), what
    figures = rb.build(layout, chunking, paths, touched)
    for p in touched:
        f = figures[p]
        assert f["images_decoded"] == 0 and f["images_reused"] > 0 and f["fallbacks"] == 0, (p, f)
        m = manifest(paths, p)
        assert m["reuse"]["images_reused"] == f["images_reused"] and m["reuse"]["bytes_copied"] > 0
        assert m["check"]["images_checked"] == 0 and m["check"]["images_verified"] >= f["images_reused"] - f["corrupt_reused"]
        if p.startswith("eol-"):  # a .tar.gz set every image of which is reused is not inflated
            assert f["source_stream"] == "skipped", f
    same_as_scratch(layout, chunking, paths, tmp_path)


def _replace_eol_member(archive: Path, member_index: int = 0) -> str:
    """Rewrite a .tar.gz set with one member's bytes replaced by another (valid) JPEG."""
    from PIL import Image

    with tarfile.open(archive, "r:gz") as tar:
        members = [(m, tar.extractfile(m).read() if m.isfile() else None) for m in tar.getmembers()]
    files = [i for i, (m, _) in enumerate(members) if m.isfile() and m.name.endswith(".jpg")]
    target = files[member_index]
    out = io.BytesIO()
    Image.new("RGB", (320, 240), (12, 200, 40)).save(out, "JPEG", quality=90)
    info, _ = members[target]
    members[target] = (info, out.getvalue())
    info.size = len(out.getvalue())
    temp = archive.with_name(archive.name + ".new")
    with tarfile.open(temp, "w:gz", format=tarfile.GNU_FORMAT) as tar:
        for m, data in members:
            tar.addfile(m, io.BytesIO(data) if data is not None else None)
    os.replace(temp, archive)
    return f"{archive.name}:{info.name}"


def test_a_changed_source_image_is_decoded_again_the_rest_reused(built, tmp_path):
    layout, chunking, paths, parts = built
    # one EOL member (a .tar.gz set rewritten) and one iNat21 file
    eol_part = next(p for p in parts if p.startswith("eol-"))
    archive = next(a for a in sorted(layout.eol_images.glob("image_set_*.tar.gz")) if a.name[10:12] == eol_part[4:])
    reused_before = pq.read_table(PartitionStore(paths.store).generation_dir(eol_part, manifest(paths, eol_part)) / REUSE_TABLE)
    origins = set(reused_before.column("origin").to_pylist())
    origin = _replace_eol_member(archive)
    inat_part = next(p for p in parts if p.startswith("inat21-"))
    photo = sorted(f for f in layout.inat21_train.rglob("*.jpg"))[0]
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (300, 200), (200, 30, 30)).save(buf, "JPEG", quality=90)
    photo.write_bytes(buf.getvalue())
    figures = rb.build(layout, chunking, paths, [eol_part, inat_part], workers=2)  # reused and decoded, pooled
    for p in (eol_part, inat_part):
        f = figures[p]
        assert f["source_stream"] == "read" and f["images_reused"] > 0, (p, f)
    assert figures[inat_part]["images_decoded"] == 1, figures[inat_part]
    assert figures[eol_part]["images_decoded"] == (1 if origin in origins else 0), figures[eol_part]
    same_as_scratch(layout, chunking, paths, tmp_path)


def test_changed_image_settings_disable_reuse(built, tmp_path):
    layout, chunking, paths, parts = built
    p = parts[0]
    for settings in (ImageSettings(quality=95), ImageSettings(width=160, quality=95)):
        f = rb.build(layout, chunking, paths, [p], settings=settings)[p]
        assert f["images_reused"] == 0 and f["images_decoded"] > 0, f
        assert f["not_reused"] == "image settings or encoder changed"
    # the same settings again: everything reused
    f = rb.build(layout, chunking, paths, [p], settings=ImageSettings(width=160, quality=95))[p]
    assert f["images_decoded"] == 0 and f["images_reused"] > 0, f


@pytest.mark.parametrize("source", ["eol", "inat21"])
def test_a_damaged_old_shard_falls_back_to_decoding(built, tmp_path, source):
    """Bytes of a reused image damaged in the old shard: decoded again, never copied wrong."""
    layout, chunking, paths, parts = built
    p = next(x for x in parts if x.startswith(source))
    store = PartitionStore(paths.store)
    gen = store.generation_dir(p, manifest(paths, p))
    table = pq.read_table(gen / REUSE_TABLE).to_pylist()
    row = next(r for r in table if r["status"] == "ok")
    shard = gen / row["split"] / row["shard"]
    with open(shard, "r+b") as f:  # flip bytes inside the JPEG's entropy-coded data
        at = row["offset"] + row["size"] // 2
        f.seek(at)
        old = f.read(8)
        f.seek(at)
        f.write(bytes(b ^ 0x5A for b in old))
    logs = []
    from tol10m_assets.partition import build_partition

    b = build_partition(layout, chunking, paths, p, ImageSettings(), rare=rb.rare_rules(layout),
                        max_corrupt_share=rb.MAX_CORRUPT_SHARE, log=logs.append)
    assert b.committed, b.report.problems[:5]
    assert b.reuse["images_decoded"] >= 1 and b.reuse["fallbacks"] >= 1 and b.reuse["images_reused"] > 0, b.reuse
    if source == "eol":  # the set was not read: the partition is written again with it read
        assert "damaged; building again with the source read" in "\n".join(logs)
    same_as_scratch(layout, chunking, paths, tmp_path)


def test_check_wds_verifies_reused_images_by_crc(tmp_path):
    """A reused image whose bytes differ from the recorded CRC fails check_wds (it is never decoded)."""
    from tol10m_assets.shards import check_partition_shards, write_partition
    from tol10m_assets.shards.writer import SampleJob
    from tol10m_assets.shards.tarfiles import TEXT_SUFFIXES
    from tol10m_assets.shards.reuse import crc32
    from PIL import Image

    def photo(color):
        out = io.BytesIO()
        Image.new("RGB", (64, 48), color).save(out, "JPEG")
        return out.getvalue()

    texts = {s: "x" for s in TEXT_SUFFIXES}
    where = []
    jobs = [(SampleJob(f"k{i}", ("train",), texts, f"o{i}"), photo((i * 40, 10, 10))) for i in range(3)]
    settings = ImageSettings(width=32, height=32)
    r = write_partition(tmp_path, "eol-01", jobs, settings, on_image=lambda job, src, ok, data, w: where.append((data, w)))
    known = {}
    for data, w in where:
        split, shard, offset = w[0]
        known.setdefault((split, shard), {})[offset] = (len(data), crc32(data) & 0xFFFFFFFF)
    good = check_partition_shards(tmp_path, "eol-01", settings, expected=r.samples, known=known)
    assert good.passed and good.images_checked == 0 and good.images_verified == 3
    (key, offsets), = known.items()
    first = min(offsets)
    offsets[first] = (offsets[first][0], offsets[first][1] ^ 1)
    bad = check_partition_shards(tmp_path, "eol-01", settings, expected=r.samples, known=known)
    assert not bad.passed and "reused image differs" in bad.problems[0]


KILL_SCRIPT = """
import sys
from bench import relabel_bench as rb
from tol10m_assets.layout import SourceLayout
from tol10m_assets.paths import BuildPaths
from tol10m_assets.sources import Chunking
from pathlib import Path
rb.build(SourceLayout.under(sys.argv[1]), Chunking(), BuildPaths(Path(sys.argv[2])), sys.argv[3:])
"""


@pytest.mark.parametrize("point", ["partition.written", "partition.checked", "partition.manifest-staged"])
def test_a_kill_during_a_reuse_rebuild_leaves_the_last_generation_intact(built, tmp_path, point):
    layout, chunking, paths, parts = built
    what, touched = rb.one_name(layout, chunking, paths)
    before = rb.committed_files(paths.store)
    manifests = {p: manifest(paths, p)["generation"] for p in parts}
    env = {**os.environ, "TOL10M_FAULT": point}
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run([sys.executable, "-c", KILL_SCRIPT, str(tmp_path / "world"), str(paths.root), *touched],
                          env=env, cwd=root, capture_output=True, text=True, timeout=300)
    assert proc.returncode == -9, proc.stderr[-2000:]
    assert rb.committed_files(paths.store) == before, "a killed reuse rebuild changed the committed files"
    assert {p: manifest(paths, p)["generation"] for p in parts} == manifests
    # the next run heals it: reuse still works from the intact generation
    figures = rb.build(layout, chunking, paths, touched)
    assert all(figures[p]["images_decoded"] == 0 for p in touched), figures
    same_as_scratch(layout, chunking, paths, tmp_path)
