"""The sample world's media manifest has EOL's columns, and its mirror publishes licenses.csv with
the published columns."""

import csv
import hashlib
import json
import tarfile

from tol10m_assets.layout import SourceLayout
from tol10m_assets.sample import make_sample_world
from tol10m_assets.sample.mirror import make_mirror

EOL_MANIFEST = ["EOL content ID", "EOL page ID", "Medium Source URL", "EOL Full-Size Copy URL", "License Name", "Copyright Owner"]
PUBLISHED = ["treeoflife_id", "eol_content_id", "eol_page_id", "md5", "medium_source_url", "eol_full_size_copy_url",
             "license_name", "copyright_owner", "license_link", "title"]


def test_manifest_columns_and_the_mirrors_published_licences(tmp_path):
    world = tmp_path / "world"
    summary = make_sample_world(world, images=80, seed=1, log=lambda *_: None)
    layout = SourceLayout.under(world)
    with open(layout.eol_media_manifest, newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == EOL_MANIFEST
    assert {r[4] for r in rows[1:]} >= {"No known copyright restrictions", "cc-by-nc-sa-3.0"} and "" in {r[5] for r in rows[1:]}
    # the md5 the summary records is the md5 of the member's bytes
    with tarfile.open(next(layout.eol_images.glob("image_set_01.tar.gz"))) as tar:
        member = next(m for m in tar if m.name.endswith("eol-full-size-copy.jpg"))
        data = tar.extractfile(member).read()
    assert summary["eol_md5"][member.name.split("_eol")[0]] == hashlib.md5(data).hexdigest()
    mirror = make_mirror(world, tmp_path / "mirror")
    with open(mirror / "metadata" / "licenses.csv", newline="") as handle:
        published = list(csv.DictReader(handle))
    assert list(published[0]) == PUBLISHED
    assert all(r["md5"] == summary["eol_md5"][f"{r['eol_content_id']}_{r['eol_page_id']}"] for r in published)
    assert json.loads((world / "summary.json").read_text())["manifest_missing"] in {int(r["eol_content_id"]) for r in published}
