"""Where a build writes its outputs under the data root (see docs/architecture.md)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DATA_ROOT_ENV = "TOL10M_DATA_ROOT"
SOURCES_ROOT_ENV = "TOL10M_SOURCES_ROOT"
DEFAULT_DATA_ROOT = "data/TreeOfLife-10M"


def default_data_root() -> str:
    return os.environ.get(DATA_ROOT_ENV) or DEFAULT_DATA_ROOT


def default_sources_root() -> str:
    return os.environ.get(SOURCES_ROOT_ENV) or str(Path(default_data_root()) / "sources")


@dataclass(frozen=True)
class BuildPaths:
    root: Path
    width: int = 224
    height: int = 224

    @property
    def metadata(self) -> Path:
        return self.root / "metadata"

    @property
    def mapping(self) -> Path:
        return self.metadata / "mapping.parquet"

    @property
    def mapping_sqlite(self) -> Path:
        return self.metadata / "mapping.sqlite"

    @property
    def splits(self) -> Path:
        return self.metadata / "splits.parquet"

    @property
    def labels(self) -> Path:
        return self.metadata / "labels.parquet"

    @property
    def takedowns(self) -> Path:
        """The resolved takedown list: ``treeoflife_id``, ``reason`` (always written; empty without a list)."""
        return self.metadata / "takedowns.parquet"

    @property
    def takedowns_summary(self) -> Path:
        """What the takedown list resolved to: entries, unknown ones, the partitions holding listed ids."""
        return self.metadata / "takedowns.json"

    def lookup(self, source: str) -> Path:
        return self.metadata / "lookups" / f"{source}.parquet"

    @property
    def predicted_catalog(self) -> Path:
        return self.metadata / "predicted-catalog.csv"

    @property
    def size_name(self) -> str:
        return f"{self.width}x{self.height}"

    @property
    def store(self) -> Path:
        """Partition generations and manifests (``store.PartitionStore``)."""
        return self.root / "store" / self.size_name

    @property
    def releases(self) -> Path:
        return self.root / "releases"

    @property
    def published(self) -> Path:
        """A symlink to the current release: replaced atomically, only by a checked release."""
        return self.root / "published"

    @property
    def dataset(self) -> Path:
        """The published shards: ``<split>/shard-NNNNNN.tar``, ``sizes.json``, the dataset card."""
        return self.published / self.size_name

    @property
    def catalog_dir(self) -> Path:
        return self.published / "metadata"

    @property
    def catalog_csv(self) -> Path:
        return self.catalog_dir / "catalog.csv"

    @property
    def catalog_parquet(self) -> Path:
        return self.catalog_dir / "catalog.parquet"

    @property
    def taxa_report(self) -> Path:
        return self.catalog_dir / "taxa_report.md"

    @property
    def licenses(self) -> Path:
        return self.catalog_dir / "licenses.csv"
