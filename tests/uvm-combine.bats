#!/usr/bin/env bats
# uvm-combine: usage; four small simulated subbands combined into ascending
# frequency, checked against the inputs themselves read by h5dump (the
# frequencies are the sorted union, every channel's data, flags and
# nsamples equal bit for bit to the input channel it came from); a partial
# group (-m) recorded; a subband from another array, a non-HDF5 file and a
# frequency gap without -m rejected with 65 naming the file and writing
# $UVM_BLAME_FILE; missing input 66; full and read-only file systems 74/73
# leaving no temporary; an idempotent re-run; hostile file names.

bats_require_minimum_version 1.5.0
load test_helper

USAGE_TEXT='usage: uvm-combine [-m missing] -o out file...'

setup() {
	cd "$BATS_TEST_TMPDIR"
}

teardown() {
	if [ -n "${MNT:-}" ]; then
		umount "$MNT" 2>/dev/null || true
	fi
}

# Debian's LZF plugin for h5dump lacks its liblzf dependency: preload it.
LZF_LIB=$(ls /usr/lib/*/liblzf.so.1 2>/dev/null | head -1)

# h5vals FILE DATASET: the values of a dataset one per line (compound
# members in order; FALSE/TRUE as 0/1), printed exactly (%.9g round-trips
# float32, %.17g float64).
h5vals() {
	LD_PRELOAD=$LZF_LIB h5dump -y -w 0 -m "${3:-%.17g}" -d "$2" "$1" |
		awk '/DATA \{/{f=1;next} /^ *\}$/{f=0} f' | tr -d ' {}' | tr ',' '\n' |
		grep -v '^$' | sed 's/^FALSE$/0/; s/^TRUE$/1/'
}

sim4() {
	run -0 sim_small -o in
	mapfile -t IN < <(ls in/*.hdf5)
	[ "${#IN[@]}" -eq 4 ]
}

@test "usage text on --help; bad usage exits 64" {
	run -0 uvm-combine --help
	assert_output "$USAGE_TEXT"
	run -64 uvm-combine
	assert_output "$USAGE_TEXT"
	run -64 uvm-combine -o out.uvh5
	run -64 uvm-combine in.hdf5
	run -64 uvm-combine -m sb3 -o out.uvh5 in.hdf5
	assert_line --index 0 "uvm-combine: bad missing subband 'sb3' (expected sbNN)"
	[ ! -e out.uvh5 ]
}

@test "four subbands: ascending frequencies, the sorted union of the inputs'" {
	sim4
	run -0 uvm-combine -o out.uvh5 "${IN[@]}"
	no_temps .
	for f in "${IN[@]}"; do h5vals "$f" /Header/freq_array; done | sort -g > expect
	h5vals out.uvh5 /Header/freq_array > got
	[ "$(wc -l < got)" -eq 16 ]
	diff expect got
	# strictly ascending, and the inputs were descending (DSA-110 order)
	sort -g -c -u got
	h5vals "${IN[0]}" /Header/freq_array | sort -g -r -c -u
	run -0 uvm-dump out.uvh5
	assert_line 'Nfreqs=16'
	assert_line 'Nspws=1'
	assert_line 'extra.nsubbands_combined=4'
	refute_line --partial 'missing_subbands'
}

@test "every output channel holds its input channel's data bit for bit" {
	sim4
	run -0 uvm-combine -o out.uvh5 "${IN[@]}"
	h5vals out.uvh5 /Header/freq_array > ofreq
	for ds in visdata flags nsamples; do
		fmt=%.9g
		h5vals out.uvh5 /Data/$ds $fmt > "o.$ds"
		for f in "${IN[@]}"; do
			h5vals "$f" /Header/freq_array > ifreq
			h5vals "$f" /Data/$ds $fmt > "i.$ds"
			# per value: row, channel, pol, member; map the input channel to
			# the output channel of the same frequency and compare strings
			run awk -v m=$([ $ds = visdata ] && echo 2 || echo 1) '
				FILENAME == "ofreq" { oidx[$1] = no++; next }
				FILENAME == "ifreq" { ich[ni++] = $1; next }
				FILENAME == "o.'$ds'" { o[no2++] = $1; next }
				{ k = FNR - 1; per = 2 * m; c = int(k / per) % ni; r = int(k / (per * ni));
				  rest = k % per; oc = oidx[ich[c]];
				  if (!(ich[c] in oidx)) { print "no output channel for " ich[c]; bad++; exit 1 }
				  ok = r * no * per + oc * per + rest;
				  if (o[ok] != $1) { print "mismatch at row " r " chan " c ": " $1 " vs " o[ok]; bad++ }
				  n++ }
				END { if (bad || n == 0) exit 1; print n " values equal" }' ofreq ifreq "o.$ds" "i.$ds"
			assert_success
		done
	done
}

@test "a partial group: missing subbands recorded, the gap accepted only when declared" {
	sim4
	sb1=$(ls in/*_sb01.hdf5)
	rest=("${IN[@]/$sb1/}")
	run -0 uvm-combine -m sb01 -o out.uvh5 ${rest[@]}
	run -0 uvm-dump out.uvh5
	assert_line 'Nfreqs=12'
	assert_line 'extra.missing_subbands=sb01'
	h5dump -y -d /Header/history out.uvh5 | grep -q 'missing subbands: sb01'
	# the gap is one subband wide: frequencies jump by 5 channel widths
	# once, one width elsewhere
	h5vals out.uvh5 /Header/freq_array |
		awk 'NR > 1 { d = $1 - p; n[sprintf("%.0f", d)]++ } { p = $1 } END { for (k in n) print k, n[k] }' |
		sort -n > steps
	[ "$(wc -l < steps)" -eq 2 ]
	[ "$(awk 'NR==1{print $2}' steps)" -eq 10 ]
	[ "$(awk 'NR==2{print $2}' steps)" -eq 1 ]
	[ "$(awk 'NR==1{w=$1} NR==2{print ($1 == 5 * w)}' steps)" -eq 1 ]
	# an undeclared gap is bad input naming the file above the gap
	rm out.uvh5
	run -65 env UVM_BLAME_FILE=blame uvm-combine -o out.uvh5 ${rest[@]}
	sb0=$(ls in/*_sb00.hdf5)
	assert_output "uvm-combine: '$sb0': 1 subband(s) missing below it but 0 declared (-m)"
	[ "$(cat blame)" = "$sb0" ]
	[ ! -e out.uvh5 ]
	# an edge subband missing leaves no gap; it is recorded all the same
	run -0 uvm-combine -m sb00 -m sb07,sb09 -o out.uvh5 $(ls in/*.hdf5 | grep -v _sb00)
	run -0 uvm-dump out.uvh5
	assert_line 'extra.missing_subbands=sb00,sb07,sb09'
}

@test "a subband from another array is rejected with 65 naming it, blame file written" {
	sim4
	run -0 uvm-sim -a 7 -s 4 -c 4 -t 3 -o other
	odd=$(ls other/*_sb02.hdf5)
	files=($(ls in/*.hdf5 | grep -v _sb02) "$odd")
	run -65 env UVM_BLAME_FILE=blame uvm-combine -o out.uvh5 "${files[@]}"
	assert_output "uvm-combine: '$odd': baselines or times differ (Nblts, Nbls, Ntimes)"
	[ "$(cat blame)" = "$odd" ]
	[ ! -e out.uvh5 ]
	no_temps .
	# whatever its place on the command line
	run -65 env UVM_BLAME_FILE=blame2 uvm-combine -o out.uvh5 "$odd" $(ls in/*.hdf5 | grep -v _sb02)
	assert_output "uvm-combine: '$odd': baselines or times differ (Nblts, Nbls, Ntimes)"
	[ "$(cat blame2)" = "$odd" ]
	# the same subband twice overlaps in frequency
	run -65 uvm-combine -o out.uvh5 "${IN[@]}" "${IN[0]}"
	assert_output --partial "overlaps"
}

@test "a non-HDF5 input is 65 naming it; a missing input is 66" {
	sim4
	echo 'not hdf5' > 'bad file.hdf5'
	run -65 env UVM_BLAME_FILE=blame uvm-combine -o out.uvh5 "${IN[@]:0:3}" 'bad file.hdf5'
	assert_output --partial "'bad file.hdf5'"
	[ "$(cat blame)" = 'bad file.hdf5' ]
	run -66 uvm-combine -o out.uvh5 "${IN[@]:0:3}" nosuch.hdf5
	assert_output --partial "nosuch.hdf5"
	[ ! -e out.uvh5 ]
}

@test "full file system: 74; read-only: 73; no temporary left" {
	sim4
	MNT=$BATS_TEST_TMPDIR/mnt
	tiny_fs "$MNT" 12 || skip "cannot mount tmpfs"
	run -74 uvm-combine -o "$MNT/out.uvh5" "${IN[@]}"
	[ ! -e "$MNT/out.uvh5" ]
	no_temps "$MNT"
	mount -o remount,ro "$MNT"
	run -73 uvm-combine -o "$MNT/out.uvh5" "${IN[@]}"
	no_temps "$MNT"
}

@test "real sample files of every visdata type pass through unchanged" {
	[ -n "$UVM_SAMPLES" ] && [ -d "$UVM_SAMPLES" ] || skip "no sample files"
	n=0
	for f in "$UVM_SAMPLES"/*.uvh5; do
		if uvm-combine -o one.uvh5 "$f" 2>err; then
			uvm-dump -d "$f" | grep -E '^(flag_count|vis_abs_sum|nonfinite_count|nsamples_sum|Nblts)=' > a
			uvm-dump -d one.uvh5 | grep -E '^(flag_count|vis_abs_sum|nonfinite_count|nsamples_sum|Nblts)=' > b
			diff a b
			n=$((n + 1))
		else
			# only a file whose channels are not evenly spaced is refused
			grep -q 'channels not evenly spaced' err
		fi
		rm -f one.uvh5
	done
	[ "$n" -ge 8 ]
}

@test "idempotent: a re-run gives the same header and data; hostile output name" {
	sim4
	name="out 'x' \$(touch pwned);.uvh5"
	run -0 uvm-combine -o "$name" "${IN[@]}"
	uvm-dump -d "$name" > first
	run -0 uvm-combine -o "$name" "${IN[@]}"
	uvm-dump -d "$name" > second
	diff first second
	[ ! -e pwned ]
	no_temps .
}

@test "the correlator's own chunking combines to the same product as ours" {
	sim4
	mkdir wri
	for f in "${IN[@]}"; do
		/usr/bin/python3 "$UVM_ROOT/tests/dsa110_file.py" --writer-chunks --rechunk "$f" "wri/${f##*/}"
	done
	# the copies are chunked as the writer chunks: frequency and polarization split
	h5dump -p -H -d /Data/visdata "wri/${IN[0]##*/}" | grep -E 'CHUNKED \( [0-9]+, 1, [12], 1 \)'
	run -0 uvm-combine -o own.uvh5 "${IN[@]}"
	run -0 uvm-combine -o wri.uvh5 wri/*.hdf5
	no_temps .
	# h5py, not our reader, compares every dataset of the two products
	run -0 /usr/bin/python3 -c '
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
names = []
a.visit(lambda n: names.append(n) if isinstance(a[n], h5py.Dataset) else None)
bad = [n for n in names if n not in b or not np.array_equal(a[n][()], b[n][()])]
print(len(names), "datasets;", "differ:", *bad)
sys.exit(1 if bad or len(names) < 20 else 0)
' own.uvh5 wri.uvh5
	assert_output --regexp '^[0-9]+ datasets; differ:$'
}
