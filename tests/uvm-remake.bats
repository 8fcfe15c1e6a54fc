#!/usr/bin/env bats
# uvm-remake: re-make exactly the named targets, or with -r what follows.

load test_helper

setup() {
	d=$BATS_TEST_TMPDIR/d
	uvm-init "$d" >/dev/null
	printf 'SUBBANDS=4\nPARTIAL_MIN=3\nGROUP_TOLERANCE=20\nGROUP_SECONDS=39\nIMAGE_NPIX=64\nCAL_MIN_SNR=3\nCAL_MAX_FLAGGED=0.9\n' >>"$d/uvmake.conf"
	uvm-sim -a 8 -s 4 -c 4 -t 3 -j 2 -S 7 -n 0.05 -K "$UVM_ROOT/ops/calibrators.csv" -k 3C48 -C 0 \
		-o "$d/incoming" >/dev/null
	uvm-make -D "$d" >/dev/null 2>&1
	uvm-plan -D "$d"   # retires the finished group into done.idx
	g=$(ls "$d/products")
	grep -q "^$g " "$d/state/done.idx"
}

@test "uvm-remake: usage and refusals" {
	run -0 uvm-remake --help
	assert_output "usage: uvm-remake [-D home] [-r] [-w secs] target..."
	run -64 uvm-remake -D "$d" -w soon "products/$g/qa.json"
	run -64 uvm-remake -D "$d"
	run -65 uvm-remake -D "$d" ../etc/passwd
	run -65 uvm-remake -D "$d" /etc/passwd
	run -65 uvm-remake -D "$d" 'products/$(touch x)/vis.uvh5'
}

@test "uvm-remake: a cycle holding the lock past -w gives 76 (busy), and nothing changes" {
	cp "$d/state/done.idx" "$BATS_TEST_TMPDIR/done.before"
	q=$d/products/$g/qa.json
	before=$(stat -c '%i %Y' "$q")
	# the holder ends when the test removes its file: no race on a sleep
	: >"$BATS_TEST_TMPDIR/hold"
	flock "$d/state/make.lock" sh -c 'while [ -e "$1" ]; do sleep 0.1; done' sh "$BATS_TEST_TMPDIR/hold" 3>&- &
	holder=$!
	for _ in $(seq 100); do flock -n "$d/state/make.lock" true || break; sleep 0.1; done
	run -76 uvm-remake -D "$d" -w 1 "products/$g/qa.json"
	rm -f "$BATS_TEST_TMPDIR/hold"
	wait "$holder"
	cmp "$d/state/done.idx" "$BATS_TEST_TMPDIR/done.before"
	[ "$(stat -c '%i %Y' "$q")" = "$before" ]
}

@test "uvm-remake: one target of a finished group is re-made, identical, nothing else" {
	v=$d/products/$g/vis.uvh5
	sum=$(sha256sum <"$v")
	touch -d '2020-01-01' "$d/products/$g/image.fits"
	old_img=$(stat -c %Y "$d/products/$g/image.fits")
	run -0 uvm-remake -D "$d" "products/$g/vis.uvh5"
	[ "$(sha256sum <"$v")" = "$sum" ]
	[ "$(stat -c %Y "$d/products/$g/image.fits")" = "$old_img" ]
	[ "$(sqlite3 "$d/state/pipeline.sqlite" "select count(*) from jobs where target='products/$g/vis.uvh5'")" -eq 2 ]
	no_temps "$d"
}

@test "uvm-remake -r: what depends on the target is re-made too" {
	old_img=$(stat -c %Y "$d/products/$g/qa.json")
	sleep 1
	run -0 uvm-remake -D "$d" -r "products/$g/cal.uvh5"
	[ "$(stat -c %Y "$d/products/$g/qa.json")" -gt "$old_img" ]
	[ "$(sqlite3 "$d/state/pipeline.sqlite" "select count(*) from jobs where target='products/$g/image.fits'")" -eq 2 ]
}

@test "uvm-remake: the mosaic of a finished hour is re-made, identical" {
	run -65 uvm-remake -D "$d" mosaics/2025.fits
	h=$(ls "$d/mosaics" | sed -n 's/\.fits$//p')
	[ -n "$h" ]
	grep -qx "$h" "$d/state/hours.idx"
	m=$d/mosaics/$h.fits
	sum=$(sha256sum <"$m")
	run -0 uvm-remake -D "$d" "mosaics/$h.fits"
	[ "$(sha256sum <"$m")" = "$sum" ]
	[ "$(sqlite3 "$d/state/pipeline.sqlite" "select count(*) from jobs where target='mosaics/$h.fits'")" -eq 2 ]
	# nothing of the group was re-made
	[ "$(sqlite3 "$d/state/pipeline.sqlite" "select count(*) from jobs where target='products/$g/image.fits'")" -eq 1 ]
	no_temps "$d"
}
