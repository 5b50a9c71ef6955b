"""A hub on 127.0.0.1 that takes uploads: the endpoints ``HfApi.create_repo``, ``list_repo_tree``,
``create_commit`` (preupload, the LFS batch API, PUT, the ndjson commit) and the README check use.

State: ``files`` (path → bytes) at the head of ``main``, ``lfs`` (sha256 → bytes), ``commits``
(one list of paths per commit) and ``puts`` (LFS objects received). ``fail_commit_after = n``
answers 500 to every commit after the n-th (an interrupted push). Large files (``lfs_min_size``
bytes or more) are LFS files, the rest regular git files, as on the Hub.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

from tol10m_assets_tests.download.servers import git_blob_id


class UploadHub:
    def __init__(self, repo: str, lfs_min_size: int = 1000):
        self.repo, self.lfs_min_size = repo, lfs_min_size
        self.exists = False
        self.files: dict[str, bytes] = {}
        self.lfs: dict[str, bytes] = {}
        self.commits: list[list[str]] = []
        self.puts: list[str] = []
        self.fail_commit_after: int | None = None
        self.lock = threading.Lock()
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                hub.route(self)

            do_POST = do_PUT = do_HEAD = do_GET

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    # --- plumbing ------------------------------------------------------------------------------
    @staticmethod
    def read_body(h) -> bytes:
        if h.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = b""
            while True:
                size = int(h.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    h.rfile.readline()
                    return out
                out += h.rfile.read(size)
                h.rfile.readline()
        return h.rfile.read(int(h.headers.get("Content-Length") or 0))

    @staticmethod
    def reply(h, code: int, payload=None, headers: dict | None = None):
        data = b"" if payload is None else json.dumps(payload).encode()
        h.send_response(code)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(data)

    # --- the API -------------------------------------------------------------------------------
    def route(self, h):
        path = unquote(urlsplit(h.path).path)
        body = self.read_body(h) if h.command in ("POST", "PUT") else b""
        repo = re.escape(self.repo)
        with self.lock:
            if h.command == "POST" and path == "/api/repos/create":
                request = json.loads(body)
                if f"{request.get('organization')}/{request['name']}" != self.repo or request.get("type") != "dataset":
                    return self.reply(h, 403, {"error": "not this repository"})
                if self.exists:
                    return self.reply(h, 409, {"error": "You already created this dataset repo", "url": f"{self.url}/datasets/{self.repo}"})
                self.exists = True
                return self.reply(h, 200, {"url": f"{self.url}/datasets/{self.repo}"})
            if not self.exists:
                return self.reply(h, 404, {"error": "Repository not found"}, {"X-Error-Code": "RepoNotFound"})
            if h.command == "POST" and path == "/api/validate-yaml":
                return self.reply(h, 200, {"errors": [], "warnings": []})
            if h.command == "GET" and re.fullmatch(rf"/api/datasets/{repo}/tree/main/?", path):
                return self.reply(h, 200, [self.entry(p) for p in sorted(self.files)])
            if h.command == "POST" and re.fullmatch(rf"/api/datasets/{repo}/preupload/main", path):
                files = json.loads(body)["files"]
                return self.reply(h, 200, {"files": [
                    {"path": f["path"], "uploadMode": "lfs" if f["size"] >= self.lfs_min_size else "regular",
                     "shouldIgnore": False, "oid": self.oid(f["path"])} for f in files]})
            if h.command == "POST" and path == f"/datasets/{self.repo}.git/info/lfs/objects/batch":
                objects = json.loads(body)["objects"]
                return self.reply(h, 200, {"transfer": "basic", "objects": [
                    {"oid": o["oid"], "size": o["size"]} if o["oid"] in self.lfs else
                    {"oid": o["oid"], "size": o["size"], "actions": {"upload": {"href": f"{self.url}/lfs-upload/{o['oid']}"}}}
                    for o in objects]})
            m = re.fullmatch(r"/lfs-upload/([0-9a-f]{64})", path)
            if h.command == "PUT" and m:
                if hashlib.sha256(body).hexdigest() != m.group(1):
                    return self.reply(h, 400, {"error": "sha256 mismatch"})
                self.lfs[m.group(1)] = body
                self.puts.append(m.group(1))
                return self.reply(h, 200, {})
            if h.command == "POST" and re.fullmatch(rf"/api/datasets/{repo}/commit/main", path):
                return self.commit(h, body)
            if h.command == "GET" and re.fullmatch(rf"/api/datasets/{repo}(/revision/main)?", path):
                return self.reply(h, 200, {"id": self.repo, "sha": self.head(), "siblings": []})
        return self.reply(h, 404, {"error": f"no route {h.command} {path}"})

    def commit(self, h, body: bytes):
        if self.fail_commit_after is not None and len(self.commits) >= self.fail_commit_after:
            return self.reply(h, 500, {"error": "the hub fell over"})
        changed = {}
        for line in body.splitlines():
            item = json.loads(line)
            value = item["value"]
            if item["key"] == "file":
                changed[value["path"]] = base64.b64decode(value["content"])
            elif item["key"] == "lfsFile":
                if value["oid"] not in self.lfs:
                    return self.reply(h, 422, {"error": f"LFS object {value['oid']} was never uploaded"})
                changed[value["path"]] = self.lfs[value["oid"]]
        self.files.update(changed)
        self.commits.append(sorted(changed))
        return self.reply(h, 200, {"commitUrl": f"{self.url}/datasets/{self.repo}/commit/{self.head()}", "commitOid": self.head()})

    def head(self) -> str:
        return hashlib.sha1(json.dumps(self.commits).encode()).hexdigest()

    def oid(self, path: str) -> str | None:
        data = self.files.get(path)
        if data is None:
            return None
        return hashlib.sha256(data).hexdigest() if len(data) >= self.lfs_min_size else git_blob_id(data)

    def entry(self, path: str) -> dict:
        data = self.files[path]
        out = {"type": "file", "path": path, "size": len(data), "oid": git_blob_id(data)}
        if len(data) >= self.lfs_min_size:
            out["lfs"] = {"oid": hashlib.sha256(data).hexdigest(), "size": len(data), "pointerSize": 134}
        return out
