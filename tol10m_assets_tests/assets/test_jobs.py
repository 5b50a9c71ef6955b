"""The jobs as a click in the UI runs them: which assets, and in how many processes."""

from tol10m_assets.definitions import defs


def test_ui_launched_runs_execute_their_steps_in_the_run_process():
    # a process per step loads the definitions again (seconds each): shard partitions and the UI's
    # Materialize / backfill runs execute in the run's process; prepare keeps splits ∥ labels
    assert defs.resolve_job_def("write_shards").executor_def.name == "in_process"
    assert defs.resolve_implicit_global_asset_job_def().executor_def.name == "in_process"
    assert defs.resolve_job_def("prepare").executor_def.name == "multiprocess"
    assert defs.resolve_job_def("download").executor_def.name == "multiprocess"  # transfers in parallel


def test_the_update_job_holds_everything_but_the_downloads():
    graph = defs.resolve_asset_graph()
    job = defs.resolve_job_def("update")
    keys = {k.to_user_string() for k in job.asset_layer.selected_asset_keys}
    downloads = {k.to_user_string() for k in graph.get_all_asset_keys() if graph.get(k).group_name == "downloads"}
    assert downloads and not keys & downloads, keys & downloads
    assert {"mapping", "labels", "shards", "catalog", "taxa_report"} <= keys, sorted(keys)
