#!/usr/bin/env bash
# A single-node Slurm cluster on loopback, for tests: `slurm_local.sh start DIR` writes a
# configuration, a munge key and state under DIR and starts munged, slurmctld and slurmd (as
# root); `slurm_local.sh stop DIR` stops them. Prints `export SLURM_CONF=DIR/slurm.conf` on start.
# Needs Debian's slurmctld, slurmd, slurm-client and munge (Scripts/deps.sh --slurm installs them).
set -euo pipefail
command="$1"; dir="$(realpath -m "$2")"
if [ "$command" = stop ]; then
  for p in slurmd slurmctld munged; do
    [ -f "$dir/$p.pid" ] && kill "$(cat "$dir/$p.pid")" 2>/dev/null || true
  done
  sleep 1
  exit 0
fi
mkdir -p "$dir"/{state,spool,log,munge}
host="$(hostname -s)"
cpus="$(nproc)"
memory=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 1024 ))
cat > "$dir/slurm.conf" <<CONF
ClusterName=flashnumerics-test
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=${SLURM_LOCAL_PORT:-16817}
SlurmdPort=$(( ${SLURM_LOCAL_PORT:-16817} + 1 ))
AuthType=auth/munge
AuthInfo=socket=$dir/munge/munge.socket
CryptoType=crypto/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
SlurmUser=root
SlurmdUser=root
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$memory State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
CONF
head -c 1024 /dev/urandom > "$dir/munge/munge.key"
chmod 400 "$dir/munge/munge.key"
# Runs a daemon with none of this script's descriptors: a caller that waits for the end of our
# output (or for a descriptor it gave us to close) must not wait on the daemons too.
detach() {
  (
    for fd in $(ls /proc/$BASHPID/fd); do
      if [ "$fd" -gt 2 ]; then eval "exec $fd>&-" 2>/dev/null || true; fi
    done
    exec "$@" </dev/null >/dev/null 2>&1
  )
}
detach munged --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.socket" --pid-file="$dir/munged.pid" \
  --log-file="$dir/log/munged.log" --seed-file="$dir/munge/seed" --force
export SLURM_CONF="$dir/slurm.conf"
detach slurmctld -f "$dir/slurm.conf"
detach slurmd -f "$dir/slurm.conf"
for _ in $(seq 1 30); do
  if sinfo -h -o %T 2>/dev/null | grep -q -E "idle|mixed|alloc"; then echo "export SLURM_CONF=$dir/slurm.conf"; exit 0; fi
  sleep 1
done
echo "slurm_local: the node did not come up; see $dir/log" >&2
exit 1
