"""The dataset card of a release (``<W>x<H>/README.md``), as the Hugging Face Hub reads it.

YAML: licence, language, task and size categories, tags, ``configs`` (one split per folder, for the
webdataset builder) and ``dataset_info`` with the features and the rows and bytes of every split.
The per-split rows also make ``datasets``' cache key differ between releases, so a rebuilt release
never loads the previous one's rows from the cache. The body is written from the release (no release name: republishing the
same partitions gives the same bytes): sources,
counts per kingdom and source (``train_small`` left out: it repeats ``train``), the caption
members, how to train, what differs from the original build and the CHANGELOG (the release's
``changes``: what changed since the previous release, ``tol10m_assets.changelog``). No Dagster imports.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from tol10m_assets.columns import connect
from tol10m_assets.shards.tarfiles import TEXT_SUFFIXES
from tol10m_assets.splits import SPLITS
from tol10m_assets.training import BIOCLIP_TEXT_TYPES, brace, shard_pattern, split_arguments

LICENSE = "cc0-1.0"  # the compilation, as published; every image keeps its own licence (metadata/licenses.csv)
TASKS = ["image-classification", "zero-shot-classification"]
TAGS = ["biology", "images", "animals", "evolutionary biology", "CV", "multimodal", "clip", "species", "taxonomy",
        "knowledge-guided", "imbalanced", "webdataset"]
SOURCE_NAMES = {"eol": "Encyclopedia of Life (EOL)", "inat21": "iNat21 (train)", "bioscan": "BIOSCAN-1M"}
SOURCE_SQL = ("CASE WHEN eol_content_id IS NOT NULL THEN 'eol' WHEN inat21_cls_num IS NOT NULL THEN 'inat21' "
              "WHEN bioscan_part IS NOT NULL THEN 'bioscan' ELSE 'unknown' END")

CITATIONS = """\
@dataset{treeoflife_10m,
  author = {Samuel Stevens and Jiaman Wu and Matthew J Thompson and Elizabeth G Campolongo and Chan Hee Song and David Edward Carlyn and Li Dong and Wasila M Dahdul and Charles Stewart and Tanya Berger-Wolf and Wei-Lun Chao and Yu Su},
  title = {TreeOfLife-10M},
  year = {2023},
  url = {https://huggingface.co/datasets/imageomics/TreeOfLife-10M},
  publisher = {Hugging Face}
}

@inproceedings{stevens2024bioclip,
  title = {{BioCLIP}: A Vision Foundation Model for the Tree of Life},
  author = {Samuel Stevens and Jiaman Wu and Matthew J Thompson and Elizabeth G Campolongo and Chan Hee Song and David Edward Carlyn and Li Dong and Wasila M Dahdul and Charles Stewart and Tanya Berger-Wolf and Wei-Lun Chao and Yu Su},
  booktitle = {Proceedings of the IEEE/CVF Conference on Computer Vision and Pattern Recognition (CVPR)},
  year = {2024},
  eprint = {2311.18803},
  archivePrefix = {arXiv}
}

@misc{inat2021,
  author = {Van Horn, Grant and Mac Aodha, Oisin},
  title = {iNat Challenge 2021 - FGVC8},
  publisher = {Kaggle},
  year = {2021},
  url = {https://kaggle.com/competitions/inaturalist-2021}
}

@inproceedings{gharaee2023step,
  title = {A Step Towards Worldwide Biodiversity Assessment: The {BIOSCAN-1M} Insect Dataset},
  booktitle = {Advances in Neural Information Processing Systems ({NeurIPS}) Datasets \\& Benchmarks Track},
  author = {Gharaee, Z. and Gong, Z. and Pellegrino, N. and Zarubiieva, I. and Haurum, J. B. and Lowe, S. C. and McKeown, J. T. A. and Ho, C. Y. and McLeod, J. and Wei, Y. C. and Agda, J. and Ratnasingham, S. and Steinke, D. and Chang, A. X. and Taylor, G. W. and Fieguth, P.},
  year = {2023}
}

@misc{eol,
  author = {{Encyclopedia of Life}},
  title = {Encyclopedia of Life},
  url = {https://eol.org}
}

@misc{itis,
  author = {{Integrated Taxonomic Information System (ITIS)}},
  title = {ITIS on-line database},
  url = {https://www.itis.gov},
  doi = {10.5066/F7KH0KBK}
}"""

FIXES = [
    "Ids are UUID5 of each image's source identity and splits a seeded hash per id: a rebuild gives the same ids, "
    "splits and bytes (the original used uuid4 and `random.sample`).",
    "The Rare Species benchmark is left out for real: species match by normalised scientific name whatever the key "
    "format, EOL images by content and page id; a blocking check proves it on the written shards.",
    "Runs of a repeated epithet collapse (the original collapsed only an exact pair).",
    "Each shard partition has one writer and is committed by one rename after `check_wds` passed; a release is "
    "staged, checked and switched in by one rename (no half-written shard is ever published).",
    "The catalog comes from the samples written (no image decoded again), and every check blocks a bad release "
    "instead of printing a warning.",
]


@dataclass(frozen=True)
class SplitFigures:
    samples: int
    shards: int
    bytes: int
    numbers: tuple[int, ...] = ()  # the shards' numbers (gaps possible: stable names across releases)


def features() -> list[dict]:
    """What ``datasets``' webdataset builder yields for a sample: the image, the ten captions, key and url."""
    return ([{"name": "jpg", "dtype": "image"}] + [{"name": s, "dtype": "string"} for s in TEXT_SUFFIXES]
            + [{"name": "__key__", "dtype": "string"}, {"name": "__url__", "dtype": "string"}])


def size_category(rows: int) -> str:
    bounds = [(1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
              (10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M")]
    return next((label for bound, label in bounds if rows < bound), "100M<n<1B")


def card_metadata(size_name: str, splits: dict[str, SplitFigures]) -> dict:
    """The card's YAML header as a mapping (``DatasetCardData`` keys)."""
    present = [s for s in _ordered(splits) if splits[s].samples]
    total_bytes = sum(splits[s].bytes for s in present)
    distinct = sum(splits[s].samples for s in present if s != "train_small")
    return {
        "license": LICENSE,
        "language": ["en", "la"],
        "pretty_name": f"TreeOfLife-10M ({size_name})",
        "task_categories": TASKS,
        "tags": TAGS,
        "size_categories": [size_category(distinct)],
        "configs": [{"config_name": "default", "data_files": [{"split": s, "path": f"{s}/*.tar"} for s in present]}],
        "dataset_info": {
            "config_name": "default",
            "features": features(),
            "splits": [{"name": s, "num_bytes": splits[s].bytes, "num_examples": splits[s].samples} for s in present],
            "download_size": total_bytes,
            "dataset_size": total_bytes,
        },
    }


def _ordered(splits) -> list[str]:
    return sorted(splits, key=lambda s: SPLITS.index(s) if s in SPLITS else len(SPLITS))


def catalog_counts(catalog_parquet: Path) -> list[tuple[str, str, int]]:
    """``(kingdom, source, rows)`` of the catalog, ``train_small`` left out (it repeats ``train``)."""
    con = connect()
    try:
        return con.execute(
            f"SELECT coalesce(nullif(kingdom, ''), '(none)') AS k, {SOURCE_SQL} AS s, count(*) FROM read_parquet(?) "
            "WHERE split <> 'train_small' GROUP BY k, s ORDER BY k, s", [str(catalog_parquet)]
        ).fetchall()
    finally:
        con.close()


def card_body(size_name: str, splits: dict[str, SplitFigures], counts: list[tuple[str, str, int]],
              changes: dict | None = None) -> str:
    present = [s for s in _ordered(splits) if splits[s].samples]
    sources = sorted({s for _, s, _ in counts})
    split_rows = "\n".join(f"| {s} | {splits[s].samples:,} | {splits[s].shards} | {splits[s].bytes:,} |" for s in present)
    by_source = {s: sum(n for _, x, n in counts if x == s) for s in sources}
    kingdoms = sorted({k for k, _, _ in counts})
    head = " | ".join(SOURCE_NAMES.get(s, s) for s in sources)
    table = [f"| kingdom | {head} | total |", "|---|" + "---|" * (len(sources) + 1)]
    for k in kingdoms:
        cells = [sum(n for kk, s, n in counts if kk == k and s == src) for src in sources]
        table.append(f"| {k} | " + " | ".join(f"{c:,}" for c in cells) + f" | {sum(cells):,} |")
    table.append("| **all** | " + " | ".join(f"{by_source[s]:,}" for s in sources) + f" | {sum(by_source.values()):,} |")
    members = ", ".join(f"`{s}`" for s in TEXT_SUFFIXES)
    commands = "\n".join(
        f"  {split_arguments(s, pattern(s, splits[s]), splits[s].samples)} \\" for s in present if s != "train_small"
    )
    fixes = "\n".join(f"- {f}" for f in FIXES)
    changelog = changelog_section(changes) if changes is not None else ""
    return f"""
# TreeOfLife-10M ({size_name})

Images of organisms across the tree of life with their seven-rank taxonomy and common names, as
webdataset shards for training CLIP-style models (BioCLIP). Built by tol10m-assets from the sources
below; this folder is one release (`../release.json` names it) and never changes once published.

## Sources

{chr(10).join(f"- {SOURCE_NAMES.get(s, s)}: {by_source[s]:,} images" for s in sources)}

Each image keeps its own licence: `../metadata/licenses.csv` (EOL), the iNat21 terms of use, CC BY-NC-SA 4.0
(BIOSCAN-1M). The compilation is CC0.

## Splits

| split | samples | shards | bytes |
|---|---|---|---|
{split_rows}

`train_small` is a subset of `train` (the same samples again); it is left out of the counts below.

## Images per kingdom and source

{chr(10).join(table)}

## Text types

Each sample is `<treeoflife_id>.jpg` and ten caption members: {members}. `sci` is the scientific name,
`com` the common name, `taxon` the seven ranks, `taxonTag` the ranks with their rank words; the
`_com` forms append the common name. webdataset lower-cases the keys it reads (`taxontag_com.txt`);
`datasets` and wids keep their case.

## How to train

Paths are relative to this folder (`open_clip.txt` has them per split):

```bash
torchrun -m training.main --dataset-type webdataset \\
{commands}
  --text_type random        # BioCLIP: {' | '.join(BIOCLIP_TEXT_TYPES)}
```

```python
import datasets
ds = datasets.load_dataset("<this folder>")   # {', '.join(present)}
```

## What differs from the original build

{fixes}
{changelog}
## Citation

Cite TreeOfLife-10M and BioCLIP, and the sources:

```bibtex
{CITATIONS}
```
"""


def changelog_section(changes: dict) -> str:
    """``## CHANGELOG``: the release's ``changes`` (first release, or what changed since the previous one)."""
    from tol10m_assets.changelog import markdown

    if changes.get("error"):
        return f"\n## CHANGELOG\n\nThe difference from the previous release could not be computed: {changes['error']}\n"
    return "\n" + markdown(changes)


def dataset_card(size_name: str, splits: dict[str, SplitFigures], catalog_parquet: Path | None,
                 changes: dict | None = None) -> str:
    """The whole ``README.md``: YAML header and body (with a CHANGELOG section when ``changes`` is given)."""
    counts = catalog_counts(catalog_parquet) if catalog_parquet is not None and catalog_parquet.is_file() else []
    header = yaml.safe_dump(card_metadata(size_name, splits), sort_keys=False, allow_unicode=True)
    return f"---\n{header}---\n{card_body(size_name, splits, counts, changes)}"


def pattern(split: str, figures: SplitFigures) -> str:
    """The split's shards as open_clip's ``--train-data`` pattern (``::``-joined groups where numbers have gaps)."""
    return shard_pattern(split, figures.numbers) if figures.numbers else brace(split, figures.shards)


def split_figures(shards: list[dict]) -> dict[str, SplitFigures]:
    """Per split, from a release's shard table (``split``, ``samples``, ``bytes``, ``number``)."""
    out: dict[str, SplitFigures] = {}
    for s in shards:
        f = out.get(s["split"], SplitFigures(0, 0, 0))
        number = (s["number"],) if isinstance(s.get("number"), int) else ()
        out[s["split"]] = SplitFigures(f.samples + s["samples"], f.shards + 1, f.bytes + s["bytes"],
                                       tuple(sorted(f.numbers + number)))
    return out
