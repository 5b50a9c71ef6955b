"""A sample world built once per session, and helpers to materialize the graph over it."""

import json
from pathlib import Path

import pytest
from dagster import DagsterInstance, instance_for_test

from tol10m_assets.defs.resources import TreeOfLifeConfig
from tol10m_assets.run import SAMPLE_SETTINGS, build

SAMPLE_IMAGES = 200


def make_world(out: Path, images: int = SAMPLE_IMAGES, seed: int = 0) -> dict:
    from tol10m_assets.sample import make_sample_world

    make_sample_world(out, images=images, seed=seed, log=lambda *a, **k: None)
    return json.loads((out / "summary.json").read_text())


def config(sources: Path, data: Path, **overrides) -> TreeOfLifeConfig:
    return TreeOfLifeConfig(sources_root=str(sources), data_root=str(data), **{"workers": 1, **SAMPLE_SETTINGS, **overrides})


@pytest.fixture(scope="session")
def world(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("world")
    return out, make_world(out)


@pytest.fixture(scope="session")
def built(world, tmp_path_factory):
    """The whole graph materialized once over the sample world: (config, instance, where, summary)."""
    sources, summary = world
    data = tmp_path_factory.mktemp("build")
    with instance_for_test() as instance:
        tol = config(sources, data)
        where = build(instance=instance, tol=tol, log=lambda *_: None)
        yield tol, instance, where, summary


def run_build(sources: Path, data: Path, **overrides) -> tuple[TreeOfLifeConfig, dict]:
    with instance_for_test() as instance:
        tol = config(sources, data, **overrides)
        return tol, build(instance=instance, tol=tol, log=lambda *_: None)


__all__ = ["DagsterInstance", "config", "make_world", "run_build"]
