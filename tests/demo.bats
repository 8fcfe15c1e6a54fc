#!/usr/bin/env bats
# The main job end to end, as `make demo` runs it (bin/uvm-demo), shrunk to
# four groups: a calibrator transit, a corrupt subband, a late subband; the
# daemon stops cleanly and a second run resumes without redoing anything.

load test_helper

@test "uvm-demo: usage and a bad group count" {
	run -0 uvm-demo -h
	assert_output 'usage: uvm-demo [-D dir] [-g groups]'
	run -64 uvm-demo -x
	assert_output --partial 'usage: uvm-demo'
	run -64 uvm-demo -g 1
	assert_output 'uvm-demo: -g needs a whole number of groups, at least 2'
}

@test "uvm-demo: four groups end to end, the corrupt file quarantined, then a re-run redoes nothing" {
	d=$BATS_TEST_TMPDIR/var
	run -0 timeout 600 uvm-demo -D "$d" -g 4
	assert_output --partial 'groups processed: 4'
	assert_output --partial 'images:           4'
	# the gate's count is the reports' own
	npass=$(cat "$d"/products/*/qa.json | jq -s 'map(select(.pass)) | length')
	assert_output --partial "quality gate:     $npass passed, $((4 - npass)) failed"
	# every hour the data touch has its mosaic, made of exactly that hour's
	# images that passed the gate
	[ "$(jq '.mosaics | length' "$d/state/plan.json")" -eq 0 ]
	hours=$(ls "$d/products" | cut -c1-11 | sort -u)
	[ -n "$hours" ]
	for h in $hours; do
		n=$(cat "$d/products/$h"*/qa.json | jq -s 'map(select(.pass)) | length')
		assert_output --partial "mosaic:           mosaics/$h.fits ($n images)"
	done
	# the corrupt subband of group 1 (4/4), and nothing else, is in quarantine
	assert_output --regexp 'quarantined: +[0-9T:-]+_sb05\.hdf5: .*corrupt'
	[ "$(ls "$d/quarantine" | grep -vc '\.reason$')" -eq 1 ]
	# every group has its final product; the calibrator group its table
	[ "$(ls "$d"/products/*/qa.json | wc -l)" -eq 4 ]
	[ "$(ls "$d"/caltables/*.cal.h5 | wc -l)" -eq 1 ]
	# the late subband (group 2) was waited for and used: 16 verified there
	g2=$(ls "$d/products" | sed -n 3p)
	[ "$(ls "$d/products/$g2"/sb*.ok | wc -l)" -eq 16 ]
	# the dashboard was written, and the daemon is gone
	[ -s "$d/dashboard.html" ]
	run ! pgrep -f "uvm-watch -D $d"
	# no temporary left anywhere in the deployment
	no_temps "$d"
	jobs=$(sqlite3 "$d/state/pipeline.sqlite" 'select count(*) from jobs')
	before=$(find "$d/products" "$d/caltables" -type f -printf '%P %T@\n' | sort)

	run -0 timeout 300 uvm-demo -D "$d" -g 4
	assert_output --partial 'already streamed: resuming'
	assert_output --partial 'groups processed: 4'
	[ "$(sqlite3 "$d/state/pipeline.sqlite" 'select count(*) from jobs')" -eq "$jobs" ]
	[ "$(find "$d/products" "$d/caltables" -type f -printf '%P %T@\n' | sort)" = "$before" ]
}
