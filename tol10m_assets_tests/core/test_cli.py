"""`tol10m`: settings files, one error line with the trace in a log, `partitions`, `explain`, `ui`
stopping on a signal, and a build of a world laid out differently from the default (no symlinks)."""

from __future__ import annotations

import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tol10m_assets import cli
from tol10m_assets.defs.resources import SettingsFileError, read_settings_file, settings_from_file
from tol10m_assets.layout import DEFAULT_PATHS

REPO = Path(__file__).resolve().parents[2]


# --- settings files ----------------------------------------------------------------------------------


def test_a_settings_file_is_the_schema_of_resources_tol_config(tmp_path):
    plain = tmp_path / "plain.yaml"
    plain.write_text("data_root: out\nmode: reproduce\nresize_mode: center_crop\ntaxa_thresholds:\n  incomplete_share: [0.3, 0.7]\n")
    tol = settings_from_file(plain)
    assert tol.resolved_data_root() == tmp_path / "out"  # relative to the file, not to the shell
    assert (tol.mode, tol.resize_mode, tol.taxa_thresholds) == ("reproduce", "center_crop", {"incomplete_share": [0.3, 0.7]})
    run_config = tmp_path / "run.yaml"  # a whole run config, as the launchpad takes it
    run_config.write_text("resources:\n  tol:\n    config:\n      width: 128\n      seed: 3\n")
    assert read_settings_file(run_config) == {"width": 128, "seed": 3}


@pytest.mark.parametrize("text,named", [
    ("widht: 128\n", "widht"),
    ("mode: regenerate\n", "mode"),
    ("resize_mode: stretch\n", "resize_mode"),
    ("taxa_thresholds:\n  gaps: [0, 1]\n", "gaps"),
    ("- a list\n", "mapping"),
])
def test_a_wrong_setting_is_an_error_naming_the_file_and_the_setting(tmp_path, text, named):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(SettingsFileError) as caught:
        settings_from_file(path)
    assert str(path) in str(caught.value) and named in str(caught.value)


def test_every_setting_is_described_and_the_enumerated_ones_are_typed():
    from dagster._config.pythonic_config import infer_schema_from_config_class

    from tol10m_assets.defs.resources import TreeOfLifeConfig

    fields = infer_schema_from_config_class(TreeOfLifeConfig).config_type.fields
    undescribed = sorted(name for name, field in fields.items() if not field.description)
    assert not undescribed, f"settings without a description: {undescribed}"
    assert fields["mode"].config_type.kind.name == "ENUM" and fields["resize_mode"].config_type.kind.name == "ENUM"
    for figure in ("hierarchy_gap_share", "multiword_species_share", "incomplete_share"):
        assert figure in fields["taxa_thresholds"].description


# --- the command line ----------------------------------------------------------------------------------


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("TOL10M_SETTINGS", raising=False)
    return tmp_path / "home"


def test_an_error_is_one_line_and_the_trace_is_in_a_log_file(home, tmp_path, capsys):
    missing = tmp_path / "nowhere.yaml"
    assert cli.main(["build", "--config", str(missing)]) == 1
    err = capsys.readouterr().err.splitlines()  # one line, the log's path at its end (issue 25: it was two)
    assert len(err) == 1 and err[0].startswith("tol10m build failed:") and str(missing) in err[0], err
    log = Path(err[0].split("full trace: ")[1].rstrip(")"))
    assert log.parent == home / "logs" and "Traceback" in log.read_text()


def test_explain_is_the_explain_module(home, monkeypatch, tmp_path):
    """`tol10m explain ID [options]` is `python -m tol10m_assets.explain` over the settings in effect (since
    issue 25: the same `--config`/`--sample` as every command; `--data-root` still wins)."""
    from tol10m_assets import explain

    seen = []
    monkeypatch.setattr(explain, "main", lambda argv, layout=None: seen.append(argv) or 0)
    assert cli.main(["explain", "0233c093-d442-5303-bc54-ceb3a7a4a132", "--data-root", "x"]) == 0
    argv = seen[-1]
    assert argv[0] == "0233c093-d442-5303-bc54-ceb3a7a4a132" and argv[argv.index("--data-root") + 1] == "x"
    config = tmp_path / "s.yaml"
    config.write_text("data_root: built\nwidth: 128\n")
    assert cli.main(["explain", "a.jpg", "--config", str(config)]) == 0
    argv = seen[-1]
    assert argv[argv.index("--data-root") + 1] == str(tmp_path / "built") and argv[argv.index("--width") + 1] == "128"


def test_the_console_script_is_declared():
    assert 'tol10m = "tol10m_assets.cli:main"' in (REPO / "pyproject.toml").read_text()


def test_progress_without_a_terminal_prints_plain_lines():
    out = io.StringIO()
    bar = cli.Progress(out)
    bar(0, 2, 0, 100, "eol-01")
    bar(1, 2, 60, 100, "eol-02")
    bar(2, 2, 100, 100, "")
    lines = out.getvalue().splitlines()
    assert len(lines) == 3 and "\r" not in out.getvalue()
    assert "1/2 partitions, 60/100 images" in lines[1] and lines[2].startswith("shards [" + "#" * 30 + "]")


SIGTERM_DEAF = "import os, signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); open(sys.argv[1], 'w').write(str(os.getpid())); time.sleep(300)"


def test_run_until_signal_ends_a_child_that_ignores_sigterm(tmp_path):
    pid_file = tmp_path / "child.pid"
    wrapper = ("import os, sys; from tol10m_assets.cli import run_until_signal; "
               f"sys.exit(run_until_signal([sys.executable, '-c', {SIGTERM_DEAF!r}, {str(pid_file)!r}], dict(os.environ), grace=2))")
    proc = subprocess.Popen([sys.executable, "-c", wrapper], stdout=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not pid_file.exists() or not pid_file.read_text():
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.1)
    child = int(pid_file.read_text())
    start = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    assert time.monotonic() - start < 15
    time.sleep(0.2)
    with pytest.raises(ProcessLookupError):
        os.kill(child, 0)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_ui_starts_and_stops_on_ctrl_c(tmp_path):
    port = free_port()
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path / "home"), "TOL10M_DATA_ROOT": str(tmp_path / "data"),
           "TOL10M_SOURCES_ROOT": str(tmp_path / "sources")}
    env.pop("TOL10M_SETTINGS", None)
    log = open(tmp_path / "ui.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "tol10m_assets.cli", "ui", "--port", str(port)], cwd=REPO, env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while True:
            assert proc.poll() is None, (tmp_path / "ui.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "the UI did not answer: " + (tmp_path / "ui.log").read_text()[-3000:]
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=3).read()
                break
            except OSError:
                time.sleep(1)
        start = time.monotonic()
        os.kill(proc.pid, signal.SIGINT)
        assert proc.wait(timeout=60) == 0
        assert time.monotonic() - start < 30, "Ctrl-C took too long"
        output = (tmp_path / "ui.log").read_text()
        assert "SupersessionWarning" not in output and "PreviewWarning" not in output
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        log.close()


# --- a world laid out differently, built from a settings file -----------------------------------------


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_build_with_a_settings_file_builds_a_world_laid_out_differently(tmp_path):
    """Every input moved to a place of its own (no symlink anywhere), named in the settings file."""
    from tol10m_assets.sample import make_sample_world

    default = tmp_path / "default"
    make_sample_world(default, images=120, seed=1, log=lambda *a, **k: None)
    mine = tmp_path / "my inputs"  # a space in the path too
    paths = {}
    for key, rel in DEFAULT_PATHS.items():
        source = default / rel
        if source.exists():
            target = mine / f"{key}-here" / Path(rel).name
            target.parent.mkdir(parents=True)
            shutil.move(str(source), str(target))
            paths[key] = str(target.relative_to(mine))
    shutil.rmtree(default)
    links = [os.path.join(d, n) for d, dirs, files in os.walk(mine) for n in dirs + files if os.path.islink(os.path.join(d, n))]
    assert not links and {"eol_images", "inat21_train", "bioscan_images", "taxon_tab"} <= set(paths)
    settings = tmp_path / "settings.yaml"
    lines = ["sources_root: my inputs", "data_root: out", "workers: 1", "max_corrupt_share: 0.25", "source_paths:"]
    settings.write_text("\n".join(lines + [f"  {k}: {v}" for k, v in paths.items()]) + "\n")
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path / "home")}
    for name in ("TOL10M_SETTINGS", "TOL10M_DATA_ROOT", "TOL10M_SOURCES_ROOT"):
        env.pop(name, None)
    done = subprocess.run([sys.executable, "-m", "tol10m_assets.cli", "build", "--config", str(settings)], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=800)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Warning" not in done.stderr, done.stderr[-2000:]
    assert "6/6 partitions" in done.stdout or "partitions, " in done.stdout  # the progress bar
    catalog = (tmp_path / "out" / "published" / "metadata" / "catalog.csv").read_text().splitlines()
    assert len(catalog) > 50
    sources = {("eol" if row.split(",")[2] else "inat21" if row.split(",")[8] else "bioscan") for row in catalog[1:]}
    assert sources == {"eol", "inat21", "bioscan"}

    listing = subprocess.run([sys.executable, "-m", "tol10m_assets.cli", "partitions", "--config", str(settings)],
                             cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert listing.returncode == 0, listing.stderr[-2000:]
    rows = [line.split() for line in listing.stdout.splitlines()[1:] if line.strip()]
    assert rows and all(r[1] == "committed" and r[-1] == "succeeded" for r in rows), listing.stdout
    assert {r[0].split("-")[0] for r in rows} == {"eol", "inat21", "bioscan"}
