"""tol10m-assets: build TreeOfLife-10M as Dagster software-defined assets.

The core (``taxonomy``, ``sources``, ``shards``, ``catalog``, ``sample``, ``download``) has no Dagster
imports; the Dagster layer lives in ``tol10m_assets.defs`` and ``tol10m_assets.definitions``.
"""

__version__ = "0.1.0"
