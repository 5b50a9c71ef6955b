"""The one resource every asset reads: where things live and how the dataset is built."""


import os
from pathlib import Path

from dagster import ConfigurableResource
from pydantic import Field

from tol10m_assets.layout import DEFAULT_PATHS, SourceLayout
from tol10m_assets.paths import BuildPaths, default_data_root, default_sources_root
from tol10m_assets.sources import Chunking


class TreeOfLifeConfig(ConfigurableResource):
    """Settings of a build. Defaults reproduce the published dataset.

    Empty ``data_root`` / ``sources_root`` mean: the ``TOL10M_DATA_ROOT`` / ``TOL10M_SOURCES_ROOT``
    environment variables, else ``./data/TreeOfLife-10M`` and ``<data_root>/sources``.
    """

    data_root: str = Field(default="", description="Where the build writes (env TOL10M_DATA_ROOT).")
    sources_root: str = Field(default="", description="Where the raw inputs live (env TOL10M_SOURCES_ROOT).")
    source_paths: dict[str, str] = Field(
        default_factory=dict,
        description="Per-input overrides, relative to sources_root or absolute; keys: " + ", ".join(DEFAULT_PATHS),
    )
    mode: str = Field(default="generate", description="generate (our ids) or reproduce (published ids and splits).")
    width: int = 224
    height: int = 224
    jpeg_quality: int = Field(default=100, description="The published shards use quality 100.")
    resize_mode: str = Field(default="squash", description="squash (published), center_crop or keep_ratio.")
    val_percent: float = 5.0
    train_small_percent: float = 10.0
    seed: int = 0
    shard_max_samples: int = 100_000
    shard_max_bytes: int = 3_000_000_000
    workers: int = Field(default=0, description="Worker processes per shard partition; 0 = the CPUs Slurm or the machine gives.")
    inat21_classes_per_partition: int = 100
    bioscan_parts_per_partition: int = 10
    exclude_rare_species: bool = True
    max_corrupt_share: float = Field(
        default=0.01, description="check_wds fails a partition when more than this share of its planned images is corrupt."
    )
    verify_hashes: bool = Field(
        default=True, description="The catalog re-hashes every committed shard (sha256) before publishing; false: sizes only."
    )
    taxa_thresholds: dict[str, list[float]] = Field(
        default_factory=dict, description="check_taxa overrides: figure -> [warn_above, error_above]."
    )

    def resolved_data_root(self) -> Path:
        return Path(self.data_root or default_data_root()).absolute()

    def resolved_sources_root(self) -> Path:
        if self.sources_root:
            return Path(self.sources_root).absolute()
        if self.data_root and not os.environ.get("TOL10M_SOURCES_ROOT"):
            return Path(self.data_root).absolute() / "sources"
        return Path(default_sources_root()).absolute()

    def layout(self) -> SourceLayout:
        unknown = set(self.source_paths) - set(DEFAULT_PATHS)
        if unknown:
            raise ValueError(f"unknown source_paths key(s) {sorted(unknown)}; known: {sorted(DEFAULT_PATHS)}")
        return SourceLayout.under(self.resolved_sources_root(), **self.source_paths)

    def paths(self) -> BuildPaths:
        return BuildPaths(self.resolved_data_root(), self.width, self.height)

    def chunking(self) -> Chunking:
        return Chunking(self.mode, self.inat21_classes_per_partition, self.bioscan_parts_per_partition)

    def image_settings(self):
        from tol10m_assets.shards import ImageSettings

        return ImageSettings(width=self.width, height=self.height, quality=self.jpeg_quality, resize_mode=self.resize_mode)

    def worker_count(self) -> int:
        if self.workers > 0:
            return self.workers
        slurm = os.environ.get("SLURM_CPUS_PER_TASK")
        if slurm and slurm.isdigit():
            return int(slurm)
        return len(os.sched_getaffinity(0))
