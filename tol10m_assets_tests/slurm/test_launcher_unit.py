"""The launcher with a fake sbatch/squeue/scontrol on PATH: scripts, quoting, states."""

import os
import stat
import textwrap

import pytest
from dagster import DagsterRunStatus, instance_for_test
from dagster._core.launcher import LaunchRunContext, WorkerStatus

from tol10m_assets.slurm import JOB_ID_TAG, LOG_TAG, BatchScript, SlurmOptions, SlurmRunLauncher, UnsafeValue
from tol10m_assets.slurm.states import parse_scontrol

from .slow_defs import defs as slow_defs


def fake(tmp_path, name, body):
    path = tmp_path / name
    path.write_text("#!/bin/bash\n" + textwrap.dedent(body))
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return str(path)


def test_options_are_validated_and_tags_override():
    base = SlurmOptions(partition="cpu", mem="4G").validated()
    merged = base.with_tags({"tol10m/slurm.mem": "16G", "tol10m/slurm.cpus_per_task": "8", "other": "x"})
    assert merged.mem == "16G" and merged.cpus_per_task == "8" and merged.partition == "cpu"
    for bad in ("16G\nrm -rf /", "16G; rm", "$(id)", "4 G"):
        with pytest.raises(UnsafeValue):
            base.with_tags({"tol10m/slurm.mem": bad})
    with pytest.raises(UnsafeValue):
        SlurmOptions(partition="cpu\n#SBATCH --uid=0").validated()


def test_script_quotes_everything_shell_bound():
    script = BatchScript(
        job_name="dagster-x-1234",
        output="/logs/run 1/slurm-%j.out",
        command=["/venv/bin/python", "-m", "dagster", "api", "execute_run", '{"a": "b c; $(id)"}'],
        options=SlurmOptions(partition="debug", time="1:00:00"),
        working_directory="/work/my repo",
        env={"TOL10M_DATA_ROOT": "/data/with space$HOME"},
    ).render()
    assert "#SBATCH --partition=debug" in script and "#SBATCH --time=1:00:00" in script
    assert "cd '/work/my repo'" in script
    assert "export TOL10M_DATA_ROOT='/data/with space$HOME'" in script
    assert """'{"a": "b c; $(id)"}'""" in script
    with pytest.raises(UnsafeValue):
        BatchScript(job_name="a\nb", output="o", command=["x"]).render()
    with pytest.raises(UnsafeValue):
        BatchScript(job_name="a", output="o", command=["x"], env={"BAD NAME": "v"}).render()
    with pytest.raises(UnsafeValue):
        BatchScript(job_name="a", output="o", command=["x"], extra_sbatch_lines=("rm -rf /",)).render()


def test_scontrol_parsing():
    fields = parse_scontrol("JobId=5 JobName=x JobState=OUT_OF_MEMORY Reason=OutOfMemory Dependency=(null) ExitCode=0:125")
    assert fields["JobState"] == "OUT_OF_MEMORY" and fields["Reason"] == "OutOfMemory"


COMMAND = ["python", "-m", "dagster", "api", "execute_run", "{}"]
REAL_RUN_COMMAND = SlurmRunLauncher.run_command


@pytest.fixture(autouse=True)
def no_code_origin(monkeypatch):
    """Runs made outside a code location have no origin: give them a fixed command."""
    monkeypatch.setattr(SlurmRunLauncher, "run_command", lambda self, run: list(COMMAND))


def launcher_and_run(tmp_path, instance, tags=None, **config):
    launcher = SlurmRunLauncher(log_directory=str(tmp_path / "logs"), **config)
    launcher.register_instance(instance)
    run = instance.create_run_for_job(slow_defs.resolve_job_def("sleep_job"), tags=tags or {})
    launcher.launch_run(LaunchRunContext(dagster_run=run, workspace=None))
    return instance.get_run_by_id(run.run_id)


def test_launch_writes_the_script_and_tags_the_run(tmp_path):
    sbatch = fake(tmp_path, "sbatch", f'cp "$2" {tmp_path}/submitted.sbatch; echo "4242;cluster"\n')
    with instance_for_test() as instance:
        run = launcher_and_run(tmp_path, instance, {"tol10m/slurm.cpus_per_task": "3"}, sbatch=sbatch, partition="debug", per_job={"sleep_job": {"mem": "2G"}})
        assert run.tags[JOB_ID_TAG] == "4242"
        assert run.tags[LOG_TAG].endswith(f"{run.run_id}/slurm-4242.out")
        text = (tmp_path / "submitted.sbatch").read_text()
        assert "#SBATCH --partition=debug" in text and "#SBATCH --mem=2G" in text and "#SBATCH --cpus-per-task=3" in text
        assert "\npython -m dagster api execute_run '{}'\n" in text
        assert "tol10m_assets.slurm.epilogue" in text and (tmp_path / "logs" / run.run_id / "instance_ref.json").exists()


def test_epilogue_fails_a_run_whose_worker_died_early(tmp_path):
    from dagster._serdes import serialize_value

    from tol10m_assets.slurm.epilogue import main

    with instance_for_test() as instance:
        run = instance.create_run_for_job(slow_defs.resolve_job_def("sleep_job"), status=DagsterRunStatus.STARTING)
        ref = tmp_path / "instance_ref.json"
        ref.write_text(serialize_value(instance.get_ref()))
        main([str(ref), run.run_id, "127"])
        assert instance.get_run_by_id(run.run_id).status == DagsterRunStatus.FAILURE
        assert any("exited with status 127" in e.message for e in instance.all_logs(run.run_id))


def test_a_newline_in_a_tag_fails_the_run_and_submits_nothing(tmp_path):
    sbatch = fake(tmp_path, "sbatch", f"touch {tmp_path}/called; echo 1\n")
    with instance_for_test() as instance:
        run = launcher_and_run(tmp_path, instance, {"tol10m/slurm.time": "1:00\ntouch /tmp/pwned"}, sbatch=sbatch)
        assert run.status == DagsterRunStatus.FAILURE
        assert not (tmp_path / "called").exists()
        assert not list((tmp_path / "logs").glob("*/job.sbatch"))  # no script written either
        messages = [e.message for e in instance.all_logs(run.run_id)]
        assert any("Slurm job not submitted" in m and "time=" in m and "is not allowed" in m for m in messages), messages


def test_a_refused_submission_fails_the_run_with_sbatchs_message(tmp_path):
    sbatch = fake(tmp_path, "sbatch", "echo 'sbatch: error: invalid partition specified: nope' >&2; exit 1\n")
    with instance_for_test() as instance:
        run = launcher_and_run(tmp_path, instance, sbatch=sbatch)
        assert run.status == DagsterRunStatus.FAILURE
        assert any("invalid partition specified: nope" in e.message for e in instance.all_logs(run.run_id))


@pytest.mark.parametrize(
    "squeue, scontrol, status, words",
    [
        ("echo 'PENDING|Resources'", "exit 1", WorkerStatus.RUNNING, "PENDING (Resources)"),
        ("echo 'RUNNING|None'", "exit 1", WorkerStatus.RUNNING, "RUNNING"),
        ("true", "echo 'JobId=7 JobState=COMPLETED Reason=None'", WorkerStatus.SUCCESS, "COMPLETED"),
        ("true", "echo 'JobId=7 JobState=OUT_OF_MEMORY Reason=OutOfMemory'", WorkerStatus.FAILED, "OUT_OF_MEMORY"),
        ("true", "echo 'JobId=7 JobState=TIMEOUT Reason=TimeLimit'", WorkerStatus.FAILED, "TIMEOUT"),
        ("true", "echo 'JobId=7 JobState=CANCELLED Reason=None'", WorkerStatus.FAILED, "last words"),
        ("true", "exit 1", WorkerStatus.NOT_FOUND, "no longer knows"),
    ],
)
def test_health_follows_slurm(tmp_path, squeue, scontrol, status, words):
    log = tmp_path / "slurm-7.out"
    log.write_text("starting\nlast words\n")
    launcher = SlurmRunLauncher(
        squeue=fake(tmp_path, "squeue", squeue + "\n"), scontrol=fake(tmp_path, "scontrol", scontrol + "\n"), sacct=fake(tmp_path, "sacct", "exit 1\n")
    )

    class Run:
        tags = {JOB_ID_TAG: "7", LOG_TAG: str(log)}

    result = launcher.check_run_worker_health(Run())
    assert result.status == status and words in result.msg


def test_cluster_instance_config_is_valid(monkeypatch):
    from dagster._core.instance.config import dagster_instance_config

    root = os.path.join(os.path.dirname(__file__), "..", "..")
    monkeypatch.setenv("DAGSTER_PG_URL", "postgresql://u:p@127.0.0.1:1/x")
    for folder, name in ((os.path.join(root, "slurm"), "dagster.cluster.yaml"), (root, "dagster.yaml")):
        config, _ = dagster_instance_config(folder, config_filename=name)
        assert "run_coordinator" in config


def test_run_command_is_dagster_api_execute_run_for_the_runs_origin(tmp_path):
    """The real ``ExecuteRunArgs(...).get_command_args()``, with the entry point naming the interpreter."""
    import sys

    from dagster._core.definitions.reconstruct import ReconstructableRepository
    from dagster._grpc.types import ExecuteRunArgs
    from dagster._serdes import deserialize_value

    origin = (
        ReconstructableRepository.for_module("tol10m_assets_tests.slurm.slow_defs", "defs", working_directory=os.getcwd())
        .get_reconstructable_job("sleep_job")
        .get_python_origin()
    )
    with instance_for_test() as instance:
        run = instance.create_run_for_job(slow_defs.resolve_job_def("sleep_job"), job_code_origin=origin)
        for config, python in (({}, sys.executable), ({"python_executable": "/opt/node/python"}, "/opt/node/python")):
            launcher = SlurmRunLauncher(log_directory=str(tmp_path), **config)
            launcher.register_instance(instance)
            command = REAL_RUN_COMMAND(launcher, run)
            assert command[:5] == [python, "-m", "dagster", "api", "execute_run"]
            args = deserialize_value(command[5], ExecuteRunArgs)
            assert args.run_id == run.run_id and args.set_exit_code_on_failure and args.instance_ref is not None
            assert args.job_origin.job_name == "sleep_job"


def test_commands_may_be_strings_or_lists(tmp_path):
    from dagster._config import process_config
    from dagster._config.field import resolve_to_config_type

    schema = resolve_to_config_type(SlurmRunLauncher.config_type())
    for value in ("ssh login1 sbatch", ["ssh", "login1", "sbatch"]):
        result = process_config(schema, {"sbatch": value})
        assert result.success, result.errors
        launcher = SlurmRunLauncher.from_config_value(None, result.value)
        assert launcher.commands["sbatch"] == ["ssh", "login1", "sbatch"]
        assert launcher.commands["squeue"] == ["squeue"]
