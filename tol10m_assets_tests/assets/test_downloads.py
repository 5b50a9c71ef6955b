"""The download assets' checks (``verified``, ``file_count``) and the ``on_disk`` checks, through
``materialize_to_memory`` against a local mirror of the sample world (no network)."""

import shutil
import tarfile

import pytest
from dagster import AssetCheckSeverity, AssetSelection, materialize_to_memory

import tol10m_assets.defs.downloads as downloads_defs
import tol10m_assets.download.fetch as fetch_core
from tol10m_assets.defs.downloads import DownloadSettings, download_checks, inat21_download, rare_species_download
from tol10m_assets.download.mirror import write_checksums
from tol10m_assets.layout import SourceLayout
from tol10m_assets.testing import DOWNLOADS, check_evaluation, metadata_values


@pytest.fixture
def mirror(tol10m_world, tmp_path):
    """The rare-species lists and iNat21's train.tar.gz of the sample world, with a SHA256SUMS."""
    world = SourceLayout.under(tol10m_world.sources)
    folder = tmp_path / "mirror"
    folder.mkdir()
    shutil.copyfile(world.rare_seen, folder / "seen_in_training.json")
    shutil.copyfile(world.rare_unseen, folder / "unseen_in_training.json")
    with tarfile.open(folder / "train.tar.gz", "w:gz") as tar:
        tar.add(world.inat21_train, arcname="train")
    write_checksums(folder)
    return folder


@pytest.fixture
def resources(tol10m_world, tmp_path, mirror):
    def make(**downloads):
        tol = tol10m_world.tol(tmp_path / "data", sources_root=str(tmp_path / "downloaded"))
        return {"tol": tol, "downloads": DownloadSettings(mirror_dir=str(mirror), retries=0, **downloads)}

    return make


def inat21_images(tol10m_world) -> int:
    return sum(1 for p in SourceLayout.under(tol10m_world.sources).inat21_train.rglob("*") if p.is_file())


def test_a_download_is_verified_and_then_on_disk(resources):
    res = resources()
    result = materialize_to_memory([rare_species_download, downloads_defs.rare_species_on_disk], resources=res)
    verified = check_evaluation(result, "verified")
    assert verified.passed and metadata_values(verified)["unverified"] == []
    assert set(metadata_values(verified)["sha256"]) == {"seen_in_training.json", "unseen_in_training.json"}
    assert check_evaluation(result, "on_disk").passed
    (mat,) = result.asset_materializations_for_node("rare_species_download")
    assert metadata_values(mat)["fetched"] == 2


def test_verified_fails_when_a_file_is_not_the_one_verified(resources, monkeypatch):
    monkeypatch.setattr(downloads_defs, "verified_record", lambda *args, **kwargs: None)
    result = materialize_to_memory([rare_species_download], resources=resources())
    assert result.success  # not blocking: the check reports
    check = check_evaluation(result, "verified")
    assert not check.passed and check.severity == AssetCheckSeverity.ERROR
    unverified = metadata_values(check)["unverified"]
    assert sorted(p.rsplit("/", 1)[-1] for p in unverified) == ["seen_in_training.json", "unseen_in_training.json"]


def test_every_on_disk_check_fails_with_a_warning_on_empty_sources(resources):
    result = materialize_to_memory(DOWNLOADS, resources=resources(), selection=AssetSelection.checks(*download_checks))
    assert result.get_asset_materialization_events() == []  # checks only: nothing was downloaded
    evaluations = result.get_asset_check_evaluations()
    assert len(evaluations) == len(download_checks) == 6
    for check in evaluations:
        assert not check.passed and check.severity == AssetCheckSeverity.WARN, check.asset_key
    meta = {e.asset_key.to_user_string(): metadata_values(e) for e in evaluations}
    assert len(meta["rare_species_download"]["missing"]) == 2
    assert meta["eol_image_set_download"]["verified"] == 0 and meta["eol_image_set_download"]["expected"] == 63
    assert "has not been extracted" in meta["inat21_download"]["reason"]
    assert "has not been extracted" in meta["bioscan_download"]["reason"]
    assert len(meta["name_sources_download"]["inaturalist_missing"]) == 2


def test_inat21_is_extracted_and_counted(resources, tol10m_world):
    images = inat21_images(tol10m_world)
    result = materialize_to_memory([inat21_download, downloads_defs.inat21_on_disk], resources=resources(inat21_file_count=images))
    count = check_evaluation(result, "file_count")
    assert count.passed and metadata_values(count)["files"] == images == metadata_values(count)["expected"]
    assert check_evaluation(result, "on_disk").passed


def test_a_wrong_inat21_count_fails_the_download_naming_the_setting(resources, tol10m_world):
    """The extraction itself refuses a count that differs from the setting (before the check runs)."""
    result = materialize_to_memory([inat21_download], resources=resources(inat21_file_count=inat21_images(tol10m_world) + 1),
                                   raise_on_error=False)
    assert not result.success
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    assert "downloads.inat21_file_count" in str(failure.step_failure_data.error.to_string())


def test_file_count_fails_when_the_extracted_count_differs_from_the_setting(resources, tol10m_world, monkeypatch):
    """The check's own failing case: a fetch that reports one file fewer than the setting expects."""
    images = inat21_images(tol10m_world)
    real = fetch_core.fetch_inat21

    def one_short(*args, **kwargs):
        fetched = real(*args, **kwargs)
        fetched.extracted = {k: v - 1 for k, v in fetched.extracted.items()}
        return fetched

    monkeypatch.setattr(fetch_core, "fetch_inat21", one_short)
    result = materialize_to_memory([inat21_download], resources=resources(inat21_file_count=images))
    check = check_evaluation(result, "file_count")
    assert not check.passed and check.severity == AssetCheckSeverity.ERROR
    meta = metadata_values(check)
    assert (meta["files"], meta["expected"], meta["setting"]) == (images - 1, images, "downloads.inat21_file_count")


def test_the_on_disk_checks_are_in_the_definitions():
    from tol10m_assets.definitions import defs

    registered = {k.to_user_string() for k in defs.resolve_asset_graph().asset_check_keys}
    assert {f"{k.asset_key.to_user_string()}:{k.name}" for c in download_checks for k in c.check_keys} <= registered
