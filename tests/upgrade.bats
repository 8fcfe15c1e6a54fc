#!/usr/bin/env bats
# upgrade.bats: installing a new version while uvm-watch runs loses nothing
# and stops nothing (versioned install with an atomic switch, the daemon's
# re-execution between cycles, recipes as prerequisites).
#
# setup_file builds three copies of the tree's -O2 build, each stamped with
# a version of its own (VERSION_OVERRIDE: only the version header changes,
# so only prog.o recompiles and the programs relink): v1, v2 (the same
# code and rules: an upgrade that changes nothing the products depend on)
# and v3 (v2 with a comment added to rules/qa.mk). Each test installs them
# into a prefix of its own with `make install`, runs a deployment with only
# that prefix's programs on PATH (UVM_ROOT unset), and checks the files:
# which products exist, and which were re-made (inode and mtime).

load test_helper

setup_file() {
	local v src=$UVM_ROOT
	for v in v1 v2 v3; do
		t=$BATS_FILE_TMPDIR/tree-$v
		mkdir -p "$t/build"
		cp -a "$src/Makefile" "$src/src" "$src/rules" "$src/ops" "$src/man" "$src/bin" "$t/"
		cp -a "$src/build/obj" "$src/build/gen" "$src/build/libuvm.a" "$t/build/"
		[ "$v" = v3 ] && printf '# v3: a comment, so the recipe is another file\n' >>"$t/rules/qa.mk"
		make -C "$t" --no-print-directory -j2 all VERSION_OVERRIDE=$v >"$t.log" 2>&1 ||
			{ cat "$t.log" >&3; return 1; }
	done
}

setup() {
	P=$BATS_TEST_TMPDIR/prefix
	dep=$BATS_TEST_TMPDIR/dep
	sim=$BATS_TEST_TMPDIR/sim
	wpid=
	unset UVM_ROOT
	export PATH="$P/bin:/usr/bin:/bin"
	cd "$BATS_TEST_TMPDIR"
}

teardown() {
	if [ -n "$wpid" ]; then
		kill -TERM "$wpid" 2>/dev/null || true
		wait_until 60 ! kill -0 "$wpid" 2>/dev/null || kill -KILL "$wpid" 2>/dev/null || true
	fi
	return 0
}

# install_version V [make-var...]: make install of version V's tree into
# $P (log in $P-V.log)
install_version() {
	make -C "$BATS_FILE_TMPDIR/tree-$1" --no-print-directory install PREFIX="$P" \
		VERSION_OVERRIDE="$1" "${@:2}" >"$P-$1.log" 2>&1 || { cat "$P-$1.log"; return 1; }
}

# wait_until SECS CMD...: true as soon as CMD succeeds (polled every 0.1 s),
# false after SECS seconds
wait_until() {
	local end=$((SECONDS + $1))
	shift
	while [ $SECONDS -lt $end ]; do
		"$@" && return 0
		sleep 0.1
	done
	"$@"
}

# files_of K: the K-th simulated group's 4 subband files (names in time
# order; a group's subbands are written within 2 s, groups 39 s apart)
files_of() {
	sed -n "$((4 * $1 - 3)),$((4 * $1))p" "$BATS_TEST_TMPDIR/files.list"
}

# group K: the K-th group's id (its sb00's time, compact)
group() {
	files_of "$1" | sed -n 's/_sb00\.hdf5$//p' | tr -d ':-'
}

# the deployment's groups
groups_of() {
	local k
	for k in $(seq 1 $(($(wc -l <"$BATS_TEST_TMPDIR/files.list") / 4))); do group "$k"; done
}

# complete G: every per-group product of G exists
complete() {
	local p
	for p in $(group_products "$1" "$P/share/uvmake/rules"); do
		[ -f "$dep/$p" ] || return 1
	done
}

all_complete() {
	local g
	for g in $(groups_of); do complete "$g" || return 1; done
}

# the daemon is between cycles and nothing is due
idle() {
	[ "$(jq -r .state "$dep/state/watch.json" 2>/dev/null)" = idle ]
}

# land K: move the K-th group's subbands into incoming/ (the correlator's
# rename)
land() {
	local f
	for f in $(files_of "$1"); do mv "$sim/$f" "$dep/incoming/"; done
}

# stamps: "path inode mtime" of every product and calibration table, sorted
# (not the temporaries of a job still writing: they are renamed away)
stamps() {
	(cd "$dep" && find products caltables mosaics -type f ! -name '*.tmp.[0-9]*' \
		-printf '%p %i %T@\n' | LC_ALL=C sort)
}

# deploy N: install v1, a small deployment, N simulated groups (3C48
# transits the first: its table calibrates the others)
deploy() {
	install_version v1
	uvm-init "$dep" >/dev/null
	grep -qx "RULES_DIR=$P/lib/uvmake/current/share/uvmake/rules" "$dep/uvmake.conf"
	small_conf "$dep" WATCH_RESCAN=0
	mkdir "$sim"
	uvm-sim -a 8 -s 4 -c 4 -t 3 -j 2 -S 7 -n 0.05 -K "$P/share/uvmake/ops/calibrators.csv" \
		-k 3C48 -C 0 -g "$1" -o "$sim" >/dev/null
	ls "$sim" | LC_ALL=C sort >"$BATS_TEST_TMPDIR/files.list"
	[ "$(groups_of | wc -l)" -eq "$1" ]
	[ "$(groups_of | sort -u | wc -l)" -eq "$1" ]
}

@test "upgrade: mid-stream, the daemon re-executes itself as v2, nothing is lost and nothing re-made" {
	deploy 3
	g1=$(group 1) g2=$(group 2)
	uvm-watch -D "$dep" -s 0.2 -d 0.2 >/dev/null 2>"$dep/watch.log" 3>&- &
	wpid=$!
	land 1
	wait_until 300 complete "$g1"
	# the second group lands; v2 is installed while its cycle runs
	land 2
	wait_until 60 compgen -G "$dep/products/$g2/*" >/dev/null
	before=$(stamps)
	install_version v2
	[ "$(readlink "$P/lib/uvmake/current")" = v2 ]
	land 3
	wait_until 60 grep -q "re-executing: its executable changed, version v1 -> v2" "$dep/watch.log"
	wait_until 300 all_complete
	wait_until 60 idle
	# the same process, now running v2's program
	kill -0 "$wpid"
	[ "$(readlink "/proc/$wpid/exe")" = "$P/lib/uvmake/v2/bin/uvm-watch" ]
	[ "$(grep -c 're-executing: ' "$dep/watch.log")" -eq 1 ]
	# every input accounted for: all products, nothing quarantined, no
	# temporaries, the inputs where they landed
	[ -z "$(ls "$dep/quarantine")" ]
	[ "$(ls "$dep/incoming" | wc -l)" -eq 12 ]
	no_temps "$dep"
	[ "$(ls "$dep"/caltables/*.cal.h5 | wc -l)" -eq 1 ]
	# jobs of both versions; the first group's all by v1
	run sqlite3 "$dep/state/pipeline.sqlite" \
		"SELECT DISTINCT json_extract(provenance, '$.version') FROM jobs ORDER BY 1"
	assert_output "v1
v2"
	run sqlite3 "$dep/state/pipeline.sqlite" \
		"SELECT DISTINCT json_extract(provenance, '$.version') FROM jobs WHERE grp = '$g1'"
	assert_output v1
	# v2 changed no recipe and no setting: every group product that
	# existed at the switch (the first group's, the second's so far) and
	# the table are the same files, untouched; the hour's mosaic is the
	# one product re-made, for the groups that came after it
	after=$(stamps)
	grep -q "products/$g1/qa.json" <<<"$before"
	remade=$(LC_ALL=C comm -23 <(grep -v ^mosaics/ <<<"$before") <(echo "$after"))
	echo "re-made since the switch: ${remade:-none}" >&2   # shown when the test fails
	[ "$remade" = "" ]
	[ "$(ls "$dep/mosaics" | tr '\n' ' ')" = "$(cut -c1-11 <<<"$g1").fits $(cut -c1-11 <<<"$g1").sources.json " ]
	run sqlite3 "$dep/state/pipeline.sqlite" "SELECT count(*) FROM jobs WHERE stage = 'mosaic'
		AND status = 0 AND json_extract(provenance, '$.version') = 'v2'"
	[ "$output" -ge 1 ]
	# v1's tree is still there (kept: the last 3 versions)
	[ -x "$P/lib/uvmake/v1/bin/uvm-run" ]
}

@test "upgrade: a changed recipe re-makes that stage's products and what reads them, nothing else" {
	deploy 1
	g=$(group 1)
	land 1
	settle "$dep"
	complete "$g"
	# complete, and still planned: no cycle has planned since
	! grep -qs "^$g " "$dep/state/done.idx" || false
	before=$(stamps)
	# v3: rules/qa.mk has one more comment line
	install_version v3
	run -0 uvm-plan -D "$dep"
	run -1 uvm-why -D "$dep" "products/$g/qa.json"
	assert_line "because newer state/settings/qa.conf products/$g/qa.json"
	assert_line "because recipe rules/qa.mk changed"
	run -0 uvm-why -D "$dep" "products/$g/image.fits"
	settle "$dep"
	after=$(stamps)
	# exactly the report, and the mosaics that read it and their
	# catalogues, are new files
	changed=$(LC_ALL=C comm -13 <(echo "$before") <(echo "$after") | cut -d' ' -f1)
	expected=$( (echo "products/$g/qa.json"
		cd "$dep" && for m in mosaics/*.fits; do
			h=${m#mosaics/}; grep -qx "${h%.fits}" state/hours.idx 2>/dev/null ||
				printf '%s\n' "$m" "${m%.fits}.sources.json"
		done) | LC_ALL=C sort)
	[ "$changed" = "$expected" ]
	[ "$(wc -l <<<"$before")" -eq "$(wc -l <<<"$after")" ]
	run -0 uvm-why -D "$dep" "products/$g/qa.json"
}

@test "upgrade: versions beyond the last KEEP are removed unless a process runs from them; uninstall takes all" {
	install_version v1
	# a process of v1 still running when v2 and v3 are installed
	cp /bin/sleep "$P/lib/uvmake/v1/bin/hold"
	"$P/lib/uvmake/v1/bin/hold" 600 &
	holder=$!
	install_version v2
	install_version v3 KEEP=2
	grep -q "kept version v1: a process runs from it" "$P-v3.log"
	[ -x "$P/lib/uvmake/v1/bin/uvm-run" ]
	kill "$holder"
	wait "$holder" || true
	install_version v3 KEEP=2
	grep -q "removed version v1" "$P-v3.log"
	[ "$(ls "$P/lib/uvmake" | sort | tr '\n' ' ')" = "current v2 v3 " ]
	[ "$(readlink "$P/lib/uvmake/current")" = v3 ]
	# every program and the share directory through current
	[ "$(readlink "$P/bin/uvm-watch")" = ../lib/uvmake/current/bin/uvm-watch ]
	[ "$(readlink "$P/share/uvmake")" = ../lib/uvmake/current/share/uvmake ]
	run -0 "$P/bin/uvm-run" --version
	assert_output "uvm-run v3"
	# back to v2: one rename, the links unchanged
	install_version v2
	[ "$(readlink "$P/lib/uvmake/current")" = v2 ]
	run -0 "$P/bin/uvm-run" --version
	assert_output "uvm-run v2"
	make -C "$BATS_FILE_TMPDIR/tree-v2" --no-print-directory uninstall PREFIX="$P" >/dev/null
	[ ! -e "$P/lib/uvmake" ] && [ ! -e "$P/share/uvmake" ]
	[ -z "$(ls "$P/bin")" ]
}

@test "upgrade: a cycle runs one version throughout: v1's uvm-make runs v1's programs while current is v2" {
	deploy 1
	install_version v2
	land 1
	# the cycle a daemon of v1 started just before the switch
	for i in $(seq 1 15); do
		"$P/lib/uvmake/v1/bin/uvm-make" -D "$dep" -w 60 >/dev/null 2>&1 && break
		sleep 1
	done
	complete "$(group 1)"
	run sqlite3 "$dep/state/pipeline.sqlite" \
		"SELECT DISTINCT json_extract(provenance, '$.version') FROM jobs"
	assert_output v1
	# the next cycle, through BINDIR, is v2's: nothing to re-make
	run -0 uvm-make -D "$dep"
	run sqlite3 "$dep/state/pipeline.sqlite" "SELECT count(*) FROM jobs WHERE
		json_extract(provenance, '$.version') <> 'v1'"
	assert_output 0
}
