"""The project's definitions with the sample world's settings (it damages images on purpose, far above
the 1 % corrupt share a real source may have): the code location the Slurm tests load."""

from tol10m_assets.definitions import build_definitions
from tol10m_assets.defs.resources import TreeOfLifeConfig
from tol10m_assets.run import SAMPLE_SETTINGS

defs = build_definitions(TreeOfLifeConfig(**SAMPLE_SETTINGS))
