"""A failed check_wds in one run blocks the catalog in a later run."""

from dagster import instance_for_test

import tol10m_assets.shards as shards_core
from tol10m_assets.definitions import build_definitions
from tol10m_assets.run import build

from .conftest import config


def test_catalog_refuses_a_partition_whose_check_failed(world, tmp_path, monkeypatch):
    sources, _ = world
    with instance_for_test() as instance:
        tol = config(sources, tmp_path / "data")
        where = build(instance=instance, tol=tol, log=lambda *_: None)
        defs = build_definitions(tol)
        assert defs.resolve_job_def("publish").execute_in_process(instance=instance).success

        real = shards_core.check_partition_shards

        def failing(*args, **kwargs):
            report = real(*args, **kwargs)
            report.passed = False
            report.problems.append("injected by the test")
            return report

        monkeypatch.setattr(shards_core, "check_partition_shards", failing)
        broken = where["partitions"][-1]
        result = defs.resolve_job_def("write_shards").execute_in_process(
            instance=instance, partition_key=broken, raise_on_error=False
        )
        assert not result.success  # the blocking check fails the run
        monkeypatch.undo()

        result = defs.resolve_job_def("publish").execute_in_process(instance=instance, raise_on_error=False)
        assert not result.success
        failure = next(e for e in result.all_events if e.is_step_failure)
        assert broken in failure.step_failure_data.error.message

        assert defs.resolve_job_def("write_shards").execute_in_process(instance=instance, partition_key=broken).success
        assert defs.resolve_job_def("publish").execute_in_process(instance=instance).success
