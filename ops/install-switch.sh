#!/bin/sh
# install-switch.sh: the atomic half of `make install` and `make uninstall`
# (build time only, never installed).
#
# usage: install-switch.sh libdir version bindir datadir keep
#        install-switch.sh -u libdir bindir datadir
#
# libdir/version/ holds one installed version (bin/, share/uvmake/). The
# switch renames a fresh symbolic link over libdir/current, so whoever
# follows it sees the old tree or the new one, never a mix; bindir/uvm-*
# and datadir/uvmake are relative links through current, made or replaced
# (by rename, so never missing) only when they differ, and bindir links
# through current to a program the new version no longer has are removed.
# Over an install from before versions, its programs in bindir are
# replaced the same way and its datadir/uvmake, which deployments' configs
# name, is moved to datadir/uvmake.unversioned so that the link takes its
# place (a deployment made by it then gets the new version's rules).
# Then the versions beyond the newest `keep` (by install time) are removed
# unless a process runs from them (its executable or command line under the
# version's directory, as /proc shows them): a job started before an
# upgrade finishes with its own programs and files. -u removes the links
# that lead through libdir/current, then libdir itself.
#
# Exit status: 0 done; 1 a step failed (its command said why); 64 usage.
set -eu
usage='usage: install-switch.sh libdir version bindir datadir keep | -u libdir bindir datadir'

# link_target from to: the relative path from directory `from` to `to`
link_target() {
	realpath -ms --relative-to="$1" "$2"
}

# ours link: does the link lead through libdir/current?
ours() {
	[ -L "$1" ] || return 1
	[ "$(readlink "$1")" = "$(link_target "${1%/*}" "$cur/${2:-}")" ]
}

# replace_link name target: name becomes a link to target, by rename
replace_link() {
	[ -L "$1" ] && [ "$(readlink "$1")" = "$2" ] && return 0
	ln -s "$2" "$1.tmp.$$"
	mv -Tf "$1.tmp.$$" "$1" || { rm -f "$1.tmp.$$"; return 1; }
}

# in_use dir: does a process run from dir (its executable or arguments)?
in_use() {
	real=$(realpath "$1")
	for p in /proc/[0-9]*; do
		exe=$(readlink "$p/exe" 2>/dev/null) || exe=
		case $exe in "$real"/*) return 0 ;; esac
		args=$(tr '\0' ' ' <"$p/cmdline" 2>/dev/null) || args=
		case $args in *"$real"/*|*"$1"/*) return 0 ;; esac
	done
	return 1
}

if [ "${1:-}" = -u ]; then
	[ $# -eq 4 ] || { echo "$usage" >&2; exit 64; }
	lib=$2 cur=$2/current
	for f in "$3"/uvm-*; do
		ours "$f" "bin/${f##*/}" && rm -f "$f"
	done
	ours "$4/uvmake" share/uvmake && rm -f "$4/uvmake"
	rm -rf "$lib"
	exit 0
fi
[ $# -eq 5 ] || { echo "$usage" >&2; exit 64; }
lib=$1 ver=$2 bindir=$3 datadir=$4 keep=$5 cur=$1/current
[ -d "$lib/$ver/bin" ] || { echo "install-switch.sh: cannot use '$lib/$ver': not an installed version" >&2; exit 1; }
touch "$lib/$ver"
replace_link "$cur" "$ver"
echo "switched '$cur' to $ver"
mkdir -p "$bindir" "$datadir"
for f in "$lib/$ver"/bin/*; do
	n=${f##*/}
	replace_link "$bindir/$n" "$(link_target "$bindir" "$cur/bin/$n")"
done
for f in "$bindir"/uvm-*; do
	[ -e "$f" ] || { ours "$f" "bin/${f##*/}" && rm -f "$f"; }
done
if [ -d "$datadir/uvmake" ] && [ ! -L "$datadir/uvmake" ]; then
	# an install from before versions: deployments name its rules/, which
	# from now on must lead to current's; kept aside, not removed
	[ ! -e "$datadir/uvmake.unversioned" ] || { echo "install-switch.sh: cannot move '$datadir/uvmake' aside: '$datadir/uvmake.unversioned' exists" >&2; exit 1; }
	mv -T "$datadir/uvmake" "$datadir/uvmake.unversioned"
	echo "moved the unversioned '$datadir/uvmake' to '$datadir/uvmake.unversioned'"
fi
replace_link "$datadir/uvmake" "$(link_target "$datadir" "$cur/share/uvmake")"
n=0
for v in $(ls -t "$lib"); do
	[ "$v" = current ] || [ "$v" = "$ver" ] || [ -L "$lib/$v" ] && continue
	case $v in *.tmp.*) continue ;; esac
	n=$((n + 1))
	[ $n -lt "$keep" ] && continue
	if in_use "$lib/$v"; then
		echo "kept version $v: a process runs from it"
	else
		rm -rf "${lib:?}/$v"
		echo "removed version $v"
	fi
done
