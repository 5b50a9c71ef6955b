"""HTTP servers on 127.0.0.1 for the download tests: a plain file server with Range support and
fault modes, and an endpoint huggingface_hub accepts through HF_ENDPOINT."""

import hashlib
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

COMMIT = "0123456789abcdef0123456789abcdef01234567"


class Files(BaseHTTPRequestHandler):
    root: Path = Path(".")
    hits: dict = {}
    drop_once: set = set()

    def log_message(self, *args):  # quiet
        pass

    def _body(self, data: bytes, extra: dict | None = None):
        start = 0
        rng = self.headers.get("Range")
        if rng:
            start = int(re.match(r"bytes=(\d+)-", rng).group(1))
            if start >= len(data):
                self.send_response(416)
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(data) - start))
        self.send_header("Accept-Ranges", "bytes")
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command == "HEAD":
            return
        payload = data[start:]
        key = self.path
        if key in self.drop_once and not rng:
            self.drop_once.discard(key)
            self.wfile.write(payload[: len(payload) // 2])
            self.wfile.flush()
            self.connection.shutdown(2)
            return
        self.wfile.write(payload)

    def do_GET(self):
        self.hits[self.path] = self.hits.get(self.path, 0) + 1
        name = self.path.lstrip("/")
        if name.startswith("status/"):
            code = int(name.split("/")[1])
            self.send_response(code)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        m = re.match(r"/datasets/([^/]+/[^/]+)/resolve/([^/]+)/(.+)", self.path)
        if m:
            return self._hf(m.group(3))
        path = self.root / name
        if name.startswith("wrong/"):
            data = (self.root / name[6:]).read_bytes()
            return self._body(bytes(reversed(data)))
        if not path.is_file():
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self._body(path.read_bytes())

    do_HEAD = do_GET

    def _hf(self, name):
        path = self.root / name
        if not path.is_file():
            self.send_response(404)
            self.send_header("X-Error-Code", "EntryNotFound")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        data = path.read_bytes()
        sha = hashlib.sha256(data).hexdigest()
        if "tampered" in name:
            sha = "0" * 64
        self._body(data, {"X-Repo-Commit": COMMIT, "ETag": f'"{sha}"', "X-Linked-Etag": f'"{sha}"', "X-Linked-Size": str(len(data))})


def serve(root: Path):
    handler = type("H", (Files,), {"root": root, "hits": {}, "drop_once": set()})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, handler, f"http://127.0.0.1:{server.server_address[1]}"
