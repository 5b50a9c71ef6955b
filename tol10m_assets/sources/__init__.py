"""Readers of each raw image layout, and the partition (chunk) each image belongs to.

No Dagster imports. Every reader streams: it never holds more than one image in memory.
"""

from tol10m_assets.sources.chunks import (
    PARTITION_KEY_RE,
    bioscan_partitions,
    eol_partition,
    inat21_partitions,
    parse_partition,
)
from tol10m_assets.sources.images import (
    SKIP_DETAILS,
    Chunking,
    MemberSlice,
    SourceImage,
    iter_partition_images,
    list_source_images,
)

__all__ = [
    "PARTITION_KEY_RE",
    "SKIP_DETAILS",
    "Chunking",
    "MemberSlice",
    "SourceImage",
    "bioscan_partitions",
    "eol_partition",
    "inat21_partitions",
    "iter_partition_images",
    "list_source_images",
    "parse_partition",
]
