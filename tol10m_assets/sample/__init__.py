"""The sample world: every raw input of TreeOfLife-10M in its real layout, small and deterministic.

    python -m tol10m_assets.sample --out DIR --images N --seed S

or ``make_sample_world(out, images=300, seed=0)``. It writes ``summary.json`` (counts per source,
the expected skips and why), which tests use to assert exact outcomes downstream.
"""

from __future__ import annotations

import json
import time
from pathlib import Path


def make_sample_world(out: Path | str, images: int = 300, seed: int = 0, *, published_style: bool = False, log=print) -> dict:
    """Write a sample world under ``out`` (replacing one that is there) and return its summary.

    Every world has the published reproduction's inputs (mapping.sqlite, catalog.csv, licenses.csv
    and the name lookups ``metadata/naming/*.json``). ``published_style``: the lookups differ on
    purpose from the raw name sources (``world.DELIBERATE_DIFFERENCES``), the published catalog is
    made from them and, as the original's, still has the Rare Species images."""
    import shutil

    from tol10m_assets.sample.world import WorldWriter

    out = Path(out)
    start = time.monotonic()
    if (out / "summary.json").exists():
        for child in out.iterdir():
            shutil.rmtree(child) if child.is_dir() else child.unlink()
    out.mkdir(parents=True, exist_ok=True)
    summary = WorldWriter(out, images, seed, log, published_style=published_style).run()
    (out / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    from tol10m_assets.layout import SourceLayout
    from tol10m_assets.sample.mirror import published_licenses

    published_licenses(out).to_csv(SourceLayout.under(out).published_licenses, index=False, lineterminator="\n")
    log(describe(summary, time.monotonic() - start))
    return summary


def describe(summary: dict, seconds: float | None = None) -> str:
    lines = [f"sample world (seed {summary['seed']}, {summary['images_requested']} images requested)"
             + (f" written in {seconds:.1f} s" if seconds is not None else "")]
    for source, counts in summary["counts"].items():
        exp = summary["expected"][source]
        skips = ", ".join(f"{r} {n}" for r, n in exp["skipped"].items() if n)
        lines.append(f"  {source:14s} {counts}  → written {exp['written']}; skipped: {skips or 'none'}")
    lines.append("  expected skips:")
    for item in summary["special"]:
        if item["expect"] != "written":
            lines.append(f"    {item['source']:14s} {item['expect']:16s} {item['ref']}  ({item['why']})")
    return "\n".join(lines)


__all__ = ["describe", "make_sample_world"]
