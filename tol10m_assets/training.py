"""The training arguments of a release, per split, naming the release's own folder (never the moving
``published`` link): ``--train-data``/``--train-num-samples`` for ``train`` and ``train_small``,
``--val-data``/``--val-num-samples`` for ``val``, and BioCLIP's ``--text_type`` values.

A release folder never changes once published, so a job started on it reads the same shards to the
end, whatever is published after it. No Dagster imports.
"""

from __future__ import annotations

from tol10m_assets.shards.tarfiles import TEXT_SUFFIXES

VALIDATION_SPLITS = ("val",)
# BioCLIP's `--text_type`: the caption member's suffix without `.txt`, in lower case (its loader
# renames `text=<text_type>.txt` after webdataset lower-cased the keys), or `random` (its default in
# slurm/train.sh: one of sci, com, taxon, sci_com, taxon_com per sample).
BIOCLIP_TEXT_TYPES = ("random", *(s[: -len(".txt")].lower() for s in TEXT_SUFFIXES))
DEFAULT_TEXT_TYPE = "random"


def brace(prefix: str, count: int) -> str:
    """``<prefix>/shard-{000000..000159}.tar`` (webdataset / open_clip brace expansion)."""
    return shard_pattern(prefix, range(count))


def shard_pattern(prefix: str, numbers) -> str:
    """The shards ``numbers`` as brace groups, one per run of consecutive numbers, joined by ``::``
    (webdataset's ``expand_urls``, which open_clip's ``--train-data`` uses, splits on it):
    ``train/shard-{000000..000120}.tar::train/shard-{000140..000142}.tar``. One group without gaps."""
    numbers = sorted(numbers)
    runs: list[list[int]] = []
    for n in numbers:
        if runs and n == runs[-1][1] + 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    return "::".join(f"{prefix}/shard-{a:06d}.tar" if a == b else f"{prefix}/shard-{{{a:06d}..{b:06d}}}.tar" for a, b in runs)


def split_arguments(split: str, pattern: str, samples: int) -> str:
    """The data and sample-count pair open_clip expects for this split."""
    kind = "val" if split in VALIDATION_SPLITS else "train"
    return f"--{kind}-data '{pattern}' --{kind}-num-samples {samples}"


def open_clip_text(size_name: str, shard_numbers: dict[str, list[int]], sizes: dict[str, int]) -> str:
    """``open_clip.txt``: per split the arguments with paths relative to the file's folder (the
    release's own ``releases/<name>/<size_name>``), and the ``--text_type`` values. Names no release:
    the same partitions give the same bytes. ``shard_numbers``: per split, the numbers of its shards."""
    lines = [
        f"# TreeOfLife-10M ({size_name}): open_clip / BioCLIP arguments per split.",
        f"# Paths are relative to this folder, <data root>/releases/<name>/{size_name}: run from it or prefix it.",
        "# This folder never changes once published; the `published` link moves to the next release.",
        f"# BioCLIP --text_type (lower case, as webdataset reads the keys): {' | '.join(BIOCLIP_TEXT_TYPES)}",
    ]
    if any(numbers and len(numbers) != max(numbers) + 1 for numbers in shard_numbers.values()):
        lines.append("# Shard numbers have gaps (stable names across releases): brace groups joined by `::`; "
                     "<split>/shards.txt lists every shard.")
    for split, numbers in shard_numbers.items():
        if numbers:
            lines.append(f"{split}: {split_arguments(split, shard_pattern(split, numbers), sizes[split])}")
    lines.append(f"text_type: --text_type {DEFAULT_TEXT_TYPE}")
    return "\n".join(lines) + "\n"


def absolute_arguments(dataset_dir, shard_numbers: dict[str, list[int]], sizes: dict[str, int]) -> dict[str, str]:
    """Per split, the arguments with absolute paths under ``dataset_dir`` (the release's own
    ``releases/<name>/<size>`` folder), for the build summary."""
    return {split: split_arguments(split, shard_pattern(str(dataset_dir / split), numbers), sizes[split])
            for split, numbers in shard_numbers.items() if numbers}
