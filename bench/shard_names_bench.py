"""Shard names across releases: how many shard names present in two consecutive releases hold other
bytes after one EOL set is added (issue 23; target: none, only the new set's shards are new).

    .venv/bin/python -m bench.shard_names_bench [--images 2000] [--seed 3]

Builds the sample world without EOL set 01 (release A), puts the set back and builds again (B), then
prints `scripts/shard-names.py A B`: the stable numbering of the build, and the dense numbering of
before applied to B's shards, for contrast. About 30 s for 600 images, 80 s for 2,000 (2 cores).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    from dagster import instance_for_test

    from tol10m_assets import releases_index
    from tol10m_assets.defs.resources import TreeOfLifeConfig
    from tol10m_assets.run import SAMPLE_SETTINGS, build
    from tol10m_assets.sample import make_sample_world

    args = argparse.ArgumentParser()
    args.add_argument("--images", type=int, default=2000)
    args.add_argument("--seed", type=int, default=3)
    opts = args.parse_args()
    with tempfile.TemporaryDirectory(prefix="shard-names-") as tmp:
        root = Path(tmp)
        sources = root / "world"
        make_sample_world(sources, images=opts.images, seed=opts.seed, log=lambda *a, **k: None)
        held = sorted((sources / "eol" / "images").glob("image_set_*"))[0]
        shutil.move(held, root / held.name)
        tol = TreeOfLifeConfig(sources_root=str(sources), data_root=str(root / "data"), **{"workers": 1, **SAMPLE_SETTINGS})
        with instance_for_test() as instance:
            build(instance=instance, tol=tol, log=lambda *_: None)
            a = tol.paths().published.resolve()
            releases_index.pin(tol.paths().releases, a.name, "shard_names_bench")
            shutil.move(root / held.name, held)
            build(instance=instance, tol=tol, log=lambda *_: None)
            b = tol.paths().published.resolve()
        print(f"{opts.images} images; EOL set {held.name} added")
        subprocess.run([sys.executable, str(ROOT / "scripts" / "shard-names.py"), str(a), str(b)], check=True, cwd=ROOT)


if __name__ == "__main__":
    main()
