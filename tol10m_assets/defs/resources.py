"""The one resource every asset reads: where things live and how the dataset is built.

Settings are resolved one way everywhere (`resolve_settings`): the CLI, the UI's code location,
`dagster asset materialize` in an sbatch job and the tests' sample settings.
"""


import json
import os
import re
from pathlib import Path
from typing import Literal

from dagster import ConfigurableResource, InitResourceContext
from pydantic import Field, ValidationError, field_validator

from tol10m_assets.layout import DEFAULT_PATHS, SourceLayout
from tol10m_assets.run import SAMPLE_SETTINGS
from tol10m_assets.paths import BuildPaths, default_data_root, default_sources_root
from tol10m_assets.sources import Chunking


SETTINGS_ENV = "TOL10M_SETTINGS"  # a YAML settings file read by the code location (the UI) and the CLI
SAMPLE_ENV = "TOL10M_SAMPLE"  # a sample world's folder (`--sample`): its sources, data root and settings
SETTINGS_TAG = "tol10m/settings"  # every run records the settings it ran with (JSON)

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
    label_source: Literal["", "computed", "published", "table"] = Field(
        default="",
        description="Where labels come from: `computed` (the naming code over the raw name sources), `published` (the "
        "published name lookups metadata/naming/*.json), `table` (`label_table`); empty: `published` in reproduce "
        "mode, `computed` in generate mode.",
    )
    label_table: str = Field(
        default="", description="label_source `table`: a Parquet or CSV keyed by treeoflife_id (or uuid) with the seven "
        "ranks and optionally common_name (e.g. TaxonoPy's resolved output); relative = under sources_root.",
    )
    remove_list: str = Field(
        default="", description="Takedowns: a CSV with a header, one image per line by `treeoflife_id` or `source_file` "
        "(e.g. `image_set_03.tar.gz/12345_678_eol-full-size-copy.jpg`, `train/<class dir>/<file>.jpg`, "
        "`part12/<file>.jpg`) and a required `reason`; listed images are skipped (`removed`) and a blocking check keeps "
        "them out of the release (docs/curate.md). Relative = under sources_root; empty: none.",
    )
    width: int = Field(default=224, gt=0, description="Output image width in pixels (the shard folder is `<W>x<H>`).")
    height: int = Field(default=224, gt=0, description="Output image height in pixels.")
    jpeg_quality: int = Field(default=100, ge=1, le=100, description="JPEG quality of the output images; the published shards use 100.")
    resize_mode: Literal["squash", "center_crop", "keep_ratio"] = Field(
        default="squash",
        description="`squash` (published: to W×H without keeping the aspect ratio, bicubic), `center_crop` "
        "(cover then crop the centre) or `keep_ratio` (fit inside W×H, padded).",
    )
    val_percent: float = Field(default=5.0, ge=0, le=100, description="Percent of each source's images in `val` (a seeded hash per id).")
    train_small_percent: float = Field(
        default=10.0, ge=0, le=100, description="Percent of `train` repeated in `train_small` (the published build used 10)."
    )
    seed: int = Field(default=0, description="Seed of the split hash: another seed gives other (still deterministic) splits.")
    shard_max_samples: int = Field(default=100_000, gt=0, description="A new shard starts after this many samples (as the original).")
    shard_max_bytes: int = Field(default=3_000_000_000, gt=0, description="… or after this many bytes (3 GB, as the original).")
    workers: int = Field(default=0, ge=0, description="Worker processes per shard partition; 0 = the CPUs Slurm or the machine gives.")
    inat21_classes_per_partition: int = Field(
        default=100, gt=0, description="iNat21 classes per shard partition (`inat21-NNN`); changing it re-keys the partitions."
    )
    bioscan_parts_per_partition: int = Field(
        default=10, gt=0, description="BIOSCAN parts per shard partition (`bioscan-NNN`); changing it re-keys the partitions."
    )
    exclude_rare_species: bool = Field(
        default=True,
        description="Leave out the Rare Species benchmark (species and images of both lists); needs `rare_seen` and "
        "`rare_unseen`. Off only for experiments: the catalog check `rare_species_excluded` is then skipped.",
    )
    max_corrupt_share: float = Field(
        default=0.01, ge=0, le=1, description="check_wds fails a partition when more than this share of its planned images is corrupt."
    )
    release_shard_samples: int = Field(
        default=0, ge=0,
        description="0: a release hard-links the partitions' shards (sizes vary per partition); N: it copies every "
        "split's samples into shards of N samples (the last the only short one), partitions interleaved.",
    )
    verify_hashes: bool = Field(
        default=True, description="The catalog re-hashes every committed shard (sha256) before publishing; false: sizes "
        "only (the sample tables and manifests are always hashed)."
    )
    caption_check_fraction: float = Field(
        default=1.0, ge=0, le=1,
        description="Share of the staged release's shards whose every caption member is compared with its catalog row "
        "before switching (1: all; the cost is in the release's `verified` metadata).",
    )
    keep_releases: int = Field(
        default=2, ge=2,
        description="Releases kept under releases/ (the build's own, from releases/index.json): the published one and "
        "the ones before it, for a roll-back; never fewer than 2. Pinned releases (`tol10m releases pin`) are kept "
        "besides.",
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

    def setup_for_execution(self, context: InitResourceContext) -> None:
        """Record the settings in effect on the run (tag `tol10m/settings`), whoever launched it."""
        run = getattr(context, "run", None)
        if context.instance is not None and run is not None:
            context.instance.add_run_tags(run.run_id, {SETTINGS_TAG: self.effective_json()})

    def effective(self) -> dict:
        """Every setting as this run uses it (roots resolved)."""
        values = {name: getattr(self, name) for name in type(self).model_fields}
        values.update(data_root=str(self.resolved_data_root()), sources_root=str(self.resolved_sources_root()))
        return values

    def effective_json(self) -> str:
        return json.dumps(self.effective(), sort_keys=True, separators=(",", ":"))

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
        layout = SourceLayout.under(self.resolved_sources_root(), **self.source_paths)
        remove_list = self.remove_list_path()
        return layout.with_paths(remove_list=remove_list) if remove_list else layout

    def chosen_label_source(self) -> str:
        from tol10m_assets.labelsources import chosen_label_source

        return chosen_label_source(self.mode, self.label_source)

    def label_table_path(self) -> Path | None:
        if not self.label_table:
            return None
        path = Path(self.label_table)
        return path if path.is_absolute() else self.resolved_sources_root() / path

    def remove_list_path(self) -> Path | None:
        if not self.remove_list:
            return None
        path = Path(self.remove_list)
        return path if path.is_absolute() else self.resolved_sources_root() / path

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
    """Settings that cannot be read or do not fit the `tol` settings: one line naming the file (if any),
    the setting and the validation message."""


def read_settings_file(path: str | Path) -> dict:
    """The `tol` settings of a YAML file: either the settings themselves (as under `resources.tol.config`
    of run config) or a whole run config (`resources: tol: config: ...`). Unknown keys are an error."""
    import yaml

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        reason = " ".join(str(exc).split())
        raise SettingsFileError(f"{path}: cannot read the settings file ({reason})") from None
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


def validation_message(exc: ValidationError) -> str:
    """pydantic's errors on one line, each naming its setting: "setting `width`: Input should be ... (given -5)"."""
    parts = []
    for error in exc.errors():
        name = ".".join(str(part) for part in error.get("loc", ())) or "?"
        message = error.get("msg", "invalid").removeprefix("Value error, ")
        given = f" (given {error['input']!r})" if "input" in error and not isinstance(error["input"], dict) else ""
        parts.append(f"setting `{name}`: {message}{given}")
    return "; ".join(parts)


_PYDANTIC_HEADER = re.compile(r"\d+ validation errors? for \w+\s*\n")
_PYDANTIC_ENTRY = re.compile(
    r"^(?P<loc>\S[^\n]*)\n\s+(?P<msg>[^\n]+?) \[type=[^,\]\n]+(?:, input_value=(?P<input>[^\n]+?))?(?:, input_type=\w+)?\]",
    re.MULTILINE,
)


def settings_message_in(text: str) -> str | None:
    """The one-line settings message of pydantic's error text (as a failed run reports it), if there is one."""
    header = _PYDANTIC_HEADER.search(text)
    if not header:
        return None
    found = _PYDANTIC_ENTRY.finditer(text, header.end())
    parts = [f"setting `{m['loc'].strip()}`: {m['msg'].strip().removeprefix('Value error, ')}"
             + (f" (given {m['input']})" if m["input"] and m["input"][0] not in "{[" else "") for m in found]
    return "; ".join(parts) or None


def make_settings(data: dict, where: str | Path | None = None) -> TreeOfLifeConfig:
    """`TreeOfLifeConfig(**data)`, or a :class:`SettingsFileError` naming `where` and each bad setting."""
    try:
        return TreeOfLifeConfig(**data)
    except ValidationError as exc:
        raise SettingsFileError(f"{where}: {validation_message(exc)}" if where else validation_message(exc)) from None


def sample_settings(folder: str | Path) -> dict:
    """The sample world in `folder`: its sources, its data root and the settings its builds use."""
    folder = Path(folder).absolute()
    return {"sources_root": str(folder / "sources"), "data_root": str(folder / "TreeOfLife-10M"), **SAMPLE_SETTINGS}


def resolve_settings(config: str | Path | None = None, sample: str | Path | None = None, **overrides) -> TreeOfLifeConfig:
    """The settings in effect, resolved the same way by the CLI, the UI, `dagster` commands and the tests.

    Lowest first: the defaults (roots from `TOL10M_DATA_ROOT` / `TOL10M_SOURCES_ROOT`); the sample world's
    (`sample`, else `$TOL10M_SAMPLE`); the settings file (`config`, else `$TOL10M_SETTINGS`); `overrides`."""
    sample = sample or os.environ.get(SAMPLE_ENV) or None
    config = config or os.environ.get(SETTINGS_ENV) or None
    data = sample_settings(sample) if sample else {}
    if config:
        data.update(read_settings_file(config))
    data.update(overrides)
    return make_settings(data, where=config)


def settings_from_file(path: str | Path, **overrides) -> TreeOfLifeConfig:
    return make_settings({**read_settings_file(path), **overrides}, where=path)


def default_settings() -> TreeOfLifeConfig:
    """The settings of the code location: `$TOL10M_SAMPLE` and `$TOL10M_SETTINGS` when set (`resolve_settings`)."""
    return resolve_settings()
