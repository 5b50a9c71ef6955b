"""The time of shard partition runs, from the measured ones: a fixed cost per run (process, definitions,
observation, checks, event writes) plus a cost per planned image, fitted by least squares on the wall
seconds of the committed partitions' runs. Per-image writer time alone (what the manifests record) makes
the estimate of a build of small partitions far too low: on the sample world the fixed cost is nearly all.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RunCost:
    per_run: float  # seconds
    per_image: float  # seconds per planned image
    runs: int  # runs measured

    def seconds(self, runs: int, images: int) -> float:
        return self.per_run * runs + self.per_image * images

    def describe(self) -> str:
        return (f"{self.per_run:.1f} s per run + {self.per_image * 1000:.2f} ms per image "
                f"(fitted on {self.runs} committed run(s))")


def fit_run_cost(points: list[tuple[int, float]]) -> RunCost | None:
    """(planned images, wall seconds) of measured runs → their cost; None without a point. Both terms stay
    ≥ 0 (a negative one is dropped and the other refitted); with all runs the same size, the time is
    counted per image (the cost that grows with a partition)."""
    pts = [(n, t) for n, t in points if n >= 0 and t >= 0]
    if not pts:
        return None
    k = len(pts)
    sn, st = sum(n for n, _ in pts), sum(t for _, t in pts)
    snn, snt = sum(n * n for n, _ in pts), sum(n * t for n, t in pts)
    det = k * snn - sn * sn
    if k >= 2 and det > 1e-9 * max(k * snn, 1):
        per_image = (k * snt - sn * st) / det
        per_run = (st - per_image * sn) / k
        if per_run >= 0 and per_image >= 0:
            return RunCost(per_run, per_image, k)
        if per_image < 0:
            return RunCost(st / k, 0.0, k)
        return RunCost(0.0, snt / snn, k)
    if sn:
        return RunCost(0.0, st / sn, k)
    return RunCost(st / k, 0.0, k)
