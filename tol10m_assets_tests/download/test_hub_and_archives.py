"""The Hugging Face path against a hub on 127.0.0.1, archives that try to write outside their
destination, and the whole pipeline from an offline mirror of the sample world."""

import io
import os
import tarfile
import zipfile

import pytest
from dagster import instance_for_test, materialize

from tol10m_assets.download import DownloadError, UnsafeArchive, VerificationError, extract_tar, extract_zip, hf_download

from .conftest import blob

REPO = "imageomics/TreeOfLife-10M"


@pytest.mark.parametrize("backend", ["resumable", "hub"])
def test_a_hub_file_is_verified_then_a_no_op_and_a_wrong_checksum_is_refused(hub, tmp_path, backend):
    eol = hub.root / "dataset" / "EOL"
    eol.mkdir(parents=True)
    (eol / "image_set_01.tar.gz").write_bytes(blob(200_000))
    (eol / "tampered.tar.gz").write_bytes(blob(5_000, seed=b"t"))
    hub.tampered.add("dataset/EOL/tampered.tar.gz")
    dest = tmp_path / "sources" / "image_set_01.tar.gz"
    first = hf_download(REPO, "dataset/EOL/image_set_01.tar.gz", "main", dest, retries=0, backend=backend)
    assert first.fetched and first.path == dest and dest.read_bytes() == blob(200_000)
    assert not hf_download(REPO, "dataset/EOL/image_set_01.tar.gz", "main", dest, retries=0, backend=backend).fetched
    (tmp_path / "folder").mkdir()  # an existing folder: the repository's path is kept under it
    kept = hf_download(REPO, "dataset/EOL/image_set_01.tar.gz", "main", tmp_path / "folder", retries=0, backend=backend)
    assert kept.path == tmp_path / "folder" / "dataset" / "EOL" / "image_set_01.tar.gz"
    with pytest.raises(VerificationError):
        hf_download(REPO, "dataset/EOL/tampered.tar.gz", "main", tmp_path / "sources" / "tampered.tar.gz", retries=0, backend=backend)
    assert not (tmp_path / "sources" / "tampered.tar.gz").exists()  # never put in place
    with pytest.raises(DownloadError, match="nope.tar.gz"):
        hf_download(REPO, "dataset/EOL/nope.tar.gz", "main", tmp_path / "sources" / "nope.tar.gz", retries=0, backend=backend)


def _tar_with(tmp_path, name, kind="file"):
    path = tmp_path / f"evil-{kind}.tar"
    with tarfile.open(path, "w") as tar:
        ok = tarfile.TarInfo("train/ok.txt")
        ok.size = 2
        tar.addfile(ok, io.BytesIO(b"ok"))
        info = tarfile.TarInfo(name)
        if kind in ("symlink", "hardlink"):
            info.type = tarfile.SYMTYPE if kind == "symlink" else tarfile.LNKTYPE
            info.linkname = "/etc/passwd" if kind == "symlink" else "../../outside"
            tar.addfile(info)
        else:
            info.size = 1
            tar.addfile(info, io.BytesIO(b"x"))
    return path


@pytest.mark.parametrize(
    "name, kind",
    [("../escape.txt", "file"), ("train/../../escape.txt", "file"), ("/tmp/abs-escape.txt", "file"), ("train/link", "symlink"), ("train/hard", "hardlink")],
)
def test_tar_members_that_would_leave_the_destination_are_refused(tmp_path, name, kind):
    with pytest.raises(UnsafeArchive):
        extract_tar(_tar_with(tmp_path, name, kind), tmp_path / "dest")
    assert not (tmp_path / "escape.txt").exists() and not (tmp_path.parent / "escape.txt").exists()
    assert not os.path.lexists("/tmp/abs-escape.txt")
    assert not (tmp_path / "dest").exists()  # nothing half-extracted is put in place


@pytest.mark.parametrize("name", ["../../escape.txt", "/abs/escape.txt", "ok/../../escape.txt"])
def test_zip_members_that_would_leave_the_destination_are_refused(tmp_path, name):
    path = tmp_path / "evil.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("ok/a.txt", "a")
        zf.writestr(name, "x")
    with pytest.raises(UnsafeArchive):
        extract_zip(path, tmp_path / "dest")
    assert not (tmp_path / "escape.txt").exists() and not (tmp_path.parent / "escape.txt").exists()
    assert not (tmp_path / "dest").exists()


def test_a_safe_archive_is_extracted_and_counted(tmp_path):
    path = tmp_path / "good.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for name in ("train/a/1.jpg", "train/a/2.jpg", "train/b/3.jpg", "LICENSE"):
            info = tarfile.TarInfo(name)
            info.size = 1
            tar.addfile(info, io.BytesIO(b"x"))
    assert extract_tar(path, tmp_path / "dest", strip="train", expected_files=3) == 3
    assert sorted(str(p.relative_to(tmp_path / "dest")) for p in (tmp_path / "dest").rglob("*.jpg")) == ["a/1.jpg", "a/2.jpg", "b/3.jpg"]


def test_the_whole_pipeline_from_an_offline_mirror(tmp_path):
    """Download (from a mirror of the sample world) → mapping → … → taxa report, offline."""
    from tol10m_assets.defs.downloads import DownloadSettings, download_assets
    from tol10m_assets.defs.resources import TreeOfLifeConfig
    from tol10m_assets.run import SAMPLE_SETTINGS, build
    from tol10m_assets.sample.mirror import make_mirror
    from tol10m_assets_tests.pipeline.conftest import make_world

    world = tmp_path / "world"
    summary = make_world(world, images=120, seed=7)
    mirror = make_mirror(world, tmp_path / "mirror")
    tol = TreeOfLifeConfig(sources_root=str(tmp_path / "downloaded"), data_root=str(tmp_path / "data"), mode="reproduce", workers=1, **SAMPLE_SETTINGS)
    settings = DownloadSettings(
        mirror_dir=str(mirror), bioscan_file_count=summary["counts"]["bioscan"]["images"], inat21_file_count=0
    )
    resources = {"tol": tol, "downloads": settings}
    with instance_for_test() as instance:
        unpartitioned = [a for a in download_assets if a.partitions_def is None]
        result = materialize(unpartitioned, resources=resources, instance=instance)
        assert result.success
        failed = [c.check_name for c in result.get_asset_check_evaluations() if not c.passed]
        assert failed == []
        eol_sets = sorted(p.name for p in (mirror / "dataset" / "EOL").iterdir())
        keys = [n.removeprefix("image_set_").removesuffix(".tar.gz") for n in eol_sets]
        instance.add_dynamic_partitions("eol_image_sets", keys)  # planned (the job plan_eol_image_sets does this)
        for name in eol_sets:
            key = name.removeprefix("image_set_").removesuffix(".tar.gz")
            assert materialize([download_assets[0]], resources=resources, instance=instance, partition_key=key).success
        where = build(instance=instance, tol=tol, log=lambda *_: None)
    assert os.path.getsize(where["catalog"]) > 0 and os.path.exists(where["taxa_report"])
