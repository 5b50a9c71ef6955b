"""An offline mirror of the remote sources, made from a sample world: what the download assets
read when ``downloads.mirror_dir`` points at it (the HF repo's relative paths, and each HTTP file
by its name)."""

from __future__ import annotations

import shutil
import tarfile
import zipfile
from pathlib import Path

from tol10m_assets.download.mirror import write_checksums
from tol10m_assets.layout import SourceLayout

FIXED_TIME = (2024, 1, 1, 0, 0, 0)


def _zip(dest: Path, files: list[tuple[Path, str]]) -> None:
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_STORED) as zf:
        for path, name in sorted(files, key=lambda f: f[1]):
            info = zipfile.ZipInfo(name, FIXED_TIME)
            info.external_attr = 0o644 << 16
            zf.writestr(info, path.read_bytes())


def published_licenses(world: Path):
    """The world's ``metadata/licenses.csv`` as published (the published columns, ids of the
    published catalog, md5 of each EOL image's bytes)."""
    import json

    import pandas as pd

    from tol10m_assets.licenses import eol_licenses, read_media_manifest

    lay = SourceLayout.under(world)
    catalog = pd.read_csv(lay.published_catalog, dtype={"eol_content_id": "Int64", "eol_page_id": "Int64"}, keep_default_na=False,
                          na_values={"eol_content_id": [""], "eol_page_id": [""]})
    md5 = json.loads((Path(world) / "summary.json").read_text())["eol_md5"]
    md5s = pd.DataFrame([(*map(int, k.split("_")), v) for k, v in md5.items()], columns=["eol_content_id", "eol_page_id", "md5"])
    return eol_licenses(catalog, read_media_manifest(lay.eol_media_manifest), md5s)


def make_mirror(world: Path, mirror: Path) -> Path:
    """Write the mirror of sample world ``world`` into ``mirror``; returns ``mirror``."""
    lay = SourceLayout.under(world)
    mirror.mkdir(parents=True, exist_ok=True)
    eol = mirror / "dataset" / "EOL"
    eol.mkdir(parents=True, exist_ok=True)
    for tar_path in sorted(lay.eol_published_images.glob("image_set_*.tar.gz")):
        shutil.copyfile(tar_path, eol / tar_path.name)
    meta = mirror / "metadata"
    meta.mkdir(exist_ok=True)
    for src, name in ((lay.published_catalog, "catalog.csv"), (lay.published_mapping, "mapping.sqlite"), (lay.taxon_tab, "taxon.tab"),
                      (lay.itis_chains, "species_level_taxonomy_chains.csv")):
        shutil.copyfile(src, meta / name)
    published_licenses(world).to_csv(meta / "licenses.csv", index=False, lineterminator="\n")
    (meta / "naming").mkdir(exist_ok=True)
    for src in (lay.eol_name_lookup, lay.inat21_name_lookup, lay.bioscan_name_lookup):
        shutil.copyfile(src, meta / "naming" / src.name)
    with tarfile.open(mirror / "train.tar.gz", "w:gz", format=tarfile.USTAR_FORMAT) as tar:
        for path in sorted(lay.inat21_train.rglob("*")):
            info = tar.gettarinfo(path, arcname="train/" + path.relative_to(lay.inat21_train).as_posix())
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
            if path.is_file():
                with open(path, "rb") as handle:
                    tar.addfile(info, handle)
            else:
                tar.addfile(info)
    images = [(p, "cropped_256/" + p.relative_to(lay.bioscan_images).as_posix()) for p in lay.bioscan_images.rglob("*") if p.is_file()]
    _zip(mirror / "cropped_256.zip", images)
    shutil.copyfile(lay.bioscan_metadata, mirror / lay.bioscan_metadata.name)
    shutil.copyfile(lay.eol_vernacular, mirror / "vernacularnames.csv")
    _zip(mirror / "inaturalist-taxonomy.dwca.zip", [(lay.inat_taxa, "taxa.csv"), (lay.inat_vernacular, "VernacularNames-english.csv")])
    shutil.copyfile(lay.rare_seen, mirror / "seen_in_training.json")
    shutil.copyfile(lay.rare_unseen, mirror / "unseen_in_training.json")
    write_checksums(mirror)  # the mirror's own bytes: the published checksums are for the real files
    return mirror
