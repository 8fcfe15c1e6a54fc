#!/bin/sh
# cluster.sh: a throw-away one-node Slurm cluster on this machine, for
# trying and testing uvmake's LAUNCH=srun,... without a real cluster.
#
#   ops/slurm/cluster.sh [-d statedir] start    start munged, slurmctld, slurmd
#   ops/slurm/cluster.sh [-d statedir] stop     stop exactly what start started
#   ops/slurm/cluster.sh [-d statedir] status   daemons and the node's state
#   ops/slurm/cluster.sh [-d statedir] env      print `export SLURM_CONF=...`
#
# Everything lives in the state directory (default /tmp/uvmake-slurm, or
# $UVM_SLURM_DIR): slurm.conf, a fresh munge key and munged's socket, the
# daemons' pid files, logs and spool, and jobcomp.txt, one line per finished
# job (job id, name, state, exit code), which says which jobs Slurm ran.
# Clients find the cluster through SLURM_CONF=<statedir>/slurm.conf (the
# `env` command prints it); slurm.conf names the munge socket, so a munged
# or Slurm already on the machine is never touched. slurmctld and slurmd
# listen on two free ports chosen at start.
#
# The daemons run as root (start needs root) with no cgroups
# (proctrack/linuxproc, task/none), no accounting database, and one node
# with this machine's CPUs and memory. Start waits until sinfo shows the
# node idle; on failure it stops what it started and shows the logs' tails.
#
# Exit status: 0 ok; 64 usage; 69 cannot start (not root, packages
# missing, a daemon failed); 1 status: the cluster is not up.
set -eu

prog=cluster.sh
usage() {
	echo "usage: $prog [-d statedir] start|stop|status|env" >&2
	exit 64
}

state=${UVM_SLURM_DIR:-/tmp/uvmake-slurm}
while getopts d:h o; do
	case $o in
	d) state=$OPTARG ;;
	h) echo "usage: $prog [-d statedir] start|stop|status|env"; exit 0 ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 1 ] || usage
cmd=$1
case $state in
/*) ;;
*) state=$(pwd)/$state ;;
esac
conf=$state/slurm.conf
node=uvm-node1
SLURM_CONF=$conf
export SLURM_CONF

die() {
	echo "$prog: $*" >&2
	exit 69
}

# pid_of NAME: the pid in $state/NAME.pid if that process is still the
# daemon we started (its command line names our state directory or
# slurm.conf); nothing otherwise, so a recycled pid is never signalled.
pid_of() {
	f=$state/$1.pid
	[ -s "$f" ] || return 0
	p=$(cat "$f")
	case $p in '' | *[!0-9]*) return 0 ;; esac
	[ -r "/proc/$p/cmdline" ] || return 0
	if tr '\0' ' ' <"/proc/$p/cmdline" | grep -qF -- "$state/"; then
		echo "$p"
	fi
}

# free_port: a TCP port in 20000-39999 that no socket on this machine uses
# and that is not in $taken (one port a line).
free_port() {
	used=$(ss -Htan 2>/dev/null | awk '{n = split($4, a, ":"); print a[n]}')
	while :; do
		p=$(( $(od -An -N2 -tu2 /dev/urandom) % 20000 + 20000 ))
		if ! printf '%s\n%s\n' "$used" "$taken" | grep -qx "$p"; then
			echo "$p"
			return
		fi
	done
}

write_conf() {
	cpus=$(nproc)
	mem=$(awk '/^MemTotal:/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)
	host=$(hostname -s)
	taken=
	p1=$(free_port)
	taken=$p1
	p2=$(free_port)
	cat >"$conf.tmp" <<-EOF
	# one-node cluster written by ops/slurm/cluster.sh; state in $state
	ClusterName=uvmake
	SlurmctldHost=$host(127.0.0.1)
	SlurmUser=root
	SlurmdUser=root
	SlurmctldPort=$p1
	SlurmdPort=$p2
	AuthType=auth/munge
	CredType=cred/munge
	AuthInfo=socket=$state/munge/munge.socket
	StateSaveLocation=$state/ctld
	SlurmdSpoolDir=$state/spool
	SlurmctldPidFile=$state/slurmctld.pid
	SlurmdPidFile=$state/slurmd.pid
	SlurmctldLogFile=$state/slurmctld.log
	SlurmdLogFile=$state/slurmd.log
	SlurmctldDebug=info
	SlurmdDebug=info
	ProctrackType=proctrack/linuxproc
	TaskPlugin=task/none
	JobAcctGatherType=jobacct_gather/none
	AccountingStorageType=accounting_storage/none
	JobCompType=jobcomp/filetxt
	JobCompLoc=$state/jobcomp.txt
	SelectType=select/cons_tres
	SelectTypeParameters=CR_CPU
	SchedulerType=sched/builtin
	MpiDefault=none
	ReturnToService=2
	# a SIGKILLed srun loses its job at once (slurmctld finds it gone);
	# one that hangs unreachable, within a minute
	InactiveLimit=60
	KillWait=5
	MinJobAge=300
	NodeName=$node NodeHostname=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
	PartitionName=uvm Nodes=$node Default=YES MaxTime=INFINITE State=UP
	EOF
	mv "$conf.tmp" "$conf"
}

tails() {
	for f in munged.log slurmctld.log slurmd.log; do
		[ -s "$state/$f" ] || continue
		echo "--- $state/$f (last lines)" >&2
		tail -n 8 "$state/$f" >&2
	done
}

stop() {
	# jobs first, so no slurmstepd outlives its slurmd
	if [ -n "$(pid_of slurmctld)" ]; then
		scancel --full --quiet --partition=uvm 2>/dev/null || true
		i=0
		while [ $i -lt 50 ] && [ -n "$(squeue -h -o %i 2>/dev/null)" ]; do
			sleep 0.2
			i=$((i + 1))
		done
	fi
	for d in slurmd slurmctld munged; do
		p=$(pid_of $d)
		[ -n "$p" ] || continue
		kill -TERM "$p" 2>/dev/null || true
		i=0
		while [ $i -lt 50 ] && kill -0 "$p" 2>/dev/null; do
			sleep 0.1
			i=$((i + 1))
		done
		if kill -0 "$p" 2>/dev/null; then
			kill -KILL "$p" 2>/dev/null || true
		fi
		rm -f "$state/$d.pid"
	done
}

node_state() {
	sinfo -h -n "$node" -o %T 2>/dev/null | head -n 1
}

start() {
	[ "$(id -u)" -eq 0 ] || die "cannot start a cluster: needs root"
	for b in munged mungekey slurmctld slurmd sinfo srun scancel squeue; do
		command -v "$b" >/dev/null 2>&1 || PATH=$PATH:/usr/sbin:/sbin
		command -v "$b" >/dev/null 2>&1 ||
			die "cannot start a cluster: '$b' not found (install slurm-wlm and munge)"
	done
	if [ -n "$(pid_of slurmctld)" ] && [ "$(node_state)" = idle ]; then
		return 0 # already up
	fi
	stop
	mkdir -p "$state/munge" "$state/ctld" "$state/spool"
	chmod 700 "$state" "$state/munge"
	rm -f "$state/munge.key"
	mungekey --create --keyfile="$state/munge.key" ||
		die "cannot create '$state/munge.key'"
	write_conf
	munged --force --socket="$state/munge/munge.socket" --key-file="$state/munge.key" \
		--pid-file="$state/munged.pid" --log-file="$state/munged.log" \
		--seed-file="$state/munged.seed" 2>>"$state/munged.log" ||
		{ tails; stop; die "cannot start munged"; }
	slurmctld -f "$conf" -c -i 2>>"$state/slurmctld.log" ||
		{ tails; stop; die "cannot start slurmctld"; }
	slurmd -f "$conf" -N "$node" 2>>"$state/slurmd.log" ||
		{ tails; stop; die "cannot start slurmd"; }
	i=0
	while [ "$(node_state)" != idle ]; do
		i=$((i + 1))
		if [ $i -gt 150 ]; then
			tails
			stop
			die "the node did not come up idle in 30 s"
		fi
		sleep 0.2
	done
}

case $cmd in
start)
	start
	echo "$prog: cluster up: export SLURM_CONF=$conf"
	;;
stop)
	stop
	;;
status)
	up=0
	for d in munged slurmctld slurmd; do
		p=$(pid_of $d)
		echo "$d: ${p:-not running}"
		[ -n "$p" ] || up=1
	done
	[ $up -eq 0 ] && sinfo -N -l 2>/dev/null || up=1
	exit $up
	;;
env)
	echo "export SLURM_CONF=$conf"
	;;
*)
	usage
	;;
esac
