"""The Slurm run launcher (``tol10m_assets.slurm.SlurmRunLauncher``) and its batch scripts."""

from tol10m_assets.slurm.launcher import JOB_ID_TAG, LOG_TAG, SCRIPT_TAG, SlurmRunLauncher
from tol10m_assets.slurm.script import TAG_PREFIX, BatchScript, SlurmOptions, UnsafeValue

__all__ = ["JOB_ID_TAG", "LOG_TAG", "SCRIPT_TAG", "TAG_PREFIX", "BatchScript", "SlurmOptions", "SlurmRunLauncher", "UnsafeValue"]
