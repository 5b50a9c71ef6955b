#!/usr/bin/env bash
# Refreshes requirements.lock (the pinned dependencies, test extras included, that setup-venv.sh and CI
# install) from pyproject.toml with uv. Existing pins are kept unless `--upgrade` (or
# `--upgrade-package NAME`) is given: run the tests after an upgrade before committing the lock.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
source scripts/find-uv.sh
[ -n "$UV" ] || { echo "lock.sh: uv is needed (pip install uv)" >&2; exit 1; }
exec "$UV" pip compile pyproject.toml --extra test --universal --python-version 3.11 --quiet -o requirements.lock "$@"
