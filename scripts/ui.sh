#!/usr/bin/env bash
# Opens the Dagster UI (webserver + daemon) on http://127.0.0.1:3000 over the same instance and
# data as scripts/run-sample.sh. `--sample` points it at the sample world; `--config FILE` takes the
# settings of a YAML file; otherwise the TOL10M_DATA_ROOT / TOL10M_SOURCES_ROOT environment decides.
# Ctrl-C (or SIGTERM) stops the webserver, the daemon and the code servers within seconds.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/setup-venv.sh
export DAGSTER_HOME="${DAGSTER_HOME:-$root/.dagster_home}"
bash scripts/dagster-home.sh "$DAGSTER_HOME"
exec .venv/bin/python -m tol10m_assets.cli ui --port "${PORT:-3000}" "$@"
