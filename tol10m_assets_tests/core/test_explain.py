"""``python -m tol10m_assets.explain``: ranks, common name, the file and line of each, the upgrade
steps, on a sample world built with the core steps the ``mapping`` and ``labels`` assets run."""

import json
import subprocess
import sys

import pandas as pd
import pytest

from tol10m_assets import catalog, labels, mapping
from tol10m_assets.explain import explain, main
from tol10m_assets.layout import SourceLayout
from tol10m_assets.paths import BuildPaths
from tol10m_assets.sample import make_sample_world
from tol10m_assets.sources import Chunking


@pytest.fixture(scope="module")
def build(tmp_path_factory):
    sources, data = tmp_path_factory.mktemp("src"), tmp_path_factory.mktemp("data")
    make_sample_world(sources, images=120, seed=7, log=lambda *_: None)
    layout, paths = SourceLayout.under(sources), BuildPaths(data)
    frame, _ = mapping.build_mapping(layout, Chunking())
    catalog.write_frame_atomic(frame, paths.mapping)
    lookups = labels.resolve_lookups(layout, frame, log=lambda *_: None)
    table = labels.join_labels(frame, lookups)
    catalog.write_frame_atomic(table, paths.labels)
    return sources, data, frame.merge(table, on="treeoflife_id")


def run(capsys, *args) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def line_of(path, predicate) -> int:
    return next(i for i, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1) if predicate(text))


def test_a_scraped_page_by_treeoflife_id(build, capsys):
    sources, data, rows = build
    layout = SourceLayout.under(sources)
    row = rows[rows["eol_page_id"] == 7000001].iloc[0]
    code, out, _ = run(capsys, row["treeoflife_id"], "--data-root", str(data), "--sources-root", str(sources))
    assert code == 0
    assert out.startswith(f"{row['treeoflife_id']}  eol, partition {row['partition']}")
    assert f"source   {row['origin']}" in out
    scraped = line_of(layout.scraped_page_ids, lambda t: t.startswith("7000001,"))
    assert "species  montanus" in out and f"scraped_page_ids.csv:{scraped}\n" in out
    assert f'line {scraped}: 7000001,"Passer montanus (Linnaeus, 1758)"' in out
    genus = line_of(layout.taxon_tab, lambda t: "\tgenus\tPasser\t" in t)
    assert "genus    Passer" in out and f"taxon.tab:{genus}\n" in out
    vern = line_of(layout.inat_vernacular, lambda t: ",Eurasian Tree Sparrow," in t)
    assert f"common   Eurasian Tree Sparrow  VernacularNames-english.csv:{vern}" in out
    assert "with common name Eurasian Tree Sparrow." in out
    assert "upgrade steps\n    none: every rank comes from the image's own source" in out


def test_an_upgraded_eol_image_by_member_name(build, capsys):
    sources, data, rows = build
    row = rows[(rows["source"] == "eol") & (rows["genus"] == "Amanita")].iloc[0]
    member = row["origin"].split(":", 1)[1]
    code, out, _ = run(capsys, member, "--data-root", str(data), "--sources-root", str(sources))
    assert code == 0 and row["treeoflife_id"] in out
    assert "kingdom  Fungi" in out and "resolved.jsonl:1 (upgraded from resolved.jsonl)" in out
    steps = out.split("upgrade steps\n", 1)[1]
    assert "before: genus Amanita species muscaria" in steps
    assert "'amanita muscaria' (species) → family 'amanitaceae' [resolved.jsonl:1]: filled" in steps
    assert "result: complete" in steps


def test_a_bioscan_image_cites_its_own_record(build, capsys):
    sources, data, rows = build
    layout = SourceLayout.under(sources)
    records = json.loads(layout.bioscan_metadata.read_text())
    row = rows[rows["source"] == "bioscan"].iloc[5]
    number = 1 + next(i for i, r in enumerate(records) if r["image_file"] == row["bioscan_filename"])
    code, out, _ = run(capsys, f"part{row['bioscan_part']}/{row['bioscan_filename']}", "--data-root", str(data), "--sources-root", str(sources))
    assert code == 0
    assert f"(record {number})" in out and out.count("fixed: every BIOSCAN-1M image is Animalia, Arthropoda, Insecta") == 3
    assert f'"image_file": "{row["bioscan_filename"]}"' in out


def test_an_inat21_image_and_the_python_api(build):
    sources, data, rows = build
    row = rows[rows["source"] == "inat21"].iloc[0]
    [e] = explain(row["inat21_filename"], data, sources)
    assert e.treeoflife_id == row["treeoflife_id"]
    assert e.provenance["species"] == f"class directory {int(row['inat21_cls_num']):05d}_{row['inat21_cls_name']}"
    assert e.ranks == [row[c] for c in ("kingdom", "phylum", "class", "order", "family", "genus", "species")]


def test_unknown_ids_and_missing_builds_say_so(build, capsys, tmp_path):
    sources, data, _ = build
    code, _, err = run(capsys, "no-such-file.jpg", "--data-root", str(data), "--sources-root", str(sources))
    assert code == 2 and "no image with treeoflife_id or source name 'no-such-file.jpg'" in err
    code, _, err = run(capsys, "x.jpg", "--data-root", str(tmp_path))
    assert code == 2 and "no mapping at" in err and "--data-root" in err


def test_the_module_runs_from_the_command_line(build):
    sources, data, rows = build
    tid = rows[rows["source"] == "eol"]["treeoflife_id"].iloc[0]
    proc = subprocess.run([sys.executable, "-m", "tol10m_assets.explain", tid, "--data-root", str(data), "--sources-root", str(sources)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "caption  a photo of kingdom" in proc.stdout
    assert isinstance(pd.read_parquet(BuildPaths(data).labels), pd.DataFrame)
