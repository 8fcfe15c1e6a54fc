#!/usr/bin/env bats
# uvm-dump: header and data checksums of UVH5 files, checked against
# h5dump (an independent reader) on the twelve real sample files in
# $UVM_SAMPLES, plus usage and every documented exit status.
#
# Exit 74 test: we run as root, for whom chmod 000 changes nothing, so the
# unreadable input is a directory (read fails with EISDIR): uvm-dump
# treats any failure to read the input other than "missing" as an I/O
# error (74), and only content problems as bad data (65).

bats_require_minimum_version 1.5.0
load test_helper

USAGE='usage: uvm-dump [-d] file'

# h5table: for each dataset under /Header of $F, from a single h5dump
# (floats printed with %.17g, strings unquoted, only the first line of a
# multi-line string), its first value, last value and (up to 64 values)
# all values comma-separated, into the arrays H5FIRST, H5LAST, H5ALL.
h5table() {
	local tab=$BATS_TEST_TMPDIR/h5table k a b c
	h5dump -m %.17g -g /Header "$F" | awk '
		function path(   i, p) { p = ""; for (i = 1; i <= n; i++) if (name[i] != "") p = p (p == "" ? "" : "/") name[i]; return p }
		function add(v) { if (cnt == 0) first = v; last = v; cnt++; if (cnt <= 64) all = all (cnt > 1 ? "," : "") v }
		indata && /^ *\}$/ { print path() "\t" first "\t" last "\t" (cnt <= 64 ? all : "..."); indata = 0; n--; next }
		indata {
			line = $0
			sub(/^ *\([0-9,]*\): /, "", line)
			if (line ~ /^"/) { if (cnt == 0) { sub(/^"/, "", line); sub(/"[^"]*$/, "", line); add(line) } next }
			sub(/,$/, "", line)
			m = split(line, parts, /, */)
			for (j = 1; j <= m; j++) add(parts[j])
			next
		}
		/^ *(GROUP|DATASET) ".*" \{$/ { split($0, q, "\""); name[++n] = q[2]; next }
		/^ *DATA \{$/ { indata = 1; cnt = 0; all = ""; first = ""; last = ""; name[++n] = ""; next }
		/\{$/ { name[++n] = ""; next }
		/^ *\}$/ { n--; next }' >"$tab"
	declare -gA H5FIRST=() H5LAST=() H5ALL=()
	while IFS=$'\t' read -r k a b c; do
		H5FIRST[$k]=$a
		H5LAST[$k]=$b
		H5ALL[$k]=$c
	done <"$tab"
}

# h5all NAME: every value of /Header/NAME, comma-separated ("" if absent).
h5all() {
	printf '%s\n' "${H5ALL[/Header/$1]-}"
}

# h5val NAME: the first value (a whole string).
h5val() {
	printf '%s\n' "${H5FIRST[/Header/$1]-}"
}

# h5last NAME: the last value.
h5last() {
	printf '%s\n' "${H5LAST[/Header/$1]-}"
}

# has NAME: /Header/NAME exists with a value.
has() {
	[ -n "${H5FIRST[/Header/$1]+set}" ]
}

# val KEY: the value of KEY in uvm-dump's output (loaded by load_dump).
val() {
	printf '%s\n' "${V[$1]-}"
}

# load_dump FILE: uvm-dump output into the associative array V.
load_dump() {
	local line
	declare -gA V=()
	while IFS= read -r line; do
		V[${line%%=*}]=${line#*=}
	done <"$1"
}

# conform FILE: uvm-dump of FILE agrees with h5dump on every scalar header
# value, the first/last array values, the shapes and the flag count.
conform() {
	F="$UVM_SAMPLES/$1"
	DUMP="$BATS_TEST_TMPDIR/dump"
	[ -r "$F" ] || fail "sample $F missing"
	run -0 uvm-dump -d "$F"
	printf '%s\n' "$output" >"$DUMP"
	load_dump "$DUMP"
	h5table

	local k
	for k in Nants_data Nants_telescope Nbls Nblts Nfreqs Npols Ntimes Nspws \
	    latitude longitude altitude; do
		[ "$(val "$k")" = "$(h5val "$k")" ] ||
			fail "$k: uvm-dump '$(val "$k")' h5dump '$(h5val "$k")'"
	done
	# strings: the whole value (h5val would cut at a comma)
	for k in telescope_name instrument; do
		[ "$(val "$k")" = "$(h5all "$k")" ] ||
			fail "$k: uvm-dump '$(val "$k")' h5dump '$(h5all "$k")'"
	done
	if has Nphase; then
		[ "$(val Nphase)" = "$(h5val Nphase)" ] || fail "Nphase differs"
	else
		[ "$(val Nphase)" = 1 ] || fail "Nphase should default to 1"
	fi
	if has version; then
		[ "$(val version)" = "$(h5all version)" ] || fail "version differs"
	else
		[ "$(val version)" = "" ] || fail "version should be empty"
	fi
	for k in object_name x_orientation phase_type vis_units; do
		if has "$k"; then
			[ "$(val "$k")" = "$(h5all "$k")" ] || fail "$k: '$(val "$k")' vs '$(h5all "$k")'"
		fi
	done
	[ "$(val freq_first)" = "$(h5val freq_array)" ] || fail "freq_first differs"
	[ "$(val freq_last)" = "$(h5last freq_array)" ] || fail "freq_last differs"
	[ "$(val channel_width_first)" = "$(h5val channel_width)" ] || fail "channel_width differs"
	[ "$(val time_first)" = "$(h5val time_array)" ] || fail "time_first differs"
	[ "$(val time_last)" = "$(h5last time_array)" ] || fail "time_last differs"
	[ "$(val polarization_array)" = "$(h5all polarization_array)" ] ||
		fail "polarization_array: '$(val polarization_array)' vs '$(h5all polarization_array)'"
	[ "$(val spw_array)" = "$(h5all spw_array)" ] || fail "spw_array differs"

	# history: fixed-length string, its length is h5dump's STRSIZE.
	local strsize
	strsize=$(h5dump -H -d /Header/history "$F" | awk '/STRSIZE/ { gsub(/;/, ""); print $2 }')
	if [ "$strsize" != H5T_VARIABLE ]; then
		[ "$(val history_length)" = "$strsize" ] || fail "history_length $(val history_length) vs $strsize"
	fi

	# Shapes: (Nblts[,1],Nfreqs,Npols) and the element type of visdata.
	local dims ndim
	dims=$(h5dump -H -d /Data/visdata "$F" | awk -F'[()]' '/DATASPACE/ { gsub(/ /, "", $2); print $2; exit }')
	ndim=$(awk -F, '{ print NF }' <<<"$dims")
	[ "$(val data_ndim)" = "$ndim" ] || fail "data_ndim $(val data_ndim) vs $ndim ($dims)"
	[ "$(cut -d, -f1 <<<"$dims")" = "$(val Nblts)" ] || fail "rows vs Nblts"
	[ "$(awk -F, '{ print $(NF-1) }' <<<"$dims")" = "$(val Nfreqs)" ] || fail "freq axis vs Nfreqs"
	[ "$(awk -F, '{ print $NF }' <<<"$dims")" = "$(val Npols)" ] || fail "pol axis vs Npols"
	local mtype want
	mtype=$(h5dump -H -d /Data/visdata "$F" | awk '/"r";/ { print $1; exit }')
	case $mtype in
	H5T_IEEE_F32LE) want=complex64 ;;
	H5T_IEEE_F64LE) want=complex128 ;;
	H5T_STD_I32LE) want=int32 ;;
	*) want="?$mtype" ;;
	esac
	[ "$(val vistype)" = "$want" ] || fail "vistype $(val vistype) vs $want"

	# Phase centre catalog entries (1.2 files).
	if grep -q '^/Header/phase_center_catalog/' "$BATS_TEST_TMPDIR/h5table"; then
		local id
		id=$(awk -F/ '$3 == "phase_center_catalog" { print $4; exit }' "$BATS_TEST_TMPDIR/h5table")
		[ "$(val "phase_center.$id.name")" = "$(h5all "phase_center_catalog/$id/cat_name")" ] ||
			fail "cat_name differs"
		[ "$(val "phase_center.$id.type")" = "$(h5all "phase_center_catalog/$id/cat_type")" ] ||
			fail "cat_type differs"
		[ "$(val "phase_center.$id.lon")" = "$(h5val "phase_center_catalog/$id/cat_lon")" ] ||
			fail "cat_lon differs"
		[ "$(val "phase_center.$id.lat")" = "$(h5val "phase_center_catalog/$id/cat_lat")" ] ||
			fail "cat_lat differs"
	fi

	# Data: the number of TRUE flags, h5dump decompressing with Debian's
	# independent LZF plugin (hdf5-plugin-lzf; its .so lacks a link to
	# liblzf, hence the preload).
	local plugdir=/usr/lib/x86_64-linux-gnu/hdf5/serial/plugins nflag
	[ -e "$plugdir/liblzf_filter.so" ] ||
		skip "header conforms; data check needs hdf5-plugin-lzf for h5dump"
	HDF5_PLUGIN_PATH=$plugdir LD_PRELOAD=$(lzf_so) h5dump -d /Data/flags "$F" \
		>"$BATS_TEST_TMPDIR/flags" 2>&1
	! grep -q 'unable to print' "$BATS_TEST_TMPDIR/flags" || fail "h5dump cannot read /Data/flags"
	nflag=$(sed -n '/DATA {/,$p' "$BATS_TEST_TMPDIR/flags" | grep -o TRUE | wc -l)
	[ "$(val flag_count)" = "$nflag" ] || fail "flag_count $(val flag_count) vs h5dump $nflag"
}

lzf_so() {
	local f
	for f in /usr/lib/x86_64-linux-gnu/liblzf.so.1 /usr/lib/liblzf.so.1; do
		[ -e "$f" ] && { echo "$f"; return; }
	done
}

@test "conformance: 1061316296_nearfield__0465a434bc.uvh5" {
	conform 1061316296_nearfield__0465a434bc.uvh5
	# every sample is flagged, so nothing contributes to the |vis| sum
	[ "$(val flag_count)" = 65024 ]
	[ "$(val vis_abs_sum)" = 0 ]
	[ "$(val phase_center.1.type)" = near_field ]
}

@test "conformance: fewant_randsrc_airybeam_Nsrc100_10MHz__a5b3d7d3c3.uvh5" {
	conform fewant_randsrc_airybeam_Nsrc100_10MHz__a5b3d7d3c3.uvh5
	[ "$(val phase_type)" = phased ]
	[ "$(val phase_center.0.type)" = sidereal ]
	[ "$(val phase_center.0.lon)" = "$(h5val phase_center_ra)" ]
}

@test "conformance: mwa_integration_time__fe62153c82.uvh5" {
	conform mwa_integration_time__fe62153c82.uvh5
	[ "$(val vistype)" = complex128 ]
}

@test "conformance: simulated_bda_file.uvh5" {
	conform simulated_bda_file.uvh5
}

@test "conformance: test_redundant_array.uvh5" {
	conform test_redundant_array.uvh5
	[ "$(val polarizations)" = pI ]
}

@test "conformance: zen.2456865.60537.xy.uvcRREAA.uvh5" {
	conform zen.2456865.60537.xy.uvcRREAA.uvh5
	[ "$(val polarizations)" = xy ]
}

@test "conformance: zen.2457698.40355.xx.HH.uvcA__07cc09e63a.uvh5" {
	conform zen.2457698.40355.xx.HH.uvcA__07cc09e63a.uvh5
	[ "$(val Nfreqs)" = 1024 ]
}

@test "conformance: zen.2458098.45361.HH_downselected.uvh5" {
	conform zen.2458098.45361.HH_downselected.uvh5
	[ "$(val extra.obsid)" = 1196981609 ]
}

@test "conformance: zen.2458432.34569__ac05a2fc8c.uvh5" {
	conform zen.2458432.34569__ac05a2fc8c.uvh5
	[ "$(val vistype)" = int32 ]
	[ "$(val phase_center.0.type)" = unprojected ]
}

@test "conformance: zen.2458432.34569__df4d314741.uvh5" {
	conform zen.2458432.34569__df4d314741.uvh5
	# same correlator data as ac05a2fc8c, written as UVH5 1.0
	local a b
	a=$(val vis_abs_sum)
	uvm-dump -d "$UVM_SAMPLES/zen.2458432.34569__ac05a2fc8c.uvh5" >"$BATS_TEST_TMPDIR/other"
	load_dump "$BATS_TEST_TMPDIR/other"
	b=$(val vis_abs_sum)
	[ "$a" = "$b" ]
}

@test "conformance: zen.2458661.23480.HH__e5fcc07d43.uvh5" {
	conform zen.2458661.23480.HH__e5fcc07d43.uvh5
	[ "$(val data_ndim)" = 4 ]
}

@test "conformance: zen.2458661.23480.HH_oldproj_icrs.uvh5" {
	conform zen.2458661.23480.HH_oldproj_icrs.uvh5
	[ "$(val phase_center.1.frame)" = icrs ]
	[ "$(val phase_center.1.epoch)" = 2000 ]
}

@test "usage: no operand, extra operand, bad option" {
	run -64 uvm-dump
	assert_output "$USAGE"
	run -64 uvm-dump a b
	assert_output "$USAGE"
	run -64 uvm-dump -x a
	assert_line "$USAGE"
}

@test "usage: --help and -h print the usage on stdout" {
	run -0 --separate-stderr uvm-dump --help
	assert_output "$USAGE"
	run -0 --separate-stderr uvm-dump -h
	assert_output "$USAGE"
}

@test "exit 66: missing file" {
	run -66 uvm-dump "$BATS_TEST_TMPDIR/nope.uvh5"
	assert_output "uvm-dump: cannot open '$BATS_TEST_TMPDIR/nope.uvh5': No such file or directory"
}

@test "exit 65: not an HDF5 file" {
	echo 'plain text' >"$BATS_TEST_TMPDIR/t.uvh5"
	run -65 uvm-dump "$BATS_TEST_TMPDIR/t.uvh5"
	assert_output "uvm-dump: cannot read '$BATS_TEST_TMPDIR/t.uvh5': not an HDF5 file"
	: >"$BATS_TEST_TMPDIR/empty.uvh5"
	run -65 uvm-dump "$BATS_TEST_TMPDIR/empty.uvh5"
}

@test "exit 65: truncated copy of a sample" {
	local src=$UVM_SAMPLES/zen.2458432.34569__ac05a2fc8c.uvh5
	head -c $(($(stat -c %s "$src") / 2)) "$src" >"$BATS_TEST_TMPDIR/half.uvh5"
	run -65 uvm-dump -d "$BATS_TEST_TMPDIR/half.uvh5"
	assert_output "uvm-dump: cannot read '$BATS_TEST_TMPDIR/half.uvh5': truncated file"
}

@test "hostile input: flipped bytes never crash" {
	local src=$UVM_SAMPLES/zen.2458661.23480.HH_oldproj_icrs.uvh5 size i at
	size=$(stat -c %s "$src")
	for i in 1 2 3 4 5 6 7; do
		at=$((size * i / 8))
		cp "$src" "$BATS_TEST_TMPDIR/bad.uvh5"
		head -c 64 /dev/urandom | dd of="$BATS_TEST_TMPDIR/bad.uvh5" bs=1 seek="$at" \
		    conv=notrunc status=none
		run uvm-dump -d "$BATS_TEST_TMPDIR/bad.uvh5"
		case $status in
		0 | 65 | 74) ;;
		*) fail "flip at $at: status $status: $output" ;;
		esac
	done
}

@test "exit 65: a required dataset is missing" {
	# An HDF5 file that is not UVH5: h5dump's own test-free way to make one
	# is not available, so use a sample's /Data-less twin made with h5copy.
	command -v h5copy >/dev/null || skip "h5copy not installed"
	h5copy -i "$UVM_SAMPLES/simulated_bda_file.uvh5" -o "$BATS_TEST_TMPDIR/hdr.uvh5" \
	    -s /Header -d /Header
	run -65 uvm-dump "$BATS_TEST_TMPDIR/hdr.uvh5"
	assert_output "uvm-dump: missing group '/Data' in '$BATS_TEST_TMPDIR/hdr.uvh5'"
}

@test "exit 74: unreadable input (a directory)" {
	run -74 uvm-dump "$BATS_TEST_TMPDIR"
	assert_output "uvm-dump: cannot read '$BATS_TEST_TMPDIR': Is a directory"
}

@test "exit 74: stdout write error" {
	run -74 bash -c 'uvm-dump "$1" >/dev/full' _ "$UVM_SAMPLES/simulated_bda_file.uvh5"
	assert_output "uvm-dump: write error: No space left on device"
}

@test "idempotent: two dumps are identical" {
	local f=$UVM_SAMPLES/zen.2458098.45361.HH_downselected.uvh5
	uvm-dump -d "$f" >"$BATS_TEST_TMPDIR/a"
	uvm-dump -d "$f" >"$BATS_TEST_TMPDIR/b"
	cmp "$BATS_TEST_TMPDIR/a" "$BATS_TEST_TMPDIR/b"
}
