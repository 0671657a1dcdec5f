# daos-rs: build, test, demo and benchmark. Needs only the Rust toolchain, gcc
# and python3; anything else is installed on first use (cbindgen under target/,
# pytest and the Python package in the virtual environment build/venv).
CARGO ?= cargo
DEMO_STORE ?= target/demo-store

.PHONY: all build release header test test-sharedfs demo bench clean

all: build

build:
	$(CARGO) build

release:
	$(CARGO) build --release

# Regenerates the committed C header from the Rust source.
header:
	scripts/cbindgen.sh --output include/daos_rs.h

# Every suite: Rust unit tests, header checks, C tests and examples, the tool's
# and the Python tests, each on both engines (io_uring and the thread pool).
test:
	scripts/test-all.sh

# The multi-process tests on a real shared file system: a GlusterFS volume on
# this machine with several FUSE clients, each in its own mount namespace
# (needs root; installs glusterfs-server/-client with apt-get on first use;
# elsewhere it says why it skips). See scripts/test-sharedfs.sh.
test-sharedfs: build
	scripts/test-sharedfs.sh

# Builds the library and examples-c/object_io, then runs it against the store
# in $(DEMO_STORE) (formatted with 2 targets on first use): it makes a
# container with 2 shards, writes, commits, reads back, verifies and unlinks
# the container, saying what it does. DEMO_ARGS=--keep keeps the container.
demo: build
	mkdir -p build/examples "$(DEMO_STORE)"
	gcc -std=c11 -Wall -Wextra -O2 -Iinclude examples-c/object_io.c -Ltarget/debug \
	    -Wl,-rpath,$(CURDIR)/target/debug -ldaos_rs -o build/examples/object_io
	build/examples/object_io "$(DEMO_STORE)" $(DEMO_ARGS)

# Measures daos-rs against raw io_uring on this machine, as ratios.
bench: release
	$(CARGO) run --release --quiet -p daos-rs-bench -- $(BENCH_ARGS)

clean:
	$(CARGO) clean
	rm -rf build
