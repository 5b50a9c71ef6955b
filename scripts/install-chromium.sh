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
# another apt/dpkg (the Slurm or PostgreSQL install, unattended upgrades) may hold the lock: wait for it
deadline=$((SECONDS + 900))
while command -v fuser >/dev/null &&
      fuser /var/lib/dpkg/lock-frontend /var/lib/dpkg/lock /var/lib/apt/lists/lock >/dev/null 2>&1; do
  [ $SECONDS -lt $deadline ] || { echo "install-chromium.sh: the dpkg lock is still held after 900 s" >&2; exit 1; }
  echo "install-chromium.sh: waiting for the dpkg lock" >&2
  sleep 3
done
apt-get -o DPkg::Lock::Timeout=900 update -qq
apt-get -o DPkg::Lock::Timeout=900 install -y -qq chromium >/dev/null
/usr/bin/chromium --version
