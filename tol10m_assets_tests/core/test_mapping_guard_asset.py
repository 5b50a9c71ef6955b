"""The mapping asset passes the empty-mapping guard through: sources that list nothing (unmounted)
fail the materialization, name the source roots, and leave the mapping and its partitions alone."""

from __future__ import annotations

import hashlib
import shutil

import pytest
from dagster import instance_for_test, materialize

from tol10m_assets.defs.build import mapping
from tol10m_assets.defs.partitions import SHARD_PARTITIONS
from tol10m_assets.defs.resources import TreeOfLifeConfig


def test_mapping_asset_refuses_to_empty_a_mapping(tmp_path):
    from tol10m_assets.sample import make_sample_world

    sources, data = tmp_path / "sources", tmp_path / "data"
    make_sample_world(sources, images=60, seed=0, log=lambda *a, **k: None)
    tol = TreeOfLifeConfig(sources_root=str(sources), data_root=str(data), workers=1)
    with instance_for_test() as instance:
        assert materialize([mapping], resources={"tol": tol}, instance=instance).success
        before = hashlib.sha256(tol.paths().mapping.read_bytes()).hexdigest()
        partitions = instance.get_dynamic_partitions(SHARD_PARTITIONS)
        layout = tol.layout()
        for folder in (layout.eol_images, layout.inat21_train, layout.bioscan_images):  # mounted but empty
            shutil.rmtree(folder)
            folder.mkdir()
        result = materialize([mapping], resources={"tol": tol}, instance=instance, raise_on_error=False)
        assert not result.success
        failure = next(e for e in result.all_events if e.is_step_failure)
        message = str(failure.step_failure_data.error.to_string())
        assert "refusing to replace a mapping" in message
        for folder in (layout.eol_images, layout.inat21_train, layout.bioscan_images):
            assert str(folder) in message
        assert hashlib.sha256(tol.paths().mapping.read_bytes()).hexdigest() == before
        assert instance.get_dynamic_partitions(SHARD_PARTITIONS) == partitions


pytestmark = pytest.mark.filterwarnings("ignore")
