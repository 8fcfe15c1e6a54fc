#!/usr/bin/env bats
# deb.bats: what packaging needs of the build, without the network.
#
# The caller's CPPFLAGS, CFLAGS and LDFLAGS (dpkg-buildflags' hardening)
# reach the compile and link lines while the project's -Werror holds;
# building checks only the build set of ops/deps.sh, which is also the
# package's Build-Depends; and `make deb` (when dpkg-dev and debhelper are
# installed) gives a package with the programs, rules, ops files, pages and
# unit templates, hardened, whose maintainer scripts start, stop and
# restart nothing. The package on a clean Debian root is
# bench/debootstrap.sh's (it downloads).

load test_helper

# mini: a scratch tree with the Makefile, deps.sh, and the tree's library
# and uvm-dump object (made by check-bats' `all`), so one link or one
# compile runs there and the tree's own build is left alone.
mini() {
	m=$BATS_TEST_TMPDIR/mini
	mkdir -p "$m/build/obj" "$m/ops" "$m/src" "$m/bin"
	cp "$UVM_ROOT/Makefile" "$m/"
	cp "$UVM_ROOT/ops/deps.sh" "$m/ops/"
	cp -p "$UVM_ROOT/build/libuvm.a" "$m/build/"
	cp -p "$UVM_ROOT/build/obj/uvm-dump.o" "$m/build/obj/"
}

# link LDFLAGS: link bin/uvm-dump in the scratch tree with these LDFLAGS
link() {
	env -u LDFLAGS -u CFLAGS -u CPPFLAGS make -C "$m" --no-print-directory \
		-o build/libuvm.a -o build/obj/uvm-dump.o LDFLAGS="$1" bin/uvm-dump
}

@test "build: LDFLAGS reach the link line (BIND_NOW with -Wl,-z,now, not without)" {
	mini
	run -0 link ""
	run -1 grep BIND_NOW <(readelf -d "$m/bin/uvm-dump")
	rm "$m/bin/uvm-dump"
	run -0 link "-Wl,-z,now"
	assert_line --partial -- "-Wl,-z,now"
	readelf -d "$m/bin/uvm-dump" | grep -q BIND_NOW
	# the linked program works
	"$m/bin/uvm-dump" --help >/dev/null
}

@test "build: the caller's CPPFLAGS and CFLAGS are used, and cannot turn -Werror off" {
	mini
	# compiles only when CPPFLAGS reached the compiler
	printf '%s\n' '#if !UVM_FROM_CPPFLAGS' '#error CPPFLAGS ignored' '#endif' \
		'int main(void) { return 0; }' >"$m/src/uvm-zz.c"
	run -0 env -u CFLAGS make -C "$m" --no-print-directory CPPFLAGS=-DUVM_FROM_CPPFLAGS=1 \
		CFLAGS="-O1 -fno-common" build/obj/uvm-zz.o
	assert_output --partial "-DUVM_FROM_CPPFLAGS=1 -O1 -fno-common"
	# a warning stays an error whatever CFLAGS say
	rm "$m/build/obj/uvm-zz.o"
	printf '%s\n' 'int main(void) { int unused; return 0; }' >"$m/src/uvm-zz.c"
	run -2 make -C "$m" --no-print-directory CFLAGS="-O2 -Wno-error" build/obj/uvm-zz.o
	assert_output --partial "unused variable"
	[ ! -e "$m/build/obj/uvm-zz.o" ]
}

# fake_dpkg_query DIR PKG...: a dpkg-query in DIR that reports PKGs as not
# installed and asks the real one about the others
fake_dpkg_query() {
	local d=$1
	shift
	mkdir -p "$d"
	cat >"$d/dpkg-query" <<-EOF
	#!/bin/sh
	for p; do :; done
	case " $* " in *" \$p "*) exit 1 ;; esac
	exec /usr/bin/dpkg-query "\$@"
	EOF
	chmod +x "$d/dpkg-query"
}

@test "deps: building checks the build set only; the test tools are another set" {
	# as if every package of the test and bench sets were missing
	gone=$(comm -23 <("$UVM_ROOT/ops/deps.sh" --list test bench | sort) \
		<("$UVM_ROOT/ops/deps.sh" --list build | sort) | tr '\n' ' ')
	[[ " $gone " == *" bats "* ]] && [[ " $gone " == *" chromium "* ]]
	fake_dpkg_query "$BATS_TEST_TMPDIR/fake" $gone
	export PATH="$BATS_TEST_TMPDIR/fake:$PATH"
	run -0 "$UVM_ROOT/ops/deps.sh" --check build
	run -0 make -C "$UVM_ROOT" --no-print-directory deps-ok
	run -1 "$UVM_ROOT/ops/deps.sh" --check test
	assert_output --partial "missing Debian packages (test):"
	assert_output --partial " bats"
	refute_output --partial "libhdf5-dev"
	run -1 "$UVM_ROOT/ops/deps.sh" --check
	assert_output --partial "chromium"
	run -64 "$UVM_ROOT/ops/deps.sh" --check tests
	assert_output "usage: ops/deps.sh [--check | --list] [build | run | test | bench]..."
}

@test "deps: the build set is the package's Build-Depends (less build-essential and debhelper)" {
	bd=$(awk '/^Build-Depends:/ { f = 1; sub(/^Build-Depends:/, "") } f && /^[A-Z]/ && !/^Build-Depends/ { f = 0 }
		f' "$UVM_ROOT/debian/control" | tr ',' '\n' | sed 's/([^)]*)//g; s/^ *//; s/ *$//' |
		grep -v '^$' | grep -v '^debhelper-compat')
	want=$("$UVM_ROOT/ops/deps.sh" --list build | grep -vx 'gcc\|make')
	[ "$(echo "$bd" | wc -l)" -eq "$(echo "$want" | wc -l)" ]
	for p in $want; do
		echo "$bd" | tr '|' '\n' | sed 's/^ *//; s/ *$//' | grep -qx "$p" ||
			{ echo "Build-Depends lacks $p"; false; }
	done
}

@test "deb: programs, rules, ops, pages and unit templates; hardened; no unit started, stopped or restarted" {
	command -v dpkg-buildpackage >/dev/null && command -v dh >/dev/null ||
		skip "dpkg-dev and debhelper are not installed (apt-get install dpkg-dev debhelper)"
	(cd "$UVM_ROOT" && dpkg-checkbuilddeps) 2>/dev/null ||
		skip "the Build-Depends of debian/control are not all installed"
	d=$BATS_TEST_TMPDIR/deb
	make -C "$UVM_ROOT" --no-print-directory deb DEBDIR="$d" >"$d.log" 2>&1 || { tail -30 "$d.log"; false; }
	deb=$(ls "$d"/uvmake_*.deb)
	x=$BATS_TEST_TMPDIR/x
	dpkg-deb -x "$deb" "$x"
	dpkg-deb -e "$deb" "$x/DEBIAN"
	for f in "$UVM_ROOT"/src/uvm-*.c; do
		p=${f##*/}
		[ -x "$x/usr/bin/${p%.c}" ] || { echo "missing /usr/bin/${p%.c}"; false; }
	done
	[ -x "$x/usr/bin/uvm-make" ] && [ -x "$x/usr/bin/uvm-sim" ]
	[ "$(cd "$x/usr/share/uvmake/rules" && ls)" = "$(cd "$UVM_ROOT/rules" && ls)" ]
	[ -f "$x/usr/share/uvmake/ops/calibrators.csv" ] && [ ! -e "$x/usr/share/uvmake/ops/deps.sh" ]
	[ -f "$x/usr/share/man/man1/uvm-watch.1.gz" ] && [ -f "$x/usr/share/man/man5/uvmake.conf.5.gz" ]
	# the unit templates, and nothing enabled
	[ "$(cd "$x/lib/systemd/system" && ls)" = "$(printf '%s\n' uvm-watch@.service \
		$(cd "$UVM_ROOT/ops/systemd" && ls) | sort)" ]
	grep -qx 'ExecStart=/usr/bin/uvm-watch -D /%I' "$x/lib/systemd/system/uvm-watch@.service"
	grep -qx 'Environment=PATH=/usr/bin:/bin' "$x/lib/systemd/system/uvmake-backup@.service"
	[ ! -e "$x/etc/systemd" ]
	# dpkg-buildflags' hardening reached the programs
	for p in uvm-run uvm-image uvm-watch; do
		readelf -d "$x/usr/bin/$p" | grep -q BIND_NOW
		readelf -lW "$x/usr/bin/$p" | grep -q GNU_RELRO
		readelf -h "$x/usr/bin/$p" | grep -q 'DYN (Position-Independent'
	done
	# the maintainer scripts: the user; no instance started, stopped or restarted
	grep -q 'adduser --system' "$x/DEBIAN/postinst"
	run -1 grep -E 'deb-systemd-invoke|systemctl (start|stop|restart|try-restart)' \
		"$x/DEBIAN/postinst" "$x/DEBIAN/prerm" "$x/DEBIAN/postrm"
	dpkg-deb -f "$deb" Depends | grep -q 'libhdf5.*adduser, make'
	# the version every program prints is the tree's, not "unknown"
	v=$(cat "$d"/uvmake-*/VERSION)
	[ -n "$v" ] && [ "$v" != unknown ]
	strings "$x/usr/bin/uvm-run" | grep -qxF "$v"
}
