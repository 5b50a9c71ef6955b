"""The sample world's taxa: real names with the quirks real name sources have, plus seeded
filler taxa so a larger world has more classes and pages."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Species:
    ranks: tuple[str, str, str, str, str, str, str]  # what a correct build labels it (capitalised)
    common: str = ""  # the English common name some source knows ("" = none knows one)


S = Species
BASE = [
    S(("Animalia", "Chordata", "Aves", "Passeriformes", "Passeridae", "Passer", "domesticus"), "House Sparrow"),
    S(("Animalia", "Chordata", "Aves", "Passeriformes", "Passeridae", "Passer", "montanus"), "Eurasian Tree Sparrow"),
    S(("Animalia", "Chordata", "Aves", "Passeriformes", "Thraupidae", "Geospiza", "fuliginosa"), "Small Ground Finch"),
    S(("Animalia", "Chordata", "Mammalia", "Carnivora", "Canidae", "Canis", "lupus"), "Gray Wolf"),
    S(("Animalia", "Chordata", "Reptilia", "Squamata", "Boidae", "Charina", "bottae"), "Northern Rubber Boa"),
    S(("Animalia", "Chordata", "Amphibia", "Anura", "Ranidae", "Hylarana", "latouchii"), ""),
    S(("Animalia", "Chordata", "Amphibia", "Anura", "Ranidae", "Hylarana", "lateralis"), ""),
    S(("Animalia", "Arthropoda", "Insecta", "Lepidoptera", "Nymphalidae", "Danaus", "plexippus"), "Monarch"),
    S(("Animalia", "Arthropoda", "Collembola", "Entomobryomorpha", "Entomobryidae", "Entomobrya", "nivalis"), ""),
    S(("Animalia", "Arthropoda", "Insecta", "Diptera", "Asilidae", "Leptogaster", "flavipes"), ""),
    S(("Animalia", "Arthropoda", "Insecta", "Diptera", "Asilidae", "Efferia", "aestuans"), "Robber Fly"),
    S(("Animalia", "Arthropoda", "Insecta", "Coleoptera", "Cerambycidae", "Atrypanius", "cinerascens"), ""),
    S(("Animalia", "Arthropoda", "Insecta", "Coleoptera", "Cerambycidae", "Lagocheirus", "araneiformis"), ""),
    S(("Animalia", "Mollusca", "Gastropoda", "Stylommatophora", "Partulidae", "Partula", "subangulata"), ""),
    S(("Animalia", "Chordata", "Actinopterygii", "Cypriniformes", "Leuciscidae", "Agosia", "yarrowi"), ""),
    # only EOL knows the oak's name, and EOL names are cleaned: "English Oak" → "english oak"
    S(("Plantae", "Tracheophyta", "Magnoliopsida", "Fagales", "Fagaceae", "Quercus", "robur"), "english oak"),
    S(("Plantae", "Tracheophyta", "Lycopodiopsida", "Lycopodiales", "Lycopodiaceae", "Huperzia", "dacrydioides"), ""),
    S(("Plantae", "Bryophyta", "Bryopsida", "Orthotrichales", "Orthotrichaceae", "Zygodon", "viridissimus"), ""),
    S(("Fungi", "Basidiomycota", "Agaricomycetes", "Agaricales", "Amanitaceae", "Amanita", "muscaria"), "Fly Agaric"),
]
# Real species of the Rare Species benchmark (BioCLIP's data/rarespecies lists).
RARE_UNSEEN = S(("Animalia", "Mollusca", "Bivalvia", "Unionida", "Unionidae", "Cyclonaias", "tuberculata"), "purple wartyback")
RARE_UNSEEN_OTHERS = [
    ("Animalia", "Chordata", "Reptilia", "Testudines", "Geoemydidae", "Pangshura", "sylhetensis"),
    ("Animalia", "Chordata", "Amphibia", "Caudata", "Cryptobranchidae", "Andrias", "japonicus"),
]
RARE_SEEN = S(("Animalia", "Chordata", "Elasmobranchii", "Myliobatiformes", "Mobulidae", "Mobula", "birostris"), "Giant Manta Ray")
RARE_SEEN_OTHERS = ["Nyctibatrachus humayuni", "Anguilla anguilla"]

_SYLLABLES = ["ka", "lo", "mi", "ra", "te", "vu", "zo", "ne", "phi", "dra", "sco", "lu", "tri", "bel", "gon", "xa"]
_FILLER_PARENTS = [
    ("Animalia", "Arthropoda", "Insecta", "Lepidoptera", "Nymphalidae"),
    ("Animalia", "Arthropoda", "Insecta", "Coleoptera", "Carabidae"),
    ("Animalia", "Chordata", "Aves", "Passeriformes", "Fringillidae"),
    ("Plantae", "Tracheophyta", "Magnoliopsida", "Asterales", "Asteraceae"),
    ("Fungi", "Ascomycota", "Lecanoromycetes", "Lecanorales", "Parmeliaceae"),
]


def _word(rng: np.random.Generator, n: int) -> str:
    return "".join(_SYLLABLES[int(i)] for i in rng.integers(0, len(_SYLLABLES), size=n))


def fillers(rng: np.random.Generator, count: int) -> list[Species]:
    """``count`` distinct made-up species under real families; a third have a common name."""
    out: list[Species] = []
    seen: set[tuple[str, str]] = set()
    while len(out) < count:
        parent = _FILLER_PARENTS[int(rng.integers(0, len(_FILLER_PARENTS)))]
        genus, epithet = _word(rng, 3).capitalize(), _word(rng, 3)
        if (genus, epithet) in seen:
            continue
        seen.add((genus, epithet))
        common = f"{epithet.capitalize()} {genus.lower()}" if len(out) % 3 == 0 else ""
        out.append(S((*parent, genus, epithet), common))
    return out
