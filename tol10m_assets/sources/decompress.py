"""Decompress EOL image sets once: ``image_set_NN.tar.gz`` → ``image_set_NN.tar``.

JPEGs do not compress (the plain tar is within a few percent of the ``.tar.gz``), but inflating
them costs the main process of a shard partition about 6 ms an image on every build; members of a
plain tar are read in place by the shard workers instead.

    python -m tol10m_assets.sources.decompress DIR [--keep]

Each set is written under a hidden temporary name and renamed when complete, then its ``.tar.gz``
is removed (kept with ``--keep``, in which case move it away before building: a set may not be
there twice). An interrupted run leaves only complete files behind.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from tol10m_assets.sources.chunks import EOL_SET_RE
from tol10m_assets.sources.eolindex import index_path, open_stream

CHUNK = 1 << 20


def decompress_image_sets(folder: Path, keep: bool = False, log=print) -> list[Path]:
    """Decompress every ``image_set_NN.tar.gz`` in ``folder`` that has no ``.tar`` yet; returns the new tars."""
    folder = Path(folder)
    done = []
    for gz in sorted(p for p in folder.iterdir() if EOL_SET_RE.fullmatch(p.name) and p.name.endswith(".tar.gz")):
        plain = gz.with_suffix("")
        if not plain.exists():
            temp = plain.with_name(f".{plain.name}.tmp-{os.getpid()}")
            try:
                with open_stream(gz) as src, open(temp, "wb") as dst:
                    shutil.copyfileobj(src, dst, CHUNK)
                    dst.flush()
                    os.fsync(dst.fileno())
                os.replace(temp, plain)
            except BaseException:
                temp.unlink(missing_ok=True)
                raise
            log(f"{gz.name} → {plain.name} ({plain.stat().st_size / 1e6:.0f} MB)")
            done.append(plain)
        if not keep:
            gz.unlink()
            index_path(gz).unlink(missing_ok=True)  # the .tar gets its own index on first use
    return done


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path, help="the folder of image_set_NN.tar.gz files")
    parser.add_argument("--keep", action="store_true", help="keep the .tar.gz files")
    args = parser.parse_args(argv)
    if not args.folder.is_dir():
        print(f"not a folder: {args.folder}", file=sys.stderr)
        return 2
    decompress_image_sets(args.folder, args.keep)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
