#!/usr/bin/env bash
# Debian's Chromium for the UI test (a real browser, headless). Idempotent; needs root.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" != 0 ]; then echo "install-chromium.sh: chromium missing and not root; the UI test will skip" >&2; exit 0; fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
