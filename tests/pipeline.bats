#!/usr/bin/env bats
# pipeline.bats: the whole engine end to end on a small simulated stream:
# uvm-init, uvm-sim, uvm-make (plan + make + uvm-run + stage programs).
#
# The crash test kills make, the wrapper and the stage programs with SIGKILL
# at random moments, many times, then runs one plain cycle and checks that
# every product exists, is byte-identical to an undisturbed run, no
# temporary remains and no input is lost.

load test_helper

# Images are compared bit for bit, so FFTW plans here are ESTIMATE ones:
# MEASURE picks an algorithm by timing, and two deployments that measured
# separately may round differently (production shares one wisdom file).
#
# small stream: groups of 4 subbands, 8 antennas, 4 channels, 3
# integrations (39 s a group, so file times jitter by 2 s, grouped within
# 20 s), 3C48 transiting in group 1, low noise so its solutions pass
sim_stream() {
	uvm-sim -a 8 -s 4 -c 4 -t 3 -j 2 -S 7 -n 0.05 \
		-K "$UVM_ROOT/ops/calibrators.csv" -k 3C48 -C 1 "$@" >/dev/null
}
make_stream() {
	sim_stream -g 3 -o "$1/incoming"
}

init_deploy() {
	# small groups; retries of killed jobs happen in place, quickly
	small_deploy "$1" RETRY_MAX=100 RETRY_INLINE_MAX=5 BREAKER_FAILS=1000
}

@test "pipeline: undisturbed run makes every product of every group" {
	d=$BATS_TEST_TMPDIR/d
	init_deploy "$d"
	make_stream "$d"
	settle "$d"
	n=$(ls "$d"/products | wc -l)
	[ "$n" -eq 3 ]
	for g in "$d"/products/*/; do
		for f in vis.uvh5 cal.uvh5 image.fits qa.json; do [ -f "$g/$f" ]; done
		[ "$(ls "$g"/sb*.ok | wc -l)" -eq 4 ]
	done
	# the calibrator group got its table, registered good, and every
	# group's calibrated data name it
	[ "$(ls "$d"/caltables/*.cal.h5 | wc -l)" -eq 1 ]
	[ "$(sqlite3 "$d/state/calibration.sqlite" "select count(*) from caltables where status='good'")" -eq 1 ]
	[ "$(jq -r .pass "$d"/products/*/qa.json | sort -u)" != "" ]
	# a second cycle has nothing to do and changes nothing
	before=$(products "$d")
	run uvm-make -D "$d"
	assert_success
	[ "$(products "$d")" = "$before" ]
	no_temps "$d"
}

# tree_of PID: the descendants of PID (never anyone else's processes)
tree_of() {
	local c
	for c in $(pgrep -P "$1"); do
		echo "$c"
		tree_of "$c"
	done
}

@test "pipeline: SIGKILL at random moments 20+ times while a stream lands, then one plain run: identical products" {
	# no leak check here: a SIGKILL landing inside LeakSanitizer's exit-time
	# scan can wedge it, which says nothing about uvmake
	export ASAN_OPTIONS=detect_leaks=0:exitcode=70
	ref=$BATS_TEST_TMPDIR/ref
	d=$BATS_TEST_TMPDIR/d
	src=$BATS_TEST_TMPDIR/src
	init_deploy "$ref"
	sim_stream -g 6 -o "$src"
	cp -p "$src"/*.hdf5 "$ref/incoming/"
	settle "$ref"
	want=$(products "$ref")
	[ "$(echo "$want" | grep -c vis.uvh5)" -eq 6 ]

	init_deploy "$d"
	echo JOBS=1 >>"$d/uvmake.conf"   # one job at a time: kills land on work in progress
	files=($(cd "$src" && ls | sort))
	RANDOM=42
	kills=0 next=0 round=0
	while [ $round -lt 200 ]; do
		round=$((round + 1))
		# the stream: the next group's four files land once at most one
		# landed group is unfinished (group 0 waits for group 1's
		# calibration), so kills keep landing on work in progress however
		# fast or loaded the machine is
		finished=$(ls "$d"/products/*/qa.json 2>/dev/null | wc -l)
		if [ $((next / 4 - finished)) -le 1 ]; then
			for k in 1 2 3 4; do
				[ $next -lt ${#files[@]} ] || break
				cp -p "$src/${files[$next]}" "$d/incoming/"
				next=$((next + 1))
			done
		fi
		if [ $next -ge ${#files[@]} ] && [ "$(ls "$d"/products/*/qa.json 2>/dev/null | wc -l)" -eq 6 ]; then
			# everything made before 20 kills landed (a fast machine, or
			# calibrators first): re-make a random product and what
			# depends on it by hand, and kill into that
			gs=($(ls "$d/products")) ps=(vis.uvh5 cal.uvh5 image.fits qa.json)
			uvm-remake -D "$d" -r "products/${gs[RANDOM % ${#gs[@]}]}/${ps[RANDOM % 4]}" >/dev/null 2>&1 &
		else
			uvm-make -D "$d" -w 30 >/dev/null 2>&1 &
		fi
		mk=$!
		# wait a random 0-0.2 s, then for work in this cycle's own process
		# tree (never anyone else's), and kill one of its processes: the
		# cycle, the planner, make, a wrapper or a stage program
		sleep "0.0$((RANDOM % 10))"
		for i in $(seq 1 100); do
			pids=($(tree_of $mk))
			[ ${#pids[@]} -gt 1 ] || ! kill -0 $mk 2>/dev/null && break
			sleep 0.02
		done
		# a random one still alive (jobs are short: some have ended already)
		for v in $(printf '%s\n' ${pids[@]+"${pids[@]}"} $mk | shuf --random-source=<(yes)); do
			if kill -9 "$v" 2>/dev/null; then
				kills=$((kills + 1))
				break
			fi
		done
		wait "$mk" 2>/dev/null || true
		# orphaned jobs of a killed make finish or die with their wrapper
		for i in $(seq 1 50); do pgrep -f "uvm-run -D $d " >/dev/null || break; sleep 0.1; done
		# done when everything has landed and been made, 20 kills in
		if [ $kills -ge 20 ] && [ $next -ge ${#files[@]} ] &&
			[ "$(ls "$d"/products/*/qa.json 2>/dev/null | wc -l)" -eq 6 ]; then
			break
		fi
	done
	echo "rounds: $round kills: $kills" >&3
	[ "$kills" -ge 20 ]
	while [ $next -lt ${#files[@]} ]; do cp -p "$src/${files[$next]}" "$d/incoming/"; next=$((next + 1)); done
	settle "$d"
	diff <(echo "$want") <(products "$d")
	no_temps "$d"
	# no input lost or changed, nothing quarantined
	[ "$(cd "$d/incoming" && ls | sort | xargs sha256sum)" = "$(cd "$src" && ls | sort | xargs sha256sum)" ]
	[ -z "$(ls -A "$d/quarantine")" ]
}

@test "pipeline: a corrupt subband is quarantined with a reason, the group goes on partial" {
	d=$BATS_TEST_TMPDIR/d
	init_deploy "$d"
	echo PARTIAL_TIMEOUT=0 >>"$d/uvmake.conf"
	sim_stream -g 1 -C 0 -F flip:2 -o "$d/incoming"
	run uvm-make -D "$d"
	[ "$status" -eq 75 ]
	reason=$(ls "$d"/quarantine/*_sb02.hdf5.reason)
	grep -q 'verify' "$reason"
	# next cycle: the group has 3 of 4 subbands, >= PARTIAL_MIN, processed partial
	run settle "$d"
	assert_success
	g=$(ls "$d/products")
	[ -f "$d/products/$g/vis.uvh5" ]
	no_temps "$d"
}
