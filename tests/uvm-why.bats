#!/usr/bin/env bats
# uvm-why: why a product would be re-made (make's view: newer and missing
# prerequisites, changed settings) and what it was made from (provenance in
# the products and the job records); and the settings as prerequisites:
# a changed setting re-makes its stage and what reads it, nothing upstream.

load test_helper

# deploy: a small deployment that streamed one calibrator group to all its
# products in one cycle (so the group is still planned: the next plan
# would retire it); $d the deployment, $G the group, $H the hour
deploy() {
	d=$BATS_TEST_TMPDIR/d
	small_deploy "$d" IMAGE_NPIX=64
	uvm-sim -a 8 -s 4 -c 4 -t 3 -j 2 -S 7 -n 0.05 -K "$UVM_ROOT/ops/calibrators.csv" \
		-k 3C48 -C 0 -o "$d/incoming" >/dev/null
	uvm-make -D "$d" >/dev/null 2>&1
	G=$(ls "$d/products")
	H=${G:0:11}
	[ -f "$d/products/$G/qa.json" ]
	[ -f "$d/mosaics/$H.fits" ]
}

# stamps: "path mtime inode" of every product and table, one a line
stamps() {
	(cd "$d" && stat -c '%n %.9Y %i' products/"$G"/* caltables/* mosaics/* | sort)
}

# changed BEFORE AFTER: the paths whose mtime or inode changed
changed() {
	join <(echo "$1") <(echo "$2") | awk '$2 != $4 || $3 != $5 { print $1 }' | sort | tr '\n' ' '
}

@test "uvm-why: usage, version, bad targets" {
	run -0 uvm-why --help
	assert_output "usage: uvm-why [-D home] [-j] target"
	run -64 uvm-why
	assert_output --partial "usage: uvm-why [-D home] [-j] target"
	run -64 uvm-why -x a
	# the manual: lint-clean, its synopsis the usage line
	if command -v mandoc >/dev/null; then
		run -0 mandoc -T lint -W warning "$UVM_ROOT/man/uvm-why.1"
		[ "$(mandoc -T ascii "$UVM_ROOT/man/uvm-why.1" | col -b | sed -n '/^SYNOPSIS/{n;p}' | sed 's/^ *//')" = "uvm-why [-D home] [-j] target" ]
	fi
	# the version is the tree's, and every program has the same one
	if v=$(git -C "$UVM_ROOT" describe --always --dirty 2>/dev/null); then
		run -0 uvm-why --version
		assert_output "uvm-why $v"
	fi
	[ "$(uvm-why --version | cut -d' ' -f2)" = "$(uvm-image --version | cut -d' ' -f2)" ]
	run -66 uvm-why -D "$BATS_TEST_TMPDIR/none" products/20251024T120003/image.fits
	d=$BATS_TEST_TMPDIR/d
	uvm-init "$d" >/dev/null
	run -66 uvm-why -D "$d" etc/passwd
	assert_output "uvm-why: 'etc/passwd': not a product of '$UVM_ROOT/rules/stages'"
	run -66 uvm-why -D "$d" 'products/20251024T120003/../../x/image.fits'
	run -66 uvm-why -D "$d" products/20251024T120003/image.fits
	assert_output "uvm-why: 'products/20251024T120003/image.fits': no such product, and none planned"
}

@test "uvm-why: a new calibration table: named as the newer prerequisite, then in the new image's provenance" {
	deploy
	run -0 uvm-why -D "$d" "products/$G/image.fits"
	assert_line "verdict up-to-date"
	assert_line "table caltables/$G.cal.h5 $G"
	before=$(stamps)
	# a new table for the group, solved and registered as the pipeline does
	(cd "$d" && uvm-calsolve -D . -g "$G" -o "caltables/$G.cal.h5" "products/$G/flag.uvh5") >/dev/null
	run -1 uvm-why -D "$d" "products/$G/image.fits"
	assert_line "verdict re-make"
	assert_line "because newer caltables/$G.cal.h5 products/$G/cal.uvh5"
	assert_line "because remade products/$G/cal.uvh5"
	run -1 uvm-why -D "$d" -j "products/$G/image.fits"
	echo "$output" | /usr/bin/python3 -c '
import json, sys
w = json.load(sys.stdin)
assert w["remake"] is True and w["planned"] is True, w
assert {"why": "newer", "path": "caltables/'"$G"'.cal.h5", "than": "products/'"$G"'/cal.uvh5"} in w["reasons"], w["reasons"]
assert w["provenance"]["caltable"] == "caltables/'"$G"'.cal.h5"
'
	uvm-make -D "$d" >/dev/null 2>&1
	after=$(stamps)
	[ "$(changed "$before" "$after")" = "caltables/$G.cal.h5 mosaics/$H.fits mosaics/$H.sources.json products/$G/cal.uvh5 products/$G/image.fits products/$G/image.pb.fits products/$G/qa.json products/$G/sources.json " ]
	run -0 uvm-why -D "$d" "products/$G/image.fits"
	assert_line "verdict up-to-date"
	assert_line "table caltables/$G.cal.h5 $G"
	# the new image was made from calibrated data made after the new table
	t=$(stat -c %.9Y "$d/caltables/$G.cal.h5")
	c=$(sqlite3 "$d/state/pipeline.sqlite" "select provenance from jobs where target='products/$G/image.fits' order by id desc limit 1" |
		/usr/bin/python3 -c 'import json, sys, datetime
p = json.load(sys.stdin)
i = p["inputs"][0]
assert i["path"] == "products/'"$G"'/cal.uvh5"
assert p["target"] == "products/'"$G"'/image.fits" and "libraries" not in p
print(datetime.datetime.fromisoformat(i["mtime"][:26]).replace(tzinfo=datetime.timezone.utc).timestamp())')
	/usr/bin/python3 -c "assert $c > $t, ($c, $t)"
}

@test "uvm-why: a changed imaging setting re-makes image, qa and mosaic only, and is named with both values" {
	deploy
	before=$(stamps)
	sed -i 's/^IMAGE_NPIX=64$/IMAGE_NPIX=96/' "$d/uvmake.conf"
	# not planned yet: the config against the settings file
	run -1 uvm-why -D "$d" "products/$G/qa.json"
	assert_line "because unplanned-setting IMAGE_NPIX 64 96"
	# planned: the settings file is the newer prerequisite
	uvm-plan -D "$d"
	grep -qx IMAGE_NPIX=96 "$d/state/settings/image.conf"
	run -1 uvm-why -D "$d" "products/$G/qa.json"
	assert_line "because newer state/settings/image.conf products/$G/image.fits"
	assert_line "because setting IMAGE_NPIX 64 96"
	assert_line "because remade products/$G/image.fits"
	refute_line --partial "unplanned-setting"
	# calibrated data: not touched by an imaging setting
	run -0 uvm-why -D "$d" "products/$G/cal.uvh5"
	uvm-make -D "$d" >/dev/null 2>&1
	after=$(stamps)
	[ "$(changed "$before" "$after")" = "mosaics/$H.fits mosaics/$H.sources.json products/$G/image.fits products/$G/image.pb.fits products/$G/qa.json products/$G/sources.json " ]
	# the setting took effect, and the image records it
	/usr/bin/python3 -c '
from astropy.io import fits
h = fits.getheader("'"$d/products/$G/image.fits"'")
assert h["NAXIS1"] == 96, h["NAXIS1"]'
	run -0 uvm-why -D "$d" "products/$G/image.fits"
	assert_line "setting IMAGE_NPIX=96"
	# a second cycle: nothing more is made, the group retires
	before=$(stamps)
	uvm-make -D "$d" >/dev/null 2>&1
	[ "$(stamps)" = "$before" ]
	grep -q "^$G " "$d/state/done.idx"
	run -0 uvm-why -D "$d" "products/$G/image.fits"
	assert_line "planned no"
}

@test "uvm-why: a changed flagging setting re-makes flag and what follows, never combine" {
	deploy
	before=$(stamps)
	echo FLAG_MAX_FRACTION=0.95 >>"$d/uvmake.conf"
	run -1 uvm-why -D "$d" "products/$G/image.fits"
	assert_line "because unplanned-setting FLAG_MAX_FRACTION 0.5 0.95"
	run -0 uvm-why -D "$d" "products/$G/vis.uvh5"
	uvm-make -D "$d" >/dev/null 2>&1
	after=$(stamps)
	[ "$(changed "$before" "$after")" = "caltables/$G.cal.h5 mosaics/$H.fits mosaics/$H.sources.json products/$G/cal.uvh5 products/$G/flag.json products/$G/flag.uvh5 products/$G/image.fits products/$G/image.pb.fits products/$G/qa.json products/$G/sources.json " ]
}

@test "uvm-why: provenance in the FITS header, the UVH5 attribute and the reports lists the real inputs" {
	deploy
	cd "$d"
	# read by astropy and h5py, not by uvmake
	/usr/bin/python3 - "$G" "$H" <<'EOF'
import json, os, subprocess, sys
import h5py
from astropy.io import fits
G, H = sys.argv[1], sys.argv[2]
# the HDF5 the system's tools run with (h5dump -V: "h5dump: Version 1.10.8")
HDF5 = subprocess.run(["h5dump", "-V"], capture_output=True, text=True).stdout.split()[-1]
def fits_prov(path):
    cards = [str(c) for c in fits.getheader(path)["HISTORY"]]
    text = "".join(c[len("UVMPROV "):].rstrip()[:-1] for c in cards if c.startswith("UVMPROV "))
    return json.loads(text)
def check(p, program, stage, inputs):
    assert p["program"] == program and p["stage"] == stage, p
    got = [(i["path"], i["size"]) for i in p["inputs"]]
    want = [(i, os.path.getsize(i)) for i in inputs]
    assert got == want, (got, want)
    assert p["version"] and p["libraries"]["hdf5"] == HDF5, (p["libraries"], HDF5)
img = fits_prov(f"products/{G}/image.fits")
check(img, "uvm-image", "image", [f"products/{G}/cal.uvh5"])
assert img["caltable"] == f"caltables/{G}.cal.h5" and img["caltable_id"] == G
assert img["settings"]["IMAGE_NPIX"] == "64"
with h5py.File(f"products/{G}/cal.uvh5", "r") as f:
    cal = json.loads(f.attrs["uvm_provenance"])
check(cal, "uvm-calapply", "calapply", [f"products/{G}/flag.uvh5"])
assert cal["caltable"] == f"caltables/{G}.cal.h5"
with h5py.File(f"products/{G}/vis.uvh5", "r") as f:
    vis = json.loads(f.attrs["uvm_provenance"])
subs = [os.path.join("incoming", n) for n in sorted(os.listdir("incoming"), key=lambda n: n.split("_sb")[1])]
check(vis, "uvm-combine", "combine", subs)
with h5py.File(f"products/{G}/flag.uvh5", "r") as f:
    flg = json.loads(f.attrs["uvm_provenance"])
check(flg, "uvm-flag", "flag", [f"products/{G}/vis.uvh5"])
assert flg["libraries"]["aoflagger"], flg["libraries"]
assert flg["settings"]["FLAG_MAX_FRACTION"] == "0.5"
assert json.load(open(f"products/{G}/flag.json"))["provenance"] == flg
qa = json.load(open(f"products/{G}/qa.json"))["provenance"]
check(qa, "uvm-qa", "qa", [f"products/{G}/image.fits"])
assert qa["caltable"] == f"caltables/{G}.cal.h5"
mos = fits_prov(f"mosaics/{H}.fits")
check(mos, "uvm-mosaic", "mosaic", [f"products/{G}/qa.json"])
EOF
	# the job records: valid JSON with the inputs' times and the settings
	sqlite3 state/pipeline.sqlite "select provenance from jobs where class='ok' and stage in ('combine','image','qa')" |
		/usr/bin/python3 -c '
import json, sys
rows = [json.loads(l) for l in sys.stdin]
assert len(rows) == 3, len(rows)
for p in rows:
    assert p["made"] and all(i["mtime"] for i in p["inputs"]), p
    assert p["target"] and p["program"] == "uvm-run" and "settings" in p, p'
}

@test "uvm-why: -j, a write failure, and a run that changes nothing" {
	deploy
	tree() { (cd "$d" && find products caltables mosaics state/settings state/pipeline.mk -printf '%p %T@ %i\n' | sort); }
	before=$(tree)
	run -0 uvm-why -D "$d" -j "products/$G/qa.json"
	echo "$output" | /usr/bin/python3 -c '
import json, sys
w = json.load(sys.stdin)
assert w["target"] == "products/'"$G"'/qa.json" and w["stage"] == "qa"
assert w["remake"] is False and w["reasons"] == [] and w["job"]["id"] > 0
j = w["job"]["provenance"]
assert j["target"] == w["target"] and j["settings"] == w["provenance"]["settings"], (j, w)'
	run -0 uvm-why -D "$d" "mosaics/$H.fits"
	assert_line "stage mosaic"
	assert_line "input products/$G/qa.json $(stat -c %s "$d/products/$G/qa.json")"
	run -74 sh -c 'uvm-why -D "$1" "products/$2/image.fits" >/dev/full' sh "$d" "$G"
	[ "$(tree)" = "$before" ]
	no_temps "$d"
}
