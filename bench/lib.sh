# lib.sh: helpers shared by the benchmark scripts (sourced).

# median: read numbers on stdin, print their median.
median() {
	sort -g | awk '{a[NR]=$1} END {if (NR==0) exit 1; if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'
}

# now_s: seconds since the epoch with nanoseconds.
now_s() { date +%s.%N; }

# elapsed CMD...: run CMD, print wall seconds.
elapsed() {
	t0=$(now_s); "$@" >/dev/null 2>&1; st=$?; t1=$(now_s)
	awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.6f\n", b-a}'
	return $st
}

# peak_rss_kb CMD...: run CMD, print its peak RSS in KB (GNU time).
peak_rss_kb() {
	/usr/bin/time -f %M -o "${TMPDIR:-/tmp}/rss.$$" "$@" >/dev/null 2>&1
	cat "${TMPDIR:-/tmp}/rss.$$"; rm -f "${TMPDIR:-/tmp}/rss.$$"
}

# header NAME: the first lines of a results file.
bench_header() {
	echo "# $1"
	echo "# date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "# machine: $(uname -srm), $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
	echo "# cpu: $(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo)"
}

# record KEY CMD...: run CMD (output discarded) under GNU time and append
# "KEY wall_s cpu_s rss_kb" to $tmp/rec (cpu: user + sys); when CMD fails,
# say so with its last lines of stderr and exit 1. record_med KEY COL: the
# median of column COL (1 wall, 2 cpu, 3 rss) over KEY's records.
record() {
	rkey=$1
	shift
	/usr/bin/time -f "%e %U %S %M" -o "$tmp/time" "$@" >/dev/null 2>"$tmp/err" ||
		{ echo "$(basename "$0" .sh): $rkey failed:" >&2; tail -3 "$tmp/err" >&2; exit 1; }
	awk -v k="$rkey" '{print k, $1, $2 + $3, $4}' "$tmp/time" >>"$tmp/rec"
}
record_med() { awk -v k="$1" -v c="$2" '$1 == k {print $(c + 1)}' "$tmp/rec" | median; }
