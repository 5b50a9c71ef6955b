"""Write a whole sample world: every raw input of the spec in its real layout, deterministic."""

from __future__ import annotations

import csv
import hashlib
import json
import math
import sqlite3
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tol10m_assets.errors import (
    SKIP_BAD_MEMBER_NAME,
    SKIP_CORRUPT_IMAGE,
    SKIP_NO_TAXON,
    SKIP_NOT_IN_MAPPING,
    SKIP_RARE_SPECIES,
)
from tol10m_assets.layout import DEFAULT_PATHS, SourceLayout
from tol10m_assets.sample import images as imgs
from tol10m_assets.sample.tarballs import DeterministicTar
from tol10m_assets.sample.taxa import (
    BASE,
    RARE_SEEN,
    RARE_SEEN_OTHERS,
    RARE_UNSEEN,
    RARE_UNSEEN_OTHERS,
    Species,
    fillers,
)

SOURCES = ("eol", "eol_published", "inat21", "bioscan")
# The columns of EOL's media manifest (media_manifest.tgz, written by EOL's ManifestExporter).
MANIFEST_HEADER = ["EOL content ID", "EOL page ID", "Medium Source URL", "EOL Full-Size Copy URL", "License Name", "Copyright Owner"]
EOL_PER_SET = 5000
BIOSCAN_PER_PART = 1000  # the real parts hold 10,000; smaller here so larger worlds get several
SEEN_PREFIX = "/fs/scratch/PAS2136/eol/data/interim/media_cargo/"
UNSEEN_PREFIX = "/fs/ess/PAS2136/rare-species/2024-03-20/"


def by_name(name: str) -> Species:
    return next(s for s in [*BASE, RARE_UNSEEN, RARE_SEEN] if s.ranks[5] + " " + s.ranks[6] == name)


@dataclass(slots=True)
class Img:
    """One planned source image."""

    source: str
    expect: str = "written"  # or a skip reason
    why: str = ""
    ranks: tuple = ()
    common: str = ""
    kind: str = "photo"  # photo, or a corruption kind
    mode: str = "RGB"
    fmt: str = "JPEG"
    size: tuple[int, int] = (400, 300)
    exif: int | None = None
    content_id: int = 0
    page_id: int = 0
    tol_id: str = ""
    cls_num: int = 0
    cls_dir: str = ""
    filename: str = ""
    part: int = 0
    record: dict | None = field(default=None)
    set_name: str = ""
    md5: str = ""  # EOL: MD5 of the full-size image bytes (the published licences' md5)


# The published-style variant: the 2023 lookups differ from today's name sources, as the real ones do.
# (source, "Genus species" as the raw sources label it, rank or "common", published value)
DELIBERATE_DIFFERENCES = (
    ("eol", "Passer domesticus", "common", "English Sparrow"),
    ("eol", "Quercus robur", "common", "Pedunculate Oak"),
    ("eol", "Charina bottae", "common", "Rubber Boa"),
    ("eol", "Amanita muscaria", "common", "Fly Amanita"),
    ("eol", "Hylarana latouchii", "genus", "Sylvirana"),
    ("eol", "Geospiza fuliginosa", "common", "Sooty Ground Finch"),
    ("inat21", "Canis lupus", "common", "Grey Wolf"),
    ("inat21", "Danaus plexippus", "common", "Monarch Butterfly"),
    ("inat21", "Zygodon viridissimus", "common", "Green Yoke-moss"),
    ("inat21", "Partula subangulata", "genus", "Samoana"),
    ("bioscan", "Efferia aestuans", "species", "albibarbis"),
    ("bioscan", "Leptogaster flavipes", "species", "cylindrica"),
)


class WorldWriter:
    def __init__(self, out: Path, images: int, seed: int, log, published_style: bool = False):
        self.published_style = published_style
        self.out = Path(out)
        self.layout = SourceLayout.under(self.out)
        self.rng = np.random.default_rng(seed)
        self.seed = seed
        self.requested = images
        self.log = log
        self.n_eol = max(40, round(images * 0.4))
        self.n_inat = max(30, round(images * 0.35))
        self.n_bio = max(20, images - round(images * 0.4) - round(images * 0.35))
        self.fill = fillers(self.rng, max(6, images // 25))
        self.taxon_rows: list[list[str]] = []
        self.taxon_ids: dict[tuple, tuple[str, int]] = {}
        self.next_page = 1000
        self.next_content = 10_000_000 + int(self.rng.integers(0, 1000)) * 1000
        self.eol: list[Img] = []
        self.inat: list[Img] = []
        self.bio: list[Img] = []
        self.special: list[dict] = []
        self.pages: dict[str, int] = {}  # "Genus species" -> its first EOL page

    # --- helpers ---------------------------------------------------------------------------

    def uuid4(self) -> str:
        return str(uuid.UUID(bytes=bytes(self.rng.integers(0, 256, size=16, dtype=np.uint8)), version=4))

    def content_id(self) -> int:
        self.next_content += int(self.rng.integers(1, 50))
        return self.next_content

    def node(self, rank: str, path: tuple, name: str, parent: str, *, page: int | None = None, canonical=None, scientific=None) -> tuple[str, int]:
        """A taxon.tab row for ``path`` (shared by every child); returns (taxonID, page)."""
        key = (rank, path)
        if key in self.taxon_ids and page is None:
            return self.taxon_ids[key]
        if page is None:
            self.next_page += int(self.rng.integers(1, 9))
            page = self.next_page
        taxon_id = f"EOL-{len(self.taxon_rows) + 1:08d}"
        canonical = name if canonical is None else canonical
        scientific = canonical if scientific is None else scientific
        self.taxon_rows.append([taxon_id, "", parent, scientific, rank, canonical, str(page), ""])
        if rank != "species":
            self.taxon_ids[key] = (taxon_id, page)
        return taxon_id, page

    def chain(self, ranks: tuple, *, skip: tuple = (), stop_at: str = "", kingdom_name: str | None = None) -> str:
        """Nodes kingdom … genus for ``ranks``; returns the genus taxonID. ``skip`` leaves ranks
        out of the chain; ``stop_at`` makes that rank's node have no parent."""
        parent = ""
        names = ("kingdom", "phylum", "class", "order", "family", "genus")
        start = names.index(stop_at) if stop_at else 0
        for i in range(start, 6):
            rank = names[i]
            if rank in skip:
                continue
            name = ranks[i]
            if rank == "kingdom" and name == "Animalia":
                name = kingdom_name or "Metazoa"  # the EOL Dynamic Hierarchy calls animals Metazoa
            parent, _ = self.node(rank, tuple(ranks[: i + 1]) + (skip, stop_at), name, parent)
        return parent

    def species_page(self, sp: Species, **kwargs) -> int:
        genus_tid = self.chain(sp.ranks, **{k: v for k, v in kwargs.items() if k in ("skip", "stop_at")})
        canonical = kwargs.get("canonical", f"{sp.ranks[5]} {sp.ranks[6]}")
        _, page = self.node("species", sp.ranks, "", genus_tid, page=kwargs.get("page"), canonical=canonical, scientific=kwargs.get("scientific"))
        self.pages.setdefault(f"{sp.ranks[5]} {sp.ranks[6]}", page)
        return page

    def plan(self, target: list, source: str, count: int, page: int = 0, ranks=(), common="", expect="written", why="", **kw):
        for _ in range(count):
            img = Img(source, expect, why, tuple(ranks), common, page_id=page, **kw)
            if source == "eol":
                img.content_id = self.content_id()
                img.tol_id = self.uuid4()
            target.append(img)
        return target[-count:]

    def size(self, lo: int, hi: int) -> tuple[int, int]:
        long_side = int(self.rng.integers(lo, hi + 1))
        short = max(32, int(long_side * float(self.rng.uniform(0.6, 0.9))))
        return (long_side, short) if self.rng.integers(0, 2) else (short, long_side)

    # --- EOL -------------------------------------------------------------------------------

    def plan_eol(self) -> None:
        sparrow, finch = by_name("Passer domesticus"), by_name("Geospiza fuliginosa")
        quirks = [
            (sparrow, dict(canonical="<i>Passer</i> domesticus"), "HTML in canonicalName"),
            (finch, dict(canonical="Geospiza fuliginosa fuliginosa fuliginosa"), "a triple repeated epithet"),
            (by_name("Zygodon viridissimus"), dict(canonical="Zygodon <i>viridissimus</i> viridissimus"), "HTML and a repeated epithet"),
            (by_name("Partula subangulata"), dict(canonical="", scientific="Partula subangulata Pease, 1870"), "authority and year"),
            (by_name("Lagocheirus araneiformis"), dict(canonical="", scientific="Lagocheirus araneiformis subsp. parvulus Casey 1913"), "subspecies marker"),
            (by_name("Atrypanius cinerascens"), dict(scientific="Atrypanius cinerascens (Bates 1864)"), "authority in parentheses"),
            (by_name("Huperzia dacrydioides"), dict(canonical="", scientific="Huperzia dacrydioides var. gracilis (Baker) Pic.Serm."), "variety marker and authority"),
            (by_name("Entomobrya nivalis"), dict(skip=("class",)), "missing class: ITIS completes it (Collembola, a homonym)"),
            (by_name("Danaus plexippus"), dict(stop_at="genus"), "genus without parents: only ITIS completes it"),
            (by_name("Amanita muscaria"), dict(stop_at="genus"), "genus without parents: only resolved.jsonl completes it"),
            (by_name("Leptogaster flavipes"), dict(stop_at="genus"), "special case: Leptogaster flavipes belongs to Asilidae"),
        ]
        for sp, kw, why in quirks:
            page = self.species_page(sp, **kw)
            self.special.append({"source": "eol", "ref": f"page {page}", "expect": "written", "why": why})
            self.plan(self.eol, "eol", 2, page, sp.ranks, sp.common)
        # family Charinidae under Squamata is a known data error: the build labels it Boidae
        boa = by_name("Charina bottae")
        wrong = (*boa.ranks[:4], "Charinidae", *boa.ranks[5:])
        page = self.species_page(Species(wrong, boa.common))
        self.plan(self.eol, "eol", 1, page, boa.ranks, boa.common)
        # a trinomial without a marker is kept: species "lupus familiaris"
        wolf = by_name("Canis lupus")
        page = self.species_page(wolf, canonical="Canis lupus familiaris")
        self.plan(self.eol, "eol", 1, page, (*wolf.ranks[:6], "lupus familiaris"), "")
        # "(unidentified)" species under a real genus
        oak = by_name("Quercus robur")
        page = self.species_page(Species((*oak.ranks[:6], "x")), canonical="(unidentified)")
        self.plan(self.eol, "eol", 1, page, (*oak.ranks[:6], ""), "")
        # hand-corrected pages: taxon.tab has wrong rows for them; genus page 42333 is Hylarana
        lat, latr = by_name("Hylarana latouchii"), by_name("Hylarana lateralis")
        genus_tid = self.chain(lat.ranks[:5] + ("Hylarana",))
        self.taxon_rows = [r if r[0] != genus_tid else [*r[:6], "42333", ""] for r in self.taxon_rows]
        self.taxon_ids[("genus", tuple(lat.ranks[:6]) + ((), ""))] = (genus_tid, 42333)
        self.node("species", ("wrong",), "", genus_tid, page=331434, canonical="Hylarana wrongname")
        self.plan(self.eol, "eol", 1, 331434, lat.ranks, lat.common)
        self.plan(self.eol, "eol", 1, 52338888, latr.ranks, latr.common)
        self.special.append({"source": "eol", "ref": "page 331434", "expect": "written", "why": "hand correction → latouchii"})
        # scraped-only pages: a two-word name with an authority (cleaned, then its genus page is found
        # by name: all seven ranks without ITIS) and a one-word name
        mont = by_name("Passer montanus")
        self.chain(mont.ranks)  # the genus Passer exists in the hierarchy
        self.scraped = [(7000001, "Passer montanus (Linnaeus, 1758)"), (7000002, "Aphelocoma")]
        self.plan(self.eol, "eol", 1, 7000001, mont.ranks, mont.common)
        self.plan(self.eol, "eol", 1, 7000002, ("", "", "", "", "", "", "aphelocoma"), "")
        self.special.append({"source": "eol", "ref": "page 7000001", "expect": "written", "why": "scraped name with an authority: cleaned, genus page found by name"})
        # a page nothing knows: every rank empty
        self.plan(self.eol, "eol", 1, 9999901, expect=SKIP_NO_TAXON, why="a page no name source knows")
        # rare species: a whole unseen species; seen-list files of a seen species (others stay)
        page = self.species_page(RARE_UNSEEN)
        self.plan(self.eol, "eol", 3, page, RARE_UNSEEN.ranks, RARE_UNSEEN.common, SKIP_RARE_SPECIES, "species of unseen_in_training.json")
        page = self.species_page(RARE_SEEN)
        self.rare_seen_images = self.plan(self.eol, "eol", 2, page, RARE_SEEN.ranks, RARE_SEEN.common, SKIP_RARE_SPECIES, "file listed in seen_in_training.json")
        self.plan(self.eol, "eol", 1, page, RARE_SEEN.ranks, RARE_SEEN.common)
        # every other species: regular pages
        regular = [s for s in [*BASE, *self.fill] if s not in {q[0] for q in quirks} and s.ranks[5] not in ("Hylarana", "Charina")]
        pages = [(self.species_page(sp), sp) for sp in regular]
        i = 0
        while len(self.eol) < self.n_eol:
            page, sp = pages[i % len(pages)]
            self.plan(self.eol, "eol", 1, page, sp.ranks, sp.common)
            i += 1
        self._eol_variety()

    def _eol_variety(self) -> None:
        plain = [im for im in self.eol if im.expect == "written"]
        for im in self.eol:
            im.size = self.size(300, 1000) if self.rng.random() < 0.9 else self.size(1000, 2000)
        plain[0].size = (4000, 3000)  # always one image past 3000 px; one more per 5000 images
        plain[1].size = (2000, 3000)
        for im in plain[20::5000]:
            im.size = self.size(3000, 4000)
        specials = [("CMYK", "JPEG", None, "CMYK JPEG"), ("L", "JPEG", None, "greyscale JPEG"), ("RGBA", "PNG", None, "RGBA PNG named .jpg"),
                    ("P", "PNG", None, "palette PNG named .jpg"), ("RGB", "JPEG", 6, "EXIF-rotated JPEG (Orientation 6)")]
        for im, (mode, fmt, exif, why) in zip(plain[2:], specials):
            im.mode, im.fmt, im.exif, im.why = mode, fmt, exif, why
        for im, kind in zip(plain[7:], ("truncated", "zero_bytes", "not_an_image", "bomb")):
            im.kind, im.expect, im.why = kind, SKIP_CORRUPT_IMAGE, imgs.CORRUPT_WHY[kind]

    # --- iNat21 ----------------------------------------------------------------------------

    def plan_inat(self) -> None:
        species = [s for s in [*BASE, *self.fill] if s.ranks[5] not in ("Hylarana",)] + [RARE_UNSEEN]
        classes = []
        for i, sp in enumerate(species):
            cls_num = 7 + 11 * i
            cls_dir = f"{cls_num:05d}_{'_'.join(sp.ranks[:6])}_{sp.ranks[6]}"
            classes.append((cls_num, cls_dir, sp))
        self.inat_classes = classes
        i = 0
        rare_cls = classes[-1]
        self.plan(self.inat, "inat21", 2, 0, rare_cls[2].ranks, rare_cls[2].common, SKIP_RARE_SPECIES, "species of unseen_in_training.json", cls_num=rare_cls[0], cls_dir=rare_cls[1])
        while len(self.inat) < self.n_inat:
            cls_num, cls_dir, sp = classes[i % (len(classes) - 1)]
            self.plan(self.inat, "inat21", 1, 0, sp.ranks, sp.common, cls_num=cls_num, cls_dir=cls_dir)
            i += 1
        for im in self.inat:
            im.size = self.size(120, 500)
            im.filename = f"{self.uuid4()}.jpg"
        plain = [im for im in self.inat if im.expect == "written"]
        plain[0].mode, plain[0].why = "CMYK", "CMYK JPEG"
        for im, kind in zip(plain[1:], ("truncated", "not_an_image")):
            im.kind, im.expect, im.why = kind, SKIP_CORRUPT_IMAGE, imgs.CORRUPT_WHY[kind]

    # --- BIOSCAN ---------------------------------------------------------------------------

    def plan_bioscan(self) -> None:
        insects = [s for s in [*BASE, *self.fill] if s.ranks[2] == "Insecta"]
        parts = max(2, math.ceil(self.n_bio / BIOSCAN_PER_PART))
        records = [
            (by_name("Danaus plexippus"), {"family": "not_classified"}, "family not_classified: ITIS fills it"),
            (by_name("Leptogaster flavipes"), {"family": "not_classified"}, "special case: Asilidae"),
            (by_name("Efferia aestuans"), {"genus": "not_classified", "species": "not_classified"}, "only order and family known"),
        ]
        for i in range(self.n_bio):
            sp, override, why = records[i] if i < len(records) else (insects[i % len(insects)], {}, "")
            part = 1 + i * parts // self.n_bio
            name = f"{self.uuid4()[:8]}_{i:05d}.jpg"
            ranks = sp.ranks
            if "genus" in override:
                ranks = (*sp.ranks[:5], "", "")
            rec = {
                "sampleid": f"BIOUG{1000 + i:05d}-A01", "processid": f"BSCAN{i:06d}", "uri": f"BIOUG{1000 + i:05d}",
                "phylum": "Arthropoda", "class": "Insecta", "order": sp.ranks[3], "family": sp.ranks[4],
                "subfamily": "not_classified", "tribe": "not_classified", "genus": sp.ranks[5],
                "species": f"{sp.ranks[5]} {sp.ranks[6]}", "image_file": name, "chunk_number": part,
            }
            rec.update(override)
            common = "" if "genus" in override else sp.common  # names are looked up by "Genus species" only
            img = Img("bioscan", "written", why, ranks, common, filename=name, part=part, record=rec)
            img.size = self.size(200, 256)
            self.bio.append(img)
            if why:
                self.special.append({"source": "bioscan", "ref": f"part{part}/{name}", "expect": "written", "why": why})
        plain = [im for im in self.bio if im.expect == "written" and not im.why]
        plain[0].kind, plain[0].expect, plain[0].why = "zero_bytes", SKIP_CORRUPT_IMAGE, imgs.CORRUPT_WHY["zero_bytes"]
        plain[1].mode, plain[1].fmt, plain[1].why = "P", "PNG", "palette PNG named .jpg"
        plain[2].record, plain[2].expect, plain[2].why = None, SKIP_NO_TAXON, "image without a metadata record"

    # --- bytes -----------------------------------------------------------------------------

    def image_bytes(self, im: Img) -> bytes:
        w, h = im.size
        if im.kind == "bomb":
            return imgs.decompression_bomb()
        picture = imgs.photo(self.rng, w, h, im.mode)
        data = imgs.encode(picture, im.fmt, im.exif)
        return data if im.kind == "photo" else imgs.corrupt(im.kind, data)

    def note(self, im: Img, ref: str) -> None:
        if im.expect != "written" or im.why:
            self.special.append({"source": im.source, "ref": ref, "expect": im.expect, "why": im.why})

    def write_eol(self) -> dict:
        sets = max(2, math.ceil(len(self.eol) / EOL_PER_SET))
        for folder in (self.layout.eol_images, self.layout.eol_published_images):
            folder.mkdir(parents=True, exist_ok=True)
        self.extra_published = None
        per_set = math.ceil(len(self.eol) / sets)
        for s in range(sets):
            chunk = self.eol[s * per_set : (s + 1) * per_set]
            name = f"image_set_{s + 1:02d}.tar.gz"
            with DeterministicTar(self.layout.eol_images / name) as original, DeterministicTar(self.layout.eol_published_images / name) as published:
                for im in chunk:
                    data = self.image_bytes(im)
                    im.md5 = hashlib.md5(data).hexdigest()
                    member = f"{im.content_id}_{im.page_id}_eol-full-size-copy.jpg"
                    original.add(member, data)
                    published.add(f"{im.tol_id}.jpg", data)
                    im.set_name = name
                    self.note(im, f"{name}:{member}")
                if s == 0:
                    original.add("README.txt", b"EOL image set\n")
                    published.add("README.txt", b"EOL image set\n")
                    self.special.append({"source": "eol", "ref": f"{name}:README.txt", "expect": SKIP_BAD_MEMBER_NAME, "why": "member name does not fit the layout"})
                    self.extra_published = self.uuid4()
                    published.add(f"{self.extra_published}.jpg", imgs.encode(imgs.photo(self.rng, 320, 240)))
                    self.special.append({"source": "eol_published", "ref": f"{name}:{self.extra_published}.jpg", "expect": SKIP_NOT_IN_MAPPING, "why": "id not in the published mapping.sqlite"})
        return {"image_sets": sets}

    def write_inat(self) -> None:
        root = self.layout.inat21_train
        for cls_num, cls_dir, _ in self.inat_classes:
            (root / cls_dir).mkdir(parents=True, exist_ok=True)
        for im in self.inat:
            (root / im.cls_dir / im.filename).write_bytes(self.image_bytes(im))
            self.note(im, f"train/{im.cls_dir}/{im.filename}")
        bad = root / self.inat[-1].cls_dir / "notes.txt"
        bad.write_text("not an image\n")
        self.special.append({"source": "inat21", "ref": f"train/{self.inat[-1].cls_dir}/notes.txt", "expect": SKIP_BAD_MEMBER_NAME, "why": "not a .jpg file"})

    def write_bioscan(self) -> None:
        for im in self.bio:
            folder = self.layout.bioscan_images / f"part{im.part}"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / im.filename).write_bytes(self.image_bytes(im))
            self.note(im, f"part{im.part}/{im.filename}")
        records = [im.record for im in self.bio if im.record is not None]
        _write_text(self.layout.bioscan_metadata, json.dumps(records, indent=1) + "\n")

    # --- names -----------------------------------------------------------------------------

    def write_names(self) -> None:
        header = ["taxonID", "acceptedNameUsageID", "parentNameUsageID", "scientificName", "taxonRank", "canonicalName", "eolID", "higherClassification"]
        rows = list(self.taxon_rows)
        rows.append([f"EOL-S{len(rows):07d}", rows[0][0], "", "Passer domesticus (Linnaeus, 1758)", "species", "Passer domesticus", "", ""])  # a synonym: no eolID
        _write_table(self.layout.taxon_tab, header, rows, "\t")
        _write_table(self.layout.scraped_page_ids, ["page_id", "scientific_name"], [[str(p), n] for p, n in self.scraped])
        itis = [
            ("Passer domesticus", "House Sparrow, moineau domestique", "English, French"),
            ("Danaus plexippus", "Monarch, monarca", "English, Spanish"),
            ("Entomobrya nivalis", "", ""),
            ("Efferia aestuans", "Robber Fly", "English"),
            ("Canis lupus", "Gray Wolf, loup", "English"),  # lists of unequal length are real too
            ("Mobula birostris", "Giant Manta Ray, manta gigante", "English, Spanish"),
        ]
        chains = []
        for name, vern, lang in itis:
            r = by_name(name).ranks
            chains.append([*r[:6], f"{r[5]} {r[6]}", vern, lang])
        chains.append(["Animalia", "Arthropoda", "Entognatha", "Collembola", "Isotomidae", "Folsomia", "Folsomia candida", "", ""])
        _write_table(self.layout.itis_chains, ["Kingdom", "Phylum", "Class", "Order", "Family", "Genus", "Species", "terminal_vernacular", "terminal_vernacular_lang"], chains)
        amanita = by_name("Amanita muscaria").ranks
        resolved = {"Amanita muscaria": {"gbif": dict(zip(("kingdom", "phylum", "class", "order", "family"), amanita[:5]))}}
        _write_text(self.layout.resolved, json.dumps(resolved) + "\n")
        taxa_rows, vern_rows = [], []
        for i, (cls_num, cls_dir, sp) in enumerate(self.inat_classes):
            tid = 40000 + i
            r = sp.ranks
            taxa_rows.append([str(tid), f"https://www.inaturalist.org/taxa/{tid}", str(tid), "", *r[:6], r[6], "", "2021-01-01", f"{r[5]} {r[6]}", "species", ""])
            if sp.common and sp.ranks[5] not in ("Quercus",):
                if sp.ranks[5:] == ("Passer", "montanus"):  # an empty name first: the real one that follows counts
                    vern_rows.append([str(tid), "", "en", "", "", "", "english", "", "2020-01-01"])
                vern_rows.append([str(tid), sp.common, "en", "", "", "", "english", "", "2021-01-01"])
        _write_table(self.layout.inat_taxa, ["id", "taxonID", "identifier", "parentNameUsageID", "kingdom", "phylum", "class", "order", "family", "genus", "specificEpithet", "infraspecificEpithet", "modified", "scientificName", "taxonRank", "references"], taxa_rows)
        _write_table(self.layout.inat_vernacular, ["id", "vernacularName", "language", "locality", "countryCode", "source", "lexicon", "contributor", "created"], vern_rows)
        oak, finch, amanita_page = (str(self.pages[n]) for n in ("Quercus robur", "Geospiza fuliginosa", "Amanita muscaria"))
        # EOL's dump: ``preferred`` or empty in both is_preferred_* columns; EOL names are cleaned
        # by the build (the oak's catalog name is "english oak")
        eol_vern = [
            [oak, "<i>Quercus robur</i>", "English Oak", "eng", "EOL", "preferred", "preferred"],
            [oak, "<i>Quercus robur</i>", "Pedunculate Oak", "eng", "EOL", "", ""],
            [finch, "Geospiza fuliginosa", "Small Ground Finch", "eng", "EOL", "preferred", ""],
            [amanita_page, "Amanita muscaria", "Fly Agaric", "eng", "EOL", "preferred", "preferred"],
            [amanita_page, "Amanita muscaria", "Fliegenpilz", "deu", "EOL", "preferred", "preferred"],
        ]
        _write_table(self.layout.eol_vernacular, ["page_id", "canonical_form", "vernacular_string", "language_code", "resource_name",
                                                  "is_preferred_by_resource", "is_preferred_by_eol"], eol_vern)
        _write_table(self.layout.eol_media_manifest, MANIFEST_HEADER, self.manifest_rows())

    def manifest_rows(self) -> list[list[str]]:
        """The EOL media manifest as EOL exports it (six columns; owners may be empty or hold commas;
        "No known copyright restrictions" among the licences). One written image is left out (its
        licence fields stay empty) and one row names an image that is not in any image set."""
        licences = ["cc-by-4.0", "cc-by-nc-sa-3.0", "cc-publicdomain", "cc-by-sa-2.0", "No known copyright restrictions", "cc-by-nc-4.0"]
        owners = ["Photographer 1", "Smith, J.", "", "Museum \"Naturalis\"", "Photographer 5"]
        written = [im for im in self.eol if im.expect == "written"]
        self.manifest_missing = written[3].content_id
        rows = []
        for i, im in enumerate(self.eol):
            if im.content_id == self.manifest_missing:
                continue
            token = hashlib.sha1(f"{im.content_id}".encode()).hexdigest()
            source = "" if i % 9 == 4 else f"https://www.inaturalist.org/photos/{im.content_id % 1000003}/original.jpg"
            full = f"https://content.eol.org/data/media/{token[:2]}/{token[2:4]}/{token[4:6]}/{token[6:8]}.{token[8:40]}.jpg"
            rows.append([str(im.content_id), str(im.page_id), source, full, licences[i % len(licences)], owners[i % len(owners)]])
        rows.append(["99999999", "1", "", "https://content.eol.org/data/media/00/00/00/00.0.jpg", "cc-by-4.0", "nobody"])
        return rows

    def write_rare(self) -> None:
        seen = {f"{RARE_SEEN.ranks[5]} {RARE_SEEN.ranks[6]}": [f"{SEEN_PREFIX}{im.content_id}_{im.page_id}_eol-full-size-copy.jpg" for im in self.rare_seen_images]}
        for j, name in enumerate(RARE_SEEN_OTHERS):
            seen[name] = [f"{SEEN_PREFIX}{90000000 + j * 10 + k}_{800000 + j}_eol-full-size-copy.jpg" for k in range(2)]
        unseen_imgs = [im for im in self.eol if im.ranks == RARE_UNSEEN.ranks]
        unseen = {"-".join(RARE_UNSEEN.ranks): [f"{UNSEEN_PREFIX}{im.content_id}_{im.page_id}_eol-full-size-copy.jpg" for im in unseen_imgs[:2]]}
        for j, ranks in enumerate(RARE_UNSEEN_OTHERS):
            unseen["-".join(ranks)] = [f"{UNSEEN_PREFIX}{91000000 + j}_{810000 + j}_eol-full-size-copy.jpg"]
        _write_text(self.layout.rare_seen, json.dumps(seen, indent=2) + "\n")
        _write_text(self.layout.rare_unseen, json.dumps(unseen, indent=4) + "\n")

    def write_published(self) -> None:
        """A published-style mapping.sqlite (all four tables) and catalog.csv."""
        path = self.layout.published_mapping
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        rows, split = [], []
        for im in self.inat:
            im.tol_id = self.uuid4()
        for im in self.bio:
            im.tol_id = self.uuid4()
        for im in [*self.eol, *self.inat, *self.bio]:
            u = float(self.rng.random())
            is_val, small = u < 0.05, 0.05 <= u < 0.145
            split.append((im.tol_id, int(is_val), int(small)))
            rows.append((im, is_val, small))
        with sqlite3.connect(path) as con:
            con.execute("CREATE TABLE eol (content_id INTEGER, page_id INTEGER, evobio10m_id TEXT)")
            con.execute("CREATE TABLE inat21 (filename TEXT, cls_name TEXT, cls_num INTEGER, evobio10m_id TEXT)")
            con.execute("CREATE TABLE bioscan (part INTEGER, filename TEXT, evobio10m_id TEXT)")
            con.execute("CREATE TABLE split (evobio10m_id TEXT, is_val INTEGER, is_train_small INTEGER)")
            con.executemany("INSERT INTO eol VALUES (?,?,?)", [(im.content_id, im.page_id, im.tol_id) for im in self.eol])
            con.executemany("INSERT INTO inat21 VALUES (?,?,?,?)", [(im.filename, im.cls_dir.split("_", 1)[1], im.cls_num, im.tol_id) for im in self.inat])
            con.executemany("INSERT INTO bioscan VALUES (?,?,?)", [(im.part, im.filename, im.tol_id) for im in self.bio])
            con.executemany("INSERT INTO split VALUES (?,?,?)", split)
        header = ["split", "treeoflife_id", "eol_content_id", "eol_page_id", "bioscan_part", "bioscan_filename", "inat21_filename",
                  "inat21_cls_name", "inat21_cls_num", "kingdom", "phylum", "class", "order", "family", "genus", "species", "common"]
        labels = self.published_labels()
        self.write_lookups(labels)
        out = []
        # the original's reproduction applied its rare-species exclusion to nothing: a published-style
        # catalog still has those images (this platform leaves them out on purpose)
        in_catalog = ("written", SKIP_RARE_SPECIES) if self.published_style else ("written",)
        for wanted in ("train", "val", "train_small"):
            for im, is_val, small in rows:
                if im.expect not in in_catalog or (wanted == "val") != is_val or (wanted == "train_small" and not small):
                    continue
                ids = ["", "", "", "", "", "", ""]
                if im.source == "eol":
                    ids[0:2] = [str(im.content_id), str(im.page_id)]
                elif im.source == "bioscan":
                    ids[2:4] = [str(im.part), im.filename]
                else:
                    ids[4:7] = [im.filename, im.cls_dir.split("_", 1)[1], str(im.cls_num)]
                ranks, looked = labels[id(im)]
                scientific = " ".join(x for x in ranks[5:] if x)
                common = looked or scientific[:1].upper() + scientific[1:] or " ".join(x for x in ranks if x)
                out.append([wanted, im.tol_id, *ids, *ranks, common])
        _write_table(self.layout.published_catalog, header, out)

    def published_labels(self) -> dict[int, tuple[tuple, str]]:
        """id(image) → (seven ranks, looked-up common) as the published lookups give them: the raw
        sources' labels, with DELIBERATE_DIFFERENCES applied in the published-style variant."""
        ranks_at = {r: i for i, r in enumerate(("kingdom", "phylum", "class", "order", "family", "genus", "species"))}
        out, self.differences = {}, []
        for source, images in (("eol", self.eol), ("inat21", self.inat), ("bioscan", self.bio)):
            for im in images:
                ranks, common = tuple(im.ranks), im.common
                name = f"{im.ranks[5]} {im.ranks[6]}" if len(im.ranks) == 7 else ""
                for d_source, d_name, what, value in DELIBERATE_DIFFERENCES if self.published_style else ():
                    if d_source != source or d_name != name or im.expect == SKIP_RARE_SPECIES:
                        continue
                    if what == "common":
                        common = value
                    else:
                        ranks = (*ranks[: ranks_at[what]], value, *ranks[ranks_at[what] + 1 :])
                out[id(im)] = (ranks, common)
        if self.published_style:
            self.differences = [{"source": s, "name": n, "what": w, "published": v} for s, n, w, v in DELIBERATE_DIFFERENCES]
        return out

    def write_lookups(self, labels: dict[int, tuple[tuple, str]]) -> None:
        """``metadata/naming/{eol,inat21,bioscan}_name_lookup.json`` in the original's format (spec
        section 8): EOL by page id, iNat21 by class number, BIOSCAN by treeoflife_id; pages and images
        without a taxon are absent."""
        entries: dict[str, dict[str, tuple]] = {"eol": {}, "inat21": {}, "bioscan": {}}
        for im in self.eol:
            if any(labels[id(im)][0]):
                entries["eol"].setdefault(str(im.page_id), labels[id(im)])
        for im in self.inat:
            entries["inat21"].setdefault(str(im.cls_num), labels[id(im)])
        for im in self.bio:
            if im.record is not None:
                entries["bioscan"][im.tol_id] = labels[id(im)]
        prefixes = [sorted({ranks[: i + 1] for table in entries.values() for ranks, _ in table.values()}) for i in range(7)]
        index = [{p: n for n, p in enumerate(level)} for level in prefixes]
        for source, field_name in (("eol", "eol_name_lookup"), ("inat21", "inat21_name_lookup"), ("bioscan", "bioscan_name_lookup")):
            table = {k: [list(ranks), common, [index[i][ranks[: i + 1]] for i in range(7)]] for k, (ranks, common) in entries[source].items()}
            _write_text(getattr(self.layout, field_name), json.dumps(table) + "\n")

    # --- all -------------------------------------------------------------------------------

    def run(self) -> dict:
        self.plan_eol()
        self.plan_inat()
        self.plan_bioscan()
        eol_counts = self.write_eol()
        self.write_inat()
        self.write_bioscan()
        self.write_names()
        self.write_rare()
        self.write_published()
        return self.summary(eol_counts)

    def summary(self, eol_counts: dict) -> dict:
        def expected(images: list[Img], extra: Counter) -> dict:
            skipped = Counter(im.expect for im in images if im.expect != "written") + extra
            reasons = (SKIP_CORRUPT_IMAGE, SKIP_NO_TAXON, SKIP_RARE_SPECIES, SKIP_BAD_MEMBER_NAME)
            out = {r: skipped.get(r, 0) for r in reasons}
            return {"written": sum(im.expect == "written" for im in images), "skipped": out}

        eol = expected(self.eol, Counter({SKIP_BAD_MEMBER_NAME: 1}))
        published = expected(self.eol, Counter({SKIP_BAD_MEMBER_NAME: 1}))
        published["skipped"][SKIP_NOT_IN_MAPPING] = 1
        taxa = {}
        for key, images in (("eol", self.eol), ("inat21", self.inat), ("bioscan", self.bio)):
            # seven-rank tuples of the written images, as a correct build labels them
            taxa[key] = {"unique_taxa": len({im.ranks for im in images if im.expect == "written"})}
        return {
            "seed": self.seed,
            "images_requested": self.requested,
            "layout": dict(DEFAULT_PATHS),
            "counts": {
                "eol": {"image_sets": eol_counts["image_sets"], "members": len(self.eol) + 1, "images": len(self.eol)},
                "eol_published": {"image_sets": eol_counts["image_sets"], "members": len(self.eol) + 2, "images": len(self.eol) + 1},
                "inat21": {"classes": len(self.inat_classes), "images": len(self.inat)},
                "bioscan": {"parts": len({im.part for im in self.bio}), "images": len(self.bio)},
            },
            "expected": {
                "eol": eol,
                "eol_published": published,
                "inat21": expected(self.inat, Counter({SKIP_BAD_MEMBER_NAME: 1})),
                "bioscan": expected(self.bio, Counter()),
            },
            "special": self.special,
            "taxa": taxa,
            # licences: MD5 of every EOL image's bytes ("<content>_<page>" → md5), the written image
            # that the media manifest leaves out
            "eol_md5": {f"{im.content_id}_{im.page_id}": im.md5 for im in self.eol},
            # the published-style variant: where the published lookups differ from the raw name sources
            "published_style": self.published_style,
            "deliberate_differences": self.differences,
            "manifest_missing": self.manifest_missing,
        }


def _write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _write_table(path: Path, header: list[str], rows: list, delimiter: str = ",") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
        writer = csv.writer(handle, delimiter=delimiter, quoting=quoting, escapechar="\\" if quoting == csv.QUOTE_NONE else None, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
