"""The launcher against a real one-node Slurm (slurm/local-cluster.sh) and dagster-daemon."""

import json
import subprocess

import pytest
from dagster import AssetKey, DagsterRunStatus

from tol10m_assets.slurm import HEALTH_TAG, JOB_ID_TAG, SCRIPT_TAG, STATE_TAG
from tol10m_assets.slurm.states import Verdict

from .conftest import BIN, REPO, Cluster, postgres_url, sacct_state, scontrol_state

pytestmark = pytest.mark.slurm
PARTITIONS = ["eol-01", "eol-02", "inat21-000"]


def backfill_through_the_daemon(cluster: Cluster):
    keys = cluster.instance.get_dynamic_partitions("shard_partitions")
    assert set(PARTITIONS) <= set(keys)
    cluster.dagster("job", "backfill", "-w", str(cluster.workspace), "-l", "tol10m_assets", "-j", "write_shards",
                    "--partitions", ",".join(PARTITIONS), "--noprompt")
    runs = cluster.wait(lambda: (r := cluster.runs("write_shards")) and len(r) >= 3 and all(x.is_finished for x in r) and r,
                        timeout=420, what="three shard runs to finish")
    for run in runs:
        assert run.status == DagsterRunStatus.SUCCESS, (run.run_id, run.tags)
    jobs = {run.tags[JOB_ID_TAG] for run in runs}
    assert len(jobs) == 3  # one Slurm job per run
    settled = cluster.wait(lambda: all(scontrol_state(j) not in ("COMPLETING", "RUNNING") for j in jobs), timeout=120, what="the jobs to settle")
    assert settled and all(scontrol_state(j) == "COMPLETED" for j in jobs)
    assert cluster.wait(lambda: all(sacct_state(j) == "COMPLETED" for j in jobs), timeout=60, what="accounting to record the jobs")
    assert {run.tags["dagster/partition"] for run in runs} == set(PARTITIONS)
    for run in runs:
        assert (REPO / run.tags[SCRIPT_TAG]).exists() or run.tags[SCRIPT_TAG].startswith("/")
        checks = [e for e in cluster.instance.all_logs(run.run_id) if e.dagster_event and e.dagster_event.event_type_value == "ASSET_CHECK_EVALUATION"]
        assert checks and all(e.dagster_event.event_specific_data.passed for e in checks)
    store = cluster.data / "store" / "224x224"
    for key in PARTITIONS:  # committed: a manifest naming the generation that holds its shards
        manifest = json.loads((store / key / "manifest.json").read_text())
        assert list((store / key / manifest["generation"]).glob(f"*/shard-{key}-*.tar")), key


def test_backfill_runs_one_slurm_job_per_partition(cluster):
    backfill_through_the_daemon(cluster)


def test_terminate_cancels_the_job(cluster):
    run_id = cluster.launch("slow", "sleep_job")
    run = cluster.wait(lambda: (r := cluster.instance.get_run_by_id(run_id)) and r.status == DagsterRunStatus.STARTED and r, what="the sleeper to start")
    job = run.tags[JOB_ID_TAG]
    assert cluster.instance.run_coordinator.cancel_run(run_id)
    run = cluster.wait_finished(run_id)
    assert run.status == DagsterRunStatus.CANCELED
    assert cluster.wait(lambda: scontrol_state(job) == "CANCELLED", timeout=60, what="Slurm to cancel the job")
    assert run.tags[STATE_TAG] == "CANCELLED" and run.tags[HEALTH_TAG] == "CANCELED"
    cluster.assert_no_orphans()


def test_a_job_killed_from_outside_fails_its_run_through_monitoring(cluster):
    run_id = cluster.launch("slow", "sleep_job")
    run = cluster.wait(lambda: (r := cluster.instance.get_run_by_id(run_id)) and r.status == DagsterRunStatus.STARTED and r, what="the sleeper to start")
    job = run.tags[JOB_ID_TAG]
    subprocess.run(["scancel", "--signal=KILL", "--full", job], check=True)
    run = cluster.wait_finished(run_id, timeout=180)
    assert run.status == DagsterRunStatus.FAILURE
    messages = " ".join(e.message for e in cluster.instance.all_logs(run_id))
    assert f"Slurm job {job}" in messages


def test_a_refused_submission_fails_with_sbatchs_message(cluster):
    run_id = cluster.launch("slow", "sleep_job", tags={"tol10m/slurm.partition": "nosuchpartition"})
    run = cluster.wait_finished(run_id, timeout=120)
    assert run.status == DagsterRunStatus.FAILURE
    messages = " ".join(e.message for e in cluster.instance.all_logs(run_id))
    assert "sbatch refused the job" in messages and "partition" in messages.lower()


def test_sbatch_entry_points_materialize_what_they_say(cluster, tmp_path):
    def materializations(key):
        return len(cluster.instance.fetch_materializations(_filter(key), limit=100).records)

    before = materializations("eol-02")
    config = tmp_path / "run.yaml"  # the sample world's settings (its corrupt share), as a site passes its own
    config.write_text("resources:\n  tol:\n    config:\n      max_corrupt_share: 0.25\n")
    env = {**cluster.env, "TOL10M_VENV": str(BIN.parent), "TOL10M_RUN_CONFIG": str(config)}
    one = subprocess.run(["sbatch", "--wait", f"--output={tmp_path}/one-%j.out", str(REPO / "slurm" / "materialize-partition.sbatch"), "shards", "eol-02"],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert one.returncode == 0, one.stderr + _logs(tmp_path)
    assert materializations("eol-02") == before + 1
    listing = tmp_path / "partitions.txt"
    listing.write_text("inat21-000\nbioscan-000\n")  # keys of the world (was inat21-001: partitions now count classes, issue 21)
    arr = subprocess.run(["sbatch", "--wait", "--array=0-1", f"--output={tmp_path}/arr-%A_%a.out", str(REPO / "slurm" / "materialize-array.sbatch"), str(listing)],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert arr.returncode == 0, arr.stderr + _logs(tmp_path)
    assert materializations("inat21-000") >= 2 and materializations("bioscan-000") >= 1
    bad = subprocess.run(["sbatch", "--wait", f"--output={tmp_path}/bad-%j.out", str(REPO / "slurm" / "materialize-partition.sbatch"), "shards", "eol-01;id"],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert bad.returncode != 0 and "bad partition key" in _logs(tmp_path, "bad-")


def _filter(partition):
    from dagster import AssetRecordsFilter

    return AssetRecordsFilter(asset_key=AssetKey("shards"), asset_partitions=[partition])


def _logs(folder, prefix=""):
    return "\n".join(p.read_text(errors="replace") for p in sorted(folder.glob(f"{prefix}*.out")))


@pytest.mark.postgres
def test_backfill_with_postgres_instance_storage(slurm, tmp_path):
    if postgres_url() is None:
        pytest.skip("PostgreSQL is not up (bash slurm/local-postgres.sh start)")
    cluster = Cluster(tmp_path, "postgres")
    try:
        cluster.prepare()
        cluster.start_daemon()
        backfill_through_the_daemon(cluster)
        assert type(cluster.instance.run_storage).__name__ == "PostgresRunStorage"
        # the storage URL (with its password) reached every job through Slurm, and no file holds it
        url = postgres_url()
        for path in cluster.logs.rglob("*"):
            assert not path.is_file() or url not in path.read_text(errors="replace"), path
    finally:
        cluster.stop()


def test_a_job_the_controller_forgot_is_read_from_accounting(cluster):
    """MinJobAge=10 on the local cluster: the backfill's jobs are long purged from the controller,
    so their health comes from sacct (slurmdbd), the record real clusters keep."""
    run = next(r for r in cluster.runs("write_shards") if r.status == DagsterRunStatus.SUCCESS)
    job = run.tags[JOB_ID_TAG]
    gone = lambda: "Invalid job id" in subprocess.run(["scontrol", "show", "job", job], capture_output=True, text=True).stderr
    cluster.wait(gone, timeout=150, what=f"the controller to purge job {job}")
    launcher = cluster.instance.run_launcher
    state = launcher.job_state(job)
    assert (state.verdict, state.state, state.source) == (Verdict.SUCCEEDED, "COMPLETED", "sacct")
    health = launcher.check_run_worker_health(run)
    assert health.status.value == "SUCCESS" and "[sacct]" in health.msg


def test_a_good_partition_stays_publishable_after_later_attempts_fail(cluster):
    """Issue 21: a refused submission and a memory kill at start-up (before any image is read) are
    failed attempts of a committed partition, not a revoked partition: the release publishes it."""
    from tol10m_assets.cli import partition_rows
    from tol10m_assets.definitions import build_definitions

    good = "eol-01"
    store = cluster.data / "store" / "224x224"
    committed = json.loads((store / good / "manifest.json").read_text())
    assert committed["check"] == {**committed["check"], "name": "check_wds", "passed": True}
    for tags, words in (({"tol10m/slurm.partition": "nosuchpartition"}, "sbatch refused the job"),
                        ({"tol10m/slurm.mem": "60M"}, "memory limit")):
        run_id = cluster.launch("tol10m_assets", "write_shards", tags={"dagster/partition": good, **tags})
        run = cluster.wait_finished(run_id, timeout=300)
        messages = cluster.messages(run_id)
        assert run.status == DagsterRunStatus.FAILURE and words in messages, messages
    assert json.loads((store / good / "manifest.json").read_text()) == committed  # untouched
    row = next(r for r in partition_rows(cluster.settings(), cluster.instance) if r["partition"] == good)
    assert row["check_wds"] == "passed" and row["last_attempt"] != "succeeded", row  # a failed attempt, shown as one
    defs = build_definitions(cluster.settings())
    publish = defs.resolve_job_def("publish")
    result = publish.execute_in_process(instance=cluster.instance, raise_on_error=False)
    unbuilt = sorted(set(cluster.instance.get_dynamic_partitions("shard_partitions")) - {p.name for p in store.glob("*") if (p / "manifest.json").exists()})
    if unbuilt:  # the module built some partitions only: the release names those, not the one whose attempts failed
        text = " ".join(e.step_failure_data.error.message for e in result.all_events if e.is_step_failure)
        assert not result.success and all(k in text for k in unbuilt) and f"{good}:" not in text, text
        for key in unbuilt:
            assert defs.resolve_job_def("write_shards").execute_in_process(instance=cluster.instance, partition_key=key).success
        result = publish.execute_in_process(instance=cluster.instance, raise_on_error=False)
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    release = json.loads((cluster.data / "published" / "release.json").read_text())
    assert good in release["partitions"]
