#!/usr/bin/env bash
# Sets up .venv, generates the embedded sample world and builds the whole dataset from it
# (raw → mapping → splits → labels → every shard partition → catalog → taxa report).
# Extra arguments go to `python -m tol10m_assets.run`, e.g. --images 2000 --seed 1.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/setup-venv.sh
export DAGSTER_HOME="${DAGSTER_HOME:-$root/.dagster_home}"
bash scripts/dagster-home.sh "$DAGSTER_HOME"
exec .venv/bin/python -m tol10m_assets.run --sample "$@"
