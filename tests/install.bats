#!/usr/bin/env bats
# install.bats: make install gives a working installation on its own, and
# make uninstall takes back exactly what it put.
#
# The installation goes into a DESTDIR under the test's directory with a
# PREFIX of its own; the pipeline then runs with only the installed bin/
# on PATH, UVM_ROOT unset and the current directory outside the source
# tree, so every rules/ and ops/ file it uses must come from the
# installation (the programs find them relative to themselves).

load test_helper

PREFIX=/opt/uvmake

# do_install DESTDIR [make-var...]: make install, output in DESTDIR.log
do_install() {
	make -C "$UVM_ROOT" --no-print-directory install DESTDIR="$1" PREFIX="$PREFIX" "${@:2}" \
		>"$1.log" 2>&1
}

# installed_files DESTDIR: every file and link under DESTDIR, relative
installed_files() {
	(cd "$1" && find . \( -type f -o -type l \) | sed 's|^\./||' | sort)
}

# programs and scripts install puts in bin/: src/uvm-*.c and the committed
# shell programs of bin/
expected_bin() {
	local f n
	for f in "$UVM_ROOT"/src/uvm-*.c; do n=${f##*/}; echo "${n%.c}"; done
	for f in "$UVM_ROOT"/bin/uvm-*; do
		n=${f##*/}
		case $n in *.tmp.*) continue ;; esac
		[ -f "$UVM_ROOT/src/$n.c" ] || echo "$n"
	done
}

@test "install: programs, rules, ops files and pages where the variables say" {
	d=$BATS_TEST_TMPDIR/dest
	do_install "$d" || { cat "$d.log"; false; }
	inst=$d$PREFIX
	# one version's tree under lib/uvmake, current a link to it
	v=$(sed -n 's/^#define UVM_VERSION "\(.*\)"$/\1/p' "$UVM_ROOT/build/gen/uvm_version.h" |
		tr -c 'A-Za-z0-9._+\n-' _)
	[ "$(ls "$inst/lib/uvmake" | sort)" = "$(printf '%s\n' "$v" current | sort)" ]
	[ "$(readlink "$inst/lib/uvmake/current")" = "$v" ]
	# bin/: exactly the programs and scripts, the -O2 build (not the
	# sanitizer one), executable, each a relative link through current
	[ "$(ls "$inst/bin")" = "$(expected_bin | sort)" ]
	[ "$(ls "$inst/lib/uvmake/$v/bin")" = "$(expected_bin | sort)" ]
	for p in $(expected_bin); do
		[ -x "$inst/bin/$p" ]
		[ "$(readlink "$inst/bin/$p")" = "../lib/uvmake/current/bin/$p" ]
		cmp "$UVM_ROOT/bin/$p" "$inst/lib/uvmake/$v/bin/$p"
	done
	[ "$(readlink "$inst/share/uvmake")" = ../lib/uvmake/current/share/uvmake ]
	# rules/ whole; ops/ but the build-time deps.sh and install-switch.sh, modes kept
	[ "$(cd "$inst/share/uvmake/rules" && ls)" = "$(cd "$UVM_ROOT/rules" && ls)" ]
	[ "$(cd "$inst/share/uvmake" && find ops -type f | sort)" = \
	  "$(cd "$UVM_ROOT" && find ops -type f ! -name deps.sh ! -name install-switch.sh | sort)" ]
	[ -x "$inst/share/uvmake/ops/hooks/mail.sh" ]
	[ ! -x "$inst/share/uvmake/ops/alerts.conf" ]
	# a page per man/ file in its section's directory, and nothing else
	[ "$(cd "$inst/share/man" && find . -type f | sed 's|^\./man[0-9]/||' | sort)" = \
	  "$(cd "$UVM_ROOT/man" && ls | sort)" ]
	[ -f "$inst/share/man/man5/uvmake.conf.5" ]
	[ -f "$inst/share/man/man7/uvmake.7" ]
	# nothing outside PREFIX
	[ "$(ls "$d")" = opt ] && [ "$(ls "$d/opt")" = uvmake ]
}

@test "install: BINDIR, DATADIR, MANDIR and LIBDIR move what they name" {
	d=$BATS_TEST_TMPDIR/dest
	do_install "$d" BINDIR=/usr/bin DATADIR=/srv/data MANDIR=/usr/man LIBDIR=/usr/lib/uvm \
		|| { cat "$d.log"; false; }
	[ -x "$d/usr/bin/uvm-run" ]
	[ "$(readlink "$d/usr/bin/uvm-run")" = ../lib/uvm/current/bin/uvm-run ]
	[ -f "$d/srv/data/uvmake/rules/stages" ]
	[ "$(readlink "$d/srv/data/uvmake")" = ../../usr/lib/uvm/current/share/uvmake ]
	[ -f "$d/usr/man/man1/uvm-run.1" ]
	[ ! -e "$d$PREFIX" ]
	# the installed programs find their own tree's rules wherever DATADIR is
	(unset UVM_ROOT; cd /; "$d/usr/bin/uvm-init" "$BATS_TEST_TMPDIR/dep" >/dev/null)
	grep -qx "RULES_DIR=$d/usr/lib/uvm/current/share/uvmake/rules" "$BATS_TEST_TMPDIR/dep/uvmake.conf"
}

@test "install: with only the installed programs, a deployment makes a group's products" {
	d=$BATS_TEST_TMPDIR/dest
	do_install "$d" || { cat "$d.log"; false; }
	inst=$d$PREFIX
	dep=$BATS_TEST_TMPDIR/dep
	cd "$BATS_TEST_TMPDIR"
	(
		unset UVM_ROOT
		export PATH="$inst/bin:/usr/bin:/bin"
		[ "$(command -v uvm-run)" = "$inst/bin/uvm-run" ]
		[ "$(command -v uvm-make)" = "$inst/bin/uvm-make" ]
		uvm-init "$dep" >/dev/null
		# the config names the installation's rules and catalogue,
		# through current (the next version's are the deployment's)
		grep -qx "RULES_DIR=$inst/lib/uvmake/current/share/uvmake/rules" "$dep/uvmake.conf"
		grep -qx "CALIBRATORS=$inst/lib/uvmake/current/share/uvmake/ops/calibrators.csv" "$dep/uvmake.conf"
		small_conf "$dep"
		# one group with 3C48 transiting: every stage runs, calibration
		# and flagging (the installed AOFlagger strategy) included
		uvm-sim -a 8 -s 4 -c 4 -t 3 -j 2 -S 7 -n 0.05 \
			-K "$inst/share/uvmake/ops/calibrators.csv" -k 3C48 -C 0 -g 1 \
			-o "$dep/incoming" >/dev/null
		settle "$dep"
		g=$(ls "$dep/products")
		for p in $(group_products "$g" "$inst/share/uvmake/rules"); do
			[ -f "$dep/$p" ] || { echo "missing $p"; exit 1; }
		done
		[ "$(ls "$dep"/caltables/*.cal.h5 | wc -l)" -eq 1 ]
		[ "$(ls "$dep"/mosaics/*.fits | wc -l)" -eq 1 ]
		# the operations programs find the installed alert rules, and
		# uvm-remake the installed stage description
		uvm-metrics -D "$dep"
		uvm-alert -D "$dep" -n >/dev/null
		uvm-remake -D "$dep" "products/$g/qa.json" >/dev/null
		[ -f "$dep/products/$g/qa.json" ]
		# without RULES_DIR in the config, the planner, the wrapper and
		# uvm-remake fall back to the installation's rules/ themselves
		sed -i '/^RULES_DIR=/d' "$dep/uvmake.conf"
		uvm-remake -D "$dep" "products/$g/image.fits" >/dev/null
		[ -f "$dep/products/$g/image.fits" ]
	)
}

@test "install: over an install from before versions, its programs and share directory become links" {
	d=$BATS_TEST_TMPDIR/dest
	inst=$d$PREFIX
	mkdir -p "$inst/bin" "$inst/share/uvmake/rules"
	echo old >"$inst/bin/uvm-run"
	echo old >"$inst/share/uvmake/rules/stages"
	do_install "$d" || { cat "$d.log"; false; }
	[ "$(readlink "$inst/bin/uvm-run")" = ../lib/uvmake/current/bin/uvm-run ]
	[ "$(readlink "$inst/share/uvmake")" = ../lib/uvmake/current/share/uvmake ]
	cmp "$UVM_ROOT/rules/stages" "$inst/share/uvmake/rules/stages"
	[ "$(cat "$inst/share/uvmake.unversioned/rules/stages")" = old ]
	grep -q "moved the unversioned '$inst/share/uvmake' to '$inst/share/uvmake.unversioned'" "$d.log"
}

@test "uninstall: removes exactly what install put, nothing of anyone else's" {
	d=$BATS_TEST_TMPDIR/dest
	do_install "$d" || { cat "$d.log"; false; }
	inst=$d$PREFIX
	installed=$(installed_files "$d")
	[ "$(echo "$installed" | wc -l)" -ge 60 ]
	# someone else's files beside ours
	echo other >"$inst/bin/other-tool"
	mkdir -p "$inst/share/doc" && echo other >"$inst/share/doc/other"
	echo other >"$inst/share/man/man1/other.1"
	make -C "$UVM_ROOT" --no-print-directory uninstall DESTDIR="$d" PREFIX="$PREFIX" >"$d.log" 2>&1 ||
		{ cat "$d.log"; false; }
	[ "$(installed_files "$d")" = "$(printf '%s\n' "${PREFIX#/}/bin/other-tool" \
		"${PREFIX#/}/share/doc/other" "${PREFIX#/}/share/man/man1/other.1" | sort)" ]
	[ ! -e "$inst/share/uvmake" ] && [ ! -e "$inst/lib/uvmake" ]
	# a second uninstall has nothing to remove and succeeds
	make -C "$UVM_ROOT" --no-print-directory uninstall DESTDIR="$d" PREFIX="$PREFIX" >"$d.log" 2>&1
}
