#!/usr/bin/env bash
# Opens the Dagster UI (webserver + daemon) on http://127.0.0.1:3000 over the same instance and
# data as scripts/run-sample.sh. `--sample` points it at the sample world; otherwise the
# TOL10M_DATA_ROOT / TOL10M_SOURCES_ROOT environment decides.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/setup-venv.sh
export DAGSTER_HOME="${DAGSTER_HOME:-$root/.dagster_home}"
bash scripts/dagster-home.sh "$DAGSTER_HOME"
if [ "${1:-}" = "--sample" ]; then
  shift
  export TOL10M_SOURCES_ROOT="$root/data/sample/sources" TOL10M_DATA_ROOT="$root/data/sample/TreeOfLife-10M"
fi
exec .venv/bin/dagster dev -w workspace.yaml -h 127.0.0.1 -p "${PORT:-3000}" "$@"
