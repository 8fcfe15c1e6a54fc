#!/bin/sh
# bench-calapply.sh: uvm-calapply on one full-size flagged DSA-110 group
# (uvm-sim defaults as bench-chain.sh makes it: 96 antennas, 16 x 48
# channels, 24 integrations, 2 pols; 3C48 transiting, combined, flagged,
# solved), this tree's build against a reference build in the same run.
#
# Per rep: cat of the flagged group (the bytes, from the page cache), then
# the reference uvm-calapply and this tree's, in alternating order (the
# first of a pair pays for any cold cache), each writing and fsyncing the
# calibrated group, under GNU time: wall, user + sys CPU seconds, CPU% and
# peak RSS. Medians of REPS (default 3) and the ratio reference / this
# tree. Then whether the two outputs hold the same data (uvm-dump -d: the
# header and checksums of visdata, flags, nsamples) and the same storage
# (h5dump -p -H of /Data: types, chunk shape, filters).
# Writes bench/results/calapply.txt.
#
# Environment: BENCH_TMP=/dev/shm measures as the pipeline runs it (flag
# and calapply products staged on tmpfs, where fsync costs nothing);
# REF_BIN (a directory with the reference uvm-calapply,
# e.g. main's bin/ copied; default: this tree's, so the ratio is 1);
# VIS and TABLE (a flagged group and its table, to skip the ~5 minutes
# of simulation, flagging and solving); BENCH_TMP (default
# /work/tmp-bench; ~5.5 GB); REPS; KEEP=1; SIM_ARGS (e.g. "-a 24 -s 4
# -c 24" to try the script quickly).
set -eu
cd "$(dirname "$0")/.."
. bench/lib.sh
root=$(pwd)
out=bench/results/calapply.txt
reps=${REPS:-3}
mkdir -p "${BENCH_TMP:-/work/tmp-bench}" bench/results
tmp=$(mktemp -d "${BENCH_TMP:-/work/tmp-bench}/calapply.XXXXXX")
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$tmp"' EXIT INT TERM
mkdir "$tmp/bin" "$tmp/ref"
cp -p bin/uvm-* "$tmp/bin/"
cp -p "${REF_BIN:-bin}/uvm-calapply" "$tmp/ref/"
export PATH="$tmp/bin:$PATH" UVM_ROOT="$root"
uvm-init "$tmp/home" >/dev/null
load0=$(cut -d' ' -f1-3 /proc/loadavg)

if [ -n "${VIS:-}" ] && [ -n "${TABLE:-}" ]; then
	vis=$VIS
	table=$TABLE
else
	uvm-sim ${SIM_ARGS:-} -N 10 -n 0.5 -K ops/calibrators.csv -k 3C48 -C 0 -o "$tmp/sim" >/dev/null
	uvm-combine -o "$tmp/vis.uvh5" "$tmp"/sim/*.hdf5
	rm -rf "$tmp/sim"
	uvm-flag -D "$tmp/home" -o "$tmp/flag.uvh5" "$tmp/vis.uvh5" 2>/dev/null
	rm -f "$tmp/vis.uvh5"
	uvm-calsolve -D "$tmp/home" -g bench -o "$tmp/bench.cal.h5" "$tmp/flag.uvh5" 2>/dev/null
	vis=$tmp/flag.uvh5
	table=$tmp/bench.cal.h5
fi
bytes=$(wc -c <"$vis")

# timed NAME CMD...: run CMD under GNU time, append "wall cpu cpu% rss_kb"
# to $tmp/NAME.
timed() {
	n=$1
	shift
	/usr/bin/time -f '%e %U %S %M' -o "$tmp/time" "$@" >/dev/null 2>"$tmp/err" ||
		{ cat "$tmp/err" >&2; return 1; }
	awk '{ cpu = $2 + $3; printf "%s %.2f %.0f %s\n", $1, cpu, 100 * cpu / $1, $4 }' \
		"$tmp/time" >>"$tmp/$n"
}
old() { timed old "$tmp/ref/uvm-calapply" -c "$table" -o "$tmp/old.uvh5" "$vis"; }
new() { timed new "$tmp/bin/uvm-calapply" -c "$table" -o "$tmp/new.uvh5" "$vis"; }

cat "$vis" >/dev/null
for r in $(seq 1 "$reps"); do
	echo "$(elapsed cat "$vis")" >>"$tmp/cat"
	if [ $((r % 2)) = 1 ]; then old; new; else new; old; fi
	[ "$r" = "$reps" ] || rm -f "$tmp/old.uvh5" "$tmp/new.uvh5"
done
same_data=no
uvm-dump -d "$tmp/old.uvh5" | grep -v '^path=' >"$tmp/old.dump"
uvm-dump -d "$tmp/new.uvh5" | grep -v '^path=' >"$tmp/new.dump"
cmp -s "$tmp/old.dump" "$tmp/new.dump" && same_data=yes
same_storage=no
for f in old new; do
	h5dump -p -H -g /Data "$tmp/$f.uvh5" | sed 1d >"$tmp/$f.layout"
done
cmp -s "$tmp/old.layout" "$tmp/new.layout" && same_storage=yes
chunk=$(sed -n 's/.*CHUNKED ( *\([0-9, ]*[0-9]\) *).*/\1/p' "$tmp/new.layout" | head -n 1)

col() { awk -v c="$2" '{ print $c }' "$tmp/$1" | median; }
{
	bench_header "uvm-calapply on one full-size flagged group, reference and this tree (bench/bench-calapply.sh)"
	echo "# load before: $load0; after: $(cut -d' ' -f1-3 /proc/loadavg); reps: $reps (medians), the two in alternating order"
	echo "# reference: ${REF_BIN:-this tree}; input ${VIS:-simulated: ${SIM_ARGS:-defaults} -N 10 -n 0.5 -k 3C48 -C 0, flagged}"
	echo "# cpu_s = user + sys; cpu% = cpu_s / wall (200 = both cores busy)"
	echo "group_bytes $bytes"
	echo "cat_s $(col cat 1)"
	printf '%-24s %8s %8s %6s %12s\n' run wall_s cpu_s cpu% peak_rss_kb
	printf '%-24s %8s %8s %6s %12s\n' "uvm-calapply reference" "$(col old 1)" "$(col old 2)" \
		"$(col old 3)" "$(col old 4)"
	printf '%-24s %8s %8s %6s %12s\n' "uvm-calapply this tree" "$(col new 1)" "$(col new 2)" \
		"$(col new 3)" "$(col new 4)"
	echo "wall_ratio_reference_over_this $(awk -v a="$(col old 1)" -v b="$(col new 1)" 'BEGIN{printf "%.2f", a / b}')"
	echo "cpu_ratio_reference_over_this $(awk -v a="$(col old 2)" -v b="$(col new 2)" 'BEGIN{printf "%.2f", a / b}')"
	echo "this_vs_cat $(awk -v a="$(col new 1)" -v b="$(col cat 1)" 'BEGIN{printf "%.1f", a / b}')x"
	echo "same_data_as_reference $same_data (uvm-dump -d: header and data checksums)"
	echo "same_storage_as_reference $same_storage (h5dump -p -H /Data: types, chunks ($chunk), filters, stored sizes)"
	echo "# walls of each run (reference, this tree): $(tr '\n' ' ' <"$tmp/old" | awk '{for (i = 1; i <= NF; i += 4) printf "%s ", $i}')/ $(tr '\n' ' ' <"$tmp/new" | awk '{for (i = 1; i <= NF; i += 4) printf "%s ", $i}')"
	echo "# reproduce: REF_BIN=<main's bin> REPS=$reps bench/bench-calapply.sh"
} >"$out.tmp"
mv "$out.tmp" "$out"
cat "$out"
