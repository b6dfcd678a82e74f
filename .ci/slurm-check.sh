#!/usr/bin/env bash
# Start a real single-node SLURM cluster on loopback (Debian's slurmctld, slurmd
# and munge; no systemd, no accounting), run the `smoke` profile through
# snakemake-executor-plugin-slurm, and check that
#   1. every training job ran inside a SLURM job (run.json records SLURM_JOB_ID);
#   2. the result tables are byte-identical to those of a local run.
# Run as root from the repository root, after ./setup.sh. Every step has a timeout.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WORK=${WORK:-/tmp/rpg-bench-slurm}
PROFILE=smoke
PARTITION=debug
PY=$ROOT/.venv/bin/python
T0=$SECONDS
step() { echo "=== [+$((SECONDS - T0))s] $*"; }

[ "$(id -u)" = 0 ] || { echo "slurm-check: must run as root (it starts daemons)"; exit 2; }

stop_daemon() { # name, pid file
    local pid
    pid=$(cat "$2" 2>/dev/null) || return 0
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    rm -f "$2"
}
cleanup() {
    stop_daemon slurmd /run/slurmd.pid
    stop_daemon slurmctld /run/slurmctld.pid
    stop_daemon munged /run/munge/munged.pid
}
trap cleanup EXIT

step "install slurm and munge"
if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    timeout 300 apt-get update -q
    timeout 600 apt-get install -y -q --no-install-recommends slurmctld slurmd slurm-client munge
fi
if [ -d /run/systemd/system ]; then systemctl stop slurmctld slurmd munge 2>/dev/null || true; fi

step "munge"
[ -s /etc/munge/munge.key ] || mungekey --create --keyfile=/etc/munge/munge.key
chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
mkdir -p /run/munge && chown munge:munge /run/munge
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    runuser -u munge -- /usr/sbin/munged
    for _ in $(seq 20); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.5; done
fi
munge -n | unmunge | grep -q "STATUS:.*Success"

step "slurm.conf and daemons"
HOST=$(hostname -s)
CPUS=$(nproc)
MEM_MB=$(awk '/MemTotal/{print int($2/1024*0.75)}' /proc/meminfo)
[ "$MEM_MB" -gt 8000 ] && MEM_MB=8000
mkdir -p /etc/slurm /var/lib/slurm/slurmctld /var/lib/slurm/slurmd /var/log/slurm
cat > /etc/slurm/slurm.conf <<CONF
ClusterName=rpgbench
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
ReturnToService=2
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmdSpoolDir=/var/lib/slurm/slurmd
StateSaveLocation=/var/lib/slurm/slurmctld
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
JobAcctGatherType=jobacct_gather/none
MinJobAge=600
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM_MB State=UNKNOWN
PartitionName=$PARTITION Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
stop_daemon slurmd /run/slurmd.pid
stop_daemon slurmctld /run/slurmctld.pid
/usr/sbin/slurmctld
for _ in $(seq 30); do scontrol ping 2>/dev/null | grep -q UP && break; sleep 1; done
/usr/sbin/slurmd
for _ in $(seq 60); do [ "$(sinfo -h -n "$HOST" -o %t 2>/dev/null)" = idle ] && break; sleep 1; done
sinfo
[ "$(sinfo -h -n "$HOST" -o %t)" = idle ] || { tail -20 /var/log/slurm/*.log; exit 1; }
timeout 60 srun -N1 true

step "two copies of the repository: one for a local run, one for SLURM"
rm -rf "$WORK"
mkdir -p "$WORK/local" "$WORK/slurm"
for copy in local slurm; do
    tar -C "$ROOT" --exclude=./.venv --exclude=./results --exclude=./.snakemake --exclude=./.git -cf - . \
        | tar -C "$WORK/$copy" -xf -
done

step "local run of the $PROFILE profile"
(cd "$WORK/local" && timeout 900 "$PY" -m snakemake --cores 2 --config profile=$PROFILE > "$WORK/local.log" 2>&1) \
    || { tail -40 "$WORK/local.log"; exit 1; }

step "SLURM run of the $PROFILE profile (profiles/slurm)"
(cd "$WORK/slurm" && timeout 1200 "$PY" -m snakemake --profile profiles/slurm --config profile=$PROFILE \
    --jobs 4 --slurm-no-account --slurm-status-command squeue --slurm-init-seconds-before-status-checks 5 \
    --default-resources slurm_partition=$PARTITION runtime=30 mem_mb=1000 cpus_per_task=1 \
    > "$WORK/slurm.log" 2>&1) || { tail -60 "$WORK/slurm.log"; tail -20 /var/log/slurm/*.log; exit 1; }

step "checks"
"$PY" - "$WORK" "$PROFILE" <<'PYCHECK'
import json, sys
from pathlib import Path
work, profile = Path(sys.argv[1]), sys.argv[2]
runs = sorted((work / "slurm" / "results" / profile / "runs").rglob("run.json"))
assert runs, "no runs were trained"
outside = [str(p) for p in runs if not json.loads(p.read_text()).get("slurm_job_id")]
assert not outside, f"trained outside SLURM: {outside}"
local = sorted((work / "local" / "results" / profile / "runs").rglob("run.json"))
assert all(json.loads(p.read_text()).get("slurm_job_id") is None for p in local)
for table in ("runs", "curves", "membership"):
    a = (work / "local" / "results" / profile / "tables" / f"{table}.parquet").read_bytes()
    b = (work / "slurm" / "results" / profile / "tables" / f"{table}.parquet").read_bytes()
    assert a == b, f"{table}.parquet differs between the local and the SLURM run"
jobs = {json.loads(p.read_text())["slurm_job_id"] for p in runs}
print(f"{len(runs)} training runs in {len(jobs)} SLURM jobs; result tables byte-identical to the local run")
PYCHECK
test -s "$WORK/slurm/results/$PROFILE/report/index.html"
step "SLURM check passed"
