"""The one resource every asset reads: where things live and how the dataset is built."""


import os
from pathlib import Path
from typing import Literal

from dagster import ConfigurableResource
from pydantic import Field, field_validator

from tol10m_assets.layout import DEFAULT_PATHS, SourceLayout
from tol10m_assets.paths import BuildPaths, default_data_root, default_sources_root
from tol10m_assets.sources import Chunking


SETTINGS_ENV = "TOL10M_SETTINGS"  # a YAML settings file read by the code location (the UI) and the CLI

THRESHOLD_MEANINGS = {
    "hierarchy_gap_share": "share of rows with a missing rank above a present one",
    "multiword_species_share": "share of rows whose species value has more than one word",
    "unidentified_species": "rows whose species is `(unidentified)`",
    "incomplete_share": "share of rows without all seven ranks",
    "unexpected_kingdoms": "kingdoms other than Animalia, Fungi, Plantae",
}


def _thresholds_description() -> str:
    from tol10m_assets.thresholds import DEFAULT_THRESHOLDS

    figures = "; ".join(
        f"`{name}` ({THRESHOLD_MEANINGS.get(name, name)}): {list(DEFAULT_THRESHOLDS[name])}" for name in DEFAULT_THRESHOLDS
    )
    return (
        "check_taxa limits, figure -> [warn_above, error_above]; a figure left out keeps its default. "
        f"Figures and defaults: {figures}."
    )


class TreeOfLifeConfig(ConfigurableResource):
    """Settings of a build. Defaults reproduce the published dataset.

    Empty `data_root` / `sources_root` mean: the `TOL10M_DATA_ROOT` / `TOL10M_SOURCES_ROOT`
    environment variables, else `./data/TreeOfLife-10M` and `<data_root>/sources`. The same settings
    can come from a YAML file (`tol10m build --config FILE`, or `TOL10M_SETTINGS=FILE` for the UI).
    """

    data_root: str = Field(default="", description="Where the build writes (env TOL10M_DATA_ROOT).")
    sources_root: str = Field(default="", description="Where the raw inputs live (env TOL10M_SOURCES_ROOT).")
    source_paths: dict[str, str] = Field(
        default_factory=dict,
        description="Per-input overrides, relative to sources_root or absolute; keys: " + ", ".join(DEFAULT_PATHS),
    )
    mode: Literal["generate", "reproduce"] = Field(
        default="generate",
        description="`generate`: our deterministic ids (UUID5 of the source identity); `reproduce`: ids, EOL page "
        "ids and splits from the published mapping.sqlite.",
    )
    width: int = Field(default=224, description="Output image width in pixels (the shard folder is `<W>x<H>`).")
    height: int = Field(default=224, description="Output image height in pixels.")
    jpeg_quality: int = Field(default=100, description="JPEG quality of the output images; the published shards use 100.")
    resize_mode: Literal["squash", "center_crop", "keep_ratio"] = Field(
        default="squash",
        description="`squash` (published: to W×H without keeping the aspect ratio, bicubic), `center_crop` "
        "(cover then crop the centre) or `keep_ratio` (fit inside W×H, padded).",
    )
    val_percent: float = Field(default=5.0, description="Percent of each source's images in `val` (a seeded hash per id).")
    train_small_percent: float = Field(
        default=10.0, description="Percent of `train` repeated in `train_small` (the published build used 10)."
    )
    seed: int = Field(default=0, description="Seed of the split hash: another seed gives other (still deterministic) splits.")
    shard_max_samples: int = Field(default=100_000, description="A new shard starts after this many samples (as the original).")
    shard_max_bytes: int = Field(default=3_000_000_000, description="… or after this many bytes (3 GB, as the original).")
    workers: int = Field(default=0, description="Worker processes per shard partition; 0 = the CPUs Slurm or the machine gives.")
    inat21_classes_per_partition: int = Field(
        default=100, description="iNat21 classes per shard partition (`inat21-NNN`); changing it re-keys the partitions."
    )
    bioscan_parts_per_partition: int = Field(
        default=10, description="BIOSCAN parts per shard partition (`bioscan-NNN`); changing it re-keys the partitions."
    )
    exclude_rare_species: bool = Field(
        default=True,
        description="Leave out the Rare Species benchmark (species and images of both lists); needs `rare_seen` and "
        "`rare_unseen`. Off only for experiments: the catalog check `rare_species_excluded` is then skipped.",
    )
    max_corrupt_share: float = Field(
        default=0.01, description="check_wds fails a partition when more than this share of its planned images is corrupt."
    )
    verify_hashes: bool = Field(
        default=True, description="The catalog re-hashes every committed shard (sha256) before publishing; false: sizes only."
    )
    taxa_thresholds: dict[str, list[float]] = Field(
        default_factory=lambda: _default_thresholds(), description=_thresholds_description()
    )

    @field_validator("taxa_thresholds")
    @classmethod
    def _known_thresholds(cls, value: dict) -> dict:
        from tol10m_assets.thresholds import DEFAULT_THRESHOLDS

        unknown = sorted(set(value) - set(DEFAULT_THRESHOLDS))
        if unknown:
            raise ValueError(f"unknown taxa_thresholds figure(s) {unknown}; known: {sorted(DEFAULT_THRESHOLDS)}")
        bad = sorted(k for k, v in value.items() if len(v) != 2)
        if bad:
            raise ValueError(f"taxa_thresholds {bad}: give [warn_above, error_above]")
        return value

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


def _default_thresholds() -> dict[str, list[float]]:
    from tol10m_assets.thresholds import DEFAULT_THRESHOLDS

    return {k: [float(x) for x in v] for k, v in DEFAULT_THRESHOLDS.items()}


class SettingsFileError(ValueError):
    """A settings file that cannot be read or does not fit the `tol` settings; the message names the file."""


def read_settings_file(path: str | Path) -> dict:
    """The `tol` settings of a YAML file: either the settings themselves (as under `resources.tol.config`
    of run config) or a whole run config (`resources: tol: config: ...`). Unknown keys are an error."""
    import yaml

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise SettingsFileError(f"{path}: cannot read the settings file ({exc})") from None
    if not isinstance(data, dict):
        raise SettingsFileError(f"{path}: expected a mapping of settings, found {type(data).__name__}")
    if "resources" in data:
        data = ((data.get("resources") or {}).get("tol") or {}).get("config") or {}
    known = set(TreeOfLifeConfig.model_fields)
    unknown = sorted(set(data) - known)
    if unknown:
        raise SettingsFileError(f"{path}: unknown setting(s) {unknown}; known: {sorted(known)}")
    base = path.parent.absolute()
    for key in ("data_root", "sources_root"):  # relative roots are relative to the file, not the shell
        if data.get(key) and not Path(str(data[key])).is_absolute():
            data[key] = str(base / str(data[key]))
    return data


def settings_from_file(path: str | Path, **overrides) -> TreeOfLifeConfig:
    data = {**read_settings_file(path), **overrides}
    try:
        return TreeOfLifeConfig(**data)
    except ValueError as exc:
        raise SettingsFileError(f"{path}: {exc}") from None


def default_settings() -> TreeOfLifeConfig:
    """`TOL10M_SETTINGS` (a YAML file) when set, else the environment-driven defaults."""
    path = os.environ.get(SETTINGS_ENV)
    return settings_from_file(path) if path else TreeOfLifeConfig()
