"""Parity with the published files: an empty rank is NULL in catalog.parquet as catalog.csv reads,
licenses.csv writes `not provided` for a missing title, the README's wids example names its cache."""

from pathlib import Path

import duckdb
import pandas as pd

from tol10m_assets.labels import RANK_COLUMNS

REPO = Path(__file__).resolve().parents[2]


def test_an_empty_rank_is_null_in_the_parquet_exactly_where_the_csv_reads_null(built):
    tol, *_ = built
    metadata = tol.paths().published / "metadata"
    parquet, csv = str(metadata / "catalog.parquet"), str(metadata / "catalog.csv")
    con = duckdb.connect()
    for rank in RANK_COLUMNS:
        empty = con.execute(f"SELECT count(*) FILTER (\"{rank}\" = '') FROM read_parquet('{parquet}')").fetchone()[0]
        assert empty == 0, rank  # never '' in the parquet
    nulls = lambda source: [con.execute(f"SELECT count(*) FILTER (\"{r}\" IS NULL) FROM {source}").fetchone()[0]  # noqa: E731
                            for r in RANK_COLUMNS]
    from_csv = nulls(f"read_csv('{csv}', all_varchar = true)")
    assert nulls(f"read_parquet('{parquet}')") == from_csv and sum(from_csv) > 0  # the sample has incomplete ranks
    same = con.execute(f"""SELECT count(*) FROM (SELECT split, treeoflife_id, {', '.join(f'"{r}"' for r in RANK_COLUMNS)} FROM read_parquet('{parquet}')
                          EXCEPT ALL SELECT split, treeoflife_id, {', '.join(f'"{r}"' for r in RANK_COLUMNS)} FROM read_csv('{csv}', all_varchar = true))""").fetchone()[0]
    assert same == 0


def test_licenses_write_not_provided_for_a_missing_title_as_published(built):
    tol, *_ = built
    licences = pd.read_csv(tol.paths().licenses, dtype=str, keep_default_na=False)
    listed = licences[licences["license_name"] != ""]
    assert len(listed) and (listed["title"] == "not provided").all()
    assert (licences.loc[licences["license_name"] == "", "title"] == "").all()  # not in the manifest: left empty


def test_the_readme_wids_example_names_its_cache_dir():
    text = (REPO / "README.md").read_text()
    call = text.split("wids.ShardListDataset(", 1)[1].split(")", 1)[0]
    assert "cache_dir=" in call and "/published/" not in call  # a job's index names its release
