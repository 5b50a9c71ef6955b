"""`tol10m push`: a release uploaded to a local hub on 127.0.0.1 through huggingface_hub; a second push
uploads nothing, an interrupted one resumes with only what is missing."""

import json

import pytest
import yaml
from huggingface_hub import DatasetCard, HfApi
from huggingface_hub import constants as hf_constants

from tol10m_assets import cli
from tol10m_assets.push import PushError, push_release, resolve_release
from tol10m_assets_tests.release.hub_upload_server import UploadHub

REPO = "tol-org/treeoflife-sample"


@pytest.fixture
def hub(monkeypatch):
    server = UploadHub(REPO)
    monkeypatch.setattr(hf_constants, "ENDPOINT", server.url)
    monkeypatch.setattr(hf_constants, "HF_HUB_DISABLE_XET", True)  # the local hub speaks LFS, not Xet
    monkeypatch.setenv("HF_TOKEN", "hf_local_test_token")
    yield server
    server.close()


def release_files(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_a_push_uploads_the_release_and_a_root_card_and_a_second_push_uploads_nothing(built, hub, tmp_path):
    tol, *_ = built
    folder = tol.paths().published.resolve()
    api = HfApi(endpoint=hub.url)
    first = push_release(folder, REPO, staging=tmp_path / "s", api=api, log=lambda *_: None)
    local = release_files(folder)
    assert {k: v for k, v in hub.files.items() if k != "README.md"} == local  # every file, byte for byte
    assert first["uploaded"] == len(local) + 1 and len(hub.puts) == sum(len(v) >= hub.lfs_min_size for v in hub.files.values())
    assert hub.commits[-1] == ["release.json"]  # the marker of a finished push comes last
    card = DatasetCard(hub.files["README.md"].decode())
    assert card.data.configs[0]["data_files"][0] == {"split": "train", "path": "224x224/train/*.tar"}
    assert card.data.dataset_info["splits"][0]["num_examples"] == json.loads((folder / "release.json").read_text())["sizes"]["train"]
    commits, puts = len(hub.commits), len(hub.puts)
    second = push_release(folder, REPO, staging=tmp_path / "s", api=api, log=lambda *_: None)
    assert second["uploaded"] == 0 and second["already_there"] == first["files"]
    assert len(hub.commits) == commits and len(hub.puts) == puts  # nothing sent again


def test_an_interrupted_push_resumes_with_only_what_is_missing(built, hub, tmp_path):
    tol, *_ = built
    folder = tol.paths().published.resolve()
    api = HfApi(endpoint=hub.url)
    hub.fail_commit_after = 2
    with pytest.raises(Exception):
        push_release(folder, REPO, staging=tmp_path / "s", api=api, batch_files=4, log=lambda *_: None)
    kept = set(hub.files)
    assert 0 < len(kept) <= 8 and "release.json" not in kept
    hub.fail_commit_after = None
    resumed = push_release(folder, REPO, staging=tmp_path / "s", api=api, batch_files=4, log=lambda *_: None)
    assert resumed["already_there"] == len(kept)
    assert {k: v for k, v in hub.files.items() if k != "README.md"} == release_files(folder)
    assert len(hub.puts) == len(set(hub.puts))  # no LFS object uploaded twice


def test_the_push_command_uploads_a_release_by_name(built, hub, tmp_path, capsys):
    tol, *_ = built
    config = tmp_path / "settings.yaml"
    config.write_text(yaml.safe_dump({"data_root": str(tol.resolved_data_root()), "sources_root": str(tol.resolved_sources_root())}))
    name = tol.paths().published.resolve().name
    assert cli.main(["push", name, "--repo", REPO, "--config", str(config)]) == 0
    assert f"pushed {name} to {REPO}" in capsys.readouterr().out and "release.json" in hub.files
    assert cli.main(["push", "no-such-release", "--repo", REPO, "--config", str(config)]) == 1
    assert "no release 'no-such-release'" in capsys.readouterr().err


def test_a_bad_release_or_repository_name_is_refused(tmp_path):
    with pytest.raises(PushError, match="no release 'x'"):
        resolve_release(tmp_path / "releases", tmp_path / "published", "x")
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "release.json").write_text("{}")
    with pytest.raises(PushError, match="expected ORG/NAME"):
        push_release(tmp_path / "r", "no-slash", staging=tmp_path / "s", api=object(), log=lambda *_: None)
