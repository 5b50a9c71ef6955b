"""HTTP servers on 127.0.0.1 for the download tests (threads, ephemeral ports, no other traffic).

- ``FileServer``: files under a root with ``Range`` support, and fault modes: ``/wrong/<name>``
  serves other bytes, ``/status/<code>`` answers that status, ``drop_once`` cuts the body halfway,
  ``fail_first[path] = n`` answers 503 n times before serving.
- ``HubServer``: what ``hf_hub_download`` / ``get_hf_file_metadata`` read through ``HF_ENDPOINT``:
  ``HEAD|GET /{type}s/{repo}/resolve/{revision}/{path}``. LFS files answer ``302`` to a second
  server (the "CDN", another origin) with ``X-Repo-Commit``, ``X-Linked-Etag`` (SHA-256),
  ``X-Linked-Size`` and ``ETag``; small non-LFS files answer ``200`` with the git blob id as ETag.
  Unknown revisions / files answer 404 with ``X-Error-Code: RevisionNotFound`` / ``EntryNotFound``.
"""

from __future__ import annotations

import hashlib
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def git_blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_ref: "Server"

    def log_message(self, *args):  # quiet
        pass

    def do_HEAD(self):
        self.server_ref.handle(self)

    do_GET = do_HEAD


class Server:
    """A ThreadingHTTPServer on 127.0.0.1:<free port> in a daemon thread; subclasses route requests."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.hits: dict[str, int] = {}
        self.drop_once: set[str] = set()
        self.fail_first: dict[str, int] = {}
        self.ranges: list[str] = []
        handler = type("H", (_Handler,), {"server_ref": self})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    # --- helpers -------------------------------------------------------------------------------
    def empty(self, h, code: int, headers: dict | None = None):
        h.send_response(code)
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.send_header("Content-Length", "0")
        h.end_headers()

    def body(self, h, data: bytes, headers: dict | None = None, key: str | None = None):
        start = 0
        rng = h.headers.get("Range")
        if rng:
            self.ranges.append(rng)
            start = int(re.match(r"bytes=(\d+)-", rng).group(1))
            if start >= len(data):
                return self.empty(h, 416, {"Content-Range": f"bytes */{len(data)}"})
            h.send_response(206)
            h.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            h.send_response(200)
        h.send_header("Content-Length", str(len(data) - start))
        h.send_header("Accept-Ranges", "bytes")
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        if h.command == "HEAD":
            return
        payload = data[start:]
        if key is not None and key in self.drop_once:
            self.drop_once.discard(key)
            h.wfile.write(payload[: len(payload) // 2])
            h.wfile.flush()
            h.close_connection = True
            h.connection.shutdown(2)
            return
        h.wfile.write(payload)

    def handle(self, h):
        path = h.path.split("?", 1)[0]
        self.hits[path] = self.hits.get(path, 0) + 1
        if self.fail_first.get(path, 0) > 0:
            self.fail_first[path] -= 1
            return self.empty(h, 503, {"Retry-After": "0"})
        self.route(h, path)

    def route(self, h, path: str):  # pragma: no cover - subclasses
        raise NotImplementedError


class FileServer(Server):
    def route(self, h, path: str):
        name = path.lstrip("/")
        if name.startswith("status/"):
            return self.empty(h, int(name.split("/")[1]))
        if name.startswith("wrong/"):
            data = (self.root / name[len("wrong/"):]).read_bytes()
            return self.body(h, bytes(reversed(data)), key=path)
        file = self.root / name
        if not file.is_file():
            return self.empty(h, 404)
        self.body(h, file.read_bytes(), {"ETag": f'"{hashlib.md5(file.read_bytes()).hexdigest()}"'}, key=path)


class HubServer(Server):
    """The hub (resolve URLs) plus its CDN (another origin) serving LFS bytes by SHA-256."""

    def __init__(self, root: Path, repo: str = "imageomics/TreeOfLife-10M", repo_type: str = "dataset",
                 revisions=("main", COMMIT), lfs_min_size: int = 1000):
        super().__init__(root)
        self.repo, self.repo_type, self.revisions, self.lfs_min_size = repo, repo_type, set(revisions), lfs_min_size
        self.tampered: set[str] = set()  # paths whose published SHA-256 is wrong
        self.cdn = _Cdn(self)

    def close(self):
        self.cdn.close()
        super().close()

    def route(self, h, path: str):
        m = re.fullmatch(rf"/{self.repo_type}s/{re.escape(self.repo)}/resolve/([^/]+)/(.+)", path)
        if not m:
            return self.empty(h, 404, {"X-Error-Code": "RepoNotFound", "X-Error-Message": "Repository not found"})
        revision, name = m.groups()
        if revision not in self.revisions:
            return self.empty(h, 404, {"X-Error-Code": "RevisionNotFound", "X-Error-Message": "Invalid rev id"})
        file = self.root / name
        if not file.is_file():
            return self.empty(h, 404, {"X-Error-Code": "EntryNotFound", "X-Error-Message": "Entry not found",
                                       "X-Repo-Commit": COMMIT})
        data = file.read_bytes()
        if len(data) < self.lfs_min_size:  # a regular git file
            return self.body(h, data, {"X-Repo-Commit": COMMIT, "ETag": f'"{git_blob_id(data)}"'})
        sha = hashlib.sha256(data).hexdigest()
        self.cdn.blobs[sha] = file
        published = "0" * 64 if name in self.tampered else sha
        self.empty(h, 302, {"Location": f"{self.cdn.url}/{sha}?X-Amz-Signature=test", "X-Repo-Commit": COMMIT,
                            "X-Linked-Etag": f'"{published}"', "X-Linked-Size": str(len(data)), "ETag": f'"{published}"'})


class _Cdn(Server):
    def __init__(self, hub: HubServer):
        self.blobs: dict[str, Path] = {}
        super().__init__(hub.root)

    def route(self, h, path: str):
        blob = self.blobs.get(path.lstrip("/"))
        if blob is None:
            return self.empty(h, 403)
        self.body(h, blob.read_bytes(), key=path)
