#!/usr/bin/env bash
# The whole test suite on a fresh machine: sets up .venv, brings up the local one-node Slurm
# cluster and PostgreSQL (the launcher's integration tests use them) and installs Chromium (the UI
# test drives a real browser), then runs pytest.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -m "not slurm" -x`.
# TOL10M_NO_SERVICES=1 skips starting Slurm and PostgreSQL (their tests then skip).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/setup-venv.sh
if [ "${TOL10M_NO_SERVICES:-0}" != 1 ]; then
  [ -f slurm/local-cluster.sh ] && bash slurm/local-cluster.sh start
  [ -f slurm/local-postgres.sh ] && bash slurm/local-postgres.sh start
  bash scripts/install-chromium.sh
fi
exec .venv/bin/python -m pytest -p no:cacheprovider -q "$@"
