"""The sample world: deterministic, in its real layout, with the promised quirks and zoo."""

import hashlib
import io
import json
import re
import sqlite3
import subprocess
import sys
import tarfile
import warnings

import pytest
from PIL import Image

from tol10m_assets.layout import SourceLayout
from tol10m_assets.sample import make_sample_world


def digests(root):
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    out = tmp_path_factory.mktemp("w")
    return out, make_sample_world(out, images=150, seed=3, log=lambda *_: None)


def test_same_seed_same_bytes_other_seed_other_bytes(world, tmp_path):
    out, _ = world
    make_sample_world(tmp_path / "again", images=150, seed=3, log=lambda *_: None)
    make_sample_world(tmp_path / "other", images=150, seed=4, log=lambda *_: None)
    assert digests(out) == digests(tmp_path / "again")
    assert digests(out) != digests(tmp_path / "other")


def test_every_layout_path_exists(world):
    out, summary = world
    layout = SourceLayout.under(out)
    for name, path in layout.items():
        assert path.exists(), name
    assert summary["layout"]["taxon_tab"] == "metadata/taxon.tab"


def test_counts_match_the_disk(world):
    out, summary = world
    layout = SourceLayout.under(out)
    members = []
    for tar_path in sorted(layout.eol_images.glob("image_set_*.tar.gz")):
        with tarfile.open(tar_path) as tar:
            members += tar.getnames()
    pattern = re.compile(r"(\d+)_(\d+)_eol.*jpg")
    assert len(members) == summary["counts"]["eol"]["members"]
    assert sum(bool(pattern.fullmatch(m)) for m in members) == summary["counts"]["eol"]["images"]
    classes = [d for d in layout.inat21_train.iterdir()]
    assert len(classes) == summary["counts"]["inat21"]["classes"]
    assert all(len(d.name.split("_")) == 8 for d in classes)
    assert sum(1 for p in layout.inat21_train.rglob("*.jpg")) == summary["counts"]["inat21"]["images"]
    assert sum(1 for p in layout.bioscan_images.rglob("*.jpg")) == summary["counts"]["bioscan"]["images"]
    for source, exp in summary["expected"].items():
        total = summary["counts"][source]["images"] + (1 if source == "inat21" else 0)
        if source.startswith("eol"):
            total = summary["counts"][source]["members"]
        assert exp["written"] + sum(exp["skipped"].values()) == total, source


def _open(data):
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        image = Image.open(io.BytesIO(data))
        image.load()
        return image


def test_the_corruption_zoo_fails_and_the_quirks_decode(world):
    out, summary = world
    layout = SourceLayout.under(out)
    data = {}
    for tar_path in sorted(layout.eol_images.glob("*.tar.gz")):
        with tarfile.open(tar_path) as tar:
            for m in tar:
                data[f"{tar_path.name}:{m.name}"] = tar.extractfile(m).read()
    for p in layout.inat21_train.rglob("*"):
        if p.is_file():
            data[f"train/{p.parent.name}/{p.name}"] = p.read_bytes()
    for p in layout.bioscan_images.rglob("*.jpg"):
        data[f"{p.parent.name}/{p.name}"] = p.read_bytes()
    corrupt = [s for s in summary["special"] if s["expect"] == "corrupt_image"]
    assert {s["why"] for s in corrupt} >= {"truncated JPEG", "zero bytes", "non-image bytes named .jpg", "dimensions past Pillow's decompression-bomb limit"}
    for item in corrupt:
        with pytest.raises(Exception):
            _open(data[item["ref"]])
    decodes = [s for s in summary["special"] if s["expect"] == "written" and s["ref"] in data]
    whys = {s["why"] for s in decodes}
    assert {"RGBA PNG named .jpg", "EXIF-rotated JPEG (Orientation 6)", "CMYK JPEG"} <= whys
    for item in decodes:
        image = _open(data[item["ref"]])
        if "PNG" in item["why"]:
            assert image.format == "PNG"
    sizes = [max(_open(d).size) for k, d in data.items() if k.startswith("image_set") and k.endswith(".jpg") and "eol-full-size" in k and not any(k == s["ref"] for s in corrupt)]
    assert max(sizes) >= 3000 and min(sizes) >= 300


def test_published_flavour_matches_its_mapping(world):
    out, summary = world
    layout = SourceLayout.under(out)
    with sqlite3.connect(layout.published_mapping) as con:
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        ids = {r[0] for r in con.execute("SELECT evobio10m_id FROM eol")}
    assert tables == {"eol", "inat21", "bioscan", "split"}
    names = []
    for tar_path in sorted(layout.eol_published_images.glob("*.tar.gz")):
        with tarfile.open(tar_path) as tar:
            names += [n[:-4] for n in tar.getnames() if n.endswith(".jpg")]
    assert len(set(names) - ids) == 1 and ids <= set(names)


def test_rare_lists_use_both_key_formats(world):
    out, _ = world
    layout = SourceLayout.under(out)
    seen, unseen = json.loads(layout.rare_seen.read_text()), json.loads(layout.rare_unseen.read_text())
    assert all(len(k.split()) == 2 and "-" not in k for k in seen)
    assert all(len(k.split("-")) == 7 for k in unseen)
    assert "Animalia-Mollusca-Bivalvia-Unionida-Unionidae-Cyclonaias-tuberculata" in unseen


def test_cli_prints_a_summary(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "tol10m_assets.sample", "--out", str(tmp_path), "--images", "60", "--seed", "1"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "expected skips" in proc.stdout and "corrupt_image" in proc.stdout
    assert json.loads((tmp_path / "summary.json").read_text())["seed"] == 1


@pytest.mark.slow
def test_a_larger_world(tmp_path):
    summary = make_sample_world(tmp_path, images=2000, seed=0, log=lambda *_: None)
    assert summary["counts"]["inat21"]["images"] == 700 and summary["counts"]["eol"]["images"] == 800


EOL_MEMBER = re.compile(r"(\d+)_(\d+)_eol.*jpg")


def _members(folder):
    out = {}
    for tar_path in sorted(folder.glob("image_set_*.tar.gz")):
        with tarfile.open(tar_path) as tar:
            for m in tar:
                out[f"{tar_path.name}:{m.name}"] = tar.extractfile(m).read()
    return out


def test_eol_member_names_parse_except_the_planted_one(world):
    out, summary = world
    refs = _members(SourceLayout.under(out).eol_images)
    bad = {s["ref"] for s in summary["special"] if s["source"] == "eol" and s["expect"] == "bad_member_name"}
    assert len(bad) == summary["expected"]["eol"]["skipped"]["bad_member_name"] >= 1
    for ref in refs:
        member = ref.split(":", 1)[1]
        assert bool(EOL_MEMBER.fullmatch(member)) == (ref not in bad), ref
    assert summary["counts"]["eol"]["image_sets"] >= 2


def test_the_bomb_trips_pillows_limit_and_stays_small(world):
    out, summary = world
    refs = _members(SourceLayout.under(out).eol_images)
    bombs = [s["ref"] for s in summary["special"] if "decompression-bomb" in s["why"]]
    assert bombs
    for ref in bombs:
        assert len(refs[ref]) < 10_000
        with pytest.raises(Image.DecompressionBombError):
            Image.open(io.BytesIO(refs[ref])).load()


def test_sizes_and_modes_per_source(world):
    out, summary = world
    layout = SourceLayout.under(out)
    corrupt = {s["ref"] for s in summary["special"] if s["expect"] == "corrupt_image"}
    eol_modes = {_open(d).mode for r, d in _members(layout.eol_images).items() if r.endswith(".jpg") and r not in corrupt}
    assert {"RGB", "L", "CMYK", "P", "RGBA"} <= eol_modes
    inat = [p for p in layout.inat21_train.rglob("*.jpg") if f"train/{p.parent.name}/{p.name}" not in corrupt]
    assert max(max(_open(p.read_bytes()).size) for p in inat) <= 500
    bioscan = [p for p in layout.bioscan_images.rglob("*.jpg") if f"{p.parent.name}/{p.name}" not in corrupt]
    assert all(150 <= max(_open(p.read_bytes()).size) <= 256 for p in bioscan)
    assert summary["counts"]["bioscan"]["parts"] == len([d for d in layout.bioscan_images.iterdir() if d.name.startswith("part")]) >= 2


def test_inat_classes_span_several_chunks_of_100(world):
    out, _ = world
    names = [d.name for d in SourceLayout.under(out).inat21_train.iterdir()]
    assert all(re.fullmatch(r"\d{5}(_[A-Za-z]+){6}_[a-z]+", n) for n in names), names
    assert len({int(n[:5]) // 100 for n in names}) >= 2


def test_published_tables_and_catalog_cover_every_source(world):
    out, summary = world
    layout = SourceLayout.under(out)
    with sqlite3.connect(layout.published_mapping) as con:
        n = {t: con.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in ("eol", "inat21", "bioscan", "split")}
        cols = {t: [r[1] for r in con.execute(f"PRAGMA table_info({t})")] for t in n}
    assert cols == {"eol": ["content_id", "page_id", "evobio10m_id"], "inat21": ["filename", "cls_name", "cls_num", "evobio10m_id"],
                    "bioscan": ["part", "filename", "evobio10m_id"], "split": ["evobio10m_id", "is_val", "is_train_small"]}
    assert n["eol"] == summary["counts"]["eol"]["images"] and n["inat21"] == summary["counts"]["inat21"]["images"]
    assert n["bioscan"] == summary["counts"]["bioscan"]["images"] and n["split"] == n["eol"] + n["inat21"] + n["bioscan"]
    import csv

    with open(layout.published_catalog, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["split", "treeoflife_id", "eol_content_id", "eol_page_id", "bioscan_part", "bioscan_filename", "inat21_filename",
                             "inat21_cls_name", "inat21_cls_num", "kingdom", "phylum", "class", "order", "family", "genus", "species", "common"]
    by_split = {s: {r["treeoflife_id"] for r in rows if r["split"] == s} for s in ("train", "val", "train_small")}
    assert by_split["train_small"] and by_split["train_small"] <= by_split["train"] and not by_split["train"] & by_split["val"]
    written = sum(summary["expected"][s]["written"] for s in ("eol", "inat21", "bioscan"))
    assert len(by_split["train"]) + len(by_split["val"]) == written
    assert {"eol", "inat21", "bioscan"} <= set(summary["taxa"]) and all(v["unique_taxa"] > 0 for v in summary["taxa"].values())


def test_rare_species_in_the_world(world):
    out, summary = world
    layout = SourceLayout.under(out)
    refs = _members(layout.eol_images)
    seen, unseen = json.loads(layout.rare_seen.read_text()), json.loads(layout.rare_unseen.read_text())
    listed = {p.rsplit("/", 1)[1] for paths in [*seen.values(), *unseen.values()] for p in paths}
    rare = [s["ref"].split(":", 1)[1] for s in summary["special"] if s["source"] == "eol" and s["expect"] == "rare_species"]
    # some rare images are excluded only by species (not listed by file name)
    assert any(m not in listed for m in rare) and any(m in listed for m in rare)
    # the seen species keeps its images that are not listed
    seen_page = next(p.rsplit("/", 1)[1].split("_")[1] for p in seen["Mobula birostris"])
    kept = [r for r in refs if r.split(":", 1)[1].split("_")[1:2] == [seen_page] and r.split(":", 1)[1] not in listed]
    assert kept
    inat_rare = [s for s in summary["special"] if s["source"] == "inat21" and s["expect"] == "rare_species"]
    assert inat_rare and all("Cyclonaias_tuberculata" in s["ref"] for s in inat_rare)
