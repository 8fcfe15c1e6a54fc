# uvmake: build, test, demo, bench, deps.
#
#   make            build every program into bin/ (-O2, warnings are errors)
#   make test       install missing deps, build the ASan+UBSan variant,
#                   run the C unit tests and the BATS suite against it
#   make demo       install missing deps, build, run the pipeline end to end
#                   on simulated data in ./var
#   make bench      run the benchmarks under bench/, figures in bench/results/
#   make test-repeat N=10   make test on N fresh clones of main (flakiness)
#   make deps       install the Debian packages uvmake needs (apt-get, root)
#   make install    install programs, rules/, ops/ and man pages (PREFIX,
#                   DESTDIR, BINDIR, DATADIR, MANDIR); make uninstall
#   make deb        the Debian package (debhelper), in build/deb/
#
# Programs are src/uvm-*.c; the shared library is src/lib/<layer>/*.c in
# layers core < uvh5 < sci < engine < ops (tests/check-layers.sh); committed
# shell programs live in bin/ (listed in .gitignore's exceptions).

CC      ?= gcc
CXX     ?= g++
PKGS    := hdf5
WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wno-unused-parameter \
          -Wno-format-truncation -Wformat-security
BASEFLAGS = -std=gnu11 -D_GNU_SOURCE -g $(WARN) -Isrc/lib -I/usr/include/liblzf \
          -I/usr/include/wcslib $(PKG_CFLAGS)
# The caller's flags (dpkg-buildflags exports CPPFLAGS, CFLAGS, CXXFLAGS and
# LDFLAGS; a person may set them on the command line) come first on every
# line, the project's own after them, so -Werror and the warnings above
# always hold. CFLAGS and CXXFLAGS are the -O2 build's optimisation; the
# sanitizer build keeps SANFLAGS but takes CPPFLAGS and LDFLAGS (include
# and library paths, hardening: -Wl,-z,relro,-z,now) as well.
CFLAGS  ?= -O2
CXXFLAGS ?= $(CFLAGS)
CPPFLAGS ?=
LDFLAGS ?=
# The one C++ file (src/lib/sci/aoflag.cc, AOFlagger's C++ API behind a C
# interface) gets the same warnings, less the C-only one.
CXXFLAGS_BASE = -std=c++17 -g $(filter-out -Wstrict-prototypes,$(WARN)) -Isrc/lib $(PKG_CFLAGS)
SANFLAGS := -O1 -fsanitize=address,undefined -fno-omit-frame-pointer \
          -fno-sanitize-recover=undefined
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
LDLIBS  = -Wl,--as-needed $(PKG_LIBS) -lsqlite3 -larchive -llzf -lfftw3f_threads -lfftw3f -lfftw3 \
          -lcfitsio -lwcs -lerfa -lsep -lpng -lcrypto -laoflagger -lstdc++ -lm -lpthread

LIB_SRC  := $(sort $(wildcard src/lib/*/*.c))
LIB_CXX  := $(sort $(wildcard src/lib/*/*.cc))
PROG_SRC := $(sort $(wildcard src/uvm-*.c))
PROGS    := $(patsubst src/%.c,bin/%,$(PROG_SRC))
SANPROGS := $(patsubst src/%.c,build/san/bin/%,$(PROG_SRC))
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNITS    := $(patsubst tests/unit/%.c,build/san/tests/%,$(UNIT_SRC))
LIB_OBJ  := $(patsubst src/lib/%.c,build/obj/lib/%.o,$(LIB_SRC)) \
          $(patsubst src/lib/%.cc,build/obj/lib/%.o,$(LIB_CXX))
SANLIB_OBJ := $(patsubst src/lib/%.c,build/san/obj/lib/%.o,$(LIB_SRC)) \
          $(patsubst src/lib/%.cc,build/san/obj/lib/%.o,$(LIB_CXX))
HDRS     := $(wildcard src/lib/*/*.h)

.PHONY: all san test check check-layers check-unit check-bats demo bench deps clean test-repeat \
	install uninstall deb
.DELETE_ON_ERROR:
.SECONDARY:

all: $(PROGS)

build/obj/%.o: src/%.c $(HDRS) | deps-ok
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(BASEFLAGS) -c -o $@ $<
build/obj/lib/%.o: src/lib/%.c $(HDRS) | deps-ok
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(BASEFLAGS) -c -o $@ $<
build/obj/lib/%.o: src/lib/%.cc $(HDRS) | deps-ok
	@mkdir -p $(@D)
	$(CXX) $(CPPFLAGS) $(CXXFLAGS) $(CXXFLAGS_BASE) -c -o $@ $<
build/libuvm.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^
bin/uvm-%: build/obj/uvm-%.o build/libuvm.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< build/libuvm.a $(LDLIBS)

# The version every program prints (--version) and records in its
# products' provenance: VERSION_OVERRIDE when given (a package's version; a
# test stamping two builds of one tree), else `git describe` of the tree,
# else the VERSION file (a release tarball), else "unknown". The header is rewritten only when
# the description changes, so only prog.c recompiles, and only then.
VERSION_H := build/gen/uvm_version.h
$(VERSION_H): FORCE
	@mkdir -p $(@D); \
	v='$(VERSION_OVERRIDE)'; [ -n "$$v" ] || \
	v=$$(git describe --always --dirty 2>/dev/null || cat VERSION 2>/dev/null || echo unknown); \
	l="#define UVM_VERSION \"$$(printf %s "$$v" | tr -d '\\"')\""; \
	[ "$$(cat $(VERSION_H) 2>/dev/null)" = "$$l" ] || echo "$$l" >$(VERSION_H)
.PHONY: FORCE
FORCE:
build/obj/lib/core/prog.o build/san/obj/lib/core/prog.o: $(VERSION_H)
build/obj/lib/core/prog.o build/san/obj/lib/core/prog.o: BASEFLAGS += -Ibuild/gen

san: $(SANPROGS) $(UNITS)
build/san/obj/%.o: src/%.c $(HDRS) | deps-ok
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(BASEFLAGS) $(SANFLAGS) -c -o $@ $<
build/san/obj/lib/%.o: src/lib/%.c $(HDRS) | deps-ok
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(BASEFLAGS) $(SANFLAGS) -c -o $@ $<
build/san/obj/lib/%.o: src/lib/%.cc $(HDRS) | deps-ok
	@mkdir -p $(@D)
	$(CXX) $(CPPFLAGS) $(CXXFLAGS_BASE) $(SANFLAGS) -c -o $@ $<
build/san/libuvm.a: $(SANLIB_OBJ)
	@rm -f $@
	ar rcs $@ $^
build/san/bin/uvm-%: build/san/obj/uvm-%.o build/san/libuvm.a
	@mkdir -p $(@D)
	$(CC) $(SANFLAGS) $(LDFLAGS) -o $@ $< build/san/libuvm.a $(LDLIBS)
build/san/tests/%: tests/unit/%.c build/san/libuvm.a $(HDRS) tests/unit/tap.h | deps-ok
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(BASEFLAGS) $(SANFLAGS) $(LDFLAGS) -o $@ $< build/san/libuvm.a $(LDLIBS)

# deps-ok: fail early, with the command to run, when something building
# needs is missing (compiler, pkg-config, libraries; not the test tools).
.PHONY: deps-ok
deps-ok:
	@ops/deps.sh --check build

deps:
	@ops/deps.sh

# The suite runs against the sanitizer build; committed scripts come from bin/.
TEST_ENV = PATH="$(CURDIR)/build/san/bin:$(CURDIR)/bin:$$PATH" \
	UVM_ROOT="$(CURDIR)" ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=70 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0

# The builds run on every core; the suite itself schedules its own jobs.
test: deps
	@$(MAKE) --no-print-directory -j$$(nproc) all san
	@$(MAKE) --no-print-directory check

# Both halves run whatever the first gives; either failing fails the check.
check: all san
	@st=0; tests/check-layers.sh || st=1; \
	$(MAKE) --no-print-directory check-unit || st=1; \
	$(MAKE) --no-print-directory check-bats || st=1; exit $$st

check-layers:
	@tests/check-layers.sh

check-unit: san
	@fail=0; pass=0; for t in $(UNITS); do \
	  if $(TEST_ENV) $$t; then pass=$$((pass+1)); else echo "FAILED: $$t"; fail=$$((fail+1)); fi; \
	done; echo "unit: $$pass passed, $$fail failed"; test $$fail -eq 0

T ?= tests
check-bats: all san
	$(TEST_ENV) bats --jobs 2 --no-parallelize-within-files --timing $(T)

demo: deps
	@$(MAKE) --no-print-directory -j$$(nproc) all
	@bin/uvm-demo

bench: deps
	@$(MAKE) --no-print-directory -j$$(nproc) all
	@bench/run-all.sh

# Is the suite green on a fresh clone every time? N clones of main, make
# test in each (about 10 minutes a run on 2 cores).
N ?= 10
test-repeat:
	@bench/test-repeat.sh $(N)

# Installation, one tree per version so that an upgrade never touches what
# runs: the -O2 programs (never the sanitizer build) and the committed
# scripts into LIBDIR/<version>/bin/, rules/ and the operations files (ops/
# but the build-time scripts) into LIBDIR/<version>/share/uvmake/, modes
# kept; then ops/install-switch.sh renames a new LIBDIR/current link onto
# that version (one rename: a cycle sees the old tree or the new one,
# never a mix), makes BINDIR/uvm-* and DATADIR/uvmake links through
# current (made once, stable: the daemon's re-exec and its cycles follow
# them) and removes the versions beyond the newest KEEP that no process
# runs. A program finds rules/ and ops/ beside its own resolved path, so a
# job started before the switch keeps its version's files. The pages go to
# MANDIR/manN (the newest version's). DESTDIR is put before every path
# (staged installs, packages). No machine-wide config is installed: each
# deployment has its own uvmake.conf (uvm-init).
PREFIX  = /usr/local
BINDIR  = $(PREFIX)/bin
DATADIR = $(PREFIX)/share
MANDIR  = $(DATADIR)/man
LIBDIR  = $(PREFIX)/lib/uvmake
KEEP    = 3
INSTALL = install
SCRIPTS  := $(filter-out $(PROGS),$(foreach f,$(wildcard bin/uvm-*),$(if $(findstring .tmp.,$f),,$f)))
RULES    := $(sort $(wildcard rules/*))
BUILDOPS := ops/deps.sh ops/install-switch.sh
OPSFILES := $(filter-out $(BUILDOPS),$(sort $(shell find ops -type f)))
MANPAGES := $(sort $(wildcard man/*.[1-9]))
# The version's directory name: the version the programs carry, with any
# character but [A-Za-z0-9._+-] made '_'.
INSTVER   = $$(sed -n 's/^\#define UVM_VERSION "\(.*\)"$$/\1/p' $(VERSION_H) | tr -c 'A-Za-z0-9._+\n-' _)

install: all
	@v=$(INSTVER); [ -n "$$v" ] || { echo "make: no version in $(VERSION_H)" >&2; exit 1; }; \
	  vd="$(DESTDIR)$(LIBDIR)/$$v"; sh="$$vd/share/uvmake"; set -e; \
	  echo "installing version $$v into $$vd"; \
	  $(INSTALL) -d "$$vd/bin" "$$sh/rules"; \
	  $(INSTALL) -m 0755 $(PROGS) $(SCRIPTS) "$$vd/bin"; \
	  $(INSTALL) -m 0644 $(RULES) "$$sh/rules"; \
	  for f in $(OPSFILES); do m=0644; [ -x "$$f" ] && m=0755; \
	    $(INSTALL) -D -m $$m "$$f" "$$sh/$$f"; done; \
	  ops/install-switch.sh "$(DESTDIR)$(LIBDIR)" "$$v" "$(DESTDIR)$(BINDIR)" "$(DESTDIR)$(DATADIR)" $(KEEP)
	@for p in $(MANPAGES); do d="$(DESTDIR)$(MANDIR)/man$${p##*.}"; \
	  echo "$(INSTALL) -D -m 0644 $$p $$d/$${p#man/}"; \
	  $(INSTALL) -D -m 0644 "$$p" "$$d/$${p#man/}" || exit 1; done

# Exactly what install put: the BINDIR and DATADIR links that lead into
# LIBDIR, every version under LIBDIR, the pages.
uninstall:
	ops/install-switch.sh -u "$(DESTDIR)$(LIBDIR)" "$(DESTDIR)$(BINDIR)" "$(DESTDIR)$(DATADIR)"
	@for p in $(MANPAGES); do rm -f "$(DESTDIR)$(MANDIR)/man$${p##*.}/$${p#man/}"; done

# The Debian package (debian/), built by dpkg-buildpackage in a copy of
# the tree's files (tracked and new, not ignored) under DEBDIR, where the
# .deb lands; debhelper and dpkg-dev are its own build dependencies, not
# the project's (make deps leaves them out). The copy gets a VERSION file,
# the tree's `git describe`, for a build where git cannot see the tree.
# dpkg-buildpackage exports the hardening flags of debian/rules
# (dpkg-buildflags) as CPPFLAGS, CFLAGS, CXXFLAGS and LDFLAGS.
DEBDIR = build/deb
deb:
	@command -v dpkg-buildpackage >/dev/null && command -v dh >/dev/null || \
	  { echo "make deb: needs dpkg-dev and debhelper: as root, apt-get install -y dpkg-dev debhelper" >&2; exit 1; }
	@v=$$(dpkg-parsechangelog -S Version) && d="$(DEBDIR)/uvmake-$$v" && rm -rf "$$d" && mkdir -p "$$d" && \
	  rm -f "$(DEBDIR)"/uvmake_* && \
	  git ls-files -z -co --exclude-standard | xargs -0 cp -P --parents -t "$$d" && \
	  { git describe --always --dirty 2>/dev/null || cat VERSION 2>/dev/null || echo "$$v"; } >"$$d/VERSION" && \
	  (cd "$$d" && dpkg-buildpackage -us -uc -b) && ls "$(DEBDIR)"/uvmake_*.deb

clean:
	rm -rf build bin/uvm-*.tmp.* $(PROGS)
