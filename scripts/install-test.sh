#!/usr/bin/env bash
# `make install` as a packager and a C programmer use it:
#  1. make install PREFIX=/usr/local DESTDIR=build/install-test/destdir: the
#     files land under DESTDIR with the usual layout (libdaos_rs.so.X.Y.Z, its
#     links libdaos_rs.so.X and libdaos_rs.so, libdaos_rs.a, the header,
#     daos_rs.pc with prefix /usr/local and Libs.private, the tool, its man
#     pages and completions); the library has the SONAME, every export the
#     version DAOS_RS_0.1, and no debug sections; make uninstall removes
#     every file again.
#  2. make install PREFIX=build/install-test/prefix, then a C program (the
#     README's example) built with `pkg-config --cflags --libs daos_rs` and
#     nothing else records NEEDED libdaos_rs.so.X and the version it needs,
#     loads the installed library and runs; the installed tool runs.
#  3. make install LIB_TYPES=static into a prefix of its own: the same program
#     built with `pkg-config --static --cflags --libs daos_rs` has the library
#     linked in (no NEEDED libdaos_rs) and runs.
#  4. make uninstall leaves no file in either prefix.
# pkg-config is installed with apt-get (as root) when missing; without it
# steps 2-3 are counted as skipped, saying why. Ends with
# "N passed, N failed, N skipped".
set -u
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
W="$ROOT/build/install-test"
rm -rf "$W"
mkdir -p "$W"
pass=0 fail=0 skip=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; shift; [ $# -gt 0 ] && printf '     %s\n' "$@"; return 0; }
skipped() { skip=$((skip + 1)); echo "skip $1"; }
check() { local name=$1; shift; if "$@" >/dev/null 2>&1; then ok "$name"; else bad "$name" "failed: $*"; fi; }

SOVERSION=$(sed -n 's/^soversion = //p' Cargo.toml)
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
SONAME=libdaos_rs.so.$SOVERSION
SOFILE=$SONAME.${VERSION#*.}

# mk NAME ARGS...: runs make quietly (its output goes to a log, shown on failure).
mk() {
  local name=$1; shift
  if make --no-print-directory "$@" >"$W/make-$name.log" 2>&1; then ok "make $*"
  else bad "make $*" "$(tail -n 15 "$W/make-$name.log")"; return 1; fi
}

# --- 1. DESTDIR install, layout, uninstall ----------------------------------------
D="$W/destdir"
P=/usr/local
if mk destdir install PREFIX=$P DESTDIR="$D"; then
  L="$D$P/lib"
  check "$SOFILE installed" test -f "$L/$SOFILE"
  check "$SONAME -> $SOFILE" test "$(readlink "$L/$SONAME")" = "$SOFILE"
  check "libdaos_rs.so -> $SONAME" test "$(readlink "$L/libdaos_rs.so")" = "$SONAME"
  check "libdaos_rs.a installed" test -f "$L/libdaos_rs.a"
  check "include/daos_rs.h is the committed header" cmp include/daos_rs.h "$D$P/include/daos_rs.h"
  check "bin/daos-rs installed" test -x "$D$P/bin/daos-rs"
  check "man page daos-rs.1" test -s "$D$P/share/man/man1/daos-rs.1"
  check "man page per command (daos-rs-object-get.1)" test -s "$D$P/share/man/man1/daos-rs-object-get.1"
  check "bash completion" grep -q daos-rs "$D$P/share/bash-completion/completions/daos-rs"
  check "zsh completion" grep -q '^#compdef daos-rs' "$D$P/share/zsh/site-functions/_daos-rs"
  check "fish completion" grep -q '^complete -c daos-rs' "$D$P/share/fish/vendor_completions.d/daos-rs.fish"
  PC="$L/pkgconfig/daos_rs.pc"
  check "daos_rs.pc: prefix=$P" grep -qx "prefix=$P" "$PC"
  check "daos_rs.pc: Version: $VERSION" grep -qx "Version: $VERSION" "$PC"
  check "daos_rs.pc: Libs.private lists the system libraries" grep -qE '^Libs\.private: .*-lpthread.*-lc' "$PC"
  soname=$(readelf -d "$L/$SOFILE" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
  check "installed library's SONAME is $SONAME" test "$soname" = "$SONAME"
  ndebug=$(readelf -S -W "$L/$SOFILE" | grep -c ' \.debug_')
  check "installed library has no debug sections ($ndebug)" test "$ndebug" -eq 0
  ndebug=$(readelf -S -W "$ROOT/target/release/libdaos_rs.so" | grep -c ' \.debug_')
  check "(the build's own library has them: $ndebug)" test "$ndebug" -gt 0
  exports=$(scripts/check-exports.sh "$L/$SOFILE" 2>&1)
  if echo "$exports" | grep -q '^4 passed, 0 failed'; then ok "installed library: exports versioned DAOS_RS_0.1, as the header declares"
  else bad "installed library: exports" "$exports"; fi
  mk destdir-uninstall uninstall PREFIX=$P DESTDIR="$D"
  left=$(find "$D" -type f -o -type l)
  if [ -z "$left" ]; then ok "make uninstall removes every file"; else bad "make uninstall removes every file" "$left"; fi
fi

# --- pkg-config -------------------------------------------------------------------
if ! command -v pkg-config >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing pkg-config (apt-get install pkgconf)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q pkgconf >"$W/apt.log" 2>&1 ||
      { apt-get update -q >>"$W/apt.log" 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q pkgconf >>"$W/apt.log" 2>&1; }
  fi
fi
if ! command -v pkg-config >/dev/null; then
  why="pkg-config is missing and could not be installed (needs root and apt-get; see $W/apt.log)"
  for s in "shared link with pkg-config" "static link with pkg-config --static"; do skipped "$s: $why"; done
  echo "$pass passed, $fail failed, $skip skipped"
  [ "$fail" -eq 0 ]
  exit
fi

# The README's C example, as a program of the user's.
mkdir -p "$W/src"
python3 - "$W/src/demo.c" <<'PY'
import re, sys
s = open("README.md").read()
open(sys.argv[1], "w").write(re.search(r"```c\n(.*?)```", s, re.S).group(1))
PY

# run_demo NAME EXE [env...]: runs the demo program, which formats a store in /tmp.
run_demo() {
  local name=$1 exe=$2 out; shift 2
  if out=$(cd "$W" && env "$@" "$exe" 2>&1) && echo "$out" | grep -q '^read hello (rc 0) from /tmp/daos-demo-'; then
    ok "$name"; rm -rf "${out##* from }"
  else bad "$name" "$out"; fi
}

# --- 2. shared: pkg-config --cflags --libs only -----------------------------------
P="$W/prefix"
if mk prefix install PREFIX="$P"; then
  export PKG_CONFIG_PATH="$P/lib/pkgconfig"
  flags=$(pkg-config --cflags --libs daos_rs)
  echo "     pkg-config --cflags --libs daos_rs: $flags"
  # shellcheck disable=SC2086
  if gcc -std=c11 -Wall -Werror -o "$W/demo" "$W/src/demo.c" $flags 2>"$W/gcc.log"; then
    ok "the README example builds with pkg-config --cflags --libs daos_rs"
    needed=$(readelf -d "$W/demo" | sed -n 's/.*(NEEDED).*\[\(libdaos_rs[^]]*\)\]/\1/p')
    check "the program records NEEDED $SONAME ($needed)" test "$needed" = "$SONAME"
    check "the program's references carry the version DAOS_RS_0.1" sh -c "readelf -V '$W/demo' | grep -q 'Name: DAOS_RS_0.1'"
    where=$(LD_LIBRARY_PATH="$P/lib" ldd "$W/demo" | sed -n "s/.*$SONAME => \([^ ]*\).*/\1/p")
    check "it loads the installed library ($where)" test "$where" = "$P/lib/$SONAME"
    run_demo "the program runs against the installed library" "$W/demo" LD_LIBRARY_PATH="$P/lib" DAOS_RS_LOG=error
  else
    bad "the README example builds with pkg-config --cflags --libs daos_rs" "$(cat "$W/gcc.log")"
  fi
  check "the installed daos-rs runs" "$P/bin/daos-rs" --version
  mk prefix-uninstall uninstall PREFIX="$P"
  left=$(find "$P" -type f -o -type l)
  if [ -z "$left" ]; then ok "make uninstall empties the prefix"; else bad "make uninstall empties the prefix" "$left"; fi
fi

# --- 3. static: pkg-config --static, in a prefix with the static library only ------
S="$W/static"
if mk static install PREFIX="$S" LIB_TYPES=static; then
  export PKG_CONFIG_PATH="$S/lib/pkgconfig"
  flags=$(pkg-config --static --cflags --libs daos_rs)
  echo "     pkg-config --static --cflags --libs daos_rs: $flags"
  check "no shared library in the static-only prefix" test ! -e "$S/lib/libdaos_rs.so"
  # shellcheck disable=SC2086
  if gcc -std=c11 -Wall -Werror -o "$W/demo-static" "$W/src/demo.c" $flags 2>"$W/gcc-static.log"; then
    ok "the README example links statically with pkg-config --static --cflags --libs daos_rs"
    check "the static program needs no libdaos_rs at run time" sh -c "! readelf -d '$W/demo-static' | grep -q 'NEEDED.*libdaos_rs'"
    run_demo "the statically linked program runs" "$W/demo-static" DAOS_RS_LOG=error
  else
    bad "the README example links statically with pkg-config --static" "$(cat "$W/gcc-static.log")"
  fi
  mk static-uninstall uninstall PREFIX="$S" LIB_TYPES=static
  left=$(find "$S" -type f -o -type l)
  if [ -z "$left" ]; then ok "make uninstall empties the static prefix"; else bad "make uninstall empties the static prefix" "$left"; fi
fi

echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
