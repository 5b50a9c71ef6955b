"""Fixtures for the release tests: the pipeline's session build, and two releases built one after the other."""

from tol10m_assets_tests.pipeline.conftest import built, world  # noqa: F401  (the session build of the sample world)
