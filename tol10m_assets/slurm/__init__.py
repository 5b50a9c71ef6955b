"""The Slurm run launcher (``tol10m_assets.slurm.SlurmRunLauncher``), its run coordinator
(``SlurmRunCoordinator``: the sweep and the queue cap) and its batch scripts."""

from tol10m_assets.slurm.coordinator import SlurmRunCoordinator
from tol10m_assets.slurm.launcher import (
    HEALTH_TAG,
    JOB_ID_TAG,
    LOG_TAG,
    NODE_TAG,
    REASON_TAG,
    SCRIPT_TAG,
    STATE_TAG,
    SlurmRunLauncher,
)
from tol10m_assets.slurm.script import (
    RUN_COMMENT,
    TAG_PREFIX,
    BatchScript,
    SlurmOptions,
    UnsafeValue,
)

__all__ = [
    "HEALTH_TAG", "JOB_ID_TAG", "LOG_TAG", "NODE_TAG", "REASON_TAG", "RUN_COMMENT", "SCRIPT_TAG", "STATE_TAG", "TAG_PREFIX",
    "BatchScript", "SlurmOptions", "SlurmRunCoordinator", "SlurmRunLauncher", "UnsafeValue",
]
