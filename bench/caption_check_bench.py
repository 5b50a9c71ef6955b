"""Cost of the release's caption check (issue 19): one shard of N samples (30 KB images) and a
catalog of their labels, checked in full.

    .venv/bin/python -m bench.caption_check_bench [N] [LABELS]      # default 100000 5000
"""
import random
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from tol10m_assets.labels import RANK_COLUMNS
from tol10m_assets.release import StagedRelease, check_captions
from tol10m_assets.shards.tarfiles import TAR_END, sample_bytes
from tol10m_assets.taxonomy import Taxon, captions

n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
labels = int(sys.argv[2]) if len(sys.argv) > 2 else 5000
root = Path(tempfile.mkdtemp(prefix="caption-bench-"))
rng = random.Random(0)
taxa = [Taxon("Animalia", "Chordata", "Aves", "Passeriformes", f"Fam{i % 97}", f"Genus{i}", f"sp{i}") for i in range(labels)]
image = bytes(30000)  # the check reads no image payload
(root / "224x224" / "train").mkdir(parents=True, exist_ok=True)
rows = {c: [] for c in ["split", "treeoflife_id", *RANK_COLUMNS, "common"]}
with open(root / "224x224" / "train" / "shard-000000.tar", "wb") as f:
    for i in range(n):
        t = taxa[rng.randrange(labels)]
        key = str(uuid.UUID(int=rng.getrandbits(128)))
        texts = captions(t, f"common {t.genus}")
        f.write(sample_bytes(key, image, texts))
        rows["split"].append("train")
        rows["treeoflife_id"].append(key)
        for c, v in zip(RANK_COLUMNS, t.as_tuple()):
            rows[c].append(v)
        rows["common"].append(texts["common_name.txt"])
    f.write(TAR_END)
(root / "metadata").mkdir(exist_ok=True)
pq.write_table(pa.table(rows), root / "metadata" / "catalog.parquet")
size = (root / "224x224" / "train" / "shard-000000.tar").stat().st_size
st = StagedRelease.__new__(StagedRelease)  # only what check_captions reads
st.folder, st.paths, st.caption_check = root, type("P", (), {"size_name": "224x224"})(), 1.0
st.shards = [{"split": "train", "name": "shard-000000.tar", "bytes": size, "sha256": "0" * 64}]
t = time.monotonic()
out = check_captions(st)
s = time.monotonic() - t
shutil.rmtree(root, ignore_errors=True)
assert out["mismatches"] == 0, out
print({k: v for k, v in out.items() if k != "examples"}, f"{s:.2f} s, {n / s:.0f} samples/s")
