"""The release judges what it publishes: each partition's committed generation, whose manifest
records that it passed check_wds. A later attempt that fails (its check, or before reading any
image) shows as a failed attempt and leaves the partition publishable with the generation it had."""

import json

from dagster import instance_for_test

import tol10m_assets.shards as shards_core
from tol10m_assets.cli import partition_rows
from tol10m_assets.definitions import build_definitions
from tol10m_assets.run import build

from .conftest import config


def published_generations(paths) -> dict[str, str]:
    return {p.parent.name: json.loads(p.read_text())["generation"] for p in sorted(paths.store.glob("*/manifest.json"))}


def test_a_later_attempt_whose_check_fails_does_not_revoke_the_committed_generation(world, tmp_path, monkeypatch):
    """Changed on purpose (issue 21): this test held that a later failing check_wds blocked the release."""
    sources, _ = world
    with instance_for_test() as instance:
        tol = config(sources, tmp_path / "data")
        where = build(instance=instance, tol=tol, log=lambda *_: None)
        defs = build_definitions(tol)
        assert defs.resolve_job_def("publish").execute_in_process(instance=instance).success
        before = published_generations(tol.paths())
        manifest = json.loads((tol.paths().store / where["partitions"][-1] / "manifest.json").read_text())
        assert manifest["check"]["name"] == "check_wds" and manifest["check"]["passed"] is True

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
        assert not result.success  # the blocking check fails the attempt's run
        monkeypatch.undo()

        row = next(r for r in partition_rows(tol, instance) if r["partition"] == broken)
        assert (row["check_wds"], row["last_attempt"]) == ("passed", "failed")  # a failed attempt, not a revoked partition
        result = defs.resolve_job_def("publish").execute_in_process(instance=instance, raise_on_error=False)
        assert result.success
        assert published_generations(tol.paths()) == before
        release = json.loads((tol.paths().published / "release.json").read_text())
        assert broken in release["partitions"]


def test_an_attempt_that_fails_before_reading_any_image_leaves_the_partition_publishable(world, tmp_path):
    sources, _ = world
    with instance_for_test() as instance:
        tol = config(sources, tmp_path / "data")
        where = build(instance=instance, tol=tol, log=lambda *_: None)
        defs = build_definitions(tol)
        before = published_generations(tol.paths())
        victim = where["partitions"][0]
        broken = config(sources, tmp_path / "data", exclude_rare_species=True, source_paths={"rare_seen": str(tmp_path / "gone.json")})
        result = build_definitions(broken).resolve_job_def("write_shards").execute_in_process(
            instance=instance, partition_key=victim, raise_on_error=False
        )
        assert not result.success  # stopped by the missing Rare Species list: no image read
        row = next(r for r in partition_rows(tol, instance) if r["partition"] == victim)
        assert row["check_wds"] == "passed" and row["last_attempt"] != "succeeded", row
        assert defs.resolve_job_def("publish").execute_in_process(instance=instance).success
        assert published_generations(tol.paths()) == before
