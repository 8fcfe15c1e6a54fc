#!/bin/sh
# bench-plan.sh: does a planning cycle cost the active work or the history?
#
# usage: bench/bench-plan.sh [-n "groups..."] [-r runs] [-m max] [-k] [-d dir]
#
# For each history size N (default 1000 10000 100000; 100,000 is a year at
# one group per 5 minutes) builds a deployment holding N finished groups:
# 16 empty subband files each in incoming/ (inputs kept) and every product
# rules/stages names, written in stage order (a table before the products
# that read it, as the pipeline makes them), a valid qa.json (failed gate:
# a blank mosaic) and each hour's mosaic after its groups. One plan pass
# retires them all into state/done.idx and state/hours.idx (timed once;
# the bench fails unless exactly N groups and every hour retire). Then one
# new group arrives, and the same single group goes into a fresh
# deployment, the reference. Measured (runs times, default 5; median wall
# and CPU seconds, largest peak RSS):
#   plan      uvm-plan, steady state (the new group already planned)
#   make      make -q on the generated makefile (question mode: parse and
#             check every target, run nothing)
#   ls-U      `ls -U incoming`: the floor for reading the directory
#   make-all  GNU make alone, -q over a makefile holding every product of
#             the history as a target (the same targets and prerequisites
#             as if finished groups stayed in the makefile): what the
#             history would cost make without done.idx (up to -m groups,
#             default 10000: make holds ~3 KB a target, 7 GB at 10^5)
# and the cycle, plan + make -q as uvm-make runs them. Results in
# bench/results/plan.txt. -k keeps the deployments; -d puts them under
# dir (default $TMPDIR or /tmp). 10^5 groups is 1.6M files: a few minutes
# to create on a loaded machine.
set -eu
cd "$(dirname "$0")/.."
. bench/lib.sh
export PATH="$(pwd)/bin:$PATH"
usage='usage: bench/bench-plan.sh [-n "groups..."] [-r runs] [-m max] [-k] [-d dir]'
sizes="1000 10000 100000"
mmax=10000
runs=5
keep=
base=${TMPDIR:-/tmp}
while getopts n:r:m:kd:h opt; do
	case $opt in
	n) sizes=$(echo "$OPTARG" | tr , ' ') ;;
	r) runs=$OPTARG ;;
	m) mmax=$OPTARG ;;
	k) keep=1 ;;
	d) base=$OPTARG ;;
	h) echo "$usage"; exit 0 ;;
	*) echo "$usage" >&2; exit 64 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 0 ] || { echo "$usage" >&2; exit 64; }
for n in $sizes $runs $mmax; do
	case $n in '' | *[!0-9]*) echo "$usage" >&2; exit 64 ;; esac
done
[ -x bin/uvm-plan ] && [ -x bin/uvm-init ] || { echo "bench-plan: build first (make)" >&2; exit 69; }

work=$(mktemp -d "$base/uvm-bench-plan.XXXXXX")
cleanup() { [ -n "$keep" ] || rm -rf "$work"; }
trap cleanup EXIT INT TERM

# The product templates of rules/stages, in stage order: "scope template"
# per line (a stage's extra outputs after a comma included).
awk '!/^#/ && NF >= 4 { n = split($2, p, ","); for (i = 1; i <= n; i++) print $4, p[i] }' \
	rules/stages >"$work/products"
grep -q ' products/{G}/qa.json$' "$work/products" && grep -q '^hour mosaics/{H}.fits$' "$work/products" ||
	{ echo "bench-plan: rules/stages has no qa or hourly mosaic stage" >&2; exit 70; }

# files DIR FIRST COUNT PRODUCTS: COUNT groups of 16 jittered subbands
# (0..39 s apart; sb00 3 s after the first file), 300 s apart, starting at
# group FIRST after 2024-10-24T00:00:00Z; PRODUCTS=1 also makes every
# product of each group and the mosaic of each hour the groups complete.
# One perl process, no fork per file; the empty inputs are hard links of a
# few seed files (a link is a directory entry like any file: the planner
# reads names, and stats only the active ones; ext4 allows 65000 links an
# inode, so a new seed every 50000). The products are links too, of an
# empty seed and a qa.json seed made just after each input seed (so every
# product is newer than its inputs, and the same age as the products it
# was made from: up to date for make): no inode or write a product, 10^5
# groups' 2.3 M of them took 8 minutes to create as files. With MAKEFILE set, writes there the
# makefile of every product (make-all).
files() {
	perl -MPOSIX=strftime -e '
		my ($dir, $first, $count, $prod, $work, $mkf) = @ARGV;
		my $t0 = 1729728000;
		my ($seed, $pseed, $qseed, $nlink, $plink) = ("", "", "", 50000, 50000);
		my $qa = "{\"pass\": false, \"rms_jy\": null, \"reason\": \"bench-plan placeholder\"}\n";
		my (@tpl, %hour, @hours);
		open(my $p, "<", "$work/products") or die "$work/products: $!";
		while (<$p>) { chomp; push @tpl, [split / /] }
		close($p);
		my $mk;
		if ($mkf) { open($mk, ">", $mkf) or die "$mkf: $!"; print $mk "all:\n" }
		sub touch { my ($f, $text) = @_; open(my $h, ">", $f) or die "$f: $!"; print $h $text; close($h) or die "$f: $!" }
		for my $i ($first .. $first + $count - 1) {
			my $t = $t0 + 300 * $i;
			for my $sb (0 .. 15) {
				if ($nlink++ >= 50000) {
					$seed = "$work/seed." . $i . "." . $sb;
					touch($seed, "");
					$nlink = 1;
					$plink = 50000 if $prod;
				}
				my $off = $sb == 0 ? 3 : $sb == 5 ? 0 : 5 + ($sb * 7) % 36;
				my $f = strftime("%Y-%m-%dT%H:%M:%S", gmtime($t + $off)) . sprintf("_sb%02d.hdf5", $sb);
				link($seed, "$dir/incoming/$f") or die "$f: $!";
			}
			next unless $prod;
			my $g = strftime("%Y%m%dT%H%M%S", gmtime($t + 3));
			my $h = substr($g, 0, 11);
			push @hours, $h unless $hour{$h}++;
			mkdir("$dir/products/$g") or die "$g: $!";
			# new product seeds after a new input seed, or when full
			# (a group links at most 100 products to them)
			if ($plink + 100 >= 50000) {
				($pseed, $qseed) = ("$work/pseed.$i", "$work/qseed.$i");
				touch($pseed, "");
				touch($qseed, $qa);
				$plink = 0;
			}
			my $prev = "";
			for my $x (@tpl) {
				my ($scope, $f) = @$x;
				next if $scope eq "hour";
				$f =~ s/\{G\}/$g/g;
				my @fs = $scope eq "subband" ? map { my $s = $f; $s =~ s/\{S\}/sprintf("sb%02d", $_)/e; $s } 0 .. 15 : ($f);
				for my $o (@fs) {
					link($o =~ /qa\.json$/ ? $qseed : $pseed, "$dir/$o") or die "$o: $!";
					$plink++;
					print $mk "$o:", ($prev ? " $prev" : ""), "\n" if $mk;
				}
				$prev = $fs[-1];
			}
			print $mk "mosaics/$h.fits: products/$g/qa.json\n" if $mk;
		}
		if ($prod) {
			# every hour: its mosaic, after its groups (the new group
			# takes its hour out of hours.idx again)
			for my $h (@hours) {
				touch("$dir/mosaics/$h.fits", "");
				print $mk "all: mosaics/$h.fits\n" if $mk;
			}
		}
		if ($mk) { close($mk) or die "$mkf: $!" }' "$@" "$work" "${MAKEFILE:-}"
}

# measure NAME CMD...: $runs runs under GNU time; prints NAME, the median
# wall seconds, the median CPU seconds (user + system: what the run itself
# costs, whatever else the machine is doing) and the largest peak RSS (KB)
measure() {
	name=$1
	shift
	: >"$work/m"
	i=0
	while [ $i -lt "$runs" ]; do
		/usr/bin/time -f '%e %U %S %M' -o "$work/t" "$@" >/dev/null 2>&1 || true
		tail -n 1 "$work/t" >>"$work/m"
		i=$((i + 1))
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

load=$(cut -d' ' -f1-3 /proc/loadavg)
rows=$work/rows
: >"$rows"
fresh=$work/fresh
uvm-init "$fresh" >/dev/null
# write: bench/results/plan.txt from the rows so far (after every size, so
# a run stopped during the largest keeps the smaller ones)
out=bench/results/plan.txt
write() {
	tmp=$out.tmp.$$
	{
		bench_header "bench-plan: planning cost with N finished groups of history, one new group"
		echo "# nproc: $(nproc); uname: $(uname -a)"
		echo "# load average before measuring: $load (other work on the machine inflates wall times)"
		echo "# reproduce: bench/bench-plan.sh -n \"$sizes\" -r $runs -m $mmax"
		cat "$work/notes"
		echo "# median of $runs runs; cpu = user + system; rss = largest peak resident KB;"
		echo "# groups 0 = a fresh deployment holding only the new group"
		echo "#"
		printf '%-8s %-10s %10s %10s %12s\n' groups what wall_s cpu_s peak_rss_kb
		while read -r n what t c r; do
			if [ "$c" = - ]; then
				printf '%-8s %-10s %10.4f %10s %12s\n' "$n" "$what" "$t" - -
			else
				printf '%-8s %-10s %10.4f %10.4f %12s\n' "$n" "$what" "$t" "$c" "$r"
			fi
		done <"$rows"
	} >"$tmp"
	mv "$tmp" "$out"
}

# the reference: a fresh deployment holding only the new group
files "$fresh" 0 1 0
uvm-plan -D "$fresh" >/dev/null
[ "$(grep -c '^IN_' "$fresh/state/pipeline.mk")" -eq 16 ] ||
	{ echo "bench-plan: '$fresh' does not plan exactly the new group" >&2; exit 70; }
: >"$work/notes"
{
	measure plan uvm-plan -D "$fresh"
	measure make make -q --no-print-directory -C "$fresh" -f state/pipeline.mk
	i=0
	while [ $i -lt "$runs" ]; do elapsed cycle "$fresh" || true; i=$((i + 1)); done >"$work/c"
	echo "cycle $(median <"$work/c") - -"
} | while read -r what t c r; do echo "0 $what $t $c $r"; done >>"$rows"


for n in $sizes; do
	big=$work/big$n
	uvm-init "$big" >/dev/null
	echo "bench-plan: creating $n finished groups ($((16 * n)) files) in $big" >&2
	t0=$(now_s)
	mk=
	[ "$n" -le "$mmax" ] && mk=$work/all$n.mk
	MAKEFILE=$mk files "$big" 0 "$n" 1
	t1=$(now_s)
	create_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}')
	echo "bench-plan: created in ${create_s} s; retiring them (one plan pass)" >&2
	retire_s=$(elapsed uvm-plan -D "$big")
	ndone=$(wc -l <"$big/state/done.idx" 2>/dev/null || echo 0)
	[ "$ndone" -eq "$n" ] || { echo "bench-plan: done.idx has $ndone lines, want $n" >&2; exit 70; }
	nhours=$(ls "$big/mosaics" | wc -l)
	nhidx=$(wc -l <"$big/state/hours.idx")
	[ "$nhidx" -eq "$nhours" ] || { echo "bench-plan: hours.idx has $nhidx lines, want $nhours" >&2; exit 70; }
	[ "$(grep -c '^IN_' "$big/state/pipeline.mk" || true)" -eq 0 ] ||
		{ echo "bench-plan: '$big' plans a finished group" >&2; exit 70; }

	# the new group: in both deployments
	files "$big" "$n" 1 0
	uvm-plan -D "$big" >/dev/null
	[ "$(grep -c '^IN_' "$big/state/pipeline.mk")" -eq 16 ] ||
		{ echo "bench-plan: '$big' does not plan exactly the new group" >&2; exit 70; }
	ntargets="- (skipped, -m $mmax)"
	if [ -n "$mk" ]; then
		ntargets=$(awk -F: '$1 != "all" { print $1 }' "$mk" | sort -u | wc -l)
		make -q -C "$big" -f "$mk" all >/dev/null 2>&1 ||
			{ echo "bench-plan: the make-all makefile is not up to date" >&2; exit 70; }
	fi

	echo "bench-plan: measuring at $n groups" >&2
	{
		measure plan uvm-plan -D "$big"
		measure make make -q --no-print-directory -C "$big" -f state/pipeline.mk
		measure ls-U ls -U "$big/incoming"
		[ -z "$mk" ] || measure make-all make -q --no-print-directory -C "$big" -f "$mk" all
		i=0
		while [ $i -lt "$runs" ]; do elapsed cycle "$big" || true; i=$((i + 1)); done >"$work/c"
		echo "cycle $(median <"$work/c") - -"
	} | while read -r what t c r; do
		echo "$n $what $t $c $r"
	done >>"$rows"
	echo "# $n groups: files created in $create_s s, retiring pass $(printf %.1f "$retire_s") s (once);" \
		"$((16 * n + 16)) files in incoming/, done.idx $(wc -c <"$big/state/done.idx") bytes," \
		"$nhidx hours retired; make-all: $ntargets targets" >>"$work/notes"
	[ -n "$keep" ] || rm -rf "$big" ${mk:+"$mk"}
	write
done
cat "$out"

