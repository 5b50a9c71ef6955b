"""Labels from a table: a TaxonoPy-style Parquet keyed by `uuid` relabels an already built sample build
through the same path as any label change (labels asset → rebuilt partitions → release), and the
catalog (and the captions, by the release's caption check) show the table's names."""

import re

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dagster import instance_for_test, materialize_to_memory

from tol10m_assets.defs.build import labels
from tol10m_assets.labels import RANK_COLUMNS
from tol10m_assets.testing import PUBLISH, SHARDS, check_evaluation, materialize_build, metadata_values, shard_partitions

NEW_GENUS = "Renamedgenus"
NEW_COMMON = "Renamed Common Name"


def catalog(tol) -> pd.DataFrame:
    return pd.read_csv(tol.paths().catalog_csv, dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def base(tol10m_world, tmp_path_factory):
    """The sample world built and published with its computed labels: (world, data root, instance)."""
    data = tmp_path_factory.mktemp("relabel-build")
    tol = tol10m_world.tol(data)
    with instance_for_test(set_dagster_home=False) as instance:
        assert materialize_build(tol, instance)["publish"].success
        yield tol10m_world, data, instance


def taxonopy_table(labels_parquet, path, genus: str, common: str) -> tuple[set, set]:
    """TaxonoPy's resolved output for every labelled image: `uuid`, the seven ranks (species as the binomial,
    as TaxonoPy writes it), `common_name` (only where one was looked up) and a column the build ignores;
    genus `genus` renamed, common name `common` replaced. Returns the ids of both changes."""
    frame = pd.read_parquet(labels_parquet)
    frame = frame[frame[RANK_COLUMNS].fillna("").ne("").any(axis=1)]  # TaxonoPy has no row for an empty taxon
    out = pd.DataFrame({"uuid": frame["treeoflife_id"].str.upper()})  # ids are matched case-blind
    for rank in RANK_COLUMNS:
        out[rank] = frame[rank].fillna("")
    binomial = out["genus"].ne("") & out["species"].ne("")
    out.loc[binomial, "species"] = out["genus"] + " " + out["species"]
    out["common_name"] = frame["common"].where(frame["common_looked_up"], "")
    out["source_dataset"] = "tol10m"
    renamed = out["genus"].str.lower() == genus.lower()
    out.loc[renamed, "species"] = out.loc[renamed, "species"].str.replace(r"^\S+ ", f"{NEW_GENUS} ", regex=True)
    out.loc[renamed, "genus"] = NEW_GENUS
    recommon = out["common_name"] == common
    out.loc[recommon, "common_name"] = NEW_COMMON
    pq.write_table(pa.Table.from_pandas(out, preserve_index=False), path)
    return set(frame.loc[renamed.values, "treeoflife_id"]), set(frame.loc[recommon.values, "treeoflife_id"])


def test_a_taxonopy_table_relabels_a_built_release(base, tmp_path):
    world, data, instance = base
    tol = world.tol(data)
    before = catalog(tol)
    looked_up = pd.read_parquet(tol.paths().labels).query("common_looked_up")
    rows = before[before["split"] != "train_small"]
    genus = rows["genus"].value_counts().index[0]  # the commonest genus
    common = next(c for c in rows.loc[rows["genus"] != genus, "common"].value_counts().index if c in set(looked_up["common"]))
    table = tmp_path / "taxonopy_resolved.parquet"
    renamed, recommon = taxonopy_table(tol.paths().labels, table, genus, common)
    assert renamed and recommon and not renamed & recommon

    tol = world.tol(data, label_source="table", label_table=str(table))
    result = materialize_to_memory([labels], resources={"tol": tol}, instance=instance)
    assert result.success
    for key in shard_partitions(instance):
        assert materialize_to_memory(SHARDS, partition_key=key, resources={"tol": tol}, instance=instance).success
    published = materialize_to_memory(PUBLISH, resources={"tol": tol}, instance=instance)
    consistency = metadata_values(check_evaluation(published, "catalog_consistency"))
    assert consistency["captions_differ_from_catalog"] == []  # the shards' captions carry the new names

    expected = before.copy()
    in_genus = expected["treeoflife_id"].isin(renamed)
    assert in_genus.sum() and (expected.loc[in_genus, "genus"] == genus).all()
    expected.loc[in_genus, "genus"] = NEW_GENUS
    # without a looked-up common name the catalog shows the scientific name, which holds the genus
    fallback = in_genus & ~expected["treeoflife_id"].isin(set(looked_up["treeoflife_id"]))
    expected.loc[fallback, "common"] = expected.loc[fallback, "common"].str.replace(rf"\b{re.escape(genus)}\b", NEW_GENUS, regex=True)
    expected.loc[expected["treeoflife_id"].isin(recommon), "common"] = NEW_COMMON
    after = catalog(tol)
    pd.testing.assert_frame_equal(after, expected)  # the same images, the table's names, nothing else changed
    assert (after["common"] == NEW_COMMON).any() and (after["genus"] == NEW_GENUS).any()
