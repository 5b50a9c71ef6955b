"""``tol10m push RELEASE --repo ORG/NAME``: a release folder uploaded to a Hugging Face dataset repository.

The repository mirrors the release folder (``<W>x<H>/…``, ``metadata/…``, ``release.json``) plus a root
``README.md``: the release's dataset card with its ``configs`` paths under ``<W>x<H>/``, so the Hub's
viewer and ``load_dataset("ORG/NAME")`` find the three splits.

Resumable: the repository's tree is listed first and every file whose content is already there (LFS
sha256 for large files, git blob id for small ones; the shards' sha256 come from ``release.json``, so
nothing large is hashed again) is left out; the rest goes in commits of at most ``batch_files`` files
and ``batch_bytes`` bytes, so an interrupted push keeps every commit it made and the next push
uploads only what is missing. Each commit goes through ``HfApi.create_commit`` (Xet storage when
``hf_xet`` is installed, else LFS with the preupload step). ``release.json`` comes last: its presence
on the Hub means the push finished. No Dagster imports.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import yaml

CARD = "README.md"
LAST = ("README.md", "release.json")  # committed after everything else


class PushError(RuntimeError):
    """A push that cannot start (no such release, a bad repository name); the message says what to give."""


@dataclass(frozen=True)
class LocalFile:
    path_in_repo: str
    path: Path
    size: int
    sha256: str | None  # known without reading the file (shards: release.json)


def resolve_release(releases: Path, published: Path, name: str) -> Path:
    """A release folder from a name under ``releases/``, ``published`` or a path to a release folder."""
    candidates = [Path(name)] if "/" in name or Path(name).is_dir() else []
    if name == "published":
        candidates.insert(0, published)
    candidates.append(releases / name)
    for folder in candidates:
        if (folder / "release.json").is_file():
            return folder.resolve()
    known = sorted(p.name for p in releases.glob("*") if (p / "release.json").is_file()) if releases.is_dir() else []
    raise PushError(f"no release {name!r}: give a name under {releases} ({', '.join(known) or 'none yet'}), "
                    "`published`, or the path of a release folder")


def check_repo_id(repo: str) -> str:
    parts = repo.split("/")
    if len(parts) != 2 or not all(parts) or any(c in repo for c in " \\:?#"):
        raise PushError(f"--repo {repo!r}: expected ORG/NAME (a Hugging Face dataset repository)")
    return repo


def hub_card(folder: Path, size_name: str) -> str:
    """The root ``README.md``: the release's card with ``configs`` paths under ``<size_name>/``."""
    text = (folder / size_name / CARD).read_text()
    _, header, body = text.split("---\n", 2)
    meta = yaml.safe_load(header)
    for config in meta.get("configs", []):
        for files in config.get("data_files", []):
            files["path"] = f"{size_name}/{files['path']}"
    return "---\n" + yaml.safe_dump(meta, sort_keys=False, allow_unicode=True) + "---\n" + body


def local_files(folder: Path, staging: Path) -> list[LocalFile]:
    """Every file of the release (dot files left out), the root card written to ``staging``; in
    upload order: shards and metadata first, the cards and ``release.json`` last."""
    record = json.loads((folder / "release.json").read_text())
    size_name = record["size"]
    known = {f"{size_name}/{s['split']}/{s['name']}": s.get("sha256") for s in record.get("shards", [])}
    files = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if path.is_file() and not any(part.startswith(".") for part in rel.split("/")):
            files.append(LocalFile(rel, path, path.stat().st_size, known.get(rel)))
    staging.mkdir(parents=True, exist_ok=True)
    card = staging / CARD
    card.write_text(hub_card(folder, size_name))
    files.append(LocalFile(CARD, card, card.stat().st_size, None))
    return sorted(files, key=lambda f: (f.path_in_repo in LAST, LAST.index(f.path_in_repo) if f.path_in_repo in LAST else 0,
                                        f.path_in_repo))


def git_blob_id(path: Path) -> str:
    data = path.read_bytes()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def already_there(local: LocalFile, remote) -> bool:
    """The remote file (a ``RepoFile`` or None) holds exactly these bytes."""
    if remote is None or remote.size != local.size:
        return False
    if remote.lfs is not None:
        return remote.lfs.sha256 == (local.sha256 or sha256_of(local.path))
    return remote.blob_id == git_blob_id(local.path)


def batches(files: list[LocalFile], max_files: int, max_bytes: int) -> list[list[LocalFile]]:
    out, current, size = [], [], 0
    for f in files:
        if current and (len(current) >= max_files or size + f.size > max_bytes or f.path_in_repo in LAST):
            out.append(current)
            current, size = [], 0
        current.append(f)
        size += f.size
    return out + ([current] if current else [])


def push_release(folder: Path, repo: str, *, staging: Path, api=None, token: str | None = None, revision: str = "main",
                 private: bool | None = None, batch_files: int = 200, batch_bytes: int = 20 * 10**9, log=print) -> dict:
    """Upload the release ``folder`` to the dataset repository ``repo``; returns what was done."""
    from huggingface_hub import CommitOperationAdd, HfApi
    from huggingface_hub.hf_api import RepoFile

    api = api or HfApi(token=token)
    check_repo_id(repo)
    name = folder.name
    api.create_repo(repo, repo_type="dataset", exist_ok=True, private=private)
    remote = {f.path: f for f in api.list_repo_tree(repo, repo_type="dataset", revision=revision, recursive=True)
              if isinstance(f, RepoFile)}
    files = local_files(folder, staging)
    todo = [f for f in files if not already_there(f, remote.get(f.path_in_repo))]
    log(f"push {name} → {repo}: {len(files)} files, {len(files) - len(todo)} already there, {len(todo)} to upload "
        f"({sum(f.size for f in todo):,} bytes)")
    commits = []
    groups = batches(todo, batch_files, batch_bytes)
    for i, group in enumerate(groups, 1):
        info = api.create_commit(
            repo, repo_type="dataset", revision=revision,
            operations=[CommitOperationAdd(path_in_repo=f.path_in_repo, path_or_fileobj=str(f.path)) for f in group],
            commit_message=f"tol10m push {name} ({i}/{len(groups)}: {len(group)} files)",
        )
        commits.append(info.oid)
        log(f"  commit {i}/{len(groups)}: {len(group)} files, {sum(f.size for f in group):,} bytes ({info.oid})")
    return {"release": name, "repo": repo, "files": len(files), "already_there": len(files) - len(todo),
            "uploaded": len(todo), "bytes": sum(f.size for f in todo), "commits": commits}
