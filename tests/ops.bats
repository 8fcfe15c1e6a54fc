#!/usr/bin/env bats
# ops.bats: what ops/ tells an operator to install really runs. Every
# program named in ops/ exists; every crontab line is well formed and its
# command runs for real against a fresh deployment (quiet when all is well
# or a run is busy, one line when something fails); every systemd unit
# verifies and its ExecStart lines run the same way.

load test_helper

OPS=$UVM_ROOT/ops

setup() {
	d=$BATS_TEST_TMPDIR/d
	uvm-init "$d" >/dev/null
}

# the command part of a crontab line (after 5 time fields, and a user
# field with -u), with the deployment substituted
cron_cmd() {
	local l=$1 n=5
	[ "${2:-}" = -u ] && n=6
	printf '%s\n' "$l" | sed -E "s/^([^ \t]+[ \t]+){$n}//; s#/srv/uvmake#$d#g"
}
# job lines of a crontab file: not comments, blank or VAR=value
cron_jobs() { grep -vE '^[[:space:]]*(#|$)|^[A-Za-z_][A-Za-z0-9_]*=' "$1"; }

@test "ops: every program named in ops/ is built or shipped" {
	progs=$(grep -ohE '\buvm-[a-z]+\b' "$OPS"/crontab "$OPS"/uvm-watch.cron "$OPS"/uvm-watch.service \
		"$OPS"/systemd/* "$OPS"/hooks/* | sort -u)
	[ -n "$progs" ]
	for p in $progs; do
		[ -x "$UVM_ROOT/bin/$p" ] || [ -x "$UVM_ROOT/build/san/bin/$p" ] || {
			echo "ops/ names '$p', which is neither in bin/ nor build/san/bin/" >&2
			return 1
		}
	done
	# and the jobs the operations need are all scheduled, in both forms
	for p in uvm-backup uvm-retain uvm-audit uvm-metrics uvm-alert; do
		grep -q "$p -D" "$OPS/crontab"
		grep -qh "^ExecStart=/usr/bin/env $p -D /%I" "$OPS"/systemd/*.service
	done
}

@test "ops: crontab lines have 5 valid time fields (and a user in the cron.d file)" {
	field='(\*|[0-9]+(-[0-9]+)?)(/[0-9]+)?(,(\*|[0-9]+(-[0-9]+)?)(/[0-9]+)?)*'
	n=0
	while IFS= read -r l; do
		[[ "$l" =~ ^$field[[:space:]]+$field[[:space:]]+$field[[:space:]]+$field[[:space:]]+$field[[:space:]]+[^[:space:]] ]] ||
			{ echo "bad crontab line: $l" >&2; return 1; }
		[[ "$l" != *%* ]] || { echo "'%' in a cron command: $l" >&2; return 1; }
		n=$((n + 1))
	done < <(cron_jobs "$OPS/crontab")
	[ "$n" -eq 4 ]
	while IFS= read -r l; do
		[[ "$l" =~ ^$field([[:space:]]+$field){4}[[:space:]]+[a-z_][a-z0-9_-]*[[:space:]]+uvm- ]] ||
			{ echo "bad cron.d line: $l" >&2; return 1; }
	done < <(cron_jobs "$OPS/uvm-watch.cron")
	# the minute/hour values are in range
	cron_jobs "$OPS/crontab" | awk '{ if ($1 != "*" && $1+0 > 59) exit 1; if ($2 !~ /\*/ && $2+0 > 23) exit 1 }'
	grep -q '^SHELL=/bin/sh$' "$OPS/crontab"
	grep -q '^UVM_HOME=/srv/uvmake$' "$OPS/crontab"
}

@test "ops: every crontab command runs for real, quiet when healthy and when busy" {
	export UVM_HOME=$d
	while IFS= read -r l; do
		cmd=$(cron_cmd "$l")
		run -0 sh -c "$cmd"
		assert_output ""
	done < <(cron_jobs "$OPS/crontab")
	ls "$d"/backups/uvmake-*.tar.zst
	[ -f "$d/state/uvmake.prom" ]
	[ "$(jq .findings "$d/state/audit.json")" -eq 0 ]
	# busy: every lock held, every job skipped without a word
	flock "$d/state/backup.lock" flock "$d/state/retain.lock" flock "$d/state/audit.lock" \
		flock "$d/state/metrics.lock" sleep 4 &
	sleep 1
	while IFS= read -r l; do
		run -0 sh -c "$(cron_cmd "$l")"
		assert_output ""
	done < <(cron_jobs "$OPS/crontab")
	wait
	[ "$(ls "$d"/backups | wc -l)" -eq 1 ]
	# the cron.d cycle too
	run -0 sh -c "$(cron_cmd "$(cron_jobs "$OPS/uvm-watch.cron")" -u)"
	assert_output ""
	[ -f "$d/state/pipeline.mk" ]
}

@test "ops: a failing cron job says so in one line (mailed by cron)" {
	export UVM_HOME=$d
	echo "BACKUP_REMOTE=nosuchremote:x" >>"$d/uvmake.conf"
	run -0 sh -c "$(cron_cmd "$(cron_jobs "$OPS/crontab" | grep uvm-backup)")"
	assert_output "uvm-backup: exit 69 (see $d/logs/cron.log)"
	grep -q "rclone" "$d/logs/cron.log"
	# audit findings are printed for the mail, not hidden
	touch "$d/quarantine/orphan.hdf5"
	run -0 sh -c "$(cron_cmd "$(cron_jobs "$OPS/crontab" | grep uvm-audit)")"
	assert_line "quarantine	quarantine/orphan.hdf5	no reason file"
}

@test "ops: systemd units verify, pair up, and their ExecStart lines run" {
	units=$(cd "$OPS/systemd" && ls)
	for s in $(cd "$OPS/systemd" && ls *@.service); do
		[ -f "$OPS/systemd/${s%.service}.timer" ]
	done
	for t in $(cd "$OPS/systemd" && ls *@.timer); do
		[ -f "$OPS/systemd/${t%.timer}.service" ]
	done
	if command -v systemd-analyze >/dev/null; then
		v=$BATS_TEST_TMPDIR/units; mkdir "$v"
		for u in $units; do cp "$OPS/systemd/$u" "$v/${u/@./@srv-uvmake.}"; done
		run -0 systemd-analyze verify "$v"/*
		assert_output ""
		while IFS= read -r c; do
			run -0 systemd-analyze calendar "$c"
		done < <(sed -n 's/^OnCalendar=//p' "$OPS"/systemd/*.timer)
	else
		echo "# systemd-analyze not installed: units not verified" >&3
	fi
	# ExecStart lines, the instance /%I being the deployment: exit 0 or a
	# status the unit declares a success
	n=0
	for s in "$OPS"/systemd/*.service; do
		ok=$(sed -n 's/^SuccessExitStatus=//p' "$s")
		while IFS= read -r c; do
			c=${c//\/%I/$d}
			run sh -c "$c"
			[ "$status" -eq 0 ] || [[ " $ok " == *" $status "* ]] ||
				{ echo "$s: '$c' exited $status: $output" >&2; return 1; }
			n=$((n + 1))
		done < <(sed -n 's/^ExecStart=//p' "$s")
		grep -q '^Type=oneshot$' "$s"
	done
	[ "$n" -eq 5 ]
	[ "$(ls "$d"/backups | wc -l)" -eq 1 ]
}
