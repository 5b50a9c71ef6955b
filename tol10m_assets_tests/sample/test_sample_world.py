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
