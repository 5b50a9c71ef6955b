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

    def lookup(self, source: str) -> Path:
        return self.metadata / "lookups" / f"{source}.parquet"

    @property
    def predicted_catalog(self) -> Path:
        return self.metadata / "predicted-catalog.csv"

    @property
    def dataset(self) -> Path:
        return self.root / "dataset" / f"{self.width}x{self.height}"

    def stats(self, partition: str) -> Path:
        return self.dataset / "stats" / f"{partition}.json"

    @property
    def catalog_dir(self) -> Path:
        return self.root / "catalog"

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
