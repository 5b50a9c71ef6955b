"""Time and peak memory of reading an EOL media manifest.

    .venv/bin/python -m tol10m_assets_tests.taxonomy.bench_manifest [--rows 1000000] [--dir /tmp]

Writes a synthetic manifest (EOL's six columns, rows shaped like EOL's), then in a fresh process
per case: ``read_media_manifest(path)`` and ``read_media_manifest(path, keep=<half the pairs>)``.
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
from pathlib import Path

HEADER = "EOL content ID,EOL page ID,Medium Source URL,EOL Full-Size Copy URL,License Name,Copyright Owner\n"


def write_manifest(path: Path, rows: int) -> None:
    with open(path, "w", encoding="utf-8") as out:
        out.write(HEADER)
        for i in range(rows):
            h = hashlib.md5(str(i).encode()).hexdigest()
            out.write(f"{10_000_000 + i},{100_000 + i % 50_000},https://www.inaturalist.org/photos/{i}/original.jpg,"
                      f"https://content.eol.org/data/media/{h[:2]}/{h[2:4]}/{h[4:6]}/{h[6:8]}.{h}.jpg,cc-by-nc-4.0,"
                      f"\"Photographer {i % 1000}, Museum\"\n")


def measure(path: Path, rows: int, keep: bool) -> tuple[float, float, int]:
    keep_expr = f"[(10_000_000 + i, 100_000 + i % 50_000) for i in range(0, {rows}, 2)]" if keep else "None"
    code = (f"import resource, time\nfrom tol10m_assets.licenses import read_media_manifest\nkeep = {keep_expr}\nt = time.perf_counter()\n"
            f"f = read_media_manifest({str(path)!r}, keep=keep)\n"
            "print(len(f), time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")
    n, seconds, rss = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    return float(rss) / 1024, float(seconds), int(n)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--dir", default="/tmp")
    args = parser.parse_args(argv)
    path = Path(args.dir) / f"manifest_bench_{args.rows}.csv"
    write_manifest(path, args.rows)
    try:
        print(f"{'rows':>10} {'file MB':>8} {'keep':>6} {'rows out':>9} {'peak RSS MB':>12} {'seconds':>8}")
        for keep in (False, True):
            rss, seconds, n = measure(path, args.rows, keep)
            print(f"{args.rows:>10} {path.stat().st_size / 1e6:>8.0f} {keep!s:>6} {n:>9} {rss:>12.0f} {seconds:>8.1f}", flush=True)
    finally:
        path.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
