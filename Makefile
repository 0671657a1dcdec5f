# daos-rs: build, test, demo and benchmark. Needs only the Rust toolchain, gcc
# and python3; anything else (cbindgen) is installed under target/ on first use.
CARGO ?= cargo
DEMO_STORE ?= target/demo-store

.PHONY: all build release header test demo bench clean

all: build

build:
	$(CARGO) build

release:
	$(CARGO) build --release

# Regenerates the committed C header from the Rust source.
header:
	scripts/cbindgen.sh --output include/daos_rs.h

# Every suite: Rust unit tests, header checks, C tests and examples, each on
# both engines (io_uring and the synchronous fallback).
test:
	scripts/test-all.sh

# Runs an example against the library.
demo: build
	mkdir -p build/examples
	gcc -std=c11 -Wall -Wextra -O2 -Iinclude examples-c/eq_basics.c -Ltarget/debug \
	    -Wl,-rpath,$(CURDIR)/target/debug -ldaos_rs -o build/examples/eq_basics
	build/examples/eq_basics

# Measures daos-rs against raw io_uring on this machine, as ratios.
bench: release
	$(CARGO) run --release --quiet --bin daos-rs-bench -- $(BENCH_ARGS)

clean:
	$(CARGO) clean
	rm -rf build
