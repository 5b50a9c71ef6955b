"""A small driver of headless Chromium over the DevTools protocol (the `websockets` client that
dagster-webserver already installs): open a page, wait for a text, click an element by its text,
read the page's text, take a screenshot. For the UI tests that must click (tabs, menus, dialogs)."""

from __future__ import annotations

import base64
import itertools
import json
import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

from websockets.sync.client import connect

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--hide-scrollbars",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--window-size=1600,1000"]

# the innermost visible element whose own text is `text` (exact after trimming, else starting with it)
FIND = """(text, exact) => {
  const all = [...document.querySelectorAll('body *')].filter(e => e.offsetParent !== null || e.tagName === 'BODY');
  const hits = all.filter(e => { const t = (e.innerText || '').trim(); return exact ? t === text : t.startsWith(text); });
  return hits.filter(e => !hits.some(o => o !== e && e.contains(o)));
}"""


class Browser:
    def __init__(self, profile: Path, port: int):
        self.proc = subprocess.Popen([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", f"--remote-debugging-port={port}",
                                      "about:blank"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 60
        while True:
            try:
                targets = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=2).read())
                page = next(t for t in targets if t["type"] == "page")
                break
            except (OSError, ValueError, StopIteration):
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.close()
                    raise RuntimeError("chromium's DevTools endpoint did not come up")
                time.sleep(0.3)
        self.ws = connect(page["webSocketDebuggerUrl"], max_size=None, open_timeout=30).__enter__()
        self.ids = itertools.count(1)
        self.errors: list[str] = []
        self.call("Runtime.enable")
        self.call("Page.enable")

    def call(self, method: str, params: dict | None = None, timeout: float = 60) -> dict:
        ident = next(self.ids)
        self.ws.send(json.dumps({"id": ident, "method": method, "params": params or {}}))
        deadline = time.monotonic() + timeout
        while True:
            message = json.loads(self.ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            if message.get("method") == "Runtime.exceptionThrown":
                self.errors.append(message["params"]["exceptionDetails"].get("text", ""))
            if message.get("id") == ident:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]

    def evaluate(self, expression: str):
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression[:80]}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def goto(self, url: str) -> None:
        self.call("Page.navigate", {"url": url})

    def text(self) -> str:
        return self.evaluate("document.body ? document.body.innerText : ''") or ""

    def wait_for(self, *texts: str, timeout: float = 90) -> str:
        """Until every text is on the page; returns the page's text."""
        deadline = time.monotonic() + timeout
        while True:
            page = self.text()
            missing = [t for t in texts if t not in page]
            if not missing:
                return page
            if time.monotonic() > deadline:
                raise AssertionError(f"{missing} not on the page after {timeout:.0f} s; it shows:\n{page[:3000]}")
            time.sleep(0.5)

    def click(self, text: str, exact: bool = True, index: int = 0, timeout: float = 60) -> None:
        """Clicks the innermost visible element showing `text` (the `index`-th in page order, -1 the last;
        waits for it)."""
        deadline = time.monotonic() + timeout
        while True:
            clicked = self.evaluate(f"(() => {{ const hits = ({FIND})({json.dumps(text)}, {json.dumps(exact)});"
                                    " if (!hits.length) return false;"
                                    f" hits.at({int(index)}).click(); return true; }})()")
            if clicked:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"nothing showing {text!r} to click; the page shows:\n{self.text()[:3000]}")
            time.sleep(0.5)

    def screenshot(self, path: Path) -> Path:
        path.write_bytes(base64.b64decode(self.call("Page.captureScreenshot", {"format": "png"})["data"]))
        return path

    def html(self) -> str:
        return self.evaluate("document.documentElement.outerHTML") or ""

    def close(self) -> None:
        try:
            self.ws.close()
        except Exception:
            pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=10)
