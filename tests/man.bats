#!/usr/bin/env bats
# man.bats: the manual pages say what the programs do.
#
# Page conventions (follow them for a new program's page):
# - One mdoc(7) page per program, man/<program>.1: every src/uvm-*.c and
#   every shell program committed in bin/. Section 1 for all of them,
#   the daemon and the cron jobs included: none needs privileges, they run
#   as the deployment's owner. File formats are section 5
#   (uvmake.conf.5, uvm-stages.5), the overview section 7 (uvmake.7).
# - Header: a comment naming the sources the page was written from, then
#   .Dd (date of the last change), .Dt UVM-NAME 1, .Os uvmake.
# - Sections in mdoc order: NAME, SYNOPSIS, DESCRIPTION, [SIGNALS,]
#   ENVIRONMENT (what the program reads: UVM_HOME, UVM_ROOT, ...), FILES,
#   EXIT STATUS, EXAMPLES, SEE ALSO.
# - SYNOPSIS renders to the program's --help line (without "usage: "),
#   whitespace aside and "x ..." read as "x...": write "[-i input]..." as
#   ".Oo Fl i Ar input Oc No ...", "(-a | name...)" as ".Pq Fl a | Ar name ...".
# - DESCRIPTION has a ".Bl -tag -width Ds" list with an ".It Fl x" for every
#   option letter the program parses, "-h" included
#   (".It Fl h , Fl \-help": print the synopsis and exit 0).
# - EXIT STATUS is a ".Bl -tag -width Ds" list with one ".It N" per status
#   the program can return (from its code: the header comment's exit
#   paragraph and the EX_* it returns), each with its meaning for that
#   program.
# - mandoc -T lint -W warning prints nothing.
load test_helper

MAN="$UVM_ROOT/man"

# Every program: the C programs and the committed shell programs of bin/
# (a file of bin/ that no src/uvm-*.c builds).
programs() {
	local f n
	for f in "$UVM_ROOT"/src/uvm-*.c; do
		n=${f##*/}
		echo "${n%.c}"
	done
	for f in "$UVM_ROOT"/bin/uvm-*; do
		n=${f##*/}
		case $n in *.tmp.*) continue ;; esac
		[ -f "$UVM_ROOT/src/$n.c" ] || echo "$n"
	done
}

# The source of program $1.
source_of() {
	if [ -f "$UVM_ROOT/src/$1.c" ]; then echo "$UVM_ROOT/src/$1.c"; else echo "$UVM_ROOT/bin/$1"; fi
}

# Collapse whitespace; "x ..." reads as "x...".
norm() {
	tr -s ' \t\n' '   ' | sed -e 's/^ *//' -e 's/ *$//' -e 's/ \.\.\./.../g'
}

# The rendered SYNOPSIS of page $1, normalised.
page_synopsis() {
	mandoc -T ascii -O width=1000 "$1" | sed 's/.\x08//g' |
		awk '/^SYNOPSIS/ { f = 1; next } /^[A-Z]/ { f = 0 } f' | norm
}

# The option letters program $1 parses: its getopt string, or the case
# patterns of a shell program's option loop.
option_letters() {
	local src
	src=$(source_of "$1")
	if [ "${src%.c}" != "$src" ]; then
		grep -oE 'getopt(_long)?\([^"]*"[^"]*"' "$src" | sed 's/.*"\(.*\)"/\1/' |
			tr -d '+:' | fold -w1
	else
		grep -oE '^[[:space:]]*-[A-Za-z0-9](\|[^)]*)?\)' "$src" |
			grep -oE -- '(^|[[:space:]|])-[A-Za-z0-9]' | tr -d ' \t|-'
	fi | sort -u
}

# The statuses of the README's table (the classified exit statuses).
table_statuses() {
	awk -F'|' '/^\| *[0-9]+ *\|/ { gsub(/ /, "", $2); print $2 }' "$UVM_ROOT/README.md"
	echo 0
}

# The statuses program $1's code says it returns: the numbers of its header
# comment's exit paragraph, the EX_* it returns or assigns (sysexits.h and
# uvm.h), 64 when it prints its usage on error, and a shell program's
# literal exits and flock -E; kept when the README's table has them.
code_statuses() {
	local src
	src=$(source_of "$1")
	{
		awk '/^ \*\// || /^set -eu/ { exit } /Exit/ { f = 1 } f' "$src" |
			tr -cs '0-9.+' '\n' | grep -xE '0|1|6[4-9]|7[0-9]'
		grep -oE '(return |[^=!<>]= ?)(UVM_)?EX_[A-Z]+' "$src" | grep -oE '(UVM_)?EX_[A-Z]+' |
			while read -r n; do
				case $n in
				UVM_EX_BUSY) echo 76 ;;
				UVM_EX_OVERFLAGGED) echo 79 ;;
				*) awk -v n="$n" '$1 == "#define" && $2 == n { print $3 }' /usr/include/sysexits.h ;;
				esac
			done
		grep -q 'log_usage' "$src" && echo 64
		grep -oE '(exit|-E) [0-9]+' "$src" | grep -oE '[0-9]+'
	} | sort -un | grep -Fxf <(table_statuses | sort -u)
}

# The statuses the EXIT STATUS section of page $1 lists (".It N").
page_statuses() {
	awk '/^\.Sh/ { f = ($0 ~ /EXIT STATUS/); next } f && /^\.It [0-9]+$/ { print $2 }' "$1" | sort -un
}

@test "man: mandoc -T lint -W warning is clean on every page" {
	command -v mandoc || skip "mandoc is not installed (make deps)"
	local pages=("$MAN"/*.[1-9])
	[ "${#pages[@]}" -ge 29 ]
	run mandoc -T lint -W warning "${pages[@]}"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}

@test "man: every program has a page in section 1, and the overview pages exist" {
	local missing="" p
	[ "$(programs | wc -l)" -ge 26 ]
	for p in $(programs); do
		[ -f "$MAN/$p.1" ] || missing="$missing $p"
	done
	[ -z "$missing" ] || { echo "no page for:$missing"; false; }
	[ -f "$MAN/uvmake.conf.5" ]
	[ -f "$MAN/uvm-stages.5" ]
	[ -f "$MAN/uvmake.7" ]
}

@test "man: each page's SYNOPSIS is the program's --help usage" {
	command -v mandoc || skip "mandoc is not installed (make deps)"
	local bad="" p want got
	for p in $(programs); do
		[ -f "$MAN/$p.1" ] || { bad="$bad $p(no page)"; continue; }
		want=$("$p" --help | sed '1s/^usage: //' | norm)
		got=$(page_synopsis "$MAN/$p.1")
		[ -n "$want" ] && [ "$want" = "$got" ] ||
			bad="$bad
$p: --help '$want'
$p: page   '$got'"
	done
	[ -z "$bad" ] || { echo "$bad"; false; }
}

@test "man: every option letter a program parses is a .Fl item of its page" {
	local bad="" p l n=0
	for p in $(programs); do
		for l in $(option_letters "$p"); do
			n=$((n + 1))
			grep -qE "^\.It Fl $l( |$)|^\.It .* Fl $l( |$)" "$MAN/$p.1" 2>/dev/null ||
				bad="$bad $p:-$l"
		done
	done
	[ "$n" -ge 100 ] # the extraction itself works
	[ -z "$bad" ] || { echo "undocumented options:$bad"; false; }
}

@test "man: every exit status a program's code returns is in its EXIT STATUS" {
	local bad="" p s n=0
	for p in $(programs); do
		for s in $(code_statuses "$p"); do
			n=$((n + 1))
			page_statuses "$MAN/$p.1" 2>/dev/null | grep -qx "$s" || bad="$bad $p:$s"
		done
	done
	[ "$n" -ge 100 ]
	[ -z "$bad" ] || { echo "undocumented statuses:$bad"; false; }
}

@test "man: the checks catch a page that drifts from its program" {
	# a copy of a page without -k and status 69, and a wrong synopsis
	command -v mandoc || skip "mandoc is not installed (make deps)"
	local d="$BATS_TEST_TMPDIR"
	sed -e '/^\.It Fl k Ar calibrator$/d' -e '/^\.It 69$/d' -e 's/^\.Op Fl j$/.Op Fl J/' \
		"$MAN/uvm-calsolve.1" >"$d/uvm-calsolve.1"
	MAN=$d
	run bash -c 'grep -qE "^\.It Fl k( |$)" "$0"' "$MAN/uvm-calsolve.1"
	[ "$status" -ne 0 ]
	run page_statuses "$MAN/uvm-calsolve.1"
	[[ "$output" != *69* ]]
	code_statuses uvm-calsolve | grep -qx 69
	option_letters uvm-calsolve | grep -qx k
	[ "$(page_synopsis "$MAN/uvm-calsolve.1")" != "$(uvm-calsolve --help | sed '1s/^usage: //' | norm)" ]
}

@test "man: uvmake.conf(5) documents every config key the code reads" {
	local bad="" k
	for k in $( {
		grep -rhoE 'cfg_(str|int|double|resource)\([^,]+, *"[A-Z][A-Z0-9_]*"' "$UVM_ROOT/src" |
			grep -oE '"[A-Z][A-Z0-9_]*"'
		grep -oE '^ *"[A-Z][A-Z0-9_]*=' "$UVM_ROOT/src/lib/core/cfg.c"
	} | tr -d ' "=' | sort -u); do
		grep -qE "^\.It Va $k( |$)" "$MAN/uvmake.conf.5" || bad="$bad $k"
	done
	[ -z "$bad" ] || { echo "undocumented keys:$bad"; false; }
}
