"""Partition keys: one shard partition per source chunk.

* ``eol-NN``: one EOL image set (``image_set_NN.tar.gz``, or the same decompressed: ``image_set_NN.tar``);
* ``inat21-NNN``: iNat21 classes ``NNN*k … NNN*k+k-1`` (k = classes per partition);
* ``bioscan-NNN``: BIOSCAN parts ``NNN*k+1 … NNN*k+k`` (k = parts per partition).
"""

from __future__ import annotations

import re

PARTITION_KEY_RE = re.compile(r"^(eol|inat21|bioscan)-([0-9]{2,6})$")
EOL_SET_RE = re.compile(r"^image_set_([0-9]{2,4})\.tar(?:\.gz)?$")


def eol_partition(image_set_name: str) -> str:
    """``image_set_07.tar.gz`` (or ``image_set_07.tar``) → ``eol-07``."""
    m = EOL_SET_RE.fullmatch(image_set_name)
    if not m:
        raise ValueError(f"not an EOL image set name: {image_set_name!r} (expected image_set_NN.tar.gz or image_set_NN.tar)")
    return f"eol-{m.group(1)}"


def inat21_partition(cls_num: int, classes_per_partition: int) -> str:
    return f"inat21-{cls_num // classes_per_partition:03d}"


def bioscan_partition(part: int, parts_per_partition: int) -> str:
    return f"bioscan-{(part - 1) // parts_per_partition:03d}"


def parse_partition(key: str) -> tuple[str, int]:
    """``inat21-002`` → ``("inat21", 2)``; raises ValueError for anything else (keys reach file names)."""
    m = PARTITION_KEY_RE.fullmatch(key)
    if not m:
        raise ValueError(f"invalid shard partition key {key!r}: expected eol-NN, inat21-NNN or bioscan-NNN")
    return m.group(1), int(m.group(2))
