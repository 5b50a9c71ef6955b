from dagster import materialize_to_memory
from tol10m_assets.defs.build import labels, mapping, splits
from tol10m_assets.defs.shards import shards

def test_my_change(tol10m_tol, tol10m_instance):
    result = materialize_to_memory([mapping, splits, labels], resources={"tol": tol10m_tol}, instance=tol10m_instance)
    assert result.success and result.asset_materializations_for_node("labels")[0].metadata["images"].value > 0
    shard = materialize_to_memory([shards], partition_key="eol-01", resources={"tol": tol10m_tol}, instance=tol10m_instance)
    assert all(check.passed for check in shard.get_asset_check_evaluations())
