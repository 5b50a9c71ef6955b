"""Shards core (no Dagster): resize images, write webdataset shards, read them back, check them.

Each sample has eleven members: ``<key>.jpg`` (W×H JPEG) and the ten caption text members.
"""

from tol10m_assets.shards.check import CheckReport, check_partition_shards, check_shard
from tol10m_assets.shards.images import CorruptImage, ImageSettings, naive_resize, resize_image
from tol10m_assets.shards.tarfiles import MEMBER_SUFFIXES, TEXT_SUFFIXES, iter_shard_members, shard_name, shard_paths
from tol10m_assets.shards.writer import PartitionResult, SampleJob, write_partition

__all__ = [
    "MEMBER_SUFFIXES",
    "TEXT_SUFFIXES",
    "CheckReport",
    "CorruptImage",
    "ImageSettings",
    "PartitionResult",
    "SampleJob",
    "check_partition_shards",
    "check_shard",
    "iter_shard_members",
    "naive_resize",
    "resize_image",
    "shard_name",
    "shard_paths",
    "write_partition",
]
