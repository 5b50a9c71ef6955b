#!/usr/bin/env bash
# PostgreSQL on 127.0.0.1 for multi-host Dagster instance storage tests: installs Debian's
# postgresql, starts a cluster and creates the `dagster` role and database. Idempotent. Root.
#   bash slurm/local-postgres.sh start|stop|status|url
set -euo pipefail
PORT="${TOL10M_PG_PORT:-5433}"
DATA=/var/lib/tol10m-postgres
URL="postgresql+psycopg2://dagster:dagster@127.0.0.1:$PORT/dagster"

# another apt/dpkg may hold the lock (a parallel install script, unattended upgrades): wait for it
wait_dpkg_lock() {
  local deadline=$((SECONDS + 900))
  while command -v fuser >/dev/null &&
        fuser /var/lib/dpkg/lock-frontend /var/lib/dpkg/lock /var/lib/apt/lists/lock >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || { echo "local-postgres.sh: the dpkg lock is still held after 900 s" >&2; return 1; }
    echo "local-postgres.sh: waiting for the dpkg lock" >&2
    sleep 3
  done
}

bin_dir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }

start() {
  [ "$(id -u)" = 0 ] || { echo "local-postgres.sh: run as root" >&2; exit 1; }
  if [ -z "$(bin_dir)" ]; then
    wait_dpkg_lock
    apt-get -o DPkg::Lock::Timeout=900 update -qq
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y -qq postgresql >/dev/null
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
  status)
    bin=$(bin_dir)
    if [ -n "$bin" ] && runuser -u postgres -- "$bin/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then echo "postgres: running ($URL)"; else echo "postgres: stopped"; exit 1; fi ;;
  url) echo "$URL" ;;
  *) echo "usage: $0 start|stop|status|url" >&2; exit 2 ;;
esac
