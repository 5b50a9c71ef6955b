"""Issue 22, what changed: every release records its difference from the previous one (release.json
``changes``, ``metadata/changes.parquet``, the card's CHANGELOG) and ``tol10m diff A B`` prints it.

Core: small hand-made catalogs (added, removed with each reason, relabelled, unchanged; a name with
commas, quotes and a newline survives the CSV). Build: the sample world published, one BIOSCAN genus
renamed and two iNat21 images put on the rare-species list, the two partitions holding them rebuilt
and published again; the changes named are exactly those a plain pandas comparison of the two
catalogs finds, and the partitions rebuilt exactly those two.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import yaml
from dagster import AssetKey, instance_for_test

from tol10m_assets import changelog as cl
from tol10m_assets import releases_index
from tol10m_assets.catalog import ID_COLUMNS
from tol10m_assets.definitions import build_definitions
from tol10m_assets.labels import RANK_COLUMNS
from tol10m_assets.run import build
from tol10m_assets_tests.pipeline.conftest import config, make_world

COLUMNS = ["split", "treeoflife_id", *ID_COLUMNS, *RANK_COLUMNS, "common"]
LABELS = [*RANK_COLUMNS, "common"]
SPARROW = dict(zip(LABELS, ["Animalia", "Chordata", "Aves", "Passeriformes", "Passeridae", "Passer", "domesticus",
                            'House "Sparrow", the common one\nof towns']))


def frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame([{c: r.get(c) for c in COLUMNS} for r in rows], columns=COLUMNS)


def write_csv(df: pd.DataFrame, path: Path) -> Path:
    """As the release writes catalog.csv: DuckDB's COPY (quotes where a field holds a comma, quote or newline)."""
    con = duckdb.connect()
    con.register("df", df)
    con.execute(f"COPY df TO '{path}' (FORMAT csv, HEADER)")
    con.close()
    return path


def row(split, ident, **labels):
    return {"split": split, "treeoflife_id": ident, **SPARROW, **labels}


@pytest.fixture
def two(tmp_path):
    """Catalog a → b: u1 unchanged (train + train_small), g1 genus and common changed, c1 only common,
    m1 moved train → val, r1 … r6 removed for each reason, n1 added, plus an unchanged val id."""
    a = frame([row("train", "u1"), row("train_small", "u1"), row("train", "g1"), row("train", "c1"), row("train", "m1"),
               row("val", "v1"), *[row("train", f"r{i}") for i in range(1, 7)], row("train_small", "r1")])
    b = frame([row("train", "u1"), row("train_small", "u1"), row("val", "v1"), row("train", "n1"), row("val", "m1"),
               row("train", "g1", genus="Passerella", common='Fox, "red" sparrow'), row("train", "c1", common="Sparrow")])
    pd.DataFrame({"treeoflife_id": ["r1"], "reason": ["licence holder asked, 2026"]}).to_parquet(tmp_path / "takedowns.parquet")
    ids = ["u1", "g1", "c1", "m1", "v1", "n1", "r1", "r3", "r4", "r5", "r6"]  # r2 gone from the mapping
    pd.DataFrame({"treeoflife_id": ids}).to_parquet(tmp_path / "mapping.parquet")
    labels = pd.DataFrame([{"treeoflife_id": i, **SPARROW} for i in ids if i not in ("r4", "r5")]
                          + [{"treeoflife_id": "r4", **{c: "" for c in LABELS}}])  # r4 no ranks, r5 no labels row
    labels.to_parquet(tmp_path / "labels.parquet")
    why = cl.Why(takedowns=tmp_path / "takedowns.parquet", mapping=tmp_path / "mapping.parquet", labels=tmp_path / "labels.parquet",
                 skipped=[{"origin": "x", "key": "r3", "reason": "rare_species", "detail": "excluded by the Rare Species lists"}])
    return a, b, why


EXPECTED_REASONS = {"r1": "removed", "r2": "gone from the sources", "r3": "rare_species", "r4": "no_taxon",
                    "r5": "no_taxon", "r6": "skipped", "m1": "split_changed"}


@pytest.mark.parametrize("form", ["csv", "parquet"])
def test_added_removed_relabelled_and_unchanged_ids_of_two_catalogs(two, tmp_path, form):
    a, b, why = two
    if form == "csv":
        old, new = write_csv(a, tmp_path / "a.csv"), write_csv(b, tmp_path / "b.csv")
    else:
        old, new = tmp_path / "a.parquet", tmp_path / "b.parquet"
        a.to_parquet(old), b.to_parquet(new)
    got = cl.compare(old, new, why=why, table=tmp_path / "changes.parquet", previous="A",
                     old_partitions={"p1": "g1", "p2": "g1", "p3": "g1"}, new_partitions={"p1": "g2", "p2": "g1", "p4": "g1"})
    assert got["previous"] == "A" and got["first_release"] is False
    assert got["added"] == {"train": 1, "val": 1}  # n1 and m1 (moved)
    assert got["removed"] == {"train": {"gone from the sources": 1, "no_taxon": 2, "rare_species": 1, "removed": 1,
                                        "skipped": 1, "split_changed": 1},
                              "train_small": {"removed": 1}}
    assert got["ids"] == {"added": 1, "removed": 6, "moved": 1, "relabelled": 2, "before": 11, "after": 6}
    assert got["relabelled"]["by_rank"] == {**{c: 0 for c in RANK_COLUMNS}, "genus": 1, "common": 2}
    assert {(t["rank"], t["after"]) for t in got["relabelled"]["top"]} == {("genus", "Passerella"), ("common", "Sparrow"),
                                                                           ("common", 'Fox, "red" sparrow')}
    g1 = next(e for e in got["relabelled"]["examples"] if e["treeoflife_id"] == "g1")
    assert g1 == {"treeoflife_id": "g1", "changed": ["genus", "common"], "before": {"genus": "Passer", "common": SPARROW["common"]},
                  "after": {"genus": "Passerella", "common": 'Fox, "red" sparrow'}}
    assert got["partitions"] == {"rebuilt": ["p1"], "unchanged": ["p2"], "added": ["p4"], "retired": ["p3"]}
    table = pd.read_parquet(tmp_path / "changes.parquet")
    removed = table[(table.change == "removed") & (table.split == "train")].set_index("treeoflife_id")
    assert removed["reason"].to_dict() == EXPECTED_REASONS
    assert removed.loc["r1", "detail"] == "licence holder asked, 2026" and removed.loc["m1", "detail"] == "now in val"
    assert removed.loc["r1", "before_common"] == SPARROW["common"]  # commas, quotes and a newline survive
    relabelled = table[table.change == "relabelled"].set_index("treeoflife_id")
    assert relabelled["changed"].to_dict() == {"g1": "genus,common", "c1": "common"}
    assert relabelled.loc["g1", "after_common"] == 'Fox, "red" sparrow'
    assert set(table[table.change == "added"].treeoflife_id) == {"n1", "m1"}
    assert "u1" not in set(table.treeoflife_id) and "v1" not in set(table.treeoflife_id)
    listed = cl.listed(tmp_path / "changes.parquet", limit=2)
    assert [i for i, _, _ in listed["removed"]["train"]] == ["m1", "r1"]  # the first two by id
    text = cl.text_report({"old": "A", "new": "B", **got, "listed": cl.listed(tmp_path / "changes.parquet")})
    assert "removed from train: m1 (split_changed: now in val), r1 (removed: licence holder asked, 2026), r2 (gone from the sources" in text
    assert "relabelled ids: c1 (common), g1 (genus,common)" in text and "partitions rebuilt (1): p1" in text
    read_back = json.loads(json.dumps(got, sort_keys=True))  # as release.json keeps it
    assert cl.markdown(read_back) == cl.markdown(got) and cl.one_line(read_back) == got["summary"]


def test_identical_catalogs_have_no_change_and_a_first_release_says_so(tmp_path):
    a = frame([row("train", "u1"), row("val", "v1")])
    a.to_parquet(tmp_path / "a.parquet")
    got = cl.compare(tmp_path / "a.parquet", write_csv(a, tmp_path / "a.csv"), old_partitions={"p": "g"}, new_partitions={"p": "g"})
    assert got["added"] == {} and got["removed"] == {} and got["relabelled"]["ids"] == 0
    assert got["summary"] == "+0 ids, -0 ids, 0 relabelled, 0 of 1 partitions rebuilt"
    first = cl.first_release({"p": "g"})
    assert first["summary"] == "first release" and first["partitions"]["added"] == ["p"]
    assert "First release" in cl.markdown(first) and cl.one_line(first) == "first release"


def test_a_recorded_changes_table_gives_the_reasons_and_a_missing_release_is_named(tmp_path):
    def release(name, df, **record):
        folder = tmp_path / name
        (folder / "metadata").mkdir(parents=True)
        write_csv(df, folder / "metadata" / "catalog.csv")
        (folder / "release.json").write_text(json.dumps({"name": name, "partitions": {"p": name}, **record}))
        return folder

    a = release("A", frame([row("train", "x1"), row("train", "x2")]))
    b = release("B", frame([row("train", "x1")]), changes={"previous": "A"})
    pd.DataFrame({"change": ["removed"], "split": ["train"], "treeoflife_id": ["x2"], "reason": ["removed"],
                  "detail": ["asked"]}).to_parquet(b / cl.TABLE)
    got = cl.compare_releases(a, b)
    assert (got["old"], got["new"], got["removed"]) == ("A", "B", {"train": {"removed": 1}})
    assert got["partitions"]["rebuilt"] == ["p"]
    assert cl.compare_releases(b, a)["added"] == {"train": 1}  # the other way: no recorded reasons needed
    with pytest.raises(cl.MissingRelease, match="nope"):
        cl.compare_releases(a, tmp_path / "nope")


def test_tol10m_diff_names_a_missing_release_in_one_line(tmp_path, monkeypatch, capsys):
    from tol10m_assets import cli

    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    (tmp_path / "s.yaml").write_text(yaml.safe_dump({"data_root": str(tmp_path / "data")}))
    assert cli.main(["diff", "20990101T000000Z-abcdef", "published", "--config", str(tmp_path / "s.yaml")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no release '20990101T000000Z-abcdef'" in err[0] and "tol10m releases" in err[0], err


# --- a build published twice: one genus renamed, two images put on the rare list -------------------


def catalog_frame(release: Path) -> pd.DataFrame:
    return pd.read_csv(release / "metadata" / "catalog.csv", dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def rebuilt(tmp_path_factory):
    root = tmp_path_factory.mktemp("changelog")
    sources = root / "world"
    make_world(sources, images=80, seed=11)
    with instance_for_test() as instance:
        tol = config(sources, root / "data")
        build(instance=instance, tol=tol, log=lambda *_: None)
        paths = tol.paths()
        a = paths.published.resolve()
        before = catalog_frame(a)
        # one name: the genus of one BIOSCAN image (its metadata record)
        bioscan = before[(before.bioscan_filename != "") & (before.genus != "") & (before.split != "train_small")]
        target = bioscan.iloc[0]
        meta_path = sources / "bioscan" / "BIOSCAN_Insect_Dataset_metadata.jsonld"
        records = json.loads(meta_path.read_text())
        record = next(r for r in records if r["image_file"] == target.bioscan_filename)
        epithet = record["species"].split()[-1]
        record["genus"], record["species"] = "Renamedgenus", f"Renamedgenus {epithet}"
        meta_path.write_text(json.dumps(records, indent=1))
        # a few ids removed: two iNat21 images put on the seen-in-training list
        inat = before[(before.inat21_filename != "") & (before.split == "train")].sort_values("treeoflife_id").iloc[:2]
        seen_path = sources / "rarespecies" / "seen_in_training.json"
        seen = json.loads(seen_path.read_text())
        seen["Testus removus"] = [f"/somewhere/{f}" for f in inat.inat21_filename]
        seen_path.write_text(json.dumps(seen, indent=1))
        # rebuild only the partitions that hold them, then publish
        defs = build_definitions(tol)
        assert defs.resolve_job_def("prepare").execute_in_process(instance=instance, raise_on_error=False).success
        mapping = pd.read_parquet(paths.mapping)
        holding = sorted(set(mapping[mapping.treeoflife_id.isin([target.treeoflife_id, *inat.treeoflife_id])].partition))
        for partition in holding:
            assert defs.resolve_job_def("write_shards").execute_in_process(instance=instance, partition_key=partition).success
        assert defs.resolve_job_def("publish").execute_in_process(instance=instance, raise_on_error=False).success
        b = paths.published.resolve()
        ui = instance.get_latest_materialization_event(AssetKey("catalog")).asset_materialization.metadata
        releases_index.pin(paths.releases, a.name, "compared by the test")  # kept through C
        assert defs.resolve_job_def("publish").execute_in_process(instance=instance, raise_on_error=False).success
        c = paths.published.resolve()  # a republish: nothing changed
        settings = root / "settings.yaml"
        settings.write_text(yaml.safe_dump(tol.effective()))
        yield {"a": a, "b": b, "c": c, "ui": ui, "tol": tol, "renamed": target.treeoflife_id, "rare": sorted(inat.treeoflife_id), "holding": holding,
               "settings": settings, "root": root}
    shutil.rmtree(root / "data", ignore_errors=True)


def oracle(a: Path, b: Path) -> dict:
    """The changes by plain pandas over the two catalog.csv files."""
    x, y = catalog_frame(a), catalog_frame(b)
    kx, ky = set(zip(x.split, x.treeoflife_id)), set(zip(y.split, y.treeoflife_id))
    lx = x[x.split != "train_small"].drop_duplicates("treeoflife_id").set_index("treeoflife_id")[LABELS]
    ly = y[y.split != "train_small"].drop_duplicates("treeoflife_id").set_index("treeoflife_id")[LABELS]
    both = lx.index.intersection(ly.index)
    diff = lx.loc[both] != ly.loc[both]
    return {"added": sorted(ky - kx), "removed": sorted(kx - ky), "relabelled": sorted(diff.index[diff.any(axis=1)]),
            "by_rank": {c: int(diff[c].sum()) for c in LABELS}}


def test_release_json_records_exactly_the_changes(rebuilt):
    ra = json.loads((rebuilt["a"] / "release.json").read_text())
    rb = json.loads((rebuilt["b"] / "release.json").read_text())
    assert ra["changes"]["first_release"] is True and ra["changes"]["summary"] == "first release"
    changes = rb["changes"]
    want = oracle(rebuilt["a"], rebuilt["b"])
    assert changes["previous"] == ra["name"] and changes["table"] == cl.TABLE
    assert want["relabelled"] == [rebuilt["renamed"]]
    assert changes["relabelled"]["ids"] == 1 and changes["relabelled"]["by_rank"] == want["by_rank"]
    assert changes["relabelled"]["by_rank"]["genus"] == 1
    example = changes["relabelled"]["examples"][0]
    assert example["treeoflife_id"] == rebuilt["renamed"] and example["after"]["genus"] == "Renamedgenus"
    assert want["added"] == [] and {i for _, i in want["removed"]} == set(rebuilt["rare"])
    assert changes["added"] == {}
    per_split: dict = {}
    for split, _ in want["removed"]:
        per_split[split] = per_split.get(split, 0) + 1
    assert changes["removed"] == {s: {"rare_species": n} for s, n in per_split.items()}
    assert changes["removed_ids_by_reason"] == {"rare_species": 2}
    table = pd.read_parquet(rebuilt["b"] / cl.TABLE)
    assert sorted(zip(table[table.change == "removed"].split, table[table.change == "removed"].treeoflife_id)) == want["removed"]
    assert list(table[table.change == "relabelled"].treeoflife_id) == [rebuilt["renamed"]]
    generations = {p: (ra["partitions"].get(p), g) for p, g in rb["partitions"].items()}
    assert changes["partitions"]["rebuilt"] == sorted(p for p, (x, y) in generations.items() if x and x != y)
    assert changes["partitions"]["unchanged"] == sorted(p for p, (x, y) in generations.items() if x == y)
    assert changes["partitions"]["rebuilt"] == rebuilt["holding"] == ["bioscan-000", "inat21-000"]  # only those rebuilt
    assert changes["partitions"]["unchanged"] == sorted(set(rb["partitions"]) - set(rebuilt["holding"])) != []


def test_the_card_has_a_changelog(rebuilt):
    first = (rebuilt["a"] / "224x224" / "README.md").read_text()
    assert "## CHANGELOG\n\nFirst release" in first
    card = (rebuilt["b"] / "224x224" / "README.md").read_text()
    section = card.split("## CHANGELOG", 1)[1].split("## Citation", 1)[0]
    assert "rare_species 2" in section and "| genus | 1 |" in section
    assert f"`{rebuilt['renamed']}`: " in section and "→ Renamedgenus" in section
    assert "../metadata/changes.parquet" in section
    assert "Partitions rebuilt (2): bioscan-000, inat21-000." in section and "Partitions unchanged: 2." in section


def test_the_ui_shows_the_changes_as_a_table(rebuilt):
    ui = rebuilt["ui"]  # the catalog materialization of release B
    table = ui["changes"].value
    assert "| train | 0 | 2 | rare_species 2 |" in table and "| genus | 1 |" in table and rebuilt["renamed"] in table
    assert ui["changes_summary"].value.startswith("+0 ids, -2 ids (rare_species 2), 1 relabelled (genus 1")
    assert ui["previous_release"].value == rebuilt["a"].name


def test_a_republish_that_changes_nothing_says_so_and_keeps_the_cards_changelog(rebuilt):
    rb = json.loads((rebuilt["b"] / "release.json").read_text())
    rc = json.loads((rebuilt["c"] / "release.json").read_text())
    assert rc["changes"]["previous"] == rb["name"] and cl.nothing_changed(rc["changes"])
    assert rc["changes"]["summary"] == f"+0 ids, -0 ids, 0 relabelled, 0 of {len(rb['partitions'])} partitions rebuilt"
    assert rc["changelog"] == rb["changes"]  # the card shows the last change, byte for byte
    for name in ("224x224/README.md", cl.TABLE):
        assert (rebuilt["c"] / name).read_bytes() == (rebuilt["b"] / name).read_bytes(), name


def test_tol10m_diff_prints_the_changes(rebuilt, monkeypatch, capsys):
    from tol10m_assets import cli

    monkeypatch.setenv("DAGSTER_HOME", str(rebuilt["root"] / "home"))
    a, b = rebuilt["a"].name, rebuilt["b"].name
    settings = ["--config", str(rebuilt["settings"])]
    assert cli.main(["diff", a, b, *settings]) == 0
    text = capsys.readouterr().out
    assert text.startswith(f"{a} → {b}: +0 ids, -2 ids (rare_species 2), 1 relabelled (genus 1")
    assert f"relabelled ids: {rebuilt['renamed']} (" in text
    for ident in rebuilt["rare"]:
        assert f"{ident} (rare_species" in text
    assert "partitions rebuilt (2): bioscan-000, inat21-000" in text and "partitions unchanged (2): eol-01, eol-02" in text
    assert cli.main(["diff", b, *settings, "--json"]) == 0  # B against the release it replaced
    got = json.loads(capsys.readouterr().out)
    recorded = json.loads((rebuilt["b"] / "release.json").read_text())["changes"]
    assert (got["old"], got["new"]) == (a, b)
    for key in ("added", "removed", "ids", "relabelled", "partitions", "removed_ids_by_reason"):
        assert got[key] == recorded[key], key
    assert [i for i, _ in got["listed"]["relabelled"]] == [rebuilt["renamed"]]
    assert cli.main(["diff", str(rebuilt["b"]), str(rebuilt["a"]), *settings, "--json"]) == 0  # paths, backwards
    back = json.loads(capsys.readouterr().out)
    assert sum(back["added"].values()) == sum(sum(r.values()) for r in recorded["removed"].values())
    assert cli.main(["diff", a, *settings]) == 0
    assert "first release" in capsys.readouterr().out


def test_a_takedown_list_without_a_reason_column_still_names_removed(tmp_path):
    a, b = frame([row("train", "x1"), row("train", "x2")]), frame([row("train", "x1")])
    a.to_parquet(tmp_path / "a.parquet"), b.to_parquet(tmp_path / "b.parquet")
    pd.DataFrame({"treeoflife_id": ["x2", None]}).to_parquet(tmp_path / "takedowns.parquet")
    got = cl.compare(tmp_path / "a.parquet", tmp_path / "b.parquet", why=cl.Why(takedowns=tmp_path / "takedowns.parquet"))
    assert got["removed"] == {"train": {"removed": 1}}
