# Front door for pubq. Each target installs the Debian packages it needs
# (quietly when they are all there), configures CMake and builds.
#
#   make run     build and run pubq with pubq.example.conf
#   make test    build with ASan and UBSan, run every test under ctest
#   make bench   build optimised, run the benchmarks into BENCHMARKS.md
#   make fuzz    run every libFuzzer target for FUZZ_SECONDS (default 60)
#   make soak    long fault runs: 20 kills -9 during 2,000 entries, then
#                200 API clients for 60 s, against the optimised build

BUILD_PACKAGES = cmake gcc make pkg-config libsqlite3-dev libpq-dev \
	libinih-dev libcurl4-openssl-dev libmicrohttpd-dev libjansson-dev \
	libutf8proc-dev libcmocka-dev libssl-dev libcsv-dev
TEST_PACKAGES = python3 sqlite3 postgresql python3-aiosmtpd chromium nodejs \
	wrk e2fsprogs util-linux
BENCH_PACKAGES = nginx-light wrk redis-server
FUZZ_PACKAGES = clang libclang-rt-14-dev
FUZZ_SECONDS ?= 60
JOBS ?= 2

.PHONY: all build run test bench fuzz soak deps test-deps clean

all: build

deps:
	@./scripts/install-packages $(BUILD_PACKAGES)

test-deps: deps
	@./scripts/install-packages $(TEST_PACKAGES)

build: deps
	@cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build build -j$(JOBS)

build-test/CMakeCache.txt:
	@cmake -S . -B build-test -DCMAKE_BUILD_TYPE=Debug \
		-DPUBQ_SANITIZE=ON -DPUBQ_WERROR=ON >/dev/null

# The tests run beside a throwaway PostgreSQL server on 127.0.0.1 that
# scripts/test-postgres starts before ctest and removes after it. The
# optimised build is for the memory bound of the load test, which
# AddressSanitizer's allocator caches would hide.
test: test-deps build build-test/CMakeCache.txt
	@cmake --build build-test -j$(JOBS)
	@cd build-test && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		PUBQ_OPTIMISED_BIN=$(CURDIR)/build/pubq \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		../scripts/test-postgres run \
		ctest --output-on-failure -j$(JOBS)

run: build
	@./scripts/run-example build/pubq

bench: build
	@./scripts/install-packages $(TEST_PACKAGES) $(BENCH_PACKAGES)
	@./bench/run build

fuzz: deps
	@./scripts/install-packages $(FUZZ_PACKAGES)
	@./fuzz/run $(FUZZ_SECONDS)

soak: test-deps build
	@PUBQ_BIN=$(CURDIR)/build/pubq PUBQ_SOURCE_DIR=$(CURDIR) \
		bash tests/soak/kill9_chaos.sh
	@PUBQ_BIN=$(CURDIR)/build/pubq PUBQ_SOURCE_DIR=$(CURDIR) \
		bash tests/soak/load.sh

clean:
	rm -rf build build-test
