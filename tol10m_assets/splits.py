"""Splits decided per id by a seeded hash: adding images never moves existing ones.

``val`` takes ``val_percent`` of the ids, ``train`` the rest; ``train_small`` is ``train_small_percent``
of ``train`` and is a duplicate subset (its images are in ``train`` too). The original used
``random.sample`` over a Python set, so a rebuild gave different splits.
"""

from __future__ import annotations

import hashlib

import pandas as pd

SPLITS = ("train", "val", "train_small")


def unit_hash(seed: int, salt: str, treeoflife_id: str) -> float:
    """A number in [0, 1) that depends only on the seed, the salt and the id."""
    digest = hashlib.blake2b(f"{seed}/{salt}/{treeoflife_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def assign_splits(ids, seed: int = 0, val_percent: float = 5.0, train_small_percent: float = 10.0) -> pd.DataFrame:
    """``treeoflife_id, is_val, is_train_small`` for each id (in the given order)."""
    if not (0 <= val_percent <= 100 and 0 <= train_small_percent <= 100):
        raise ValueError("split percentages must be between 0 and 100")
    ids = list(ids)
    is_val = [unit_hash(seed, "val", i) * 100 < val_percent for i in ids]
    is_small = [
        (not v) and unit_hash(seed, "train_small", i) * 100 < train_small_percent for i, v in zip(ids, is_val)
    ]
    return pd.DataFrame({"treeoflife_id": pd.array(ids, dtype="string"), "is_val": is_val, "is_train_small": is_small})


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
