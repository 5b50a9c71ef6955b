"""The benchmarks' arithmetic: the process-tree CPU, the partition simulation, the scale model, the stage registry."""

import multiprocessing
import time

import pytest

from bench import partition_bench, scale_bench
from bench.proctree import TreeCPU


def _spin(seconds: float) -> None:
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


def test_tree_cpu_counts_the_cpu_of_pool_workers_that_are_not_children_it_waits_for():
    ctx = multiprocessing.get_context("forkserver")
    with TreeCPU(interval=0.02) as cpu:
        before = cpu.descendants()
        with ctx.Pool(1) as pool:
            pool.apply(_spin, (0.6,))
        after = cpu.descendants()
    assert 0.45 <= after - before <= 1.5


def test_simulation_takes_the_bound_of_each_pipelined_stage_and_adds_the_serial_ones():
    cpu = {"write_partition": (2.0, 16.0), "check_wds": (0.1, 0.8), "sha256": (0.4, 0.0), "plan": (0.3, 0.0), "other": (0.05, 0.0)}
    eight = partition_bench.simulate(cpu, 8)
    assert eight["write_partition"] == 2.0 and eight["check_wds"] == pytest.approx(0.1)  # main-bound at 8
    assert eight["sha256"] == pytest.approx(0.1) and eight["plan"] == 0.3 and eight["other"] == 0.05
    assert partition_bench.simulate(cpu, 2)["write_partition"] == 8.0  # worker-bound at 2
    per, fixed = partition_bench.split_fixed({"plan": (1.1, 0.0)}, 1000, {"plan": (0.2, 0.0)}, 100)
    assert per["plan"][0] == pytest.approx(0.001) and fixed["plan"][0] == pytest.approx(0.1)


def test_scale_model_partition_wall_and_the_bound_of_the_writer():
    costs = {"per_image": {"write_partition": (0.002, 0.02), "check_wds": (0.0001, 0.0006), "plan": (0.0001, 0.0)},
             "fixed": {"thumbnails": (0.05, 0.0)}}
    wall, writer = scale_bench.partition_wall(100_000, 2, costs, rows_s=3.0)
    assert writer == pytest.approx(1000.0)  # 100k x 20 ms / 2 workers
    assert wall == pytest.approx(3.0 + scale_bench.DAGSTER_RUN_CPU + 10.0 + 0.05 + 1000.0 + 30.0)
    _, writer32 = scale_bench.partition_wall(100_000, 32, costs, rows_s=3.0)
    assert writer32 == pytest.approx(200.0)  # bound by the writer's main process, not the 62.5 s of its workers


def test_a_stage_module_registers_its_stages_after_a_named_one(monkeypatch):
    monkeypatch.setattr(scale_bench, "STAGES", list(scale_bench.STAGES))
    scale_bench.register_stage("published lookups", lambda work: 0, True, after="labels (lookups + join)")
    names = [n for n, _, _ in scale_bench.STAGES]
    assert names[names.index("labels (lookups + join)") + 1] == "published lookups"
    scale_bench.register_stage("published lookups", lambda work: 0)  # twice: once
    assert names.count("published lookups") == 1 == [n for n, _, _ in scale_bench.STAGES].count("published lookups")
    scale_bench.load_stage_modules()  # an absent module is no error
