"""Test a change to the pipeline the Dagster way: ``materialize_to_memory`` over a sample world.

    from dagster import materialize_to_memory
    from tol10m_assets.defs.build import labels, mapping, splits

    def test_labels(tol10m_tol, tol10m_instance):
        result = materialize_to_memory([mapping, splits, labels], resources={"tol": tol10m_tol}, instance=tol10m_instance)
        assert result.success

The fixtures come from this module, a pytest plugin (installed with the package; or
``pytest_plugins = ["tol10m_assets.testing"]`` in a ``conftest.py``):

- ``tol10m_world`` (session): a :class:`SampleWorld` written once per session in a temporary folder;
- ``tol10m_tol`` (per test): the ``tol`` resource over that world, writing into the test's ``tmp_path``;
- ``tol10m_instance`` (per test): a temporary Dagster instance. Pass the same one to every call of a
  test: ``mapping`` registers the shard partitions in it, ``shards`` reads them, and ``publish_release``
  reads each partition's ``check_wds`` from it.

Without pytest: ``sample_world()`` and ``sample_tol()`` (plain functions), ``dagster.instance_for_test()``.
Stage selections: :data:`PREPARE`, :data:`SHARDS`, :data:`PUBLISH` (with their asset checks:
``materialize_to_memory`` runs only the checks in its list), :data:`RAW`, :data:`DOWNLOADS`;
:func:`materialize_build` runs them all in order.
"""

from __future__ import annotations

import atexit
import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tol10m_assets.run import SAMPLE_SETTINGS

try:
    import pytest
except ImportError:  # the helpers work without pytest; only the fixtures need it
    pytest = None

if TYPE_CHECKING:
    from tol10m_assets.defs.resources import TreeOfLifeConfig

SAMPLE_IMAGES = 200
SAMPLE_SEED = 0


def _selections() -> dict:
    from tol10m_assets.defs.build import build_assets
    from tol10m_assets.defs.checks import asset_checks
    from tol10m_assets.defs.downloads import download_assets, download_checks
    from tol10m_assets.defs.publish import publish_assets
    from tol10m_assets.defs.raw import raw_assets
    from tol10m_assets.defs.shards import shards
    from tol10m_assets.defs.takedowns import takedown_assets

    stages = {
        # mapping → splits → labels → predicted_catalog and takedowns, with mapping_ids_unique and check_taxa (predicted)
        "PREPARE": [*build_assets, *takedown_assets, *asset_checks],
        # one shard partition per call (partition_key=...); check_wds is part of the asset
        "SHARDS": [shards],
        # catalog, taxa_report, eol_licenses with catalog_consistency, rare_species_excluded, check_taxa
        "PUBLISH": [*publish_assets],
        # the raw inputs (each measures its files; a missing required one fails)
        "RAW": [*raw_assets],
        # the downloads and their on_disk checks (resources: "tol" and "downloads")
        "DOWNLOADS": [*download_assets, *download_checks],
    }
    stages["STAGES"] = {"prepare": stages["PREPARE"], "shards": stages["SHARDS"], "publish": stages["PUBLISH"]}
    return stages


def __getattr__(name: str):
    """The stage selections, imported on first use (the plugin itself loads no Dagster code)."""
    if name in ("PREPARE", "SHARDS", "PUBLISH", "RAW", "DOWNLOADS", "STAGES"):
        globals().update(_selections())
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass(frozen=True)
class SampleWorld:
    """A sample world on disk: ``sources`` (the raw inputs in their real layout) and its ``summary``
    (counts per source, the images expected to be skipped and why: see ``summary.json``)."""

    sources: Path
    summary: dict

    def tol(self, data_root: Path | str, **overrides) -> TreeOfLifeConfig:
        """The ``tol`` resource reading this world and writing under ``data_root``."""
        return sample_tol(data_root, world=self, **overrides)

    def written(self, source: str) -> int:
        """Images of ``source`` (eol, inat21, bioscan) the shards are expected to hold (train + val)."""
        return self.summary["expected"][source]["written"]

    def skipped(self, source: str) -> dict[str, int]:
        """Images of ``source`` expected to be skipped, by reason."""
        return dict(self.summary["expected"][source]["skipped"])


def make_world(folder: Path | str, images: int = SAMPLE_IMAGES, seed: int = SAMPLE_SEED) -> SampleWorld:
    """Write a sample world into ``folder`` (replacing one that is there)."""
    from tol10m_assets.sample import make_sample_world

    folder = Path(folder)
    make_sample_world(folder, images=images, seed=seed, log=lambda *_, **__: None)
    return SampleWorld(folder, json.loads((folder / "summary.json").read_text()))


_WORLDS: dict[tuple[int, int], SampleWorld] = {}


def sample_world(images: int = SAMPLE_IMAGES, seed: int = SAMPLE_SEED) -> SampleWorld:
    """A sample world made once per process in a temporary folder (removed when the process exits)."""
    key = (images, seed)
    if key not in _WORLDS:
        folder = Path(tempfile.mkdtemp(prefix=f"tol10m-world-{images}-{seed}-"))
        atexit.register(shutil.rmtree, folder, True)
        _WORLDS[key] = make_world(folder / "sources", images, seed)
    return _WORLDS[key]


def sample_tol(data_root: Path | str | None = None, *, world: SampleWorld | None = None, **overrides) -> TreeOfLifeConfig:
    """The ``tol`` resource over a sample world (default: :func:`sample_world`), writing under ``data_root``
    (default: a new temporary folder). One worker per partition, and ``run.SAMPLE_SETTINGS``: the sample
    world damages images on purpose, so its builds allow a corrupt share of 25 %. ``overrides`` are
    any other settings (``taxa_thresholds=...``, ``exclude_rare_species=False``, ``sources_root=...``)."""
    from tol10m_assets.defs.resources import TreeOfLifeConfig

    world = world or sample_world()
    if data_root is None:
        data_root = Path(tempfile.mkdtemp(prefix="tol10m-data-"))
        atexit.register(shutil.rmtree, data_root, True)
    settings = {"sources_root": str(world.sources), "data_root": str(data_root), "workers": 1, **SAMPLE_SETTINGS, **overrides}
    return TreeOfLifeConfig(**settings)


def shard_partitions(instance) -> list[str]:
    """The shard partitions ``mapping`` registered in ``instance``, sorted."""
    from tol10m_assets.defs.partitions import SHARD_PARTITIONS

    return sorted(instance.get_dynamic_partitions(SHARD_PARTITIONS))


def materialize_build(tol: TreeOfLifeConfig, instance, *, raise_on_error: bool = True) -> dict:
    """prepare → every registered shard partition → publish, each through ``materialize_to_memory`` on
    ``instance``. Returns the results: ``{"prepare": r, "shards": {partition: r}, "publish": r}``;
    stops after the first stage that fails (``raise_on_error=False`` to get its result)."""
    from dagster import materialize_to_memory

    stages = _selections()
    resources = {"tol": tol}
    results: dict = {"shards": {}}
    results["prepare"] = materialize_to_memory(stages["PREPARE"], resources=resources, instance=instance, raise_on_error=raise_on_error)
    if not results["prepare"].success:
        return results
    for key in shard_partitions(instance):
        result = materialize_to_memory(stages["SHARDS"], partition_key=key, resources=resources, instance=instance, raise_on_error=raise_on_error)
        results["shards"][key] = result
        if not result.success:
            return results
    results["publish"] = materialize_to_memory(stages["PUBLISH"], resources=resources, instance=instance, raise_on_error=raise_on_error)
    return results


def check_evaluation(result, check_name: str, asset: str | None = None):
    """The one evaluation of ``check_name`` (on ``asset``, when two assets have a check of that name)."""
    found = [
        e for e in result.get_asset_check_evaluations()
        if e.check_name == check_name and (asset is None or e.asset_key.to_user_string() == asset)
    ]
    if len(found) != 1:
        names = [f"{e.asset_key.to_user_string()}:{e.check_name}" for e in result.get_asset_check_evaluations()]
        raise LookupError(f"expected one evaluation of {check_name!r}{f' on {asset}' if asset else ''}, found {len(found)}; the run has {names}")
    return found[0]


def metadata_values(entry) -> dict:
    """``{name: plain value}`` of a materialization's or a check evaluation's metadata."""
    return {k: getattr(v, "value", v) for k, v in entry.metadata.items()}


# --- the pytest plugin --------------------------------------------------------------------------


def world_fixture(images: int = SAMPLE_IMAGES, seed: int = SAMPLE_SEED, scope: str = "session"):
    """A pytest fixture giving a :class:`SampleWorld` made once per ``scope`` under pytest's temporary
    folder. In a ``conftest.py``: ``big_world = world_fixture(images=1000)`` (the name is the variable's)."""

    @pytest.fixture(scope=scope)
    def _world(tmp_path_factory) -> SampleWorld:
        return make_world(tmp_path_factory.mktemp(f"tol10m-world-{images}-{seed}"), images, seed)

    return _world


if pytest is not None:
    tol10m_world = world_fixture()

    @pytest.fixture
    def tol10m_tol(tol10m_world, tmp_path) -> "TreeOfLifeConfig":
        """The ``tol`` resource over the session's sample world, writing into this test's ``tmp_path``."""
        return tol10m_world.tol(tmp_path / "TreeOfLife-10M")

    @pytest.fixture
    def tol10m_instance():
        """A temporary Dagster instance for this test (share it between the test's runs)."""
        from dagster import instance_for_test

        with instance_for_test() as instance:
            yield instance


__all__ = [
    "DOWNLOADS", "PREPARE", "PUBLISH", "RAW", "SHARDS", "STAGES", "SampleWorld", "check_evaluation", "make_world",
    "materialize_build", "metadata_values", "sample_tol", "sample_world", "shard_partitions", "tol10m_instance",
    "tol10m_tol", "tol10m_world", "world_fixture",
]
