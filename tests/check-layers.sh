#!/bin/sh
# check-layers.sh: the library's layers include only the layers below them.
#
#   tests/check-layers.sh [SRCDIR]     (default src)
#
# src/lib/ is split into layers, lowest first:
#   core < uvh5 < sci < engine < ops
# A file of one layer includes headers of its own layer and of the layers
# below it, always written "layer/name.h". Programs (src/*.c) and tests may
# include any layer. Every library file lives in a layer folder.
# Prints one line per violation and exits 1 if there is any, else a
# one-line summary and exit 0. Run by `make test`.
set -eu
src=${1:-src}
layers="core uvh5 sci engine ops"
out=$(mktemp)
trap 'rm -f "$out"' EXIT

rank() {
	i=0
	for l in $layers; do
		[ "$l" = "$1" ] && { echo $i; return; }
		i=$((i + 1))
	done
	echo -1
}

for f in "$src"/lib/*; do
	[ -d "$f" ] || echo "layers: $f: library file outside a layer folder" >>"$out"
done
for l in $layers; do
	[ -d "$src/lib/$l" ] || echo "layers: $src/lib/$l: missing layer folder" >>"$out"
done
nfiles=0
for d in "$src"/lib/*/; do
	layer=$(basename "$d")
	r=$(rank "$layer")
	if [ "$r" -lt 0 ]; then
		echo "layers: $d: not a known layer ($layers)" >>"$out"
		continue
	fi
	for f in "$d"*.c "$d"*.h "$d"*.cc "$d"*.cpp; do
		[ -e "$f" ] || continue
		nfiles=$((nfiles + 1))
		grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$f" |
			sed 's/^\([0-9]*\):.*"\([^"]*\)".*/\1 \2/' >"$out.inc" || true
		while read -r n h; do
			case "$h" in
			/*) continue ;; # a system source pulled in by absolute path
			*/*) ;;
			*)
				echo "layers: $f:$n: include \"$h\" without its layer" >>"$out"
				continue
				;;
			esac
			hl=${h%%/*}
			hr=$(rank "$hl")
			if [ "$hr" -lt 0 ]; then
				echo "layers: $f:$n: include \"$h\": unknown layer '$hl'" >>"$out"
			elif [ "$hr" -gt "$r" ]; then
				echo "layers: $f:$n: $layer includes \"$h\" of the higher layer $hl" >>"$out"
			elif [ ! -e "$src/lib/$h" ]; then
				echo "layers: $f:$n: include \"$h\": no such header" >>"$out"
			fi
		done <"$out.inc"
		rm -f "$out.inc"
	done
done
if [ -s "$out" ]; then
	cat "$out"
	echo "layers: $(wc -l <"$out") violation(s)"
	exit 1
fi
echo "layers: $nfiles files in $(echo $layers | wc -w) layers ($layers), no upward include"
