# berth — build, run, test, fuzz, bench.
#
#   make run      install what is missing, build, start berth on 127.0.0.1:5000 with data in ./data
#                 (make run LISTEN=host:port DATA=dir to choose; LOG_LEVEL=info for a line per request)
#   make test     install what is missing, build, run every test (unit, fuzz corpus replay, integration)
#   make bench    compare berth with Debian's docker-registry on loopback, then time re-matching
#                 10,000 stored inventories against the vulnerability database (make bench-vulndb alone)
#   make bench-lifecycle  lifecycle evaluation of a 100,000-image repository
#   make bench-audit      manifest GETs, pushes and ECR calls with the audit trail off and on
#   make bench-upload     1 GiB uploads against the disk's limits (bench/upload.py;
#                         BENCH_UPLOAD_ARGS="--before-bin PATH" compares a build)
#   make bench-multi      PostgreSQL + Ceph RGW against SQLite + filesystem, two servers against one,
#                         and the read cache on and off (bench/multi.py)
#   make bench-locks      manifest PUTs through two servers on PostgreSQL, to several repositories and
#                         to one (bench/locks.py; BENCH_LOCKS_ARGS="--before-bin PATH" compares a build)
#   make test-scale  the whole integration suite on PostgreSQL + Ceph RGW, every server two berth
#                 processes behind nginx (deploy/nginx/berth.conf); not part of make test
#   make fuzz     build the libFuzzer targets (clang) into build/fuzz/
#   make fuzz-long  run every fuzz target for FUZZ_MINUTES (default 5) minutes each
#   make deb      build/berth_<version>_<arch>.deb with debhelper, checked by lintian (docs/deployment.md)
#   make test-deb build the package, install it on this machine, run it, purge it (root; tests/deb/)
#   make SAN=1    the same with AddressSanitizer and UndefinedBehaviorSanitizer, in build-san/

PKGS    := libmicrohttpd jansson sqlite3 libcrypto libarchive libcurl libargon2 libxml-2.0 libpq
SAN     ?=
ifeq ($(SAN),1)
B       := build-san
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
OPT     := -O1
else
B       := build
SANFLAGS :=
OPT     := -O2
endif

CC      ?= cc
CFLAGS  := -std=c11 -Wall -Wextra -Werror -Wno-unused-parameter -g $(OPT) -D_GNU_SOURCE -Isrc $(SANFLAGS) \
           $(shell pkg-config --cflags $(PKGS) 2>/dev/null) $(EXTRA_CFLAGS)
LDLIBS  := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread -lm
LDFLAGS := $(SANFLAGS) $(EXTRA_LDFLAGS)

SRC     := $(shell find src -name '*.c' ! -path src/main.c | sort)
# assembler files that .incbin the console's pages (src/console/assets_data.S)
ASM     := $(shell find src -name '*.S' | sort)
OBJ     := $(SRC:src/%.c=$(B)/obj/%.o) $(ASM:src/%.S=$(B)/obj/%.o)
UNIT    := $(shell find tests/unit -name '*.c' 2>/dev/null | sort)
UNITBIN := $(patsubst tests/unit/%.c,$(B)/unit/%,$(UNIT))
FUZZ    := $(shell find tests/fuzz -maxdepth 1 -name 'fuzz_*.c' 2>/dev/null | sort)
REPLAY  := $(patsubst tests/fuzz/%.c,$(B)/replay/%,$(FUZZ))
FUZZBIN := $(patsubst tests/fuzz/%.c,build/fuzz/%,$(FUZZ))

.PHONY: all deps run test test-pg test-scale test-console-scale unit replay integration integration-s3 bench bench-vulndb bench-lifecycle bench-listing bench-gc bench-scan bench-audit bench-multi bench-locks bench-upload fuzz fuzz-long clean deb test-deb
all: $(B)/berth

deps:
	@sh scripts/deps.sh

$(B)/obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(B)/obj/%.o: src/%.S
	@mkdir -p $(dir $@)
	$(CC) -c -o $@ $<

# .incbin files are not seen by -MMD
$(B)/obj/console/assets_data.o: $(wildcard src/console/www/*)

$(B)/libberth.a: $(OBJ)
	@rm -f $@
	ar rcs $@ $^

$(B)/berth: $(B)/obj/main.o $(B)/libberth.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/unit/%: tests/unit/%.c $(B)/libberth.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/unit -o $@ $< $(B)/libberth.a $(LDFLAGS) $(LDLIBS) -lcmocka

$(B)/bench/%: bench/%.c $(B)/libberth.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(B)/libberth.a $(LDFLAGS) $(LDLIBS)

$(B)/replay/%: tests/fuzz/%.c tests/fuzz/standalone.c $(B)/libberth.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< tests/fuzz/standalone.c $(B)/libberth.a $(LDFLAGS) $(LDLIBS)

build/fuzz/%: tests/fuzz/%.c $(SRC) $(ASM)
	@mkdir -p $(dir $@)
	clang -std=c11 -g -O1 -D_GNU_SOURCE -Isrc -fsanitize=fuzzer,address,undefined \
	    $(shell pkg-config --cflags $(PKGS)) -o $@ $< $(SRC) $(ASM) $(LDLIBS)

# make run LISTEN=0.0.0.0:5000 DATA=/srv/berth: where berth listens and keeps its data.
# An interactive run logs warnings and errors only; LOG_LEVEL=info logs a line per request.
LISTEN  ?= 127.0.0.1:5000
DATA    ?= ./data
LOG_LEVEL ?= warn
run: deps $(B)/berth
	@echo "berth: serving http://$(LISTEN), data in $(DATA), log level $(LOG_LEVEL) (make run LOG_LEVEL=info for a line per request)"
	$(B)/berth serve --listen $(LISTEN) --data $(DATA) --log-level $(LOG_LEVEL)

unit: $(UNITBIN)
	@set -e; for t in $(UNITBIN); do echo "== $$t"; $$t; done

replay: $(REPLAY)
	@set -e; for t in $(REPLAY); do n=$$(basename $$t); $$t tests/fuzz/corpus/$$n; done

# The longer suites have targets of their own (test-console-scale).
LONG_TESTS := --ignore=tests/integration/test_console_scale.py
# Two pytest workers, each running whole files (module fixtures stay in one process): most of
# the suite waits on servers, clients and syncs, so two at once take about 0.6 of the time of one
# (668 s against about 1080 s on 2 cores). PYTEST_JOBS=0 runs one at a time.
PYTEST_JOBS ?= 2
PYTEST_PAR = $(if $(filter 0,$(PYTEST_JOBS)),,-n $(PYTEST_JOBS) --dist loadfile)
integration: $(B)/berth
	ASAN_OPTIONS=detect_leaks=1 BERTH_BIN=$(CURDIR)/$(B)/berth /usr/bin/python3 -m pytest -q -p no:cacheprovider $(PYTEST_PAR) tests/integration \
	    $(LONG_TESTS)

# The console on a repository of 100,000 images and an account of 100,000 repositories, in
# headless chromium (about a minute and a half, most of it filling the store; SAN=1 for the sanitizer build).
test-console-scale: $(B)/berth
	ASAN_OPTIONS=detect_leaks=1 BERTH_BIN=$(CURDIR)/$(B)/berth /usr/bin/python3 -m pytest -q -s -p no:cacheprovider \
	    tests/integration/test_console_scale.py

# The blob-heavy integration files again with every server's blobs in a Ceph RGW that the
# session starts (scripts/rgw.sh; tests/integration/conftest.py reads BERTH_TEST_BLOB_STORE).
S3_TESTS := tests/integration/test_s3.py tests/integration/test_blobs.py tests/integration/test_skopeo.py \
            tests/integration/test_ecr_layers.py tests/integration/test_scanning.py
integration-s3: $(B)/berth
	BERTH_TEST_BLOB_STORE=s3 ASAN_OPTIONS=detect_leaks=1 BERTH_BIN=$(CURDIR)/$(B)/berth /usr/bin/python3 -m pytest -q \
	    -p no:cacheprovider $(S3_TESTS) $(S3_DESELECT)
# berth's own presigned layer URLs: on S3, GetDownloadUrlForLayer hands out the object store's
# (test_s3.py::test_get_download_url_for_layer_is_a_presigned_s3_url)
S3_DESELECT := --deselect tests/integration/test_ecr_layers.py::test_download_url_fetches_the_layer_without_credentials \
               --deselect tests/integration/test_ecr_layers.py::test_tampered_expired_and_other_repository_urls_are_refused

# The whole suite: the module graph has no cycle and docs/compatibility.md
# lists every ECR operation of the model as ops.c has it (python3 is the one
# with the aws CLI's botocore, the newest model); unit tests and fuzz corpora in the normal build and under
# ASan+UBSan, then the integration tests against the sanitizer build of the
# server, so memory errors under real clients fail the run.
test: deps
	/usr/bin/python3 scripts/module_graph.py
	python3 scripts/compat_table.py --check
	$(MAKE) -j2 all unit replay
	$(MAKE) -j2 SAN=1 all unit replay
	$(MAKE) SAN=1 integration

# The whole benchmark: berth against Distribution and the machine (bench/run.sh),
# then background work at scale (lifecycle, listing, scanning, re-matching,
# GC), then the audit trail's cost and uploads against the disk (bench-audit and
# bench-upload, a few minutes each). Each part also has its own target.
bench: deps $(B)/berth $(B)/bench/vulndb_rematch $(B)/bench/lifecycle $(B)/bench/scan_layers
	bash bench/run.sh
	$(MAKE) bench-lifecycle bench-listing bench-scan bench-vulndb bench-gc bench-audit bench-upload

bench-listing: $(B)/berth
	BERTH_BIN=$(CURDIR)/$(B)/berth /usr/bin/python3 bench/listing.py

# What recording the audit trail costs: req/s with --audit off and on (bench/audit.py).
bench-audit: $(B)/berth
	BERTH_BIN=$(CURDIR)/$(B)/berth /usr/bin/python3 bench/audit.py

# PostgreSQL + RGW against SQLite + the filesystem, two servers against one (bench/multi.py);
# BENCH_BEFORE_BIN=<an older berth> adds its SQLite manifest GETs for comparison.
bench-multi: $(B)/berth
	BERTH_BIN=$(CURDIR)/$(B)/berth /usr/bin/python3 bench/multi.py

bench-locks: $(B)/berth
	BERTH_BIN=$(CURDIR)/$(B)/berth /usr/bin/python3 bench/locks.py $(BENCH_LOCKS_ARGS)

bench-upload: $(B)/berth
	BERTH_BIN=$(CURDIR)/$(B)/berth /usr/bin/python3 bench/upload.py $(BENCH_UPLOAD_ARGS)

bench-gc: $(B)/berth
	BERTH_BIN=$(CURDIR)/$(B)/berth /usr/bin/python3 bench/gc.py

bench-scan: $(B)/bench/scan_layers
	rm -rf $(B)/bench/layers && $(B)/bench/scan_layers make $(B)/bench/layers 5 100
	$(B)/bench/scan_layers run $(B)/bench/layers/*.tar.gz
	rm -rf $(B)/bench/layers

bench-vulndb: $(B)/bench/vulndb_rematch
	$(B)/bench/vulndb_rematch

# Scan time against reading and decompressing the layers (bench/README.md).
$(B)/bench/scan_layers: bench/scan_layers.c $(B)/libberth.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(B)/libberth.a $(LDFLAGS) $(LDLIBS)

# Lifecycle evaluation of a 100,000-image repository (bench/lifecycle.c).
bench-lifecycle: $(B)/bench/lifecycle
	$(B)/bench/lifecycle

fuzz: $(FUZZBIN)

# A longer campaign: each target for FUZZ_MINUTES minutes from its corpus;
# prints executions and new corpus entries per target, fails on a crash.
FUZZ_MINUTES ?= 5
fuzz-long: $(FUZZBIN)
	@FUZZ_MINUTES=$(FUZZ_MINUTES) sh tests/fuzz/long.sh $(FUZZBIN)

# The Debian package (debian/, scripts/deb.sh); its build tools are installed here
# only, not by `make deps`. test-deb installs the package on this machine and purges
# it again (it must not be installed before), so it is not part of `make test`.
deb:
	@sh scripts/deps.sh deb
	sh scripts/deb.sh

test-deb: deb
	/usr/bin/python3 -m pytest -q -p no:cacheprovider tests/deb

clean:
	rm -rf build build-san

-include $(OBJ:.o=.d) $(B)/obj/main.d

# The whole integration suite again with the metadata in PostgreSQL: the tests start a
# PostgreSQL of their own (tests/integration/pgserver.py) and give every berth its own database.
test-pg: $(B)/berth
	BERTH_TEST_DATABASE=postgresql ASAN_OPTIONS=detect_leaks=1 BERTH_BIN=$(CURDIR)/$(B)/berth \
	    /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/integration $(LONG_TESTS) $(PYTEST_ARGS)

# The whole integration suite as several servers run it: metadata in a PostgreSQL and blobs in a
# Ceph RGW that the tests start, and every server a test starts is two berth processes on them
# behind nginx running deploy/nginx/berth.conf, which alternates requests between the two
# (tests/integration/conftest.py, BERTH_TEST_FRONT). make test runs the representative part of
# this (tests/integration/test_multi.py); this takes longer than make test's budget allows.
test-scale: $(B)/berth
	BERTH_TEST_FRONT=nginx BERTH_TEST_DATABASE=postgresql BERTH_TEST_BLOB_STORE=s3 ASAN_OPTIONS=detect_leaks=1 \
	    BERTH_BIN=$(CURDIR)/$(B)/berth /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/integration \
	    $(LONG_TESTS) $(SCALE_DESELECT) $(PYTEST_ARGS)
# test_multi.py builds its own servers and nginx (it is the two-server test; make test runs it);
# what else cannot hold with two processes behind a proxy is deselected, each with why, by
# FRONT_DESELECT in tests/integration/conftest.py.
SCALE_DESELECT := --ignore=tests/integration/test_multi.py

