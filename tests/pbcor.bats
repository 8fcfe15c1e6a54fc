#!/usr/bin/env bats
# uvm-image -p: the primary-beam-corrected image. The simulator has its
# own beam option (uvm-sim -B), so the beam the pipeline divides by is
# checked against the attenuation the simulator applied (truth file:
# apparent flux / intrinsic flux at the image frequency), at every source,
# through the FITS WCS (astropy; tests/pbcheck.py).

load test_helper

# Twelve random sources out to the beam's edge, simulated with the
# simulator's tapered dish (its default: the aperture integrated
# numerically), the Airy beam and the Gaussian one; imaged with the
# pipeline's default model (Airy, as the operators use).
setup_file() {
	local d=$BATS_FILE_TMPDIR
	for b in taper airy gauss; do
		uvm-sim -B $b -L uvh5 -a 20 -s 2 -c 8 -t 6 -G 0 -n 0.05 -N 12 -S 3 \
			-R "$d/truth_$b.json" -o "$d/sim_$b" >/dev/null
		uvm-image -W natural -n 1280 -c 13 -P estimate -p "$d/pb_$b.fits" \
			-o "$d/img_$b.fits" "$d/sim_$b"/*.hdf5 2>/dev/null
	done
}

setup() {
	d=$BATS_FILE_TMPDIR
	t=$BATS_TEST_TMPDIR
}

pbcheck() {
	/usr/bin/python3 "$BATS_TEST_DIRNAME/pbcheck.py" "$@"
}

@test "pbcor: the simulator's dish corrected with -b taper: the pipeline's closed form is the simulator's integral (2%) at every source down to 0.2" {
	uvm-image -W natural -n 1280 -c 13 -P estimate -b taper -p "$t/pb.fits" -o "$t/img.fits" \
		"$d/sim_taper"/*.hdf5 2>/dev/null
	run -0 pbcheck "$t/pb.fits" "$t/img.fits" "$d/truth_taper.json"
	echo "$output"
	# enough sources, some far down the beam: the check is not vacuous
	jq -e 'length >= 6 and (map(.pb_sim) | min) < 0.4' <<<"$output"
	jq -e 'all(.[]; (.ratio - 1 | fabs) < 0.02 and .pb_sim > 0.18)' <<<"$output"
}

@test "pbcor: blank (NaN) below the cut, not elsewhere; -x moves the cut" {
	run -0 /usr/bin/python3 -c '
import sys, numpy as np
from astropy.io import fits
p = fits.open(sys.argv[1])[0].data.squeeze()
f = fits.open(sys.argv[2])[0].data.squeeze()
ok = np.isfinite(p)
b = f[ok] / p[ok]
print(ok.mean(), b.min())' "$d/pb_taper.fits" "$d/img_taper.fits"
	echo "$output"
	read -r frac bmin <<<"$output"
	# a 4.6 deg image at 1.4 GHz reaches past the 20% level in the corners
	jq -ne "$frac > 0.3 and $frac < 0.999 and $bmin >= 0.199"
	uvm-image -W natural -n 256 -c 60 -P estimate -x 0.5 -p "$t/pb.fits" -o "$t/img.fits" \
		"$d/sim_taper"/*.hdf5 2>/dev/null
	run -0 /usr/bin/python3 -c '
import sys, numpy as np
from astropy.io import fits
p = fits.open(sys.argv[1])[0].data.squeeze()
f = fits.open(sys.argv[2])[0].data.squeeze()
ok = np.isfinite(p)
print((f[ok] / p[ok]).min())' "$t/pb.fits" "$t/img.fits"
	jq -ne "$output >= 0.499 and $output < 0.55"
}

@test "pbcor: the dish's sky corrected with the default (Airy) is off by the models' difference (> 5% at the edge); an Airy sky is right (2%)" {
	run -0 pbcheck "$d/pb_taper.fits" "$d/img_taper.fits" "$d/truth_taper.json"
	echo "$output"
	jq -e 'length >= 6 and ([.[] | (.ratio - 1 | fabs)] | max) > 0.05' <<<"$output"
	run -0 pbcheck "$d/pb_airy.fits" "$d/img_airy.fits" "$d/truth_airy.json"
	echo "$output"
	jq -e 'length >= 6 and all(.[]; (.ratio - 1 | fabs) < 0.02)' <<<"$output"
}

@test "pbcor: a Gaussian sky corrected with the default Airy beam is caught (> 10% off); with -b gauss it is right" {
	run -0 pbcheck "$d/pb_gauss.fits" "$d/img_gauss.fits" "$d/truth_gauss.json"
	echo "$output"
	jq -e 'length >= 6 and ([.[] | (.ratio - 1 | fabs)] | max) > 0.10' <<<"$output"
	uvm-image -W natural -n 1280 -c 13 -P estimate -b gauss -p "$t/pb.fits" -o "$t/img.fits" \
		"$d/sim_gauss"/*.hdf5 2>/dev/null
	run -0 pbcheck "$t/pb.fits" "$t/img.fits" "$d/truth_gauss.json"
	echo "$output"
	jq -e 'length >= 6 and all(.[]; (.ratio - 1 | fabs) < 0.02)' <<<"$output"
}

@test "pbcor: bad beam model or cut is a usage error" {
	run -64 uvm-image -b cosine -o x.fits in.uvh5
	run -64 uvm-image -x 0 -o x.fits in.uvh5
	run -64 uvm-sim -B cosine -o x
}
