"""licenses.csv with the published columns, filled from the EOL media manifest of the sample world;
md5 is the MD5 of each EOL image's bytes."""

import pandas as pd
import pytest

from tol10m_assets.layout import SourceLayout
from tol10m_assets.licenses import (
    LICENSE_COLUMNS,
    NOT_PROVIDED,
    eol_image_md5s,
    eol_licenses,
    license_link,
    read_media_manifest,
)
from tol10m_assets.sample import make_sample_world

PUBLISHED = ["treeoflife_id", "eol_content_id", "eol_page_id", "md5", "medium_source_url", "eol_full_size_copy_url",
             "license_name", "copyright_owner", "license_link", "title"]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    out = tmp_path_factory.mktemp("lic")
    summary = make_sample_world(out, images=120, seed=2, log=lambda *_: None)
    layout = SourceLayout.under(out)
    catalog = pd.read_csv(layout.published_catalog, dtype={"eol_content_id": "Int64", "eol_page_id": "Int64"}, keep_default_na=False,
                          na_values={"eol_content_id": [""], "eol_page_id": [""]})
    return layout, summary, catalog


def test_the_published_columns_and_values_from_the_manifest(world):
    layout, summary, catalog = world
    manifest = pd.read_csv(layout.eol_media_manifest, dtype=str, keep_default_na=False)
    table = eol_licenses(catalog, read_media_manifest(layout.eol_media_manifest), eol_image_md5s(layout))
    assert list(table.columns) == LICENSE_COLUMNS == PUBLISHED
    eol = catalog[catalog["eol_content_id"].notna()]
    assert sorted(table["treeoflife_id"]) == sorted(set(eol["treeoflife_id"]))  # one row per image, train_small not twice
    by_pair = {(int(r["EOL content ID"]), int(r["EOL page ID"])): r for _, r in manifest.iterrows()}
    seen_owner_missing = seen_no_link = 0
    for row in table.itertuples(index=False):
        assert row.md5 == summary["eol_md5"][f"{row.eol_content_id}_{row.eol_page_id}"]
        src = by_pair.get((row.eol_content_id, row.eol_page_id))
        if src is None:
            assert row.eol_content_id == summary["manifest_missing"]
            assert (row.medium_source_url, row.license_name, row.copyright_owner, row.license_link, row.title) == ("", "", "", "", "")
            continue
        assert (row.medium_source_url, row.eol_full_size_copy_url, row.license_name) == (
            src["Medium Source URL"], src["EOL Full-Size Copy URL"], src["License Name"])
        assert row.copyright_owner == (src["Copyright Owner"] or NOT_PROVIDED)
        seen_owner_missing += not src["Copyright Owner"]
        assert row.license_link == license_link(src["License Name"])
        seen_no_link += src["License Name"] == "No known copyright restrictions"
        assert row.title == NOT_PROVIDED  # the manifest has no title: written as the published file does
    assert seen_owner_missing and seen_no_link
    assert summary["manifest_missing"] in set(table["eol_content_id"])
    assert "Smith, J." in set(table["copyright_owner"])


def test_reproduce_flavour_md5_by_treeoflife_id_equals_the_original_bytes(world):
    layout, summary, catalog = world
    published = eol_image_md5s(layout, "reproduce")
    assert published["eol_content_id"].isna().all() and published["treeoflife_id"].notna().all()
    table = eol_licenses(catalog, read_media_manifest(layout.eol_media_manifest), published)
    assert all(row.md5 == summary["eol_md5"][f"{row.eol_content_id}_{row.eol_page_id}"] for row in table.itertuples(index=False))


def test_without_hashes_md5_stays_empty_and_an_absent_manifest_frame_works(world):
    _, _, catalog = world
    empty = pd.DataFrame(columns=["eol_content_id", "eol_page_id", "license", "owner"]).astype({"eol_content_id": "Int64", "eol_page_id": "Int64"})
    table = eol_licenses(catalog, empty)
    assert list(table.columns) == PUBLISHED and len(table) and (table[PUBLISHED[3:]] == "").all().all()


def test_manifest_keep_and_first_row_wins(tmp_path):
    path = tmp_path / "media_manifest.csv"
    path.write_text("EOL content ID,EOL page ID,Medium Source URL,EOL Full-Size Copy URL,License Name,Copyright Owner\n"
                    "1,2,a,b,cc-by-4.0,first\n1,2,a,b,cc-by-4.0,second\n3,4,,c,\"No known copyright restrictions\",\n")
    frame = read_media_manifest(path)
    assert frame.values.tolist() == [[1, 2, "a", "b", "cc-by-4.0", "first", "", ""], [3, 4, "", "c", "No known copyright restrictions", "", "", ""]]
    assert read_media_manifest(path, keep=[(3, 4)])["eol_content_id"].tolist() == [3]


@pytest.mark.parametrize("name, link", [
    ("cc-by-nc-sa-3.0", "https://creativecommons.org/licenses/by-nc-sa/3.0/"),
    ("cc-by-4.0", "https://creativecommons.org/licenses/by/4.0/"),
    ("cc-publicdomain", "https://creativecommons.org/publicdomain/mark/1.0/"),
    ("No known copyright restrictions", ""),
    ("", ""),
])
def test_licence_links(name, link):
    assert license_link(name) == link
