"""Shared pytest fixtures, the ``tol10m_assets.testing`` plugin, and markers applied by directory."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT.parent / "shared"
TESTS = Path(__file__).resolve().parent

# The fixtures of tol10m_assets.testing (tol10m_world, tol10m_tol, tol10m_instance), also when the
# package's pytest11 entry point is not installed or plugin autoloading is off.
pytest_plugins = ["tol10m_assets.testing"]


def _terminated(signum, _frame):
    raise KeyboardInterrupt(f"stopped by signal {signum}")


def pytest_configure(config):
    """Ctrl-C and SIGTERM stop the suite (fixtures torn down) whatever it inherited: started with `&` from a
    script it has SIGINT ignored, and Dagster's in-process runs would then ignore SIGTERM too; the processes
    the tests start get the default handling."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _terminated)


@pytest.fixture(scope="session")
def shared_rarespecies() -> Path:
    """The real rare-species reference data in ../shared/data/rarespecies (skips where absent)."""
    path = SHARED / "data" / "rarespecies"
    if not (path / "unseen_in_training.json").exists():
        pytest.skip("../shared/data/rarespecies is not present beside the repository")
    return path


def directory_marks(path: Path, name: str, fixtures: list[str]) -> list[str]:
    """The markers a test gets from where it lives (and, in slurm/, from what it needs):
    ui/ → ui; slurm/ tests using the cluster (the ``slurm`` fixture) → slurm, and → postgres when
    their name says so; pipeline/ (end-to-end builds, faults, SIGKILL) → slow."""
    try:
        folder = path.resolve().relative_to(TESTS).parts[0]
    except (ValueError, IndexError):
        return []
    marks = []
    if folder == "ui":
        marks.append("ui")
    if folder == "slurm" and "slurm" in fixtures:
        marks.append("slurm")
        if "postgres" in name:
            marks.append("postgres")
    if folder == "pipeline":
        marks.append("slow")
    return marks


def pytest_collection_modifyitems(config, items):
    for item in items:
        have = {m.name for m in item.iter_markers()}
        for mark in directory_marks(Path(str(item.path)), item.name, list(getattr(item, "fixturenames", []))):
            if mark not in have:
                item.add_marker(mark)
