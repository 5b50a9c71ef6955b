"""Peak memory of reading the BIOSCAN metadata, streamed vs. ``json.load`` (the old reader).

    .venv/bin/python -m tol10m_assets_tests.taxonomy.bench_bioscan [--records 100000 1000000] [--dir /tmp]

Writes a synthetic metadata file per size (records shaped like BIOSCAN-1M's, about 1.5 kB each
as in the real 1.7 GB file), then measures in a fresh process each: the peak RSS of iterating
``read_bioscan_metadata`` (streamed), of ``json.load`` + the same loop (the old way), and of
``resolve_bioscan`` (the lookup table the labels asset builds), with seconds. Prints a table.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

FIELDS = ["processid", "sampleid", "uri", "phylum", "class", "order", "family", "subfamily", "tribe", "genus", "species", "nucraw",
          "image_file", "chunk_number", "name", "large_diptera_family", "medium_diptera_family", "small_diptera_family", "large_insect_order",
          "medium_insect_order", "small_insect_order", "copyright_license", "copyright_holder", "copyright_institution", "photographer", "author"]


def write_file(path: Path, n: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    sequences = ["".join(rng.choices("ACGT", k=658)) for _ in range(64)]
    orders = [("Diptera", "Cecidomyiidae", "not_classified", "not_classified"), ("Hymenoptera", "Formicidae", "Camponotus", "Camponotus herculeanus"),
              ("Lepidoptera", "Nymphalidae", "Danaus", "Danaus plexippus"), ("Coleoptera", "not_classified", "not_classified", "not_classified")]
    with open(path, "w", encoding="utf-8") as out:
        out.write("[\n")
        for i in range(n):
            o, f, g, s = orders[rng.randrange(len(orders))]
            rec = dict.fromkeys(FIELDS, "not_classified")
            rec.update(processid=f"BIOUG{i:07d}-A01", sampleid=f"BSCAN{i:07d}", uri=f"BIOUG{i:07d}", phylum="Arthropoda", **{"class": "Insecta"},
                       order=o, family=f, genus=g, species=s, nucraw=sequences[i % 64],
                       image_file=f"{rng.getrandbits(32):08x}.jpg", chunk_number=1 + i // 10_000, copyright_license="CreativeCommons - Attribution",
                       copyright_holder="CBG Photography Group", copyright_institution="Centre for Biodiversity Genomics", photographer="CBG Photography Group")
            out.write(("" if i == 0 else ",\n") + json.dumps(rec))
        out.write("\n]\n")


CHILD = {
    "streamed": "from tol10m_assets.taxonomy.bioscan import read_bioscan_metadata\nn = sum(1 for _ in read_bioscan_metadata(path))",
    "json.load": ("import json\nfrom tol10m_assets.taxonomy.bioscan import FIXED, _rank\nfrom tol10m_assets.taxonomy.taxon import Taxon\n"
                  "records = json.load(open(path, encoding='utf-8'))\n"
                  "n = sum(1 for r in records if Taxon(*FIXED, _rank(r['order']), _rank(r['family']), _rank(r['genus']), _rank(r['species'])))"),
    "resolve_bioscan": ("from tol10m_assets.layout import SourceLayout\nfrom tol10m_assets.taxonomy import resolve_bioscan\n"
                        "layout = SourceLayout.under(path.parent, bioscan_metadata=str(path))\nn = len(resolve_bioscan(layout))"),
}


def measure(kind: str, path: Path) -> tuple[float, float, int]:
    code = (f"import resource, sys, time\nfrom pathlib import Path\npath = Path({str(path)!r})\nt = time.perf_counter()\n{CHILD[kind]}\n"
            "print(n, time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    return float(out[2]) / 1024, float(out[1]), int(out[0])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--dir", default="/tmp")
    parser.add_argument("--kinds", nargs="+", default=list(CHILD))
    args = parser.parse_args(argv)
    print(f"{'records':>10} {'file MB':>8} {'reader':>16} {'peak RSS MB':>12} {'seconds':>8}")
    for n in args.records:
        path = Path(args.dir) / f"bioscan_bench_{n}.jsonld"
        t = time.perf_counter()
        write_file(path, n)
        size = path.stat().st_size / 1e6
        print(f"# wrote {path} in {time.perf_counter() - t:.0f} s", file=sys.stderr)
        try:
            for kind in args.kinds:
                rss, seconds, count = measure(kind, path)
                assert count == n, (kind, count)
                print(f"{n:>10} {size:>8.0f} {kind:>16} {rss:>12.0f} {seconds:>8.1f}", flush=True)
        finally:
            path.unlink()
    print(f"# python {sys.version.split()[0]}; peak RSS is ru_maxrss of a fresh process; base interpreter + imports included; "
          f"self {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
