"""`eol_image_set_download` is partitioned by the EOL image sets on disk or planned: observe_sources
registers and reports the sets on disk (once), `plan_eol_image_sets` registers sets to download, and
no set that nobody asked for is a Missing partition (which "Materialize unsynced" would select)."""

import shutil

import pytest
from dagster import AssetKey, AssetRecordsFilter

from tol10m_assets.defs.downloads import EOL_SETS


@pytest.fixture
def defs_and_sources(tol10m_world, tmp_path):
    from tol10m_assets.definitions import build_definitions

    sources = tmp_path / "sources"
    shutil.copytree(tol10m_world.sources, sources)
    return build_definitions(tol=tol10m_world.tol(tmp_path / "data", sources_root=str(sources))), sources


def test_observe_sources_registers_and_reports_the_sets_on_disk(defs_and_sources, tol10m_instance):
    from dagster._core.definitions.data_version import CachingStaleStatusResolver, StaleStatus
    from dagster._core.loader import LoadingContextForTest

    defs, sources = defs_and_sources
    on_disk = sorted(p.name[len("image_set_"):-len(".tar.gz")] for p in (sources / "dataset" / "EOL").glob("image_set_*.tar.gz"))
    assert on_disk
    observe = defs.resolve_job_def("observe_sources")
    assert observe.execute_in_process(instance=tol10m_instance).success
    assert observe.execute_in_process(instance=tol10m_instance).success  # reported once, not on every observation
    assert sorted(tol10m_instance.get_dynamic_partitions(EOL_SETS)) == on_disk
    key = AssetKey("eol_image_set_download")
    assert sorted(tol10m_instance.get_materialized_partitions(key)) == on_disk
    records = tol10m_instance.fetch_materializations(AssetRecordsFilter(asset_key=key), limit=100).records
    assert len(records) == len(on_disk)
    assert "not downloaded by Dagster" in records[0].asset_materialization.metadata["reported_by"].value
    resolver = CachingStaleStatusResolver(tol10m_instance, defs.resolve_asset_graph(), LoadingContextForTest(tol10m_instance))
    assert {p: resolver.get_status(key, p) for p in on_disk} == {p: StaleStatus.FRESH for p in on_disk}


def test_plan_eol_image_sets_registers_the_sets_to_download(defs_and_sources, tol10m_instance):
    defs, _ = defs_and_sources
    plan = defs.resolve_job_def("plan_eol_image_sets")
    config = {"ops": {"register_eol_image_sets": {"config": {"sets": ["07", "03", "07"]}}}}
    assert plan.execute_in_process(run_config=config, instance=tol10m_instance).success
    assert sorted(tol10m_instance.get_dynamic_partitions(EOL_SETS)) == ["03", "07"]
    assert plan.execute_in_process(instance=tol10m_instance).success  # default: all 63
    assert len(tol10m_instance.get_dynamic_partitions(EOL_SETS)) == 63
    wrong = {"ops": {"register_eol_image_sets": {"config": {"sets": ["64"]}}}}
    result = plan.execute_in_process(run_config=wrong, instance=tol10m_instance, raise_on_error=False)
    assert not result.success
