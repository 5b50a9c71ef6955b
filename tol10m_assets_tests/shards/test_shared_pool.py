"""One pool of worker processes per partition build: the writer's, then check_wds's; a decoder crash
replaces it and the rest of the build still runs in it."""

from tol10m_assets.layout import SourceLayout
from tol10m_assets.paths import BuildPaths
from tol10m_assets.shards import check_partition_shards, write_partition
from tol10m_assets.shards import pool as pool_mod
from tol10m_assets.shards.pool import SharedPool
from tol10m_assets.shards.writer import ordered_results
from tol10m_assets.sources import Chunking
from tol10m_assets_tests.shards.test_shards import JPEG, SETTINGS, _report_fields, jobs


def _counting(monkeypatch) -> list:
    started = []
    real = pool_mod.worker_pool
    monkeypatch.setattr(pool_mod, "worker_pool", lambda workers, ctx=None: started.append(workers) or real(workers, ctx))
    return started


def test_the_writer_and_its_check_share_one_pool(tmp_path, monkeypatch):
    serial = write_partition(tmp_path / "one", "eol-01", jobs(30), SETTINGS, max_samples=12)
    started = _counting(monkeypatch)
    with SharedPool(2) as shared:
        result = write_partition(tmp_path / "two", "eol-01", jobs(30), SETTINGS, max_samples=12, workers=2, pool=shared)
        report = check_partition_shards(tmp_path / "two", "eol-01", SETTINGS, expected=result.samples, workers=2, pool=shared)
        assert shared._pool is not None  # still running after the writer: the build closes it
    assert started == [2] and shared._pool is None
    assert report.passed and _report_fields(report) == _report_fields(
        check_partition_shards(tmp_path / "one", "eol-01", SETTINGS, expected=serial.samples))
    assert result.samples == serial.samples


def test_a_crash_replaces_the_shared_pool_and_the_check_runs_in_the_new_one(tmp_path, monkeypatch):
    from tol10m_assets_tests.shards.crashing_task import task

    items = [(job, b"KILL" if i == 3 else JPEG) for i, (job, _) in enumerate(jobs(8))]
    with SharedPool(2) as shared:
        got = list(ordered_results(items, SETTINGS, 2, task=task, pool=shared))
        assert [ok for _, ok, _ in got] == [i != 3 for i in range(8)]
        assert "crashed its worker process" in got[3][2]
        result = write_partition(tmp_path, "eol-01", jobs(10), SETTINGS, workers=2, pool=shared)
        report = check_partition_shards(tmp_path, "eol-01", SETTINGS, expected=result.samples, workers=2, pool=shared)
    assert report.passed and report.images_checked == sum(result.samples.values())


def test_a_partition_build_starts_one_pool(tmp_path, monkeypatch):
    from tol10m_assets.partition import build_partition
    from tol10m_assets.shards import ImageSettings
    from bench import relabel_bench as rb

    world = rb.make_world(tmp_path / "world", 300)
    layout, chunking, paths = SourceLayout.under(world), Chunking(), BuildPaths(tmp_path / "build")
    rb.prepare(layout, chunking, paths)
    partition = next(p for p in rb.partitions(paths) if p.startswith("eol"))
    started = _counting(monkeypatch)
    b = build_partition(layout, chunking, paths, partition, ImageSettings(), rare=rb.rare_rules(layout),
                        max_corrupt_share=rb.MAX_CORRUPT_SHARE, workers=2)
    assert b.committed and b.report.passed, b.report.problems[:5]
    assert started == [2]  # the writer's pool did the check too
    assert b.report.images_checked == b.reuse["images_decoded"] > 0


def test_a_pool_broken_before_an_image_is_submitted_costs_no_image():
    """A worker that died between two submissions makes ``submit`` itself raise: each image refused
    so is taken as a crash (run alone), and every image still comes back, in order."""
    import os
    import time
    from concurrent.futures.process import BrokenProcessPool

    with SharedPool(2) as shared:
        shared.pool.submit(os._exit, 1)
        for _ in range(200):  # until the pool knows its worker is gone
            try:
                shared.pool.submit(os.getpid).result()
            except BrokenProcessPool:
                break
            time.sleep(0.05)
        else:
            raise AssertionError("the pool never broke")
        items = [(job, JPEG) for job, _ in jobs(6)]
        got = list(ordered_results(items, SETTINGS, 2, pool=shared))
    assert [job.key for job, _, _ in got] == [job.key for job, _ in items]
    assert all(ok for _, ok, _ in got)
