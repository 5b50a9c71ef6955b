"""Shard partitions are discovered, not fixed: the mapping asset registers one per source chunk."""

from dagster import DynamicPartitionsDefinition

SHARD_PARTITIONS = "shard_partitions"
shard_partitions = DynamicPartitionsDefinition(name=SHARD_PARTITIONS)
