"""One build of the sample world through ``materialize_to_memory`` for the read-only tests of this folder.

Tests that break something (a failing check, a changed file) make their own data root and instance
(``tol10m_tol``, ``tol10m_instance``). On this build a test may only run what must leave its files
as they are (a refused release), and asserts that it did.
"""

from dataclasses import dataclass

import pytest
from dagster import instance_for_test

from tol10m_assets.testing import SampleWorld, materialize_build, shard_partitions


@dataclass
class Build:
    world: SampleWorld
    tol: object
    instance: object
    results: dict

    @property
    def partitions(self) -> list[str]:
        return shard_partitions(self.instance)


@pytest.fixture(scope="session")
def built(tol10m_world, tmp_path_factory):
    """prepare → every shard partition → publish, on its own data root and instance."""
    tol = tol10m_world.tol(tmp_path_factory.mktemp("assets-build"))
    with instance_for_test(set_dagster_home=False) as instance:
        yield Build(tol10m_world, tol, instance, materialize_build(tol, instance))
