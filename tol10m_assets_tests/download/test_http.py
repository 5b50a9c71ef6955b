"""Resumable, verified HTTP / file:// downloads against servers on 127.0.0.1."""

import json
import socket

import pytest

from tol10m_assets.download import DownloadError, Expected, RemoteMissing, VerificationError, download, verified_record
from tol10m_assets.download.http import Progress

from .conftest import blob, sha


def test_full_download_is_verified_recorded_and_then_a_no_op(files, tmp_path):
    data = blob()
    (files.root / "a.bin").write_bytes(data)
    dest = tmp_path / "out" / "a.bin"
    first = download(f"{files.url}/a.bin", dest, size=len(data), sha256=sha(data))
    assert first.fetched and first.sha256 == sha(data) and dest.read_bytes() == data
    record = json.loads((tmp_path / "out" / "a.bin.verified.json").read_text())
    assert record["bytes"] == len(data) and record["sha256"] == sha(data) and record["source"].endswith("/a.bin")
    again = download(f"{files.url}/a.bin", dest, sha256=sha(data))
    assert not again.fetched and files.hits["/a.bin"] == 1
    assert not (tmp_path / "out" / "a.bin.part").exists()


def test_a_dropped_connection_is_resumed_with_range_and_the_bytes_are_identical(files, tmp_path):
    data = blob()
    (files.root / "big.bin").write_bytes(data)
    files.drop_once.add("/big.bin")
    messages = []
    result = download(f"{files.url}/big.bin", tmp_path / "big.bin", sha256=sha(data), backoff=0.01, log=messages.append)
    assert (tmp_path / "big.bin").read_bytes() == data and result.sha256 == sha(data)
    assert files.hits["/big.bin"] == 2 and files.ranges == [f"bytes={len(data) // 2}-"]
    assert any("retry 1/5" in m and f"resuming at byte {len(data) // 2}" in m for m in messages)


def test_a_part_file_left_by_an_earlier_run_is_continued(files, tmp_path):
    data = blob()
    (files.root / "c.bin").write_bytes(data)
    (tmp_path / "c.bin.part").write_bytes(data[:1_000_000])
    result = download(f"{files.url}/c.bin", tmp_path / "c.bin", sha256=sha(data))
    assert result.resumed_from == 1_000_000 and files.ranges == ["bytes=1000000-"]
    assert (tmp_path / "c.bin").read_bytes() == data and result.sha256 == sha(data)  # hash covers the old part too


def test_wrong_bytes_are_caught_kept_as_corrupt_and_good_data_is_not_overwritten(files, tmp_path):
    data = blob(64_000)
    (files.root / "d.bin").write_bytes(data)
    dest = tmp_path / "d.bin"
    with pytest.raises(VerificationError, match=r"wrong/d\.bin: SHA-256 .* expected .*kept as .*d\.bin\.corrupt"):
        download(f"{files.url}/wrong/d.bin", dest, sha256=sha(data))
    assert (tmp_path / "d.bin.corrupt").read_bytes() == bytes(reversed(data)) and not dest.exists()
    download(f"{files.url}/d.bin", dest, sha256=sha(data))  # the good copy
    with pytest.raises(VerificationError):
        download(f"{files.url}/wrong/d.bin", dest, sha256=sha(data), force=True)
    assert dest.read_bytes() == data and verified_record(dest, Expected(sha256=sha(data)))


def test_size_and_md5_mismatches_are_caught(files, tmp_path):
    (files.root / "e.bin").write_bytes(b"hello world")
    with pytest.raises(VerificationError, match="11 bytes, expected 12"):
        download(f"{files.url}/e.bin", tmp_path / "e.bin", size=12)
    with pytest.raises(VerificationError, match="MD5"):
        download(f"{files.url}/e.bin", tmp_path / "e.bin", md5="0" * 32)
    assert download(f"{files.url}/e.bin", tmp_path / "e.bin", md5="5eb63bbbe01eeed093cb22bb8f5acdc3").md5 == "5eb63bbbe01eeed093cb22bb8f5acdc3"


def test_404_fails_at_once_naming_the_url_and_the_setting(files, tmp_path):
    with pytest.raises(RemoteMissing, match=r"/missing\.bin does not exist \(404\): set `downloads\.x_url`"):
        download(f"{files.url}/missing.bin", tmp_path / "m", setting="downloads.x_url", backoff=0.01)
    assert files.hits["/missing.bin"] == 1


def test_500_is_retried_with_backoff_then_fails(files, tmp_path):
    messages = []
    with pytest.raises(DownloadError, match=r"status/500 answered 500 .*after 2 retries.*downloads\.retries"):
        download(f"{files.url}/status/500", tmp_path / "s", retries=2, backoff=0.01, log=messages.append)
    assert files.hits["/status/500"] == 3
    assert [m.split("; ")[1].split(",")[0] for m in messages] == ["retry 1/2 in 0.0 s", "retry 2/2 in 0.0 s"]


def test_a_503_then_success_completes(files, tmp_path):
    (files.root / "f.bin").write_bytes(b"x" * 5000)
    files.fail_first["/f.bin"] = 2
    result = download(f"{files.url}/f.bin", tmp_path / "f.bin", backoff=0.01)
    assert result.bytes == 5000 and result.attempts == 3


def test_403_names_credentials(files, tmp_path):
    with pytest.raises(DownloadError, match=r"refused access \(403\)"):
        download(f"{files.url}/status/403", tmp_path / "t")


def test_dns_and_refused_connections_are_explained(tmp_path, monkeypatch):
    def no_dns(*args, **kwargs):
        raise socket.gaierror(-2, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    with pytest.raises(DownloadError, match=r"could not be resolved \(DNS.*set `downloads\.inat21_train_url`.*mirror_dir"):
        download("http://no-such-host.invalid/x", tmp_path / "x", setting="downloads.inat21_train_url")
    monkeypatch.undo()
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(DownloadError, match=r"could not be fetched .*after 1 retries"):
        download(f"http://127.0.0.1:{port}/x", tmp_path / "x", retries=1, backoff=0.01)


def test_progress_reports_bytes_rate_and_eta(files, tmp_path):
    (files.root / "p.bin").write_bytes(blob(2_500_000))
    seen: list[Progress] = []
    lines = []
    download(f"{files.url}/p.bin", tmp_path / "p.bin", progress=seen.append, log=lines.append, progress_every=0)
    assert seen[-1].done == seen[-1].total == 2_500_000 and seen[0].eta is not None
    assert "p.bin: 2.5 MB of 2.5 MB (100%) at" in lines[-1] and "/s" in lines[-1]


def test_file_urls_and_plain_paths(tmp_path):
    src = tmp_path / "mirror" / "x.bin"
    src.parent.mkdir()
    src.write_bytes(b"hello")
    assert download(src.as_uri(), tmp_path / "x.bin").bytes == 5
    assert download(str(src), tmp_path / "y.bin", sha256=sha(b"hello")).fetched
    with pytest.raises(RemoteMissing, match="does not exist"):
        download((tmp_path / "mirror" / "nope").as_uri(), tmp_path / "z.bin")
