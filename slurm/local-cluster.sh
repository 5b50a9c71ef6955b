#!/usr/bin/env bash
# A one-node Slurm cluster on localhost, like a real one: slurmctld + slurmd, munge, and accounting
# (slurmdbd on MariaDB, so `sacct` keeps every job's final state). For the launcher's integration
# tests and for trying the launcher on a laptop. Debian packages only; idempotent; needs root.
#   bash slurm/local-cluster.sh start|stop|status
#   bash slurm/local-cluster.sh stop-controller|start-controller   # an outage of slurmctld only (tests)
# `stop` stops every daemon `start` started: slurmd, slurmctld, slurmdbd, MariaDB and munged.
set -euo pipefail
CONF_DIR=/etc/slurm
STATE=/var/lib/tol10m-slurm
LOG=/var/log/tol10m-slurm
DB_DIR=/var/lib/tol10m-mariadb
DB_RUN=/run/tol10m-mariadb
DB_PORT=3307
PACKAGES=(slurmctld slurmd slurm-client munge slurmdbd slurm-wlm-mysql-plugin mariadb-server)

need_root() { [ "$(id -u)" = 0 ] || { echo "local-cluster.sh: run as root" >&2; exit 1; }; }

# another apt/dpkg (unattended upgrades, a parallel install script) may hold the lock: wait for it
wait_dpkg_lock() {
  local deadline=$((SECONDS + 900))
  while command -v fuser >/dev/null &&
        fuser /var/lib/dpkg/lock-frontend /var/lib/dpkg/lock /var/lib/apt/lists/lock >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || { echo "local-cluster.sh: the dpkg lock is still held after 900 s" >&2; return 1; }
    echo "local-cluster.sh: waiting for the dpkg lock" >&2
    sleep 3
  done
}

install() {
  local missing=()
  for pkg in "${PACKAGES[@]}"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]}"
    wait_dpkg_lock
    apt-get -o DPkg::Lock::Timeout=900 update -qq
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y -qq "${missing[@]}" >/dev/null
  fi
}

# proctrack/cgroup (what real clusters run: every process of a job dies with it) where the cgroup v1
# freezer can be used; proctrack/linuxproc otherwise (the batch script still kills the worker's group)
proctrack() {
  if [ -d /sys/fs/cgroup/freezer ] && mkdir /sys/fs/cgroup/freezer/tol10m-probe 2>/dev/null; then
    rmdir /sys/fs/cgroup/freezer/tol10m-probe
    echo cgroup
  else
    echo linuxproc
  fi
}

# write $1 from stdin when it differs; prints "changed" then
install_file() {
  local path=$1 mode=$2 tmp
  tmp=$(mktemp "$path.XXXX")
  cat > "$tmp"
  chmod "$mode" "$tmp"
  if cmp -s "$tmp" "$path" 2>/dev/null; then rm -f "$tmp"; else mv "$tmp" "$path"; echo changed; fi
}

write_conf() {
  mkdir -p "$CONF_DIR" "$STATE/ctld" "$STATE/d" "$LOG"
  local host; host=$(hostname)
  local node; node=$(slurmd -C | head -1)
  local cpus; cpus=$(sed -n 's/.*CPUs=\([0-9]*\).*/\1/p' <<<"$node")
  local mem; mem=$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$node")
  local track; track=$(proctrack)
  [ -s "$STATE/dbpass" ] || (umask 077; head -c 18 /dev/urandom | base64 | tr -d '/+=' > "$STATE/dbpass")
  local out=""
  out+=$(install_file "$CONF_DIR/slurm.conf" 0644 <<CONF
ClusterName=tol10m-local
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
ProctrackType=proctrack/$track
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=1
JobAcctGatherParams=OverMemoryKill
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
JobCompType=jobcomp/none
MinJobAge=10
KillWait=5
ReturnToService=2
SchedulerType=sched/backfill
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/d
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=$LOG/slurmctld.log
SlurmdLogFile=$LOG/slurmd.log
SlurmctldParameters=enable_configless
NodeName=localhost NodeHostname=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
CONF
)
  out+=$(install_file "$CONF_DIR/cgroup.conf" 0644 <<CONF
CgroupPlugin=cgroup/v1
CgroupMountpoint=/sys/fs/cgroup
ConstrainCores=no
ConstrainRAMSpace=no
CONF
)
  out+=$(install_file "$CONF_DIR/slurmdbd.conf" 0600 <<CONF
AuthType=auth/munge
DbdHost=localhost
SlurmUser=root
PidFile=/run/slurmdbd.pid
LogFile=$LOG/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DB_PORT
StorageUser=slurm
StoragePass=$(cat "$STATE/dbpass")
StorageLoc=slurm_acct_db
CONF
)
  [ -z "$out" ] || echo changed
}

started() { mkdir -p "$STATE"; touch "$STATE/started.$1"; }

start_munge() {
  mkdir -p /run/munge /etc/munge /var/lib/munge /var/log/munge
  if [ ! -s /etc/munge/munge.key ]; then
    dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none
  fi
  chown -R munge:munge /run/munge /etc/munge /var/lib/munge /var/log/munge
  chmod 0700 /etc/munge /var/lib/munge /var/log/munge
  chmod 0755 /run/munge
  chmod 0400 /etc/munge/munge.key
  if ! pgrep -x munged >/dev/null; then
    runuser -u munge -- /usr/sbin/munged
    started munged
  fi
}

db() { mariadb --socket="$DB_RUN/mysqld.sock" -u root "$@"; }

start_mariadb() {
  mkdir -p "$DB_RUN"; chown mysql:mysql "$DB_RUN"
  if [ ! -d "$DB_DIR/mysql" ]; then
    mkdir -p "$DB_DIR"; chown mysql:mysql "$DB_DIR"; chmod 0700 "$DB_DIR"
    mariadb-install-db --user=mysql --datadir="$DB_DIR" --auth-root-authentication-method=socket >/dev/null
  fi
  if [ -z "$(daemon_pid mariadbd "$DB_RUN/mysqld.pid")" ]; then
    setsid /usr/sbin/mariadbd --user=mysql --datadir="$DB_DIR" --socket="$DB_RUN/mysqld.sock" \
      --pid-file="$DB_RUN/mysqld.pid" --bind-address=127.0.0.1 --port=$DB_PORT \
      --log-error="$LOG/mariadb.log" --skip-name-resolve </dev/null >/dev/null 2>&1 &
    started mariadbd
  fi
  for _ in $(seq 1 120); do db -e 'SELECT 1' >/dev/null 2>&1 && break; sleep 0.5; done
  db -e 'SELECT 1' >/dev/null || { echo "local-cluster.sh: MariaDB did not start; see $LOG/mariadb.log" >&2; tail -n 20 "$LOG/mariadb.log" >&2; return 1; }
  local pass; pass=$(cat "$STATE/dbpass")
  db -e "CREATE DATABASE IF NOT EXISTS slurm_acct_db;
         CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY '$pass';
         ALTER USER 'slurm'@'127.0.0.1' IDENTIFIED BY '$pass';
         GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';"
}

wait_port() {  # wait until something listens on 127.0.0.1:$1
  for _ in $(seq 1 120); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.5
  done
  return 1
}

wait_idle() {
  local deadline=$((SECONDS + 90)) state
  while [ $SECONDS -lt $deadline ]; do
    state=$(timeout 5 sinfo -h -N -o %t 2>/dev/null | head -1 || true)
    case "$state" in
      idle|mix|alloc) return 0 ;;
      down*|drain*) timeout 5 scontrol update NodeName=localhost State=RESUME >/dev/null 2>&1 || true ;;
    esac
    sleep 1
  done
  echo "local-cluster.sh: the node did not become idle; see $LOG" >&2
  timeout 5 sinfo -N -l >&2 || true
  tail -n 20 "$LOG/slurmctld.log" "$LOG/slurmd.log" >&2 || true
  return 1
}

# pid of a running daemon (from its pid file, else by exact name), empty if none
daemon_pid() {
  local name=$1 file=${2:-/run/$1.pid} pid
  pid=$(cat "$file" 2>/dev/null || true)
  if [ -n "$pid" ] && [ "$(cat /proc/"$pid"/comm 2>/dev/null)" = "$name" ]; then echo "$pid"; return; fi
  pgrep -x "$name" | head -1 || true
}

# stop a daemon and wait until it has exited (a restart must not find the old one still saving state)
stop_daemon() {
  local name=$1 pid
  pid=$(daemon_pid "$name" "${2:-/run/$name.pid}")
  [ -n "$pid" ] || return 0
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 60); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.5
  done
  kill -9 "$pid" 2>/dev/null || true
}

start_controller() {
  [ -n "$(daemon_pid slurmctld)" ] || { /usr/sbin/slurmctld; started slurmctld; }
  for _ in $(seq 1 60); do scontrol ping 2>/dev/null | grep -q " is UP" && return 0; sleep 0.5; done
  echo "local-cluster.sh: slurmctld did not answer; see $LOG/slurmctld.log" >&2
  return 1
}

start() {
  need_root
  install
  changed=$(write_conf)
  start_munge
  if [ -n "$changed" ]; then   # new configuration: restart the Slurm daemons on it
    stop_daemon slurmd
    stop_daemon slurmctld
    stop_daemon slurmdbd
  fi
  start_mariadb
  [ -n "$(daemon_pid slurmdbd)" ] || { /usr/sbin/slurmdbd; started slurmdbd; }
  wait_port 6819 || { echo "local-cluster.sh: slurmdbd did not start; see $LOG/slurmdbd.log" >&2; tail -n 20 "$LOG/slurmdbd.log" >&2; return 1; }
  start_controller
  [ -n "$(daemon_pid slurmd)" ] || { /usr/sbin/slurmd; started slurmd; }
  wait_idle
  echo "slurm: $(timeout 5 sinfo -h -N -o '%N %t %c CPUs %m MB' | head -1); $(grep ProctrackType "$CONF_DIR/slurm.conf"); accounting: slurmdbd on MariaDB 127.0.0.1:$DB_PORT"
}

stop() {
  need_root
  stop_daemon slurmd
  stop_daemon slurmctld
  stop_daemon slurmdbd
  stop_daemon mariadbd "$DB_RUN/mysqld.pid"
  if [ -e "$STATE/started.munged" ]; then stop_daemon munged /run/munge/munged.pid; fi
  rm -f "$STATE"/started.*
  echo "slurm, slurmdbd, MariaDB and munge stopped"
}

status() {
  local rc=0 name
  for name in munged mariadbd slurmdbd slurmctld slurmd; do
    local file=/run/$name.pid
    [ "$name" = mariadbd ] && file=$DB_RUN/mysqld.pid
    [ "$name" = munged ] && file=/run/munge/munged.pid
    if [ -n "$(daemon_pid "$name" "$file")" ]; then echo "$name: running"; else echo "$name: stopped"; rc=1; fi
  done
  if [ $rc = 0 ]; then
    timeout 5 sinfo -N -l || rc=1
    timeout 10 sacctmgr -n show cluster format=Cluster,ControlHost >/dev/null && echo "accounting: sacct works" || { echo "accounting: sacct does not answer"; rc=1; }
  fi
  return $rc
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  stop-controller) need_root; stop_daemon slurmctld; echo "slurmctld stopped" ;;
  start-controller) need_root; start_controller; echo "slurmctld started" ;;
  *) echo "usage: $0 start|stop|status|stop-controller|start-controller" >&2; exit 2 ;;
esac
