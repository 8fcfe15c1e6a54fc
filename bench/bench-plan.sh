#!/bin/sh
# bench-plan.sh: does a planning cycle cost the active work or the history?
#
# usage: bench/bench-plan.sh [-n groups] [-k] [-d dir]
#
# Builds a deployment holding N finished groups (default 100,000, a year at
# one group per 5 minutes): 16 empty subband files each in incoming/ (1.6M
# names: inputs kept) and each group's final product, then one plan pass
# retires them all into state/done.idx (timed once, reported). Then one new
# group arrives, and the same single group goes into a fresh deployment,
# the reference. For both, measured 5 times, median reported:
#   - uvm-plan (steady state: the new group already planned, nothing changed),
#   - make -q on the generated makefile (question mode: parse and check
#     every target, run nothing; exit 1 since the group is still to make),
#   - the CPU time (user + system) of each, which other load on the
#     machine inflates less than the wall time, and its peak RSS,
# and, as the floor for reading such a directory, `ls -U incoming`.
# Results in bench/results/plan.txt. -k keeps the deployments; -d puts
# them under dir (default $TMPDIR or /tmp). Creating 1.6M files takes a
# minute or two; use -n 20000 on a slow disk.
set -eu
cd "$(dirname "$0")/.."
. bench/lib.sh
export PATH="$(pwd)/bin:$PATH"
usage='usage: bench/bench-plan.sh [-n groups] [-k] [-d dir]'
n=100000
keep=
base=${TMPDIR:-/tmp}
while getopts n:kd:h opt; do
	case $opt in
	n) n=$OPTARG ;;
	k) keep=1 ;;
	d) base=$OPTARG ;;
	h) echo "$usage"; exit 0 ;;
	*) echo "$usage" >&2; exit 64 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 0 ] || { echo "$usage" >&2; exit 64; }
case $n in '' | *[!0-9]*) echo "$usage" >&2; exit 64 ;; esac
[ -x bin/uvm-plan ] && [ -x bin/uvm-init ] || { echo "bench-plan: build first (make)" >&2; exit 69; }

work=$(mktemp -d "$base/uvm-bench-plan.XXXXXX")
cleanup() { [ -n "$keep" ] || rm -rf "$work"; }
trap cleanup EXIT INT TERM
big=$work/big
fresh=$work/fresh
uvm-init "$big" >/dev/null
uvm-init "$fresh" >/dev/null

# files DIR FIRST COUNT PRODUCTS: COUNT groups of 16 jittered subbands
# (0..39 s apart; sb00 3 s after the first file), 300 s apart, starting at
# group FIRST after 2024-10-24T00:00:00Z; PRODUCTS=1 also makes each
# group's products/G/vis.uvh5. One perl process, no fork per file; the
# empty inputs are hard links of a few seed files (a link is a directory
# entry like any file: the planner reads names, and stats only the active
# ones; ext4 allows 65000 links an inode, so a new seed every 50000).
files() {
	perl -MPOSIX=strftime -e '
		my ($dir, $first, $count, $prod, $work) = @ARGV;
		my $t0 = 1729728000;
		my ($seed, $nlink) = ("", 50000);
		for my $i ($first .. $first + $count - 1) {
			my $t = $t0 + 300 * $i;
			for my $sb (0 .. 15) {
				if ($nlink++ >= 50000) {
					$seed = "$work/seed." . $i . "." . $sb;
					open(my $h, ">", $seed) or die "$seed: $!";
					close($h);
					$nlink = 1;
				}
				my $off = $sb == 0 ? 3 : $sb == 5 ? 0 : 5 + ($sb * 7) % 36;
				my $f = strftime("%Y-%m-%dT%H:%M:%S", gmtime($t + $off)) . sprintf("_sb%02d.hdf5", $sb);
				link($seed, "$dir/incoming/$f") or die "$f: $!";
			}
			if ($prod) {
				my $g = strftime("%Y%m%dT%H%M%S", gmtime($t + 3));
				mkdir("$dir/products/$g") or die "$g: $!";
				# every product, so each group is finished and retires
				for my $f ((map { sprintf("sb%02d.ok", $_) } 0 .. 15), "vis.uvh5", "cal.uvh5", "image.fits", "qa.json") {
					open(my $h, ">", "$dir/products/$g/$f") or die "$g: $!";
					close($h);
				}
				open(my $c, ">", "$dir/caltables/$g.cal.h5") or die "$g: $!";
				close($c);
			}
		}' "$@" "$work"
}

echo "bench-plan: creating $n finished groups ($((16 * n)) files) in $big" >&2
t0=$(now_s)
files "$big" 0 "$n" 1
t1=$(now_s)
create_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}')
echo "bench-plan: created in ${create_s} s; retiring them (one plan pass)" >&2
retire_s=$(elapsed uvm-plan -D "$big")
ndone=$(wc -l <"$big/state/done.idx")
[ "$ndone" -eq "$n" ] || { echo "bench-plan: done.idx has $ndone lines, want $n" >&2; exit 70; }

# the new group: in both deployments
files "$big" "$n" 1 0
files "$fresh" "$n" 1 0
uvm-plan -D "$big" >/dev/null
uvm-plan -D "$fresh" >/dev/null
for d in "$big" "$fresh"; do
	[ "$(grep -c '^IN_' "$d/state/pipeline.mk")" -eq 16 ] ||
		{ echo "bench-plan: '$d' does not plan exactly the new group" >&2; exit 70; }
done

load=$(cut -d' ' -f1-3 /proc/loadavg)

# measure NAME CMD...: 5 runs under GNU time; prints NAME, the median wall
# seconds, the median CPU seconds (user + system: what the run itself costs,
# whatever else the machine is doing) and the largest peak RSS (KB)
measure() {
	name=$1
	shift
	: >"$work/m"
	for i in 1 2 3 4 5; do
		/usr/bin/time -f '%e %U %S %M' -o "$work/t" "$@" >/dev/null 2>&1 || true
		tail -n 1 "$work/t" >>"$work/m"
	done
	printf '%s %s %s %s\n' "$name" "$(awk '{print $1}' "$work/m" | median)" \
		"$(awk '{print $2 + $3}' "$work/m" | median)" "$(awk '{print $4}' "$work/m" | sort -n | tail -n 1)"
}
# cycle DIR: what uvm-make does before any job runs: plan, then make's check
cycle() {
	uvm-plan -D "$1" || return 1
	make -q --no-print-directory -C "$1" -f state/pipeline.mk
	[ $? -le 1 ]
}

results=$( {
	measure plan-big uvm-plan -D "$big"
	measure plan-fresh uvm-plan -D "$fresh"
	measure makeq-big make -q --no-print-directory -C "$big" -f state/pipeline.mk
	measure makeq-fresh make -q --no-print-directory -C "$fresh" -f state/pipeline.mk
	measure ls-U-big ls -U "$big/incoming"
} )
# plan + make -q together, as uvm-make runs them (wall time only)
cyc_big=$(for i in 1 2 3 4 5; do elapsed cycle "$big" || true; done | median)
cyc_fresh=$(for i in 1 2 3 4 5; do elapsed cycle "$fresh" || true; done | median)

out=bench/results/plan.txt
tmp=$out.tmp.$$
{
	bench_header "bench-plan: planning cost with a year of history vs none"
	echo "# nproc: $(nproc); uname: $(uname -a)"
	echo "# load average before measuring: $load (other work on the machine inflates wall times)"
	echo "# history: $n finished groups, $((16 * n + 16)) files in incoming/, done.idx $(wc -c <"$big/state/done.idx") bytes"
	echo "# setup: files created in $create_s s; the retiring plan pass took $(printf %.1f "$retire_s") s (once)"
	echo "# steady state: one new group planned; median of 5 runs; RSS = peak resident KB"
	echo "#"
	printf '%-28s %10s %10s %12s\n' "what" "wall_s" "cpu_s" "peak_rss_kb"
	echo "$results" | while read -r name t c r; do
		printf '%-28s %10.4f %10.4f %12s\n' "$name" "$t" "$c" "$r"
	done
	printf '%-28s %10.4f %10s %12s\n' "cycle-big (plan + make -q)" "$cyc_big" "-" "-"
	printf '%-28s %10.4f %10s %12s\n' "cycle-fresh (plan + make -q)" "$cyc_fresh" "-" "-"
} >"$tmp"
mv "$tmp" "$out"
cat "$out"
