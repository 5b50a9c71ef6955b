"""Issue 18: reproduce TreeOfLife-10M as published (labels from the published name lookups, the
result checked against the published catalog), the `table` label source, and a generate build's
own name lookups read by the original's readers."""

import json
import shutil
import tarfile
from pathlib import Path

import pandas as pd
import pytest
from dagster import AssetCheckKey, AssetKey, instance_for_test

from tol10m_assets.layout import SourceLayout
from tol10m_assets.run import BuildFailed, build
from tol10m_assets.sample import make_sample_world
from tol10m_assets.sample.world import DELIBERATE_DIFFERENCES

from ..pipeline.conftest import config
from . import oracle

RANKS = list(oracle.RANKS)
# every raw input the published dataset does not hold, or the reproduction does not need
NOT_FOR_REPRODUCTION = ("eol_images", "taxon_tab", "scraped_page_ids", "eol_vernacular", "eol_media_manifest", "itis_chains",
                        "resolved", "inat_taxa", "inat_vernacular", "bioscan_metadata")


def _remove(path: Path) -> None:
    shutil.rmtree(path) if path.is_dir() else path.unlink()


def reproduction_world(out: Path) -> dict:
    summary = make_sample_world(out, images=200, seed=0, published_style=True, log=lambda *a, **k: None)
    layout = SourceLayout.under(out)
    for field in NOT_FOR_REPRODUCTION:
        _remove(getattr(layout, field))
    return summary


def check_history(instance, name: str):
    records = instance.event_log_storage.get_asset_check_execution_history(AssetCheckKey(AssetKey("catalog"), name), limit=1)
    assert records, name
    evaluation = records[0].event.dagster_event.event_specific_data
    return evaluation


def read_csv(path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def reproduced(tmp_path_factory):
    sources = tmp_path_factory.mktemp("published-world")
    summary = reproduction_world(sources)
    data = tmp_path_factory.mktemp("repro")
    with instance_for_test() as instance:
        tol = config(sources, data, mode="reproduce")
        build(instance=instance, tol=tol, log=lambda *_: None)
        yield tol, instance, sources, summary


def expected_captions(ranks: tuple, common: str) -> dict:
    """The ten text members from the spec's formulas (section 2), from the lookup's label."""
    sci = " ".join(x for x in ranks[5:] if x)
    sci = sci[:1].upper() + sci[1:]
    tax = " ".join(x for x in ranks if x)
    tag = " ".join(f"{r} {v}" for r, v in zip(RANKS, ranks) if v)
    com = oracle.display_common(ranks, common)
    return {"scientific_name.txt": sci, "taxonomic_name.txt": tax, "common_name.txt": com, "sci.txt": f"a photo of {sci}.",
            "com.txt": f"a photo of {com}.", "taxon.txt": f"a photo of {tax}.", "taxonTag.txt": f"a photo of {tag}.",
            "sci_com.txt": f"a photo of {sci} with common name {com}.", "taxon_com.txt": f"a photo of {tax} with common name {com}.",
            "taxonTag_com.txt": f"a photo of {tag} with common name {com}."}


def test_reproduce_labels_every_row_and_caption_from_the_lookups(reproduced):
    tol, _instance, sources, _summary = reproduced
    layout = SourceLayout.under(sources)
    assert not any(getattr(layout, f).exists() for f in NOT_FOR_REPRODUCTION)
    lookups = oracle.labels_by_id(layout.eol_name_lookup.parent, layout.published_mapping)
    ours = read_csv(tol.paths().catalog_csv)
    assert len(ours) > 100
    for row in ours.itertuples(index=False):
        ranks, common = lookups[row.treeoflife_id]
        assert tuple(getattr(row, r if r != "class" else "_11") for r in RANKS) == ranks, row.treeoflife_id
        assert row.common == oracle.display_common(ranks, common), row.treeoflife_id
    # the deliberate differences are reproduced: each value of the lookups is in the catalog
    published = read_csv(layout.published_catalog)
    reproduced_values = 0
    for source, name, what, value in DELIBERATE_DIFFERENCES:
        column = "common" if what == "common" else what
        if (published[column] == value).any():
            assert (ours[column] == value).any(), (source, name, what, value)
            reproduced_values += 1
    assert reproduced_values >= 10
    # every caption member of every sample follows the lookups
    checked = 0
    for tar_path in sorted(Path(tol.paths().dataset).glob("*/shard-*.tar")):
        with tarfile.open(tar_path) as tar:
            for member in tar.getmembers():
                key, _, suffix = member.name.partition(".")
                if suffix == "jpg":
                    continue
                ranks, common = lookups[key]
                assert tar.extractfile(member).read().decode() == expected_captions(ranks, common)[suffix], (tar_path.name, member.name)
                checked += 1
    assert checked >= 10 * len(ours[ours["split"] != "train_small"])


def test_matches_published_passes_with_the_rare_species_exclusion_counted(reproduced):
    tol, instance, _sources, _summary = reproduced
    evaluation = check_history(instance, "matches_published")
    assert evaluation.passed
    by_cause = evaluation.metadata["by_cause"].value
    assert by_cause["label_differences"] == 0 and by_cause["split_differences"] == 0
    assert by_cause["rare_species_excluded"] > 0  # the published-style catalog still has them, as the original's
    assert "| label_differences | 0 |" in evaluation.metadata["differences"].value
    report = Path(tol.paths().taxa_report).read_text()
    assert "## Matches the published catalog" in report and "rare_species_excluded" in report
    # the release carries what it takes to reproduce it
    meta = Path(tol.paths().catalog_dir)
    assert (meta / "mapping.sqlite").is_file()
    assert all((meta / "naming" / f"{s}_name_lookup.json").is_file() for s in ("eol", "inat21", "bioscan"))


def test_reproduction_licences_come_from_the_published_licenses_csv(reproduced):
    tol, _instance, sources, _summary = reproduced
    ours = read_csv(tol.paths().licenses)
    published = read_csv(SourceLayout.under(sources).published_licenses).set_index("treeoflife_id")
    assert len(ours) > 0
    for row in ours.itertuples(index=False):
        assert row.license_name == published.loc[row.treeoflife_id, "license_name"]
        assert row.md5 == published.loc[row.treeoflife_id, "md5"]


def test_reproduce_mode_uses_only_the_reproductions_inputs():
    from tol10m_assets.defs.raw import used_inputs
    from tol10m_assets.defs.resources import TreeOfLifeConfig

    used = used_inputs(TreeOfLifeConfig(mode="reproduce"))
    assert {k for k, v in used.items() if v} == {"eol_published_images", "published_metadata", "published_licenses", "published_name_lookups",
                                                  "inat21_images", "bioscan_images", "rare_species_lists", "eol_media_manifest"}
    generate = used_inputs(TreeOfLifeConfig(mode="generate"))
    assert not generate["published_name_lookups"] and generate["eol_hierarchy"] and generate["bioscan_metadata"]


def test_a_lookup_entry_changed_after_the_catalog_fails_matches_published(tmp_path):
    sources = tmp_path / "world"
    reproduction_world(sources)
    layout = SourceLayout.under(sources)
    published = read_csv(layout.published_catalog)
    lookup = json.loads(layout.inat21_name_lookup.read_text())
    from tol10m_assets.sample.taxa import RARE_UNSEEN

    inat = published[(published["inat21_cls_num"] != "") & (published["split"] == "train") & (published["species"] != RARE_UNSEEN.ranks[6])]
    cls = inat["inat21_cls_num"].iloc[0]
    lookup[cls][1] = "A Name Changed Later"
    layout.inat21_name_lookup.write_text(json.dumps(lookup))
    ids = set(published[published["inat21_cls_num"] == cls]["treeoflife_id"])
    with instance_for_test() as instance:
        tol = config(sources, tmp_path / "data", mode="reproduce")
        with pytest.raises(BuildFailed, match="matches_published"):
            build(instance=instance, tol=tol, log=lambda *_: None)
        evaluation = check_history(instance, "matches_published")
        assert not evaluation.passed
        assert evaluation.metadata["by_cause"].value["label_differences"] >= 1
        examples = evaluation.metadata["examples"].value["label_differences"]
        assert {e["treeoflife_id"] for e in examples} <= ids and examples
        assert examples[0]["common"]["build"] == "A Name Changed Later"
        assert any(i in (evaluation.description or "") for i in ids)
    assert not tol.paths().published.exists()  # nothing was switched in


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    sources = tmp_path_factory.mktemp("world")
    make_sample_world(sources, images=150, seed=2, log=lambda *a, **k: None)
    data = tmp_path_factory.mktemp("generate")
    with instance_for_test() as instance:
        tol = config(sources, data)
        build(instance=instance, tol=tol, log=lambda *_: None)
        yield tol, sources


def test_a_generate_builds_name_lookups_and_mapping_are_read_by_the_original_readers(generated):
    tol, _ = generated
    meta = Path(tol.paths().catalog_dir)  # the release carries them
    labels = oracle.labels_by_id(meta / "naming", meta / "mapping.sqlite")
    catalog = read_csv(tol.paths().catalog_csv)
    assert len(catalog) > 50
    for row in catalog.itertuples(index=False):
        ranks, common = labels[row.treeoflife_id]
        assert tuple(getattr(row, r if r != "class" else "_11") for r in RANKS) == ranks
        assert row.common == oracle.display_common(ranks, common)
    # the split query gives the catalog's splits
    for split in ("train", "val", "train_small"):
        images = oracle.split_images(meta / "mapping.sqlite", split)
        mapped = {r[-1] for rows in images.values() for r in rows}
        assert set(catalog[catalog["split"] == split]["treeoflife_id"]) <= mapped


def test_a_table_label_source_relabels_the_sample_world(generated, tmp_path):
    tol, sources = generated
    labels = pd.read_parquet(tol.paths().labels)
    labels = labels[(labels[RANKS] != "").any(axis=1)].sort_values("treeoflife_id").reset_index(drop=True)
    # TaxonoPy-shaped: uuid, the seven ranks (species as a binomial), scientific_name, common_name
    table = pd.DataFrame({"uuid": labels["treeoflife_id"], **{r: labels[r] for r in RANKS}})
    table["species"] = (labels["genus"] + " " + labels["species"]).str.strip()
    table["scientific_name"] = table["species"]
    table["common_name"] = "Relabelled " + labels["genus"]
    passer = (labels["genus"] == "Passer").to_numpy()  # a taxonomic update: another genus, in the binomial too
    table.loc[passer, "genus"] = "Passerella"
    table.loc[passer, "species"] = ("Passerella " + labels["species"])[passer]
    dropped = table["uuid"].iloc[0]
    table = table.iloc[1:]
    path = tmp_path / "taxonopy.resolved.parquet"
    table.to_parquet(path, index=False)
    with instance_for_test() as instance:
        relabelled = config(sources, tmp_path / "data", label_source="table", label_table=str(path))
        build(instance=instance, tol=relabelled, log=lambda *_: None)
    catalog = read_csv(relabelled.paths().catalog_csv)
    assert len(catalog) > 50 and dropped not in set(catalog["treeoflife_id"])
    assert (catalog["common"].str.startswith("Relabelled ")).all()
    assert (catalog["genus"] == "Passerella").any() and not (catalog["genus"] == "Passer").any()
    row = pd.read_parquet(relabelled.paths().labels).set_index("treeoflife_id").loc[table["uuid"].iloc[0]]
    assert json.loads(row["provenance"]) == {"table": path.name, "row": 1}
    assert row["species"] == labels["species"].iloc[1]  # the binomial's genus word dropped (spec section 4)


def test_explain_cites_the_published_lookup_entry(reproduced):
    from tol10m_assets.explain import explain, render

    tol, _instance, sources, _summary = reproduced
    layout = SourceLayout.under(sources)
    catalog = read_csv(tol.paths().catalog_csv)
    row = catalog[(catalog["common"] == "English Sparrow")].iloc[0]
    found = explain(row["treeoflife_id"], tol.paths().root, sources)
    assert len(found) == 1
    e = found[0]
    where = f'eol_name_lookup.json["{row["eol_page_id"]}"]'
    assert e.provenance["genus"] == where and e.provenance["common"] == where
    text = render(e)
    assert "English Sparrow" in text and "entry: " in text and "label_source: published" in text
    assert json.loads(layout.eol_name_lookup.read_text())[row["eol_page_id"]][1] == "English Sparrow"


def test_partitions_command_says_which_inputs_a_mode_uses():
    from tol10m_assets.cli import inputs_line
    from tol10m_assets.defs.resources import TreeOfLifeConfig

    text = inputs_line(TreeOfLifeConfig(mode="reproduce"))
    used, unused = text.strip().splitlines()
    assert "label_source published" in used and "published_name_lookups" in used and "eol_hierarchy" not in used
    assert "eol_hierarchy" in unused and "bioscan_metadata" in unused and "resolved_names" in unused
