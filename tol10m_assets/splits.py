"""Splits decided per id by a seeded hash: adding images never moves existing ones.

``val`` takes ``val_percent`` of the ids, ``train`` the rest; ``train_small`` is ``train_small_percent``
of ``train`` and is a duplicate subset (its images are in ``train`` too). The original used
``random.sample`` over a Python set, so a rebuild gave different splits.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from tol10m_assets.columns import BATCH, ParquetSink, pandas_schema

SPLITS = ("train", "val", "train_small")
SPLITS_SCHEMA = pandas_schema({"treeoflife_id": "string", "is_val": "bool", "is_train_small": "bool"})


def unit_hash(seed: int, salt: str, treeoflife_id: str) -> float:
    """A number in [0, 1) that depends only on the seed, the salt and the id."""
    digest = hashlib.blake2b(f"{seed}/{salt}/{treeoflife_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def unit_hashes(seed: int, salt: str, ids: list[str]) -> np.ndarray:
    """:func:`unit_hash` of many ids at once (float64, the same values): one C hash call per id,
    the arithmetic vectorised."""
    prefix = f"{seed}/{salt}/"
    blake = hashlib.blake2b
    digests = b"".join([blake((prefix + i).encode(), digest_size=8).digest() for i in ids])
    return np.frombuffer(digests, dtype=">u8").astype(np.float64) / 2**64


def _check_percent(val_percent: float, train_small_percent: float) -> None:
    if not (0 <= val_percent <= 100 and 0 <= train_small_percent <= 100):
        raise ValueError("split percentages must be between 0 and 100")


def split_flags(ids: list[str], seed: int = 0, val_percent: float = 5.0, train_small_percent: float = 10.0):
    """``(is_val, is_train_small)`` boolean arrays for ``ids`` (as :func:`assign_splits` decides)."""
    _check_percent(val_percent, train_small_percent)
    is_val = unit_hashes(seed, "val", ids) * 100 < val_percent
    is_small = ~is_val & (unit_hashes(seed, "train_small", ids) * 100 < train_small_percent)
    return is_val, is_small


def assign_splits(ids, seed: int = 0, val_percent: float = 5.0, train_small_percent: float = 10.0) -> pd.DataFrame:
    """``treeoflife_id, is_val, is_train_small`` for each id (in the given order)."""
    _check_percent(val_percent, train_small_percent)
    ids = [str(i) for i in ids]
    is_val, is_small = split_flags(ids, seed, val_percent, train_small_percent)
    return pd.DataFrame({"treeoflife_id": pd.array(ids, dtype="string"), "is_val": is_val, "is_train_small": is_small})


def _published_index(published_split: pd.DataFrame) -> pd.DataFrame:
    table = published_split.rename(columns={"evobio10m_id": "treeoflife_id"})
    return table.drop_duplicates("treeoflife_id").set_index("treeoflife_id")


def _override(ids: list[str], is_val: np.ndarray, is_small: np.ndarray, table: pd.DataFrame) -> None:
    """Where the published table has the id, its flags (``astype(bool)``, as the original)."""
    known = pd.Index(ids).isin(table.index)
    if known.any():
        rows = table.loc[pd.Index(ids)[known]]
        is_val[known] = rows["is_val"].astype(bool).to_numpy()
        is_small[known] = rows["is_train_small"].astype(bool).to_numpy()


def write_splits(
    mapping: Path,
    out: Path,
    seed: int = 0,
    val_percent: float = 5.0,
    train_small_percent: float = 10.0,
    published_split: pd.DataFrame | None = None,
) -> dict[str, dict[str, int]]:
    """``splits.parquet`` streamed from the mapping's ids (batch by batch, mapping order); reproduce
    mode: the published split table where it has the id. Returns split counts per source."""
    _check_percent(val_percent, train_small_percent)
    table = _published_index(published_split) if published_split is not None else None
    counts: dict[str, dict[str, int]] = {}
    with ParquetSink(out, SPLITS_SCHEMA) as sink:
        for batch in pq.ParquetFile(mapping).iter_batches(BATCH, columns=["treeoflife_id", "source"]):
            ids = batch.column(0).to_pylist()
            is_val, is_small = split_flags(ids, seed, val_percent, train_small_percent)
            if table is not None:
                _override(ids, is_val, is_small, table)
            sink.write(pa.table({"treeoflife_id": batch.column(0), "is_val": is_val, "is_train_small": is_small}))
            sources = batch.column(1).to_numpy(zero_copy_only=False)
            for source in np.unique(sources):
                mask = sources == source
                c = counts.setdefault(str(source), {"train": 0, "val": 0, "train_small": 0})
                val = int(is_val[mask].sum())
                c["train"] += int(mask.sum()) - val
                c["val"] += val
                c["train_small"] += int(is_small[mask].sum())
    return dict(sorted(counts.items()))


def splits_of(is_val: bool, is_train_small: bool) -> tuple[str, ...]:
    """The shard splits one sample is written to."""
    if is_val:
        return ("val",)
    return ("train", "train_small") if is_train_small else ("train",)


def published_splits(mapping_ids, published_split: pd.DataFrame, **hash_args) -> pd.DataFrame:
    """Reproduce mode: the published ``split`` table where it has the id, the seeded hash elsewhere."""
    table = published_split.rename(columns={"evobio10m_id": "treeoflife_id"})
    table = table.drop_duplicates("treeoflife_id").set_index("treeoflife_id")
    ids = list(mapping_ids)
    hashed = assign_splits(ids, **hash_args).set_index("treeoflife_id")
    known = [i for i in ids if i in table.index]
    hashed.loc[known, "is_val"] = table.loc[known, "is_val"].astype(bool).to_numpy()
    hashed.loc[known, "is_train_small"] = table.loc[known, "is_train_small"].astype(bool).to_numpy()
    return hashed.reset_index()


def split_counts(splits: pd.DataFrame) -> dict[str, int]:
    val = int(splits["is_val"].sum())
    return {"train": len(splits) - val, "val": val, "train_small": int(splits["is_train_small"].sum())}
