#!/usr/bin/env bats
# stages.bats: the pipeline graph is one description, rules/stages (issue
# 14). A copy of rules/ gets a toy stage, smooth (a program that copies its
# input), between flag and calapply: one line in its stages file, the
# line of calapply naming it as input, and smooth.mk. Nothing else changes,
# in the copy or in the code, and then: make -n and a real run have
# calapply read the new product; staging (tmpfs), slots, retention, the
# metrics and uvm-remake know it. A broken description is refused with its
# file and line.

bats_require_minimum_version 1.5.0
load test_helper

# toy_rules DIR: a copy of the installation's rules/ with the stage smooth
# (per group, staged on tmpfs, retention class smooth of 3 days, one slot)
# read by calapply instead of flag's product
toy_rules() {
	cp -r "$UVM_ROOT/rules" "$1"
	sed -i -e '/^flag /a smooth    products/{G}/smooth.uvh5 flag group - tmpfs smooth:3 1 -' \
		-e '/^calapply /s/ flag,chosen:calsolve / smooth,chosen:calsolve /' "$1/stages"
	printf '%s\n' '# smooth.mk: a toy stage, products/G/smooth.uvh5, a copy of its input' \
		'products/%/smooth.uvh5:' \
		'	$(RUN) -s smooth -t $@ -i $< -- uvm-smooth -o $@ $<' >"$1/smooth.mk"
}

setup() {
	d=$BATS_TEST_TMPDIR/d
	rules=$BATS_TEST_TMPDIR/rules
	S=$BATS_TEST_TMPDIR/shm
	toy_rules "$rules"
	# the toy program: copies its input to -o, atomically
	mkdir "$BATS_TEST_TMPDIR/bin"
	cat >"$BATS_TEST_TMPDIR/bin/uvm-smooth" <<-'EOF'
	#!/bin/sh
	[ $# -eq 3 ] && [ "$1" = -o ] || { echo "usage: uvm-smooth -o out in" >&2; exit 64; }
	cp -- "$3" "$2.tmp.$$" && mv -- "$2.tmp.$$" "$2"
	EOF
	chmod +x "$BATS_TEST_TMPDIR/bin/uvm-smooth"
	PATH=$BATS_TEST_TMPDIR/bin:$PATH
	uvm-init "$d" >/dev/null
	cat >>"$d/uvmake.conf" <<-CONF
	RULES_DIR=$rules
	SUBBANDS=4
	PARTIAL_MIN=3
	GROUP_TOLERANCE=20
	GROUP_SECONDS=39
	IMAGE_NPIX=64
	IMAGE_NITER=50
	IMAGE_FFTW_PLAN=estimate
	CAL_MIN_SNR=3
	CAL_MAX_FLAGGED=0.9
	RETRY_UNAVAILABLE_BASE=1
	RETRY_BASE=0
	DISK_MARGIN_MB=0
	STAGING_DIR=$S
	STAGING_MAX_PERCENT=100
	CONF
	# one group, the calibrator's: calapply reads smooth and its own table
	uvm-sim -a 8 -s 4 -c 4 -t 3 -j 2 -S 7 -n 0.05 \
		-K "$UVM_ROOT/ops/calibrators.csv" -k 3C48 -C 0 -g 1 -o "$d/incoming" >/dev/null
	G=$(ls "$d/incoming" | sed -n 's/^\(....\)-\(..\)-\(..\)T\(..\):\(..\):\(..\)_sb00\.hdf5$/\1\2\3T\4\5\6/p')
	[ -n "$G" ]
}

@test "stages: the toy stage is the only difference from the installation's rules" {
	run diff -r "$UVM_ROOT/rules" "$rules"
	[ "$status" -eq 1 ]
	assert_line "Only in $rules: smooth.mk"
	# the stages file: one line added, calapply's inputs changed
	[ "$(diff "$UVM_ROOT/rules/stages" "$rules/stages" | grep -c '^>')" -eq 2 ]
	[ "$(diff "$UVM_ROOT/rules/stages" "$rules/stages" | grep -c '^<')" -eq 1 ]
	[ "$(diff -rq "$UVM_ROOT/rules" "$rules" | wc -l)" -eq 2 ]
}

@test "stages: make -n: smooth reads flag's product, calapply reads smooth's" {
	run -0 uvm-make -D "$d" -n
	assert_line "uvm-run -D $d -s smooth -t products/$G/smooth.uvh5 -i products/$G/flag.uvh5 -- uvm-smooth -o products/$G/smooth.uvh5 products/$G/flag.uvh5"
	assert_line "uvm-run -D $d -s calapply -t products/$G/cal.uvh5 -i products/$G/smooth.uvh5 -- uvm-calapply -D $d -c caltables/$G.cal.h5 -o products/$G/cal.uvh5 products/$G/smooth.uvh5"
	# calsolve still reads flag's; image still calapply's
	assert_line "uvm-run -D $d -s calsolve -t caltables/$G.cal.h5 -i products/$G/flag.uvh5 -- uvm-calsolve -D $d -g $G -o caltables/$G.cal.h5 products/$G/flag.uvh5"
	assert_line --partial "-s image -t products/$G/image.fits -i products/$G/cal.uvh5 -- uvm-image -p products/$G/image.pb.fits -o products/$G/image.fits products/$G/cal.uvh5"
	refute_output --partial "uvm-calapply -D $d -c caltables/$G.cal.h5 -o products/$G/cal.uvh5 products/$G/flag.uvh5"
	# the generated edges, and the new product staged (.SECONDARY)
	grep -qx "products/$G/smooth.uvh5: products/$G/flag.uvh5 state/settings/smooth.conf \\\\" "$d/state/pipeline.mk"
	grep -qx "products/$G/cal.uvh5: products/$G/smooth.uvh5 caltables/$G.cal.h5 state/chosen/$G state/settings/calapply.conf \\\\" "$d/state/pipeline.mk"
	grep -qx "include \$(UVM_RULES)/smooth.mk" "$d/state/pipeline.mk"
	grep -qx "  products/$G/smooth.uvh5 \\\\" "$d/state/pipeline.mk"
	sed -n '/^\.SECONDARY:/,/^$/p' "$d/state/pipeline.mk" | grep -q "products/$G/smooth.uvh5"
	# -n made nothing
	[ ! -e "$d/products/$G/vis.uvh5" ]
}

@test "stages: a real run: calapply reads the toy product; staging, slots, retention, metrics know it" {
	settle "$d"
	uvm-plan -D "$d"   # retires the finished group
	grep -q "^$G " "$d/state/done.idx"
	for f in vis.uvh5 flag.uvh5 smooth.uvh5 cal.uvh5 image.fits qa.json; do [ -e "$d/products/$G/$f" ]; done
	cmp "$d/products/$G/flag.uvh5" "$d/products/$G/smooth.uvh5"   # a copy
	# calapply's job read smooth's product, and ran after it was made
	sql() { sqlite3 "$d/state/pipeline.sqlite" "$@"; }
	run -0 sql "select command from jobs where stage = 'calapply' and status = 0"
	assert_output --partial "-o products/$G/cal.uvh5 products/$G/smooth.uvh5"
	refute_output --partial "flag.uvh5"
	[ "$(sql "select (select min(started) from jobs where stage = 'calapply')
		>= (select max(ended) from jobs where stage = 'smooth' and status = 0)")" = 1 ]
	[ "$(sql "select count(*) from jobs where stage = 'smooth' and status = 0")" -eq 1 ]
	# staging: tmpfs-marked in the description, so staged like flag's
	[ -L "$d/products/$G/smooth.uvh5" ]
	[ "$(readlink "$d/products/$G/smooth.uvh5")" = "$S/$G/smooth.uvh5" ]
	[ -L "$d/products/$G/vis.uvh5" ] && [ -L "$d/products/$G/cal.uvh5" ]
	[ -f "$d/products/$G/image.fits" ] && [ ! -L "$d/products/$G/image.fits" ]
	grep -q "staging: 'products/$G/smooth.uvh5' written to '$S/$G/smooth.uvh5'" "$d"/logs/"$G"/*
	# slots: SLOTS_smooth=1 from the description (a slot file while held,
	# emptied after); qa has none
	[ -f "$d/state/slots/slot.smooth.0" ] && [ ! -e "$d/state/slots/slot.smooth.1" ]
	[ ! -e "$d/state/slots/slot.qa.0" ]
	# the metrics count its jobs like any stage's
	run -0 uvm-metrics -D "$d" -o -
	assert_line 'uvmake_jobs_total{stage="smooth",outcome="ok"} 1'
	# retention: class smooth, RETAIN_SMOOTH_DAYS, default 3 days
	touch -d '5 days ago' "$S/$G/smooth.uvh5"
	size=$(stat -c %s "$S/$G/smooth.uvh5")
	run -0 uvm-retain -D "$d" -n
	assert_output "would remove products/$G/smooth.uvh5 (age, $size bytes)"
	echo RETAIN_SMOOTH_DAYS=7 >>"$d/uvmake.conf"
	run -0 uvm-retain -D "$d" -n
	assert_output ""
	echo RETAIN_SMOOTH_DAYS=4 >>"$d/uvmake.conf"
	run -0 uvm-retain -D "$d"
	[ ! -e "$d/products/$G/smooth.uvh5" ] && [ ! -e "$S/$G/smooth.uvh5" ]
	[ -e "$d/products/$G/vis.uvh5" ] && [ -e "$d/products/$G/cal.uvh5" ]
	grep -q "remove products/$G/smooth.uvh5 " "$d/logs/retain.log"
	# a finished group is not re-made for it
	run -0 uvm-make -D "$d"
	[ ! -e "$d/products/$G/smooth.uvh5" ]
	no_temps "$d"
}

@test "stages: a broken description is refused with its file and line; nothing runs" {
	sed -i '/^calapply /s/ smooth,/ smoth,/' "$rules/stages"
	n=$(grep -n '^calapply ' "$rules/stages" | cut -d: -f1)
	run -78 uvm-plan -D "$d"
	assert_output "uvm-plan: $rules/stages:$n: unknown stage 'smoth' in the inputs of 'calapply'"
	[ ! -e "$d/state/pipeline.mk" ]
	run -78 uvm-make -D "$d"
	run -78 uvm-retain -D "$d" -n
	assert_output "uvm-retain: $rules/stages:$n: unknown stage 'smoth' in the inputs of 'calapply'"
	run -78 uvm-metrics -D "$d" -o -
	# a cycle, a duplicate stage, a bad scope
	sed -i '/^calapply /s/ smoth,/ image,/' "$rules/stages"
	run -78 uvm-plan -D "$d"
	assert_output --regexp "^uvm-plan: $rules/stages:[0-9]+: cycle: "
	sed -i '/^calapply /s/ image,/ smooth,/' "$rules/stages"
	run -0 uvm-plan -D "$d"
	echo 'smooth products/{G}/s2.uvh5 combine group - disk keep 0 -' >>"$rules/stages"
	run -78 uvm-plan -D "$d"
	assert_output --regexp "^uvm-plan: $rules/stages:$(wc -l <"$rules/stages"): stage 'smooth' already defined on line [0-9]+$"
	sed -i '$d' "$rules/stages"
	sed -i '/^smooth /s/ group / daily /' "$rules/stages"
	run -78 uvm-plan -D "$d"
	assert_output --partial "scope 'daily': want subband, group or hour"
	# a stage without its rules file
	sed -i '/^smooth /s/ daily / group /' "$rules/stages"
	rm "$rules/smooth.mk"
	run -78 uvm-plan -D "$d"
	assert_output --partial "stage 'smooth' has no rules file '$rules/smooth.mk'"
}

@test "stages: uvm-remake knows the toy product by its template; other names are refused" {
	settle "$d"
	uvm-plan -D "$d"
	grep -q "^$G " "$d/state/done.idx"
	run -65 uvm-remake -D "$d" "products/$G/nosuch.uvh5"
	assert_output "uvm-remake: refusing target 'products/$G/nosuch.uvh5': not a product of '$rules/stages'"
	n=$(sqlite3 "$d/state/pipeline.sqlite" "select count(*) from jobs where stage = 'smooth' and status = 0")
	run -0 uvm-remake -D "$d" "products/$G/smooth.uvh5"
	[ -e "$d/products/$G/smooth.uvh5" ]
	[ "$(sqlite3 "$d/state/pipeline.sqlite" "select count(*) from jobs where stage = 'smooth' and status = 0")" -eq $((n + 1)) ]
	no_temps "$d"
}
