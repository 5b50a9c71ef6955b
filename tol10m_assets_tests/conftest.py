"""Shared pytest fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT.parent / "shared"


@pytest.fixture(scope="session")
def shared_rarespecies() -> Path:
    """The real rare-species reference data in ../shared/data/rarespecies (skips where absent)."""
    path = SHARED / "data" / "rarespecies"
    if not (path / "unseen_in_training.json").exists():
        pytest.skip("../shared/data/rarespecies is not present beside the repository")
    return path
