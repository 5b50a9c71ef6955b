"""Partition keys: one shard partition per source chunk.

* ``eol-NN``: one EOL image set (``image_set_NN.tar.gz``, or the same decompressed: ``image_set_NN.tar``);
* ``inat21-NNN``: k iNat21 classes, counted in class order (the 1st … k-th class folder present is
  ``inat21-000``, whatever its class number: a sparse numbering still gives k classes a partition);
* ``bioscan-NNN``: k BIOSCAN parts, counted the same way.

Numbers are zero-padded to the widest key of their source (at least 3 digits), so keys sort in
partition order: ``inat21-0095 < inat21-1008``. Adding or removing a class folder before others
re-keys the partitions after it, as changing k does.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

PARTITION_KEY_RE = re.compile(r"^(eol|inat21|bioscan)-([0-9]{2,6})$")
EOL_SET_RE = re.compile(r"^image_set_([0-9]{2,4})\.tar(?:\.gz)?$")
MIN_DIGITS = 3


def eol_partition(image_set_name: str) -> str:
    """``image_set_07.tar.gz`` (or ``image_set_07.tar``) → ``eol-07``."""
    m = EOL_SET_RE.fullmatch(image_set_name)
    if not m:
        raise ValueError(f"not an EOL image set name: {image_set_name!r} (expected image_set_NN.tar.gz or image_set_NN.tar)")
    return f"eol-{m.group(1)}"


def counted_partitions(source: str, numbers: Iterable[int], per_partition: int) -> dict[int, str]:
    """number → key: the i-th distinct number (ascending) goes to partition ``i // per_partition``."""
    if per_partition < 1:
        raise ValueError(f"{source}: partition size must be at least 1, not {per_partition}")
    ordered = sorted(set(numbers))
    count = -(-len(ordered) // per_partition)
    width = max(MIN_DIGITS, len(str(max(count - 1, 0))))
    return {n: f"{source}-{i // per_partition:0{width}d}" for i, n in enumerate(ordered)}


def inat21_partitions(class_numbers: Iterable[int], classes_per_partition: int) -> dict[int, str]:
    """iNat21 class number → partition key, ``classes_per_partition`` classes (not numbers) each."""
    return counted_partitions("inat21", class_numbers, classes_per_partition)


def bioscan_partitions(parts: Iterable[int], parts_per_partition: int) -> dict[int, str]:
    """BIOSCAN part number → partition key, ``parts_per_partition`` parts each."""
    return counted_partitions("bioscan", parts, parts_per_partition)


def parse_partition(key: str) -> tuple[str, int]:
    """``inat21-002`` → ``("inat21", 2)``; raises ValueError for anything else (keys reach file names)."""
    m = PARTITION_KEY_RE.fullmatch(key)
    if not m:
        raise ValueError(f"invalid shard partition key {key!r}: expected eol-NN, inat21-NNN or bioscan-NNN")
    return m.group(1), int(m.group(2))
