#!/usr/bin/env bash
# Debian's Chromium for the UI test (tol10m_assets_tests/ui: a real browser, headless).
# Idempotent: exits at once when /usr/bin/chromium is there; otherwise `apt-get update` and
# `apt-get install -y chromium` (needs root, as on CI; without root it says so and the UI test skips).
# No browser is downloaded by any PyPI/npm tool: Debian's package is the browser.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then exit 0; fi
if [ "$(id -u)" != 0 ]; then
  echo "install-chromium.sh: /usr/bin/chromium is missing and this is not root; the browser UI tests will skip" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq chromium >/dev/null
/usr/bin/chromium --version
