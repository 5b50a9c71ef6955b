"""The Rare Species benchmark lists, and what they exclude from train and val (spec section 5).

Fixes two bugs of the original: the keys of ``unseen_in_training.json`` are hyphenated seven-rank
strings that the original compared with plain scientific names (so no species was excluded), and
in the reproduction flow EOL files are named by UUID (so no file was excluded). Species are matched
here by the normalised scientific name whatever the key format, EOL images by (content id, page id).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from tol10m_assets.errors import InputFormatError
from tol10m_assets.taxonomy.readers import iter_lines
from tol10m_assets.taxonomy.taxon import Taxon

_EOL_FILE = re.compile(r"(\d+)_(\d+)_eol.*jpg")


def species_key(key: str) -> str:
    """Normalised scientific name of a list key: ``Genus species`` or ``K-P-C-O-F-Genus-species``."""
    parts = key.split("-")
    if len(parts) >= 7:
        taxon = Taxon(*parts[:6], "-".join(parts[6:]))
    else:
        taxon = Taxon(species=key)
    return taxon.scientific.lower()


def _load(path: Path) -> dict:
    try:
        data = json.loads("".join(iter_lines(Path(path))))
    except json.JSONDecodeError as exc:
        raise InputFormatError(path, f"not JSON ({exc.msg})", line=exc.lineno) from None
    if not isinstance(data, dict):
        raise InputFormatError(path, "expected a JSON object: species → list of image paths")
    return data


class RareSpecies:
    def __init__(self, species: set[str], eol_images: set[tuple[int, int]], files: set[str]):
        self.species = species
        self.eol_images = eol_images
        self.files = files

    @classmethod
    def from_files(cls, seen: Path | None, unseen: Path | None) -> "RareSpecies":
        species: set[str] = set()
        eol_images: set[tuple[int, int]] = set()
        files: set[str] = set()
        for path, whole_species in ((seen, False), (unseen, True)):
            if path is None or not Path(path).exists():
                continue
            for key, images in _load(path).items():
                if whole_species:
                    species.add(species_key(key))
                for image in images or []:
                    name = str(image).rsplit("/", 1)[-1]
                    files.add(name)
                    m = _EOL_FILE.fullmatch(name)
                    if m:
                        eol_images.add((int(m.group(1)), int(m.group(2))))
        species.discard("")
        return cls(species, eol_images, files)

    def excludes_species(self, taxon: Taxon) -> bool:
        return bool(taxon.scientific) and taxon.scientific.lower() in self.species

    def excludes_eol(self, content_id: int, page_id: int) -> bool:
        return (content_id, page_id) in self.eol_images

    def excludes_file(self, filename: str) -> bool:
        return filename.rsplit("/", 1)[-1] in self.files
