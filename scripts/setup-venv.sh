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
# Byte-code for every installed module, once: where PYTHONDONTWRITEBYTECODE is set (as on this
# machine), Python never caches what it compiles, so each process (a Dagster run, a step, a Slurm job,
# the CLI) would compile dagster, pandas and the rest from source again: `import dagster, pandas,
# duckdb` took 6.7 s instead of 1.8 s. Compiling them here (~25 s) makes every later process read .pyc.
compiled=.venv/.tol10m-bytecode
if [ ! -f "$compiled" ] || [ "$stamp" -nt "$compiled" ]; then
  .venv/bin/python -m compileall -q -j 0 .venv/lib/python*/site-packages tol10m_assets > /dev/null 2>&1 || true
  touch "$compiled"
fi
