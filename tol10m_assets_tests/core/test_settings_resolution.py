"""One way to resolve the settings (issue 20) and settings errors that name the setting (issues 19, 25)."""

from __future__ import annotations

import contextlib
import json

import pytest
from dagster import DagsterInstance, DagsterRunStatus, instance_for_test, materialize

from tol10m_assets import cli
from tol10m_assets.defs.resources import (
    SAMPLE_ENV,
    SETTINGS_ENV,
    SETTINGS_TAG,
    SettingsFileError,
    TreeOfLifeConfig,
    default_settings,
    resolve_settings,
    settings_message_in,
)
from tol10m_assets.run import SAMPLE_SETTINGS


@pytest.fixture
def clean_env(monkeypatch):
    for name in (SETTINGS_ENV, SAMPLE_ENV, "TOL10M_DATA_ROOT", "TOL10M_SOURCES_ROOT"):
        monkeypatch.setenv(name, "")  # recorded, so that teardown also undoes what the code under test sets
        monkeypatch.delenv(name)      # (the CLI's --sample sets $TOL10M_SAMPLE for its children)
    return monkeypatch


def test_the_sample_settings_are_the_same_for_the_cli_and_the_code_location(clean_env, tmp_path):
    """`--sample` (CLI) and `$TOL10M_SAMPLE` (what `tol10m ui --sample` hands the UI's code location) give
    the sample's settings, max_corrupt_share included (it was 0.01 in the UI, 0.25 in the build)."""
    from_cli = resolve_settings(sample=tmp_path / "sample")
    clean_env.setenv(SAMPLE_ENV, str(tmp_path / "sample"))
    in_the_ui = default_settings()
    assert from_cli == in_the_ui
    assert in_the_ui.max_corrupt_share == SAMPLE_SETTINGS["max_corrupt_share"] == 0.25
    assert in_the_ui.resolved_data_root() == tmp_path / "sample" / "TreeOfLife-10M"
    assert in_the_ui.resolved_sources_root() == tmp_path / "sample" / "sources"


def test_a_settings_file_goes_over_the_sample_and_overrides_over_both(clean_env, tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("max_corrupt_share: 0.5\nwidth: 64\n")
    clean_env.setenv(SETTINGS_ENV, str(path))
    tol = resolve_settings(sample=tmp_path / "sample", width=32)
    assert (tol.max_corrupt_share, tol.width) == (0.5, 32)
    assert tol.resolved_data_root() == tmp_path / "sample" / "TreeOfLife-10M"
    assert default_settings().width == 64


def test_the_cli_resolves_with_resolve_settings(clean_env, tmp_path):
    clean_env.chdir(tmp_path)
    args = cli.parser().parse_args(["partitions", "--sample"])
    assert cli.settings(args) == resolve_settings(sample=tmp_path / "data" / "sample")


@pytest.mark.parametrize("text,setting,message", [
    ("width: -5\n", "width", "greater than 0"),
    ("max_corrupt_share: abc\n", "max_corrupt_share", "valid number"),
    ("max_corrupt_share: 2\n", "max_corrupt_share", "less than or equal to 1"),
    ("jpeg_quality: 0\n", "jpeg_quality", "greater than or equal to 1"),
    ("taxa_thresholds:\n  gaps: [0, 1]\n", "taxa_thresholds", "unknown taxa_thresholds figure"),
])
def test_a_bad_setting_is_one_line_naming_it_with_the_validation_message(clean_env, tmp_path, text, setting, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(SettingsFileError) as caught:
        resolve_settings(config=path)
    line = str(caught.value)
    assert "\n" not in line and str(path) in line and f"setting `{setting}`" in line and message in line, line


def test_a_settings_error_from_inside_a_run_keeps_the_setting_and_the_message():
    """A launchpad run with a bad value fails in Dagster with pydantic's text: the CLI's one line keeps both."""
    with pytest.raises(Exception) as caught:
        TreeOfLifeConfig(width=-5)
    text = f"Error executing resource_fn on ResourceDefinition tol\n{caught.value}\nStack Trace: ..."
    assert settings_message_in(text) == "setting `width`: Input should be greater than 0 (given -5)"
    assert "setting `width`: Input should be greater than 0" in cli.one_line(RuntimeError(text))


def test_every_run_records_the_settings_it_ran_with(tmp_path):
    from dagster import asset

    @asset
    def uses_tol(tol: TreeOfLifeConfig) -> int:
        return tol.width

    tol = TreeOfLifeConfig(data_root=str(tmp_path), max_corrupt_share=0.25, width=100)
    with instance_for_test() as instance:
        result = materialize([uses_tol], resources={"tol": tol}, instance=instance)
        recorded = json.loads(instance.get_run_by_id(result.run_id).tags[SETTINGS_TAG])
    assert (recorded["max_corrupt_share"], recorded["width"], recorded["data_root"]) == (0.25, 100, str(tmp_path))


def test_slurm_status_says_slurm_is_unreachable_instead_of_stale_states(tmp_path, monkeypatch, capsys):
    from tol10m_assets.slurm import __main__ as slurm_cli
    from tol10m_assets.slurm.launcher import JOB_ID_TAG, STATE_TAG
    from tol10m_assets_tests.slurm.slow_defs import defs as slow_defs
    from tol10m_assets_tests.slurm.test_launcher_unit import PING_DOWN, FakeSlurm

    slurm = FakeSlurm(tmp_path)
    with instance_for_test() as instance:
        instance._run_launcher = slurm.launcher(instance, tmp_path)
        instance.create_run_for_job(slow_defs.resolve_job_def("sleep_job"), status=DagsterRunStatus.STARTED,
                                    tags={JOB_ID_TAG: "77", STATE_TAG: "RUNNING"})
        monkeypatch.setattr(DagsterInstance, "get", staticmethod(lambda: contextlib.nullcontext(instance)))
        assert slurm_cli.main(["status"]) == 0
        assert "RUNNING" in capsys.readouterr().out
        slurm.set("scontrol", PING_DOWN)
        assert slurm_cli.main(["status"]) == 3
        shown = capsys.readouterr()
    assert "Slurm is unreachable" in shown.err and "RUNNING" not in shown.out and "77" in shown.out
