"""The releases the build made: ``releases/index.json``, the only folders its clean-up may remove.

    {"format": 1, "releases": [{"name": "20261202T050000Z-ab12cd", "created": "...",
                                "pinned": {"at": "...", "reason": "run 42 trains on it"}}, ...]}

Anything else under ``releases/`` (a person's ``2025-backup``, another tool's files) is never
touched. Retention keeps every pinned release plus the newest ``keep`` releases of the index (at
least two: the published one and the one before it, to roll back by relinking ``published``).
Written under the release lock, atomically. No Dagster imports.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

INDEX = "index.json"
INDEX_FORMAT = 1
MIN_KEEP = 2  # the published release and the previous one


def index_path(releases: Path) -> Path:
    return Path(releases) / INDEX


def load(releases: Path) -> list[dict]:
    """The recorded releases, oldest first. Without an index (a store from before it), releases
    whose own ``release.json`` names their folder are adopted: the build made those."""
    path = index_path(releases)
    try:
        data = json.loads(path.read_text())
        return [r for r in data["releases"] if isinstance(r, dict) and _safe(r.get("name"))]
    except FileNotFoundError:
        return _adopt(Path(releases))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise RuntimeError(f"{path}: unreadable releases index ({exc}); fix or remove it (no release is deleted "
                           "without it)") from None


def _safe(name) -> bool:
    return isinstance(name, str) and bool(name) and "/" not in name and not name.startswith(".")


def _adopt(releases: Path) -> list[dict]:
    found = []
    if releases.is_dir():
        for folder in sorted(releases.iterdir()):
            try:
                record = json.loads((folder / "release.json").read_text())
            except (OSError, ValueError):
                continue
            if isinstance(record, dict) and record.get("name") == folder.name and _safe(folder.name):
                found.append({"name": folder.name, "created": "", "adopted": True})
    return found


def save(releases: Path, entries: list[dict]) -> None:
    from tol10m_assets.store import write_json_durable

    write_json_durable({"format": INDEX_FORMAT, "releases": entries}, index_path(releases))


def record(releases: Path, name: str) -> list[dict]:
    """Add a release the build has just made (before it is switched in)."""
    entries = [r for r in load(releases) if r["name"] != name]
    entries.append({"name": name, "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")})
    save(releases, entries)
    return entries


def prune(releases: Path, current: str, keep: int) -> list[str]:
    """Remove the recorded releases beyond the newest ``keep`` (never a pinned one, ``current`` nor the one
    before it)."""
    keep = max(keep, MIN_KEEP)
    entries = load(releases)
    names = [r["name"] for r in entries]
    protected = set(names[-keep:]) | {current} | {r["name"] for r in entries if r.get("pinned")}
    if current in names:
        i = names.index(current)
        protected |= set(names[max(0, i - 1): i + 1])
    removed = []
    kept = []
    for entry in entries:
        folder = Path(releases) / entry["name"]
        if entry["name"] in protected:
            if folder.is_dir():
                kept.append(entry)
            continue
        shutil.rmtree(folder, ignore_errors=True)
        if folder.exists():  # could not remove it: keep it in the index, try again next time
            kept.append(entry)
        else:
            removed.append(entry["name"])
    if kept != entries:
        save(releases, kept)
    return removed


class UnknownRelease(ValueError):
    """A name that is not a release of the index."""


def _entry(entries: list[dict], releases: Path, name: str) -> dict:
    if not _safe(name) or name in (".", "..") or "\\" in name:
        raise UnknownRelease(f"{name!r} is not a release name (a folder name under {releases}, no path)")
    for entry in entries:
        if entry["name"] == name:
            return entry
    known = ", ".join(r["name"] for r in entries[-5:]) or "none"
    raise UnknownRelease(f"{name!r} is not a release of {index_path(releases)} (the newest: {known}; see `tol10m releases`)")


def pin(releases: Path, name: str, reason: str = "") -> dict:
    """Keep ``name`` whatever the retention says, until unpinned; returns its entry."""
    entries = load(releases)
    entry = _entry(entries, releases, name)
    entry["pinned"] = {"at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "reason": str(reason)}
    save(releases, entries)
    return entry


def unpin(releases: Path, name: str) -> dict:
    """Let retention remove ``name`` again (at the next publish, if it is beyond the newest ``keep``)."""
    entries = load(releases)
    entry = _entry(entries, releases, name)
    entry.pop("pinned", None)
    save(releases, entries)
    return entry


def listing(releases: Path, published: str = "") -> list[dict]:
    """One row per recorded release, oldest first: name, created, bytes on disk (its files, hard links
    counted in full), partitions, shards, pin and whether ``published`` points at it."""
    rows = []
    for entry in load(releases):
        folder = Path(releases) / entry["name"]
        try:
            record = json.loads((folder / "release.json").read_text())
        except (OSError, ValueError):
            record = {}
        size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file() and not f.is_symlink()) if folder.is_dir() else 0
        pinned = entry.get("pinned") or {}
        rows.append({
            "name": entry["name"], "created": entry.get("created", ""), "bytes": size,
            "partitions": len(record.get("partitions", {})), "shards": len(record.get("shards", [])),
            "pinned": bool(pinned), "reason": pinned.get("reason", ""), "published": entry["name"] == published,
            "present": folder.is_dir(),
        })
    return rows
