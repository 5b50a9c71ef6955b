#!/usr/bin/env bash
# A one-node Slurm cluster on localhost for the launcher's integration tests (and for trying the
# launcher on a laptop): installs Debian's slurmctld, slurmd, slurm-client and munge, writes a
# slurm.conf for this machine and starts the daemons. Idempotent. Needs root.
#   bash slurm/local-cluster.sh start|stop|status
set -euo pipefail
CONF_DIR=/etc/slurm
STATE=/var/lib/tol10m-slurm
LOG=/var/log/tol10m-slurm

need_root() { [ "$(id -u)" = 0 ] || { echo "local-cluster.sh: run as root" >&2; exit 1; }; }

install() {
  local missing=()
  for pkg in slurmctld slurmd slurm-client munge; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

write_conf() {
  mkdir -p "$CONF_DIR" "$STATE/ctld" "$STATE/d" "$LOG"
  local host; host=$(hostname)
  local node; node=$(slurmd -C | head -1)
  local cpus; cpus=$(sed -n 's/.*CPUs=\([0-9]*\).*/\1/p' <<<"$node")
  local mem; mem=$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$node")
  cat > "$CONF_DIR/slurm.conf.new" <<CONF
ClusterName=tol10m-local
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=1
JobAcctGatherParams=OverMemoryKill
MinJobAge=600
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
  if ! cmp -s "$CONF_DIR/slurm.conf.new" "$CONF_DIR/slurm.conf" 2>/dev/null; then
    mv "$CONF_DIR/slurm.conf.new" "$CONF_DIR/slurm.conf"
    echo changed
  else
    rm -f "$CONF_DIR/slurm.conf.new"
  fi
}

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
  fi
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
  local name=$1 pid
  pid=$(cat "/run/$name.pid" 2>/dev/null || true)
  if [ -n "$pid" ] && [ "$(cat /proc/"$pid"/comm 2>/dev/null)" = "$name" ]; then echo "$pid"; return; fi
  pgrep -x "$name" | head -1 || true
}

# stop a daemon and wait until it has exited (a restart must not find the old one still saving state)
stop_daemon() {
  local name=$1 pid
  pid=$(daemon_pid "$name")
  [ -n "$pid" ] || return 0
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 60); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.5
  done
  kill -9 "$pid" 2>/dev/null || true
}

start() {
  need_root
  install
  changed=$(write_conf)
  start_munge
  if [ -n "$changed" ]; then   # a new slurm.conf: restart both daemons on it
    stop_daemon slurmd
    stop_daemon slurmctld
  fi
  [ -n "$(daemon_pid slurmctld)" ] || /usr/sbin/slurmctld
  [ -n "$(daemon_pid slurmd)" ] || /usr/sbin/slurmd
  wait_idle
  echo "slurm: $(timeout 5 sinfo -h -N -o '%N %t %c CPUs %m MB' | head -1)"
}

stop() {
  stop_daemon slurmd
  stop_daemon slurmctld
  echo "slurm stopped"
}

status() {
  if [ -n "$(daemon_pid slurmctld)" ] && [ -n "$(daemon_pid slurmd)" ]; then
    timeout 5 sinfo -N -l
  else
    echo "slurm is not running"
    return 1
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
