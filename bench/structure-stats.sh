#!/bin/sh
# structure-stats.sh: three numbers that say how much a C tree repeats itself
# and how large its pieces are, for a before/after table of a clean-up.
#
#   bench/structure-stats.sh [DIR]     (default: the current directory)
#
# Prints, one per line:
#   dup_pairs_10   pairs of places sharing 10+ lines (the `duplicates` tool)
#   files_over_600 source files (src/**/*.c, *.h) longer than 600 lines
#   funcs_over_100 C functions longer than 100 lines (ctags --fields=+ne)
# Needs `duplicates` and universal ctags on PATH.
set -eu
dir=${1:-.}
cd "$dir"
pairs=$(duplicates --min-lines 10 --seconds 120 | sed -n '1s/^\([0-9][0-9]*\) pairs.*/\1/p')
[ -n "$pairs" ] || pairs=0
files=$(find src -name '*.[ch]' -exec wc -l {} + | awk '$2 != "total" && $1 > 600' | wc -l)
funcs=$(find src -name '*.c' | sort | xargs ctags --c-kinds=f --fields=+ne -o - 2>/dev/null |
	awk -F'\t' '{ s = e = 0; for (i = 4; i <= NF; i++) { if ($i ~ /^line:/) s = substr($i, 6); if ($i ~ /^end:/) e = substr($i, 5) } if (e - s + 1 > 100) n++ } END { print n + 0 }')
printf 'dup_pairs_10 %s\nfiles_over_600 %s\nfuncs_over_100 %s\n' "$pairs" "$files" "$funcs"
