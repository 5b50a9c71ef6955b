#!/usr/bin/env bash
# Creates .venv in the repository root and installs the pinned dependencies of requirements.lock (test
# extras included), then the package itself (editable, no dependencies of its own: the lock has them).
# uv when there is one (on PATH, or bootstrapped from PyPI into .uv/: scripts/find-uv.sh), pip otherwise.
# Idempotent: re-running installs only when pyproject.toml or the lock changed. TOL10M_NO_UV=1: pip only.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.tol10m-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ requirements.lock -nt "$stamp" ]; then
  source scripts/find-uv.sh
  if [ -n "$UV" ]; then
    "$UV" pip install --quiet --python .venv/bin/python -r requirements.lock
    "$UV" pip install --quiet --python .venv/bin/python --no-deps -e .
  else
    .venv/bin/python -m pip install --quiet -r requirements.lock
    .venv/bin/python -m pip install --quiet --no-deps -e .
  fi
  touch "$stamp"
fi
