"""Downloads against servers on 127.0.0.1: resume, verification, errors, HF endpoint, mirror,
safe extraction, and the whole pipeline from a mirror of the sample world."""

import hashlib
import io
import os
import tarfile
import zipfile

import pytest
from dagster import instance_for_test, materialize

from tol10m_assets.download import DownloadError, UnsafeArchive, VerificationError, download, extract_tar, extract_zip, hf_download

from .servers import serve


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "served"
    root.mkdir()
    srv, handler, base = serve(root)
    yield root, handler, base
    srv.shutdown()


def blob(n=3_000_000):
    return hashlib.sha256(b"seed").digest() * (n // 32)


def test_full_download_then_a_no_op(server, tmp_path):
    root, handler, base = server
    (root / "a.bin").write_bytes(blob())
    sha = hashlib.sha256(blob()).hexdigest()
    first = download(f"{base}/a.bin", tmp_path / "out" / "a.bin", size=len(blob()), sha256=sha)
    assert first.fetched and first.sha256 == sha and (tmp_path / "out" / "a.bin").read_bytes() == blob()
    again = download(f"{base}/a.bin", tmp_path / "out" / "a.bin", sha256=sha)
    assert not again.fetched and handler.hits["/a.bin"] == 1


def test_resume_after_a_dropped_connection(server, tmp_path):
    root, handler, base = server
    (root / "big.bin").write_bytes(blob())
    handler.drop_once.add("/big.bin")
    messages = []
    result = download(f"{base}/big.bin", tmp_path / "big.bin", backoff=0.01, log=messages.append)
    assert result.bytes == len(blob()) and (tmp_path / "big.bin").read_bytes() == blob()
    assert any("retry 1/5" in m for m in messages) and handler.hits["/big.bin"] == 2


def test_resume_from_a_part_file(server, tmp_path):
    root, handler, base = server
    (root / "c.bin").write_bytes(blob())
    (tmp_path / "c.bin.part").write_bytes(blob()[:1_000_000])
    result = download(f"{base}/c.bin", tmp_path / "c.bin")
    assert result.resumed_from == 1_000_000 and (tmp_path / "c.bin").read_bytes() == blob()


def test_wrong_bytes_are_caught_and_kept_aside(server, tmp_path):
    root, handler, base = server
    (root / "d.bin").write_bytes(blob(64_000))
    good = tmp_path / "d.bin"
    with pytest.raises(VerificationError, match="SHA-256"):
        download(f"{base}/wrong/d.bin", good, sha256=hashlib.sha256(blob(64_000)).hexdigest())
    assert (tmp_path / "d.bin.corrupt").exists() and not good.exists()


def test_404_and_500_name_the_url(server, tmp_path):
    root, handler, base = server
    with pytest.raises(DownloadError, match=r"missing\.bin does not exist \(404\)"):
        download(f"{base}/missing.bin", tmp_path / "m")
    with pytest.raises(DownloadError, match=r"status/500 answered 500.*after 2 retries"):
        download(f"{base}/status/500", tmp_path / "s", retries=2, backoff=0.01)
    assert handler.hits["/status/500"] == 3


def test_file_urls_and_offline_mirror(tmp_path):
    src = tmp_path / "mirror" / "x.bin"
    src.parent.mkdir()
    src.write_bytes(b"hello")
    assert download(src.as_uri(), tmp_path / "x.bin").bytes == 5


def test_huggingface_endpoint_download_verified(server, tmp_path, monkeypatch):
    root, handler, base = server
    import huggingface_hub.constants as hc

    (root / "dataset" / "EOL").mkdir(parents=True)
    (root / "dataset" / "EOL" / "image_set_01.tar.gz").write_bytes(blob(200_000))
    (root / "dataset" / "EOL" / "tampered.bin").write_bytes(b"x" * 100)
    monkeypatch.setenv("HF_ENDPOINT", base)
    monkeypatch.setattr(hc, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    result = hf_download("imageomics/TreeOfLife-10M", "dataset/EOL/image_set_01.tar.gz", "main", tmp_path / "sources")
    assert result.fetched and result.path.read_bytes() == blob(200_000)
    assert not hf_download("imageomics/TreeOfLife-10M", "dataset/EOL/image_set_01.tar.gz", "main", tmp_path / "sources").fetched
    with pytest.raises(VerificationError):
        hf_download("imageomics/TreeOfLife-10M", "dataset/EOL/tampered.bin", "main", tmp_path / "sources")
    with pytest.raises(DownloadError, match="check hf_repo"):
        hf_download("imageomics/TreeOfLife-10M", "dataset/EOL/nope.tar.gz", "main", tmp_path / "sources")


def _tar_with(tmp_path, name, kind="file"):
    path = tmp_path / f"evil-{kind}.tar"
    with tarfile.open(path, "w") as tar:
        info = tarfile.TarInfo(name)
        if kind == "symlink":
            info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
            tar.addfile(info)
        else:
            info.size = 1
            tar.addfile(info, io.BytesIO(b"x"))
    return path


@pytest.mark.parametrize("name, kind", [("../escape.txt", "file"), ("/abs/escape.txt", "file"), ("link", "symlink")])
def test_unsafe_tar_members_are_refused(tmp_path, name, kind):
    with pytest.raises(UnsafeArchive):
        extract_tar(_tar_with(tmp_path, name, kind), tmp_path / "dest")
    assert not (tmp_path / "escape.txt").exists()


def test_unsafe_zip_members_are_refused(tmp_path):
    path = tmp_path / "evil.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("ok/a.txt", "a")
        zf.writestr("../../escape.txt", "x")
    with pytest.raises(UnsafeArchive):
        extract_zip(path, tmp_path / "dest")
    assert not (tmp_path / "escape.txt").exists()


def test_the_whole_pipeline_from_an_offline_mirror(tmp_path):
    """Acceptance of the download issue: download (from a mirror) → … → taxa report, offline."""
    from tol10m_assets.defs.downloads import DownloadSettings, download_assets
    from tol10m_assets.defs.resources import TreeOfLifeConfig
    from tol10m_assets.run import build
    from tol10m_assets.sample.mirror import make_mirror
    from tol10m_assets_tests.pipeline.conftest import make_world

    world = tmp_path / "world"
    summary = make_world(world, images=120, seed=7)
    mirror = make_mirror(world, tmp_path / "mirror")
    sources = tmp_path / "downloaded"
    tol = TreeOfLifeConfig(sources_root=str(sources), data_root=str(tmp_path / "data"), mode="reproduce", workers=1)
    settings = DownloadSettings(mirror_dir=str(mirror), bioscan_file_count=summary["counts"]["bioscan"]["images"])
    with instance_for_test() as instance:
        resources = {"tol": tol, "downloads": settings}
        result = materialize(download_assets[1:], resources=resources, instance=instance)
        assert result.success
        checks = {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
        assert checks == {"file_count": True}
        for key in ("01", "02"):
            assert materialize(download_assets[:1], resources=resources, instance=instance, partition_key=key).success
        where = build(instance=instance, tol=tol, log=lambda *_: None)
    assert os.path.exists(where["taxa_report"]) and os.path.getsize(where["catalog"]) > 0
