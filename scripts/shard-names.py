"""Compare two releases' shard names: `python scripts/shard-names.py OLD_RELEASE NEW_RELEASE`.

Prints, from the releases' release.json, the shard names present in both (per split) that hold other
bytes in the new release, with the stable numbering the build uses and, for contrast, with the dense
numbering of before (per split, partitions in key order) applied to the new release's shards.
"""

import json
import sys
from pathlib import Path

from tol10m_assets.release import renamed_shards, shard_file_name, shard_numbers


def dense(table: list[dict]) -> list[dict]:
    counts: dict[tuple[str, str], int] = {}
    for s in sorted(table, key=lambda s: s["partition"]):  # the build's order: partitions in key order
        counts[(s["split"], s["partition"])] = counts.get((s["split"], s["partition"]), 0) + 1
    numbers = shard_numbers([], [(sp, p, n) for (sp, p), n in counts.items()])
    out = []
    for s in sorted(table, key=lambda s: (s["partition"], s["number"])):
        out.append({**s, "name": shard_file_name(numbers[(s["split"], s["partition"])].pop(0))})
    return out


def main(old: str, new: str) -> None:
    a, b = (json.loads((Path(r) / "release.json").read_text())["shards"] for r in (old, new))
    added = sorted({s["partition"] for s in b} - {s["partition"] for s in a})
    retired = sorted({s["partition"] for s in a} - {s["partition"] for s in b})
    print(f"partitions added: {added or '-'}, retired: {retired or '-'}; shards: {len(a)} -> {len(b)}")
    for label, table in (("stable numbering (this build)", b), ("dense numbering (before)", dense(b))):
        r = renamed_shards(a, table)
        print(f"{label}: {r['other_bytes']} of the {r['in_both']} names in both hold other bytes; "
              f"{r['new_names']} new names, {r['gone_names']} names gone")


if __name__ == "__main__":
    main(*sys.argv[1:3])
