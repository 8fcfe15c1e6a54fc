#!/usr/bin/env bats
# science.bats: the science stages judged by their results, against truth
# the simulator injected.
#
# The quality gate: one simulated 3C48 transit with the simulator's
# per-antenna gains (default level: instrumental phases spread over
# +-180 deg, delays of a few ns, 10% amplitudes), imaged uncalibrated,
# calibrated with a table solved on ANOTHER simulated transit (other
# gains), and calibrated with its own table. With the shipped gate
# (uvm-init's uvmake.conf) the first two fail, naming the criteria, and
# the third passes; the numbers are the physical ones: with the antenna
# phases scrambled the source decorrelates (peak a small fraction of its
# flux, dynamic range that of a noise image, below the gate), with the
# right gains the peak is the source's apparent flux from the truth file
# and the dynamic range is hundreds of times the gate.
#
# The fallback chain through the planner and make (uvm-make cycles, as a
# deployment runs them): a target group with no table waits (69, deferred,
# visible in uvm-status), then its calibrator's group lands, is solved and
# registered, and the next cycles calibrate the target with that table; a
# target calibrated with a stale table (a transit a sidereal day earlier)
# is re-made with the covering table when that one appears.

load test_helper

# 16 antennas (120 baselines), 2 subbands of 8 channels, 6 integrations,
# only 3C48 in the sky; -S picks the gains (and the noise)
sim_transit() {
	uvm-sim -a 16 -s 2 -c 8 -t 6 -n 0.1 -N 0 -K "$UVM_ROOT/ops/calibrators.csv" \
		-k 3C48 -C 0 "$@" >/dev/null
}

# the pipeline's small stream (as tests/pipeline.bats): 8 antennas, 4
# subbands of 4 channels, 3 integrations (39 s groups), 3C48 transiting
# in group 0 of two; group 1 is the target
sim_stream() {
	uvm-sim -a 8 -s 4 -c 4 -t 3 -j 2 -n 0.05 -K "$UVM_ROOT/ops/calibrators.csv" \
		-k 3C48 -C 0 "$@" >/dev/null
}

setup_file() {
	local d=$BATS_FILE_TMPDIR
	uvm-init "$d/home" >/dev/null
	# the observation, and another one with other gains
	sim_transit -S 21 -R "$d/obs.json" -o "$d/obs"
	sim_transit -S 22 -R "$d/other.json" -o "$d/other"
	uvm-combine -o "$d/obs.uvh5" "$d"/obs/*.hdf5
	uvm-combine -o "$d/other.uvh5" "$d"/other/*.hdf5
	uvm-calsolve -D "$d/home" -g OBS -o "$d/obs.cal.h5" "$d/obs.uvh5" 2>/dev/null
	uvm-calsolve -D "$d/home" -g OTHER -o "$d/other.cal.h5" "$d/other.uvh5" 2>/dev/null
	uvm-calapply -D "$d/home" -c "$d/obs.cal.h5" -o "$d/right.uvh5" "$d/obs.uvh5" >/dev/null
	uvm-calapply -D "$d/home" -c "$d/other.cal.h5" -o "$d/wrong.uvh5" "$d/obs.uvh5" >/dev/null
	for x in obs right wrong; do
		# CLEAN to 5 sigma without auto-masking: CLEANed to 3 sigma, the
		# scattered flux of badly calibrated data goes into components and
		# peak / rms passes the dynamic-range gate (~15-18); the gate on
		# the flux scale against a reference catalogue is what catches
		# that (issue 17, not built yet)
		uvm-image -n 512 -c 13 -P estimate -a 0 -A 5 -o "$d/$x.fits" "$d/$x.uvh5" 2>/dev/null
		UVM_HOME="$d/home" uvm-qa -o "$d/$x.qa.json" "$d/$x.fits" 2>"$d/$x.qa.err" || true
	done
	# the stream: a calibrator group and a target group; and a 3C48 transit
	# one sidereal day earlier (its table is stale for the target)
	sim_stream -g 2 -S 7 -R "$d/stream.json" -o "$d/stream"
	sim_stream -g 1 -S 8 -T 2025-10-24T00:00:00 -R "$d/early.json" -o "$d/early"
	# lag: 0336+323 transits in group 0 of "near"; 3C93.1 12 min later in
	# group 3 of "later", whose group 0 is the target (2 min before it),
	# both at the deployment's pointing
	uvm-sim -a 8 -s 4 -c 4 -t 3 -j 2 -n 0.05 -N 0 -d 33.16 -K "$UVM_ROOT/ops/calibrators.csv" \
		-k 0336+323 -g 1 -S 9 -R "$d/near.json" -o "$d/near" >/dev/null
	uvm-sim -a 8 -s 4 -c 4 -t 3 -j 2 -n 0.05 -N 0 -d 33.16 -K "$UVM_ROOT/ops/calibrators.csv" \
		-k 3C93.1 -C 3 -g 4 -S 9 -R "$d/later.json" -o "$d/later" >/dev/null
}

setup() {
	d=$BATS_FILE_TMPDIR
	t=$BATS_TEST_TMPDIR
}

# gate NAME: "pass value limit" of check NAME in report NAME.qa.json
gate() {
	jq -r --arg c "$2" '.checks[] | select(.name == $c) | "\(.pass) \(.value) \(.limit)"' "$d/$1.qa.json"
}

@test "science: the shipped gate is the one judged (uvm-init's config)" {
	grep -qx 'QA_MIN_DR=10' "$d/home/uvmake.conf"
	grep -qx 'QA_MAX_RMS_JY=0.01' "$d/home/uvmake.conf"
	# both tables are good solutions (the wrong one is wrong only for this data)
	run -0 sqlite3 "$d/home/state/calibration.sqlite" "select grp, status from caltables order by grp"
	assert_output "$(printf 'OBS|good\nOTHER|good')"
}

@test "science: uncalibrated visibilities fail the gate: source decorrelated, dynamic range below 10" {
	s=$(jq '.sources[] | select(.name == "3C48") | .apparent_flux_jy[0]' "$d/obs.json")
	run jq -c '[.pass, [.checks[] | select(.pass | not) | .name]]' "$d/obs.qa.json"
	assert_output '[false,["rms_jy","dynamic_range"]]'
	grep -q "quality gate failed" "$d/obs.qa.err"
	read -r pass dr lim <<<"$(gate obs dynamic_range)"
	read -r rpass rms rlim <<<"$(gate obs rms_jy)"
	echo "uncalibrated: dr $dr (limit $lim) rms $rms (limit $rlim) peak $(jq .peak_jy "$d/obs.qa.json") of $s Jy"
	[ "$pass" = false ] && [ "$lim" = 10 ] && [ "$rlim" = 0.01 ]
	# a noise-like image: peak a few times its rms, the source's flux
	# scattered (peak under 20% of it, rms over 10 times the gate)
	jq -ne "$dr > 2 and $dr < 10 and $rms > 0.1"
	jq -e --argjson s "$s" '.peak_jy < 0.2 * $s' "$d/obs.qa.json"
}

@test "science: a table solved on another observation fails the gate the same way" {
	s=$(jq '.sources[] | select(.name == "3C48") | .apparent_flux_jy[0]' "$d/obs.json")
	run jq -c '[.pass, [.checks[] | select(.pass | not) | .name]]' "$d/wrong.qa.json"
	assert_output '[false,["rms_jy","dynamic_range"]]'
	grep -q "quality gate failed" "$d/wrong.qa.err"
	read -r pass dr lim <<<"$(gate wrong dynamic_range)"
	read -r rpass rms rlim <<<"$(gate wrong rms_jy)"
	echo "wrong table: dr $dr (limit $lim) rms $rms peak $(jq .peak_jy "$d/wrong.qa.json") of $s Jy"
	jq -ne "$dr > 2 and $dr < 10 and $rms > 0.1"
	jq -e --argjson s "$s" '.peak_jy < 0.2 * $s' "$d/wrong.qa.json"
	# the calibrated file says which table made it (so the error is traceable)
	run -0 uvm-dump "$d/wrong.uvh5"
	assert_line "extra.cal_table=$d/other.cal.h5"
}

@test "science: the right table passes: peak = 3C48's apparent flux (2%), dynamic range > 100x the gate" {
	s=$(jq '.sources[] | select(.name == "3C48") | .apparent_flux_jy[0]' "$d/obs.json")
	run jq -c '[.pass, [.checks[] | select(.pass | not) | .name]]' "$d/right.qa.json"
	assert_output '[true,[]]'
	[ ! -s "$d/right.qa.err" ]
	read -r pass dr lim <<<"$(gate right dynamic_range)"
	read -r rpass rms rlim <<<"$(gate right rms_jy)"
	echo "right table: dr $dr rms $rms peak $(jq .peak_jy "$d/right.qa.json") of $s Jy"
	jq -ne "$dr > 1000 and $rms < 0.01"
	jq -e --argjson s "$s" '(.peak_jy / $s - 1 | fabs) < 0.02' "$d/right.qa.json"
	# 3C48 where the truth puts it (< 0.1 beam)
	jq -e --slurpfile t "$d/obs.json" '
	  ($t[0].sources[] | select(.name == "3C48")) as $s | (3.141592653589793 / 180) as $rad |
	  (((.peak_pos.ra_deg - $s.ra_deg) * ($s.dec_deg * $rad | cos) * 3600) as $a |
	   ((.peak_pos.dec_deg - $s.dec_deg) * 3600) as $b | ($a * $a + $b * $b) | sqrt) < 0.1 * .beam.bmaj_arcsec' \
		"$d/right.qa.json"
	# calibration is what moved the dynamic range: over 100 times the others'
	jq -ne --argjson a "$dr" --argjson b "$(gate obs dynamic_range | cut -d' ' -f2)" \
		--argjson c "$(gate wrong dynamic_range | cut -d' ' -f2)" '$a > 100 * $b and $a > 100 * $c'
}

# deploy DIR: a deployment for the small stream; unavailable calibration
# retried after 1-2 s instead of minutes, so the test waits for real
deploy() {
	small_deploy "$1"
}

# land DIR TRUTH K: copy group K's files of the simulation next to TRUTH
land() {
	local f src=${2%.json}
	for f in $(jq -r ".groups[$3].files[]" "$2"); do cp -p "$src/$f" "$1/incoming/"; done
}

# cal_of DIR G: "level table" recorded in G's calibrated visibilities
cal_of() {
	uvm-dump "$1/products/$2/cal.uvh5" | sed -n 's/^extra\.cal_\(table\|level\)=//p' | paste -sd' '
}

@test "science: fallback none then arrival: the target waits (69, deferred, in uvm-status), then is calibrated with the new table" {
	h=$t/d
	deploy "$h"
	cal=$(jq -r '.groups[0].id' "$d/stream.json")
	tgt=$(jq -r '.groups[1].id' "$d/stream.json")
	[ "$(jq -r '.groups[0].calibrator' "$d/stream.json")" = 3C48 ]
	[ "$(jq -r '.groups[1].calibrator' "$d/stream.json")" = null ]
	land "$h" "$d/stream.json" 1
	run uvm-make -D "$h"
	[ "$status" -eq 75 ]
	assert_output --partial "class unavailable, status 69"
	grep -qx "CAL_$tgt := " "$h/state/pipeline.mk"
	[ -f "$h/products/$tgt/vis.uvh5" ] && [ ! -e "$h/products/$tgt/cal.uvh5" ]
	run -0 sqlite3 "$h/state/pipeline.sqlite" \
		"select state, last_class, last_status, next_attempt_at > updated from targets where target = 'products/$tgt/cal.uvh5'"
	assert_output "deferred|unavailable|69|1"
	run -0 uvm-status -D "$h" -j
	jq -e --arg g "$tgt" '.failures | any(.group == $g and .stage == "calapply" and
	    .class == "unavailable" and .status == 69 and (.reason | test("no calibration table")))' <<<"$output"
	jq -e '.health.checks[] | select(.name == "calibration") | .status == "degraded"' <<<"$output"
	# the calibrator's group lands: solved, registered, and the target
	# calibrated with its table on the following cycles
	land "$h" "$d/stream.json" 0
	settle "$h"
	[ -f "$h/caltables/$cal.cal.h5" ]
	run -0 sqlite3 "$h/state/calibration.sqlite" "select status from caltables where grp = '$cal'"
	assert_output good
	run cal_of "$h" "$tgt"
	assert_output "ok caltables/$cal.cal.h5"
	for f in image.fits qa.json; do [ -f "$h/products/$tgt/$f" ]; done
	no_temps "$h"
}

@test "science: fallback stale then covering table: the target is re-made with the covering one" {
	h=$t/d
	deploy "$h"
	early=$(jq -r '.groups[0].id' "$d/early.json")
	cal=$(jq -r '.groups[0].id' "$d/stream.json")
	tgt=$(jq -r '.groups[1].id' "$d/stream.json")
	# yesterday's transit: solved and registered
	land "$h" "$d/early.json" 0
	settle "$h"
	[ -f "$h/caltables/$early.cal.h5" ]
	# the target: calibrated at once with yesterday's table, level stale
	# (outside CAL_VALIDITY_HOURS, within CAL_MAX_AGE_HOURS), with a warning
	land "$h" "$d/stream.json" 1
	settle "$h"
	run cal_of "$h" "$tgt"
	assert_output "stale caltables/$early.cal.h5"
	grep -q "warning" "$h/logs/$tgt/calapply.log"
	cp -p "$h/products/$tgt/qa.json" "$t/qa.stale"
	# today's transit lands: its table covers the target, which is re-made
	land "$h" "$d/stream.json" 0
	settle "$h"
	[ -f "$h/caltables/$cal.cal.h5" ]
	# the cycle after the table's: the planner now names it for the target
	uvm-make -D "$h" >/dev/null 2>&1 || true
	grep -qx "CAL_$tgt := caltables/$cal.cal.h5" "$h/state/pipeline.mk"
	run cal_of "$h" "$tgt"
	assert_output "ok caltables/$cal.cal.h5"
	[ "$h/products/$tgt/qa.json" -nt "$t/qa.stale" ]
	no_temps "$h"
}

@test "science: lag: a target finished before its nearer calibrator's group arrives is re-made with that table, as in a batch run" {
	a=$(jq -r '.groups[0].id' "$d/near.json")
	tgt=$(jq -r '.groups[0].id' "$d/later.json")
	c=$(jq -r '.groups[3].id' "$d/later.json")
	[ "$(jq -r '.groups[0].calibrator' "$d/near.json")" = 0336+323 ]
	[ "$(jq -r '.groups[3].calibrator' "$d/later.json")" = 3C93.1 ]
	# the stream: 0336+323's group, then the target, finished with its
	# table (level ok: 14 min from it, inside the 24 h window) while
	# 3C93.1's group, 2 min after the target, has not arrived
	h=$t/s
	deploy "$h"
	land "$h" "$d/near.json" 0
	settle "$h"
	land "$h" "$d/later.json" 0
	settle "$h"
	settle "$h"
	run cal_of "$h" "$tgt"
	assert_output "ok caltables/$a.cal.h5"
	[ -f "$h/products/$tgt/qa.json" ]
	# still planned after the cycle that would retire it: a nearer table
	# may come
	run -1 grep -q "^$tgt " "$h/state/done.idx"
	# 3C93.1's group arrives: solved, and the target re-made with its table
	land "$h" "$d/later.json" 3
	settle "$h"
	# the cycle after the table's names it for the target (re-made); the
	# one after that retires the target
	settle "$h"
	settle "$h"
	run -0 sqlite3 "$h/state/calibration.sqlite" "select status from caltables where grp = '$c'"
	assert_output good
	run cal_of "$h" "$tgt"
	assert_output "ok caltables/$c.cal.h5"
	grep -q "^$tgt " "$h/state/done.idx"
	# the same three groups at once: the same products, byte for byte
	b=$t/b
	deploy "$b"
	land "$b" "$d/near.json" 0
	land "$b" "$d/later.json" 0
	land "$b" "$d/later.json" 3
	settle "$b"
	settle "$b"
	run cal_of "$b" "$tgt"
	assert_output "ok caltables/$c.cal.h5"
	diff <(products "$b") <(products "$h")
	no_temps "$h"
}
