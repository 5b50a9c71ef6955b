"""``check_wds``: every shard opens, every sample has the eleven members, every image decodes at
the configured size, and the counts equal the partition's stats."""

from __future__ import annotations

import io
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from tol10m_assets.shards.images import ImageSettings
from tol10m_assets.shards.tarfiles import MEMBER_SUFFIXES, shard_paths

MAX_PROBLEMS = 200


@dataclass
class CheckReport:
    passed: bool = True
    shards: int = 0
    samples: dict[str, int] = field(default_factory=dict)
    images_checked: int = 0
    problems: list[str] = field(default_factory=list)
    problem_count: int = 0

    def problem(self, text: str) -> None:
        self.passed = False
        self.problem_count += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(text)


def _check_image(data: bytes, settings: ImageSettings) -> str | None:
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format != "JPEG":
                return f"image is {image.format}, not JPEG"
            image.load()
            if image.size != (settings.width, settings.height):
                return f"image is {image.size[0]}x{image.size[1]}, not {settings.width}x{settings.height}"
    except Exception as exc:  # any decoder error is a finding, not a crash
        return f"image does not decode: {exc}"
    return None


def check_shard(path: Path, settings: ImageSettings, report: CheckReport) -> int:
    """Check one shard into ``report``; returns its sample count."""
    expected = set(MEMBER_SUFFIXES)
    samples: dict[str, set[str]] = {}
    order: list[str] = []
    try:
        with tarfile.open(path, "r:") as tar:
            for info in tar:
                if not info.isfile():
                    report.problem(f"{path.name}: {info.name} is not a regular file")
                    continue
                key, _, suffix = info.name.rsplit("/", 1)[-1].partition(".")
                if key not in samples:
                    samples[key] = set()
                    order.append(key)
                samples[key].add(suffix)
                if suffix == "jpg":
                    handle = tar.extractfile(info)
                    problem = _check_image(handle.read() if handle else b"", settings)
                    report.images_checked += 1
                    if problem:
                        report.problem(f"{path.name}: sample {key}: {problem}")
    except (tarfile.TarError, OSError, EOFError) as exc:
        report.problem(f"{path.name}: does not open as a tar ({exc})")
        return 0
    for key in order:
        members = samples[key]
        if members != expected:
            missing, extra = sorted(expected - members), sorted(members - expected)
            report.problem(f"{path.name}: sample {key}: missing {missing} extra {extra}")
    return len(order)


def check_partition_shards(
    out_dir: Path, partition: str, settings: ImageSettings, expected: dict[str, int] | None = None
) -> CheckReport:
    """Check every shard of a partition; ``expected`` = samples per split from the partition's stats."""
    report = CheckReport()
    for path in shard_paths(out_dir, partition=partition):
        split = path.parent.name
        report.shards += 1
        report.samples[split] = report.samples.get(split, 0) + check_shard(path, settings, report)
    if expected is not None:
        for split in sorted(set(expected) | set(report.samples)):
            want, got = expected.get(split, 0), report.samples.get(split, 0)
            if want != got:
                report.problem(f"{split}: {got} samples in the shards, {want} in the partition's stats")
    return report
