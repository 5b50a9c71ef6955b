"""The ``computed`` label source: the naming code (sections 3-4 of the spec) over the raw name sources."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tol10m_assets.layout import SourceLayout


def computed_lookups(layout: SourceLayout, mapping: Path, log: Callable = print) -> dict:
    """EOL pages, iNat21 classes and BIOSCAN images resolved by the taxonomy (``labels.resolve_lookups``)."""
    from tol10m_assets.labels import resolve_lookups

    return resolve_lookups(layout, mapping, log=log)
