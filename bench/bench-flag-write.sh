#!/bin/sh
# bench-flag-write.sh: uvm-flag's write phase, this build against another
# (OLD, e.g. main's bin/uvm-flag copied aside), on one full-size group
# (uvm-sim as bench-chain.sh makes it, then uvm-combine), alternating
# old and new in the same run so both see the same load.
#
# Per rep: cat of the group (the bytes, a reference for the machine's
# state), then old and new uvm-flag on all cores, each with its own
# phase timings (read, statistics, AOFlagger, write: wall) and its
# process CPU (user + sys, GNU time). REPS runs (default 3), medians and
# new/old ratios. Checks that both write the same data (uvm-dump -d
# checksums of visdata, flags, nsamples) and the same datasets, chunks
# and filters (h5dump -p -H, less the provenance attribute).
# Writes bench/results/flag-write.txt.
#
# Environment: OLD (required: the uvm-flag to compare with), BENCH_TMP
# (default /dev/shm: the pipeline stages flag on tmpfs), REPS, KEEP=1,
# VIS (an already combined group, to skip the simulation), SIM_ARGS.
set -eu
cd "$(dirname "$0")/.."
. bench/lib.sh
root=$(pwd)
out=bench/results/flag-write.txt
reps=${REPS:-3}
: "${OLD:?set OLD to the uvm-flag to compare with}"
tmp=$(mktemp -d "${BENCH_TMP:-/dev/shm}/flagw.XXXXXX")
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$tmp"' EXIT INT TERM
mkdir "$tmp/bin"
cp -p bin/uvm-* "$tmp/bin/"
cp -p "$OLD" "$tmp/old-uvm-flag"
export PATH="$tmp/bin:$PATH" UVM_ROOT="$root"
load0=$(cut -d' ' -f1-3 /proc/loadavg)

if [ -n "${VIS:-}" ]; then
	ln -s "$(realpath "$VIS")" "$tmp/vis.uvh5"
else
	uvm-sim ${SIM_ARGS:-} -N 10 -n 0.5 -K ops/calibrators.csv -k 3C48 -C 0 -o "$tmp/sim" >/dev/null
	uvm-combine -o "$tmp/vis.uvh5" "$tmp"/sim/*.hdf5
	rm -rf "$tmp/sim"
fi
bytes=$(wc -c <"$tmp/vis.uvh5")

# run NAME BINARY: one uvm-flag run; appends "wall cpu read stats ao write"
run() {
	t0=$(now_s)
	/usr/bin/time -f "%U %S" -o "$tmp/cpu" "$2" -o "$tmp/$1.uvh5" "$tmp/vis.uvh5" >"$tmp/line"
	wall=$(awk -v a="$t0" -v b="$(now_s)" 'BEGIN{printf "%.3f", b-a}')
	cpu=$(awk '{printf "%.2f", $1 + $2}' "$tmp/cpu")
	echo "$wall $cpu $(tr '=' ' ' <"$tmp/line" | awk '{print $2, $4, $6, $8}')" >>"$tmp/$1.rec"
}
same=yes
: >"$tmp/cat.rec"
for r in $(seq 1 "$reps"); do
	elapsed sh -c "cat '$tmp/vis.uvh5' >/dev/null" >>"$tmp/cat.rec"
	run old "$tmp/old-uvm-flag"
	run new uvm-flag
	if [ "$r" = 1 ]; then
		for v in old new; do
			uvm-dump -d "$tmp/$v.uvh5" | md5sum >"$tmp/$v.sum"
			h5dump -p -H "$tmp/$v.uvh5" | sed '1d; /ATTRIBUTE "uvm_provenance"/,/^      }/d' >"$tmp/$v.h"
		done
		cmp -s "$tmp/old.sum" "$tmp/new.sum" && cmp -s "$tmp/old.h" "$tmp/new.h" || same=no
	fi
	rm -f "$tmp/old.uvh5" "$tmp/new.uvh5"
done
col() { awk -v c="$2" '{print $c}' "$tmp/$1.rec" | median; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", b / a}'; }
{
	bench_header "uvm-flag's write phase: this build against OLD, alternating (bench/bench-flag-write.sh)"
	echo "# load before: $load0; after: $(cut -d' ' -f1-3 /proc/loadavg); reps: $reps (medians); threads $(nproc)"
	echo "# old: $OLD; group: ${VIS:-uvm-sim -N 10 -n 0.5 -k 3C48 ${SIM_ARGS:-}} in ${BENCH_TMP:-/dev/shm}"
	echo "group_bytes $bytes"
	echo "cat_s $(median <"$tmp/cat.rec")"
	echo "# per run: old / new / new:old"
	i=1
	for k in wall_s cpu_s read_s stats_s aoflagger_s write_s; do
		o=$(col old $i) n=$(col new $i)
		echo "$k $o $n $(ratio "$o" "$n")"
		i=$((i + 1))
	done
	echo "write_s_each_rep old: $(awk '{printf "%s ", $6}' "$tmp/old.rec")new: $(awk '{printf "%s ", $6}' "$tmp/new.rec")"
	echo "same_data_and_layout $same (uvm-dump -d checksums; h5dump -p -H less provenance)"
} >"$out.tmp"
mv "$out.tmp" "$out"
cat "$out"
