"""Fixtures: servers on 127.0.0.1 serving files the tests make, and a clean huggingface_hub setup."""

from __future__ import annotations

import hashlib

import pytest

from .servers import FileServer, HubServer


def blob(n: int = 3_000_000, seed: bytes = b"seed") -> bytes:
    """Deterministic, incompressible-looking bytes."""
    out = bytearray()
    block = hashlib.sha256(seed).digest()
    while len(out) < n:
        block = hashlib.sha256(block).digest()
        out += block
    return bytes(out[:n])


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def files(tmp_path):
    root = tmp_path / "served"
    root.mkdir()
    server = FileServer(root)
    yield server
    server.close()


@pytest.fixture
def hub(tmp_path, monkeypatch):
    """A hub at HF_ENDPOINT (online, no token, an isolated HF_HOME)."""
    import huggingface_hub.constants as hc

    root = tmp_path / "hub"
    root.mkdir()
    server = HubServer(root)
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(hc, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setenv("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr(hc, "HF_TOKEN_PATH", str(tmp_path / "hf-home" / "token"))
    yield server
    server.close()
