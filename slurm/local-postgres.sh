#!/usr/bin/env bash
# PostgreSQL on 127.0.0.1 for multi-host Dagster instance storage tests: installs Debian's
# postgresql, starts a cluster and creates the `dagster` role and database. Idempotent. Root.
#   bash slurm/local-postgres.sh start|stop|url
set -euo pipefail
PORT="${TOL10M_PG_PORT:-5433}"
DATA=/var/lib/tol10m-postgres
URL="postgresql+psycopg2://dagster:dagster@127.0.0.1:$PORT/dagster"

bin_dir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }

start() {
  [ "$(id -u)" = 0 ] || { echo "local-postgres.sh: run as root" >&2; exit 1; }
  if [ -z "$(bin_dir)" ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  fi
  local bin; bin=$(bin_dir)
  if [ ! -f "$DATA/PG_VERSION" ]; then
    mkdir -p "$DATA"; chown postgres:postgres "$DATA"
    runuser -u postgres -- "$bin/initdb" -D "$DATA" -A trust -U postgres >/dev/null
  fi
  if ! runuser -u postgres -- "$bin/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
    runuser -u postgres -- "$bin/pg_ctl" -D "$DATA" -l "$DATA/server.log" -w \
      -o "-p $PORT -k /tmp -c listen_addresses=127.0.0.1 -c max_connections=200" start >/dev/null
  fi
  local psql=("$bin/psql" -h 127.0.0.1 -p "$PORT" -U postgres -qtA)
  runuser -u postgres -- "${psql[@]}" -c "SELECT 1 FROM pg_roles WHERE rolname='dagster'" | grep -q 1 ||
    runuser -u postgres -- "${psql[@]}" -c "CREATE ROLE dagster LOGIN PASSWORD 'dagster' CREATEDB"
  runuser -u postgres -- "${psql[@]}" -c "SELECT 1 FROM pg_database WHERE datname='dagster'" | grep -q 1 ||
    runuser -u postgres -- "${psql[@]}" -c "CREATE DATABASE dagster OWNER dagster"
  echo "postgres: $URL"
}

stop() {
  local bin; bin=$(bin_dir)
  [ -n "$bin" ] && runuser -u postgres -- "$bin/pg_ctl" -D "$DATA" stop -m fast >/dev/null 2>&1 || true
  echo "postgres stopped"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  url) echo "$URL" ;;
  *) echo "usage: $0 start|stop|url" >&2; exit 2 ;;
esac
