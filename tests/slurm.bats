#!/usr/bin/env bats
# slurm.bats: the pipeline end to end through a real Slurm (LAUNCH=srun,...):
# a one-node cluster on localhost (ops/slurm/cluster.sh: munged, slurmctld,
# slurmd, in a state directory of this file's own, on free ports) runs every
# job, while make and the database stay here. The products must be
# byte-identical to a local run, every job must show up in Slurm's own job
# completion log, classified statuses must come back through srun, and the
# wrapper's timeout must cancel the job step.
#
# Needs root and Debian's slurm-wlm and munge (ops/deps.sh installs them);
# elsewhere the file is skipped with the reason. Run it alone with
#   make check-bats T=tests/slurm.bats

load test_helper

LAUNCH_WORDS=srun,--exact,-N1,-n1,-c1

setup_file() {
	local why=
	if [ "$(id -u)" -ne 0 ]; then
		why="needs root to start a one-node Slurm cluster"
	elif ! command -v srun >/dev/null || ! command -v munged >/dev/null ||
		! PATH=$PATH:/usr/sbin command -v slurmctld >/dev/null; then
		why="slurm-wlm and munge are not installed (run make deps as root)"
	fi
	if [ -n "$why" ]; then
		echo "# slurm.bats skipped: $why" >&3
		skip "$why"
	fi
	# short path: munge's and slurmstepd's sockets live under it
	SLURM_STATE=$(mktemp -d /tmp/uvmake-slurm.XXXXXX)
	export SLURM_STATE
	export SLURM_CONF=$SLURM_STATE/slurm.conf
	if ! out=$("$UVM_ROOT/ops/slurm/cluster.sh" -d "$SLURM_STATE" start 2>&1); then
		why="Slurm did not start: $(printf '%s\n' "$out" | grep 'cluster.sh:' | tail -n 1)"
		echo "# slurm.bats skipped: $why" >&3
		printf '%s\n' "$out" | sed 's/^/# /' >&3
		skip "$why"
	fi
}

teardown_file() {
	[ -n "${SLURM_STATE:-}" ] || return 0
	"$UVM_ROOT/ops/slurm/cluster.sh" -d "$SLURM_STATE" stop
	# nothing we started is left
	for d in munged slurmctld slurmd; do
		[ ! -e "$SLURM_STATE/$d.pid" ]
	done
	[ -z "$(pgrep -f -- "$SLURM_STATE/")" ]
	rm -rf "$SLURM_STATE"
}

# the stream of pipeline.bats: groups of 4 subbands, 3C48 transits group 1
sim_stream() {
	uvm-sim -a 8 -s 4 -c 4 -t 3 -j 2 -S 7 -n 0.05 \
		-K "$UVM_ROOT/ops/calibrators.csv" -k 3C48 -C 1 "$@" >/dev/null
}

# init_deploy DIR [LAUNCH]: pipeline.bats' small deployment, images
# reproducible bit for bit (ESTIMATE plans), jobs through LAUNCH if given
init_deploy() {
	small_deploy "$1" RETRY_MAX=5 RETRY_INLINE_MAX=2 BREAKER_FAILS=1000
	if [ -n "${2:-}" ]; then
		echo "LAUNCH=$2" >>"$1/uvmake.conf"
	fi
}

# slurm_jobs DIR: "name exitcode" of every job Slurm completed with its
# working directory DIR (jobcomp/filetxt: one line per job), sorted
slurm_jobs() {
	awk -v wd="WorkDir=$1" '$0 ~ (" " wd " ") {
		n = e = ""
		for (i = 1; i <= NF; i++) {
			if ($i ~ /^Name=/) n = substr($i, 6)
			if ($i ~ /^ExitCode=/) e = substr($i, 10)
		}
		print n, e
	}' "$SLURM_STATE/jobcomp.txt" | sort
}

# wrapper_jobs DIR: the same from the wrapper's own job records
wrapper_jobs() {
	# each stage's program is uvm-<stage>, but for the mosaic's catalogue
	# (stage msources), which is uvm-sources
	sqlite3 "$1/state/pipeline.sqlite" \
		"select 'uvm-' || replace(stage, 'msources', 'sources') || ' ' || status || ':0' from jobs" | sort
}

@test "slurm: the one-node cluster runs a job step with the caller's environment" {
	run sinfo -h -N -o '%N %T'
	assert_output 'uvm-node1 idle'
	# srun passes the environment (the sanitizer settings, PATH) through
	run env UVM_PROBE=42 srun --exact -N1 -n1 -c1 sh -c 'echo "$SLURM_JOB_ID $UVM_PROBE $ASAN_OPTIONS"'
	assert_success
	assert_output --regexp "^[0-9]+ 42 $ASAN_OPTIONS\$"
}

@test "slurm: end to end through srun: every job ran under Slurm, products byte-identical to a local run" {
	ref=$BATS_TEST_TMPDIR/local
	d=$BATS_TEST_TMPDIR/slurm
	src=$BATS_TEST_TMPDIR/src
	# 2 groups: the first is calibrated with the second's table
	sim_stream -g 2 -o "$src"
	init_deploy "$ref"
	init_deploy "$d" "$LAUNCH_WORDS"
	cp -p "$src"/*.hdf5 "$ref/incoming/"
	cp -p "$src"/*.hdf5 "$d/incoming/"

	settle "$ref"
	want=$(products "$ref")
	[ "$(echo "$want" | grep -c '/vis.uvh5$')" -eq 2 ]
	[ "$(echo "$want" | grep -c '/image.fits$')" -eq 2 ]
	[ "$(echo "$want" | grep -c '\.cal\.h5$')" -eq 1 ]
	# no local job went near Slurm
	[ -z "$(slurm_jobs "$ref")" ]

	settle "$d"
	# every attempt the wrapper recorded went through srun, and Slurm's own
	# completion log has the same jobs (program, exit code), no more, no less
	[ "$(sqlite3 "$d/state/pipeline.sqlite" "select count(*) from jobs where command not like 'srun --exact -N1 -n1 -c1 uvm-%'")" -eq 0 ]
	mine=$(wrapper_jobs "$d")
	theirs=$(slurm_jobs "$d")
	echo "jobs recorded by the wrapper: $(echo "$mine" | wc -l); completed by Slurm: $(echo "$theirs" | wc -l)" >&3
	echo "$theirs" | sort | uniq -c | sed 's/^/#   slurm: /' >&3
	[ "$(echo "$mine" | wc -l)" -ge 17 ]
	# (whether the target's calapply had to wait for the table, 69, depends
	# on timing now that calibrator groups are ordered first: not asserted)
	diff <(echo "$mine") <(echo "$theirs")
	# nothing left queued or running
	[ -z "$(squeue -h)" ]
	no_temps "$d"
	got=$(products "$d")
	echo "local: $(echo "$want" | wc -l) products; slurm: $(echo "$got" | wc -l)" >&3
	diff <(echo "$want") <(echo "$got")
}

@test "slurm: a corrupt subband is quarantined with status 65 through srun, as locally" {
	ref=$BATS_TEST_TMPDIR/local
	d=$BATS_TEST_TMPDIR/slurm
	src=$BATS_TEST_TMPDIR/src
	sim_stream -g 1 -C 0 -F flip:2 -o "$src"
	init_deploy "$ref"
	init_deploy "$d" "$LAUNCH_WORDS"
	for x in "$ref" "$d"; do
		echo PARTIAL_TIMEOUT=0 >>"$x/uvmake.conf"
		cp -p "$src"/*.hdf5 "$x/incoming/"
	done
	run uvm-make -D "$ref"
	[ "$status" -eq 75 ]
	run uvm-make -D "$d"
	[ "$status" -eq 75 ]
	# the same file quarantined, the same class and status recorded
	[ "$(cd "$d/quarantine" && ls)" = "$(cd "$ref/quarantine" && ls)" ]
	reason=$(ls "$d"/quarantine/*_sb02.hdf5.reason)
	grep -q '^stage: verify$' "$reason"
	grep -qx 'status: 65' "$reason"
	# the reason is the job's own last error line, not srun's report on it
	want=$(grep '^reason:' "$ref"/quarantine/*_sb02.hdf5.reason)
	echo "$want" | grep -q 'uvm-verify.*corrupt'
	[ "$(grep '^reason:' "$reason")" = "$want" ]
	q="select target, state, last_class, last_status from targets where state = 'quarantined'"
	[ "$(sqlite3 "$d/state/pipeline.sqlite" "$q")" = "$(sqlite3 "$ref/state/pipeline.sqlite" "$q")" ]
	[ -n "$(sqlite3 "$d/state/pipeline.sqlite" "$q")" ]
	# and Slurm saw that job end with 65
	slurm_jobs "$d" | grep -qx 'uvm-verify 65:0'
	[ "$(slurm_jobs "$d" | grep -c 'uvm-verify 0:0')" -eq 3 ]
}

@test "slurm: the wrapper's timeout cancels the job step: class timeout, nothing left running" {
	d=$BATS_TEST_TMPDIR/slurm
	init_deploy "$d" "$LAUNCH_WORDS"
	echo RETRY_MAX=1 >>"$d/uvmake.conf"
	mkdir -p "$d/products/20251024T120003"
	start=$(date +%s)
	run uvm-run -D "$d" -s test -t products/20251024T120003/x -T 2 -- sleep 617
	[ "$status" -eq 75 ]
	[ $(($(date +%s) - start)) -lt 20 ]
	[ "$(sqlite3 "$d/state/pipeline.sqlite" "select class from jobs")" = timeout ]
	# the step was cancelled: no job in the queue, no sleep left anywhere
	for i in $(seq 1 50); do
		[ -z "$(squeue -h)" ] && ! pgrep -f '^[^ ]*sleep 617$' >/dev/null && break
		sleep 0.2
	done
	[ -z "$(squeue -h)" ]
	[ -z "$(pgrep -f '^[^ ]*sleep 617$')" ]
	# the wrapper's own record of it (srun's 'CANCELLED' line is not
	# asserted: srun may die of the same signal before printing it, seen
	# once in ten fresh-clone runs)
	grep -q "timeout after 2 s: sent TERM to the job's process group" \
		"$d/logs/20251024T120003/test.log"
}

@test "slurm: inside an allocation (ops/slurm/uvmake.sbatch): every job is a step of the batch job, products as locally" {
	ref=$BATS_TEST_TMPDIR/local
	d=$BATS_TEST_TMPDIR/slurm
	src=$BATS_TEST_TMPDIR/src
	# one calibrator group: a single cycle makes everything
	sim_stream -g 1 -C 0 -o "$src"
	init_deploy "$ref"
	init_deploy "$d" "$LAUNCH_WORDS"
	cp -p "$src"/*.hdf5 "$ref/incoming/"
	cp -p "$src"/*.hdf5 "$d/incoming/"
	run uvm-make -D "$ref"
	assert_success
	# the shipped script, sized for this one 2-CPU node
	job=$(sbatch --parsable -N1 -n2 -c1 -o "$BATS_TEST_TMPDIR/batch.out" \
		--export=ALL,UVM_HOME="$d" "$UVM_ROOT/ops/slurm/uvmake.sbatch")
	for i in $(seq 1 300); do
		[ -z "$(squeue -h -j "$job" 2>/dev/null)" ] && break
		sleep 0.2
	done
	[ -z "$(squeue -h -j "$job" 2>/dev/null)" ]
	cat "$BATS_TEST_TMPDIR/batch.out"
	grep "^JobId=$job " "$SLURM_STATE/jobcomp.txt" | grep -q 'Name=uvmake JobState=COMPLETED .* ExitCode=0:0'
	# every job the wrapper recorded was a job step of that allocation
	# (slurmd's log: one launch per step), and no job of its own
	steps=$(grep -c "launch task StepId=$job\.[0-9]" "$SLURM_STATE/slurmd.log")
	n=$(sqlite3 "$d/state/pipeline.sqlite" "select count(*) from jobs where status = 0")
	echo "batch job $job: $steps job steps, $n jobs recorded by the wrapper" >&3
	[ "$n" -ge 8 ]
	[ "$steps" -eq "$n" ]
	[ -z "$(slurm_jobs "$d")" ]
	diff <(products "$ref") <(products "$d")
}

@test "slurm: a SIGKILLed wrapper leaves no job behind: its srun dies with it and Slurm cancels the job" {
	d=$BATS_TEST_TMPDIR/slurm
	init_deploy "$d" "$LAUNCH_WORDS"
	mkdir -p "$d/products/20251024T120003"
	uvm-run -D "$d" -s test -t products/20251024T120003/x -- sleep 619 3>&- &
	w=$!
	for i in $(seq 1 100); do
		[ -n "$(squeue -h -t R)" ] && pgrep -f '^[^ ]*sleep 619$' >/dev/null && break
		sleep 0.1
	done
	[ -n "$(squeue -h -t R)" ]
	pgrep -f '^[^ ]*sleep 619$' >/dev/null
	kill -9 "$w"
	wait "$w" || true
	for i in $(seq 1 100); do
		[ -z "$(squeue -h)" ] && ! pgrep -f '^[^ ]*sleep 619$' >/dev/null && break
		sleep 0.1
	done
	[ -z "$(squeue -h)" ]
	[ -z "$(pgrep -f '^[^ ]*sleep 619$')" ]
}
