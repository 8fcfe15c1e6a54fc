#!/bin/sh
# bench-flag-strategies.sh: what the AOFlagger strategy's parts cost and
# what they buy. Variants of ops/aoflagger/dsa110.lua, made here by
# editing a copy (so they follow the shipped one):
#   shipped   3 iterations (SumThreshold passes with a background fit),
#             each polarization flagged on its own, SIR
#   it4, it2  4 iterations (the strategy before) or 2
#   joint     the pseudo-Stokes I amplitude (|XX| + |YY|) / 2 flagged
#             once, the mask given to both polarizations
#   joint4    joint with 4 iterations
#   nosir     shipped without the scale-invariant rank operator
#   allmasked sumthreshold_masked (input flags as missing data, generic
#             code) in every pass, not only the last (the strategy before)
#   nomasked  the vectorised sumthreshold in every pass, the last too
# each run by uvm-flag -j 2 on groups simulated with every defect
# (uvm-sim -a 32 -D all, 768 channels, 24 integrations, seeds 3 and 5) and
# scored against the injected truth (tests/flag-score.sh). Time: AOFlagger
# wall seconds as uvm-flag reports them and the CPU seconds of the whole
# run (user + sys: the figure that survives a loaded machine).
# Writes bench/results/flag-strategies.txt.
#
# Environment: BENCH_TMP (default /work/tmp-bench), KEEP=1, ANTS (32),
# SEEDS ("3 5"), VARIANTS (all).
set -eu
cd "$(dirname "$0")/.."
. bench/lib.sh
root=$(pwd)
out=bench/results/flag-strategies.txt
mkdir -p "${BENCH_TMP:-/work/tmp-bench}" bench/results
tmp=$(mktemp -d "${BENCH_TMP:-/work/tmp-bench}/flagstrat.XXXXXX")
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$tmp"' EXIT INT TERM
export PATH="$root/bin:$PATH" UVM_ROOT="$root"
load0=$(cut -d' ' -f1-3 /proc/loadavg)
S=ops/aoflagger/dsa110.lua

cp "$S" "$tmp/shipped.lua"
sed 's/local iteration_count = 3/local iteration_count = 4/' "$S" >"$tmp/it4.lua"
sed 's/local iteration_count = 3/local iteration_count = 2/' "$S" >"$tmp/it2.lua"
sed 's/^ *aoflagger.scale_invariant_rank_operator_masked(.*/  -- (no SIR)/' "$S" >"$tmp/nosir.lua"
# joint: one pass on I instead of the loop over polarizations
awk '
	/for ipol, pol in ipairs\(input:get_polarizations\(\)\) do/ { print "  do"; next }
	/local data = input:convert_to_polarization\(pol\)/ {
		print "    local data = input:convert_to_polarization(\"I\")"; next }
	/input:set_polarization_data\(pol, data\)/ {
		print "    for _, pol in ipairs(input:get_polarizations()) do"
		print "      input:set_polarization_data(pol, data)"
		print "    end"; next }
	{ print }' "$S" >"$tmp/joint.lua"
sed 's/local iteration_count = 3/local iteration_count = 4/' "$tmp/joint.lua" >"$tmp/joint4.lua"
sed 's/aoflagger.sumthreshold(data, level,/aoflagger.sumthreshold_masked(data, kept, level,/' "$S" >"$tmp/allmasked.lua"
sed 's/aoflagger.sumthreshold_masked(data, kept, base_threshold,/aoflagger.sumthreshold(data, base_threshold,/' \
	"$S" >"$tmp/nomasked.lua"
for v in it4 it2 nosir joint allmasked nomasked; do
	! cmp -s "$S" "$tmp/$v.lua" || { echo "bench-flag-strategies: variant $v not made" >&2; exit 1; }
done

for seed in ${SEEDS:-3 5}; do
	uvm-sim -a "${ANTS:-32}" -S "$seed" -D all -R "$tmp/truth$seed.json" -o "$tmp/sim" >/dev/null
	uvm-combine -o "$tmp/vis$seed.uvh5" "$tmp"/sim/*.hdf5
	rm -rf "$tmp/sim"
done
{
	bench_header "AOFlagger strategy variants (bench/bench-flag-strategies.sh)"
	echo "# load before: $load0; groups: uvm-sim -a ${ANTS:-32} -D all, seeds ${SEEDS:-3 5}"
	printf '%-8s %5s %12s %8s %8s %8s\n' variant seed aoflagger_s cpu_s recall false
	for v in ${VARIANTS:-shipped allmasked nomasked it4 it2 joint joint4 nosir}; do
		for seed in ${SEEDS:-3 5}; do
			/usr/bin/time -f '%U %S' -o "$tmp/time" uvm-flag -j 2 -s "$tmp/$v.lua" \
				-o "$tmp/out.uvh5" "$tmp/vis$seed.uvh5" >"$tmp/line" 2>"$tmp/err" ||
				{ cat "$tmp/err" >&2; exit 1; }
			sc=$(tests/flag-score.sh "$tmp/out.uvh5" "$tmp/truth$seed.json")
			printf '%-8s %5s %12s %8s %8s %8s\n' "$v" "$seed" \
				"$(sed 's/.*aoflagger_s=\([0-9.]*\).*/\1/' "$tmp/line")" \
				"$(awk '{printf "%.2f", $1 + $2}' "$tmp/time")" \
				"$(echo "$sc" | sed 's/.*recall=\([0-9.]*\).*/\1/')" \
				"$(echo "$sc" | sed 's/.*false=\([0-9.]*\).*/\1/')"
			rm -f "$tmp/out.uvh5"
		done
	done
	echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$out.tmp"
mv "$out.tmp" "$out"
cat "$out"
