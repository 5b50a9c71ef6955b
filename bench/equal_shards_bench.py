"""Equal shards against the per-partition layout: copy rate, and epoch coverage without resampling.

    .venv/bin/python -m bench.equal_shards_bench                 # ~600 MB of shards, about a minute
    .venv/bin/python -m bench.equal_shards_bench --mb 100        # a smoke run

1. Copy rate: makes per-partition shards on disk (``tarfiles.sample_bytes``, 48 KB image payloads,
   partitions of 41-469 samples per shard as on a 2,000-image build), then times
   ``reshard.write_equal_shards`` (scan every tar's headers, copy each sample's members, sha256)
   against the hard-linked layout (``os.link`` per shard). The sources were just written, so they
   are in the page cache: this is the copy and hash cost, not the disk's read rate.
2. Epoch coverage: W workers x G GPUs, each consumer reading whole shards as open_clip's and
   BioCLIP's ``get_wds_dataset`` do without ``--dataset-resampled`` (shards shuffled with the
   epoch's seed, ``split_by_node`` then ``split_by_worker``, ``with_epoch`` stopping each consumer at
   its share of the epoch's sample count and repeating its own shards when it has fewer): the share
   of distinct samples an epoch sees, averaged over 20 seeds. For the full-size model (63 EOL
   sets, 100 iNat21 partitions, 12 BIOSCAN ones; the writer's caps of 100,000 samples and 3 GB at
   ~50 KB a sample) and for the benchmark's own layout.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import tempfile
import time
from pathlib import Path

from tol10m_assets.shards.reshard import SourceShard, sample_spans, write_equal_shards
from tol10m_assets.shards.tarfiles import TAR_END, TEXT_SUFFIXES, sample_bytes

IMAGE_BYTES = 48_000
SEEDS = 20


def make_partitions(root: Path, megabytes: int, seed: int = 0) -> list[SourceShard]:
    """Per-partition train shards of 41-469 samples until ``megabytes`` are written."""
    rng = random.Random(seed)
    image = bytes(rng.getrandbits(8) for _ in range(IMAGE_BYTES))
    texts = {s: f"a photo of {s}" for s in TEXT_SUFFIXES}
    sources, written, p = [], 0, 0
    while written < megabytes * 1e6:
        part = f"eol-{p:02d}" if p % 3 else f"inat21-{p:03d}"
        for n in range(rng.choice((1, 1, 2))):
            count = rng.randint(41, 469)
            path = root / part / f"shard-{part}-{n:06d}.tar"
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "wb") as out:
                for i in range(count):
                    out.write(sample_bytes(f"{part}-{n}-{i:05d}", image[: IMAGE_BYTES - i], texts))
                out.write(TAR_END)
            sources.append(SourceShard(part, path, count))
            written += path.stat().st_size
        p += 1
    return sources


def copy_rates(sources: list[SourceShard], out: Path, per_shard: int) -> dict:
    total = sum(s.path.stat().st_size for s in sources)
    start = time.perf_counter()
    spans = sum(len(sample_spans(s.path)) for s in sources)
    scan = time.perf_counter() - start
    start = time.perf_counter()
    shards = write_equal_shards(sources, out / "equal", per_shard)
    copy = time.perf_counter() - start
    (out / "linked").mkdir()
    start = time.perf_counter()
    for i, s in enumerate(sources):
        os.link(s.path, out / "linked" / f"shard-{i:06d}.tar")
    link = time.perf_counter() - start
    again = write_equal_shards(sources, out / "again", per_shard)
    same = again == shards
    return {"bytes": total, "samples": spans, "source_shards": len(sources), "equal_shards": len(shards),
            "scan_s": round(scan, 3), "copy_s": round(copy, 3), "link_s": round(link, 4),
            "copy_mb_per_s": round(total / 1e6 / copy, 1), "scan_samples_per_s": round(spans / scan),
            "deterministic": same, "sha256_of_first": shards[0]["sha256"][:16]}


def coverage(sizes: list[int], workers: int, gpus: int, seeds: int = SEEDS) -> float:
    """Mean share of distinct samples one epoch sees (see the module docstring)."""
    consumers, total = workers * gpus, sum(sizes)
    if len(sizes) < consumers:
        return float("nan")  # open_clip refuses: number of shards must be >= total workers
    quota = math.ceil(total / consumers)
    shares = []
    for seed in range(seeds):
        order = list(range(len(sizes)))
        random.Random(seed).shuffle(order)
        seen = 0
        for rank in range(gpus):
            node = order[rank::gpus]  # split_by_node
            for worker in range(workers):
                seen += min(quota, sum(sizes[i] for i in node[worker::workers]))  # split_by_worker, with_epoch
        shares.append(seen / total)
    return sum(shares) / len(shares)


def full_size_partition_shards(val=0.05, per_sample=50_000, max_samples=100_000, max_bytes=3_000_000_000) -> list[int]:
    """The train shard sizes of the per-partition layout at full size (the writer's caps)."""
    cap = min(max_samples, max_bytes // per_sample)
    partitions = [105_000] * 63 + [27_000] * 100 + [94_000] * 12  # EOL sets, iNat21 groups, BIOSCAN groups
    shards = []
    for n in partitions:
        train = round(n * (1 - val))
        shards += [cap] * (train // cap) + ([train % cap] if train % cap else [])
    return shards


def equal(total: int, per_shard: int) -> list[int]:
    return [per_shard] * (total // per_shard) + ([total % per_shard] if total % per_shard else [])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mb", type=int, default=600, help="megabytes of per-partition shards to make and copy")
    ap.add_argument("--per-shard", type=int, default=100, help="samples per equal shard in the copy test")
    ap.add_argument("--full-per-shard", type=int, default=10_000, help="samples per equal shard in the full-size model")
    ap.add_argument("--out", default="bench/results/equal_shards_bench.json")
    args = ap.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="equal-shards-", dir=os.environ.get("TMPDIR")))
    try:
        sources = make_partitions(work / "in", args.mb)
        rates = copy_rates(sources, work, args.per_shard)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"copy: {rates['bytes'] / 1e6:,.0f} MB, {rates['samples']:,} samples in {rates['source_shards']} per-partition "
          f"shards -> {rates['equal_shards']} equal shards of {args.per_shard}")
    print(f"  equal shards  {rates['copy_mb_per_s']:>8,.1f} MB/s copied ({rates['copy_s']} s: header scan, copy, sha256; "
          f"scan alone {rates['scan_samples_per_s']:,} samples/s)")
    print(f"  hard links    {rates['link_s']:>8} s for {rates['source_shards']} links (no bytes copied)")
    print(f"  deterministic {rates['deterministic']}")
    bench_sizes = [s.samples for s in sources]
    full = full_size_partition_shards()
    layouts = {
        "full size, per partition": full,
        f"full size, equal ({args.full_per_shard:,})": equal(sum(full), args.full_per_shard),
        "bench, per partition": bench_sizes,
        f"bench, equal ({args.per_shard})": equal(sum(bench_sizes), args.per_shard),
    }
    grid = [(4, 1), (14, 1), (4, 8), (8, 8)]
    print("\nepoch coverage without resampling (distinct samples seen / samples), W workers x G GPUs:")
    print(f"  {'layout':<28} {'shards':>6} {'min':>7} {'max':>7} " + " ".join(f"{f'{w}x{g}':>7}" for w, g in grid))
    table = {}
    for name, sizes in layouts.items():
        row = {f"{w}x{g}": coverage(sizes, w, g) for w, g in grid}
        table[name] = {"shards": len(sizes), "min": min(sizes), "max": max(sizes), **row}
        print(f"  {name:<28} {len(sizes):>6} {min(sizes):>7} {max(sizes):>7} "
              + " ".join(f"{v:>7.1%}" if v == v else f"{'n/a':>7}" for v in row.values()))
    eq = table[f"full size, equal ({args.full_per_shard:,})"]["4x8"]
    print(f"\ntarget: equal shards cover within 1 % of every sample at 4 x 8: {eq:.2%} -> {'PASS' if eq >= 0.99 else 'MISS'}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"copy": rates, "coverage": table}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
