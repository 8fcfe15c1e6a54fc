#!/usr/bin/env bats
# uvm-image -K: the major cycles predict the model visibilities with the
# primary beam each time slice of the drift saw. One bright source (13.65
# Jy, alpha -0.744) 1.5 deg east of the pointing, where the drift moves
# the beam across it during the group, simulated with the Gaussian beam
# (uvm-sim -B gauss) and imaged with -b gauss, so that the test measures
# the prediction, not a beam model's error. Truth from the simulator's
# input, apart from the pipeline: tests/tbeam_eval.py computes the
# source's apparent flux from the truth file's positions and the files'
# times and frequencies with the Gaussian beam in numpy.

load test_helper

# One group of 6 integrations on the small array; a 3.5 deg field.
setup_file() {
	local d=$BATS_FILE_TMPDIR
	printf '%s\n' "# name,ra_deg,dec_deg,flux_jy,ref_freq_mhz,spectral_index" \
		"C0,150.0,33.16,0.001,1400,0" >"$d/c0.csv"
	printf '%s\n' "# name,ra_deg,dec_deg,flux_jy,ref_freq_mhz,spectral_index" \
		"S,151.792,33.16,13.65,1400,-0.744" >"$d/s.csv"
	uvm-sim -L uvh5 -a 20 -s 2 -c 96 -t 6 -N 0 -n 0.05 -G 0 -S 11 -B gauss \
		-K "$d/c0.csv" -k C0 -P "$d/s.csv" -R "$d/truth.json" -o "$d/sim" >/dev/null
	for k in 1 3; do
		mkdir "$d/k$k"
		cp "$d/truth.json" "$d/k$k/"
		ln -s ../sim "$d/k$k/sim"
		UVM_DEBUG=1 uvm-image -P estimate -n 1800 -c 7 -C 1 -b gauss -K $k \
			-o "$d/k$k/img.fits" "$d"/sim/*.hdf5 2>"$d/k$k/image.err"
		/usr/bin/python3 "$BATS_TEST_DIRNAME/tbeam_eval.py" "$d/k$k" "K$k" "0 0" >"$d/k$k/row"
	done
}

setup() {
	d=$BATS_FILE_TMPDIR
	t=$BATS_TEST_TMPDIR
	cd "$t"
}

@test "image-tbeam: -K 3 takes the residual near a source 1.5 deg east below 1/3000 of its peak, which -K 1 does not reach; flux within 5% of the truth" {
	cat "$d/k1/row" "$d/k3/row"
	grep -q "predict with the beam of 3 time slices" "$d/k3/image.err"
	! grep -q "time slices" "$d/k1/image.err" || false
	# columns: label, peak, truth, peak/truth, rms near, rms all, peak pixel/rms near
	awk '{ exit !($7 < 3000) }' "$d/k1/row"
	awk '{ exit !($7 > 3000 && $4 > 0.95 && $4 < 1.05) }' "$d/k3/row"
	# and the whole image's residual falls too
	[ "$(awk '{ print ($6 < 0.6 * r) }' r="$(awk '{print $6}' "$d/k1/row")" "$d/k3/row")" = 1 ]
}

@test "image-tbeam: IMAGE_BEAM_SLICES sets -K, the flag wins; more slices than integrations are one per integration; bad values are 64" {
	mkdir home
	printf 'IMAGE_BEAM_SLICES=2\n' >home/uvmake.conf
	UVM_HOME=$PWD/home UVM_DEBUG=1 run -0 uvm-image -P estimate -n 512 -c 7 -i 10 -M 1 -o a.fits "$d"/sim/*.hdf5
	assert_line --partial "predict with the beam of 2 time slices"
	UVM_HOME=$PWD/home UVM_DEBUG=1 run -0 uvm-image -P estimate -n 512 -c 7 -i 10 -M 1 -K 40 -o a.fits "$d"/sim/*.hdf5
	assert_line --partial "predict with the beam of 6 time slices"
	UVM_HOME=$PWD/home UVM_DEBUG=1 run -0 uvm-image -P estimate -n 512 -c 7 -i 10 -M 1 -K 1 -o a.fits "$d"/sim/*.hdf5
	refute_line --partial "time slices"
	for v in 0 65 2.5 x ''; do
		run -64 uvm-image -K "$v" -o x.fits in.uvh5
		assert_line "uvm-image: bad value for -K: '$v'"
	done
	printf 'IMAGE_BEAM_SLICES=0\n' >home/uvmake.conf
	UVM_HOME=$PWD/home run -64 uvm-image -o x.fits in.uvh5
	assert_line "uvm-image: uvmake.conf: bad IMAGE_BEAM_SLICES '0'"
	[ ! -e x.fits ]
}
