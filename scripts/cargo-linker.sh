#!/bin/sh
# The linker cargo uses in this workspace (.cargo/config.toml). It runs cc with
# the arguments rustc gives, except when the output is the shared library
# libdaos_rs.so: there rustc's version script (an anonymous version listing
# every #[no_mangle] symbol) is replaced by daos_rs.map, which gives each
# daos_* function the version DAOS_RS_0.1 and keeps everything else local.
# After that link it makes the link libdaos_rs.so.N -> libdaos_rs.so beside
# the library cargo copies out of deps/ (N from the -soname build.rs passes),
# so programs linked against target/<profile>/ find the SONAME they record.
# DAOS_RS_LINK_CC names another C compiler driver to link with (default cc).
MAP="$(cd "$(dirname "$0")/.." && pwd)/daos_rs.map"
out=""
soname=""
prev=""
for a in "$@"; do
    [ "$prev" = "-o" ] && out=$a
    case "$a" in -Wl,-soname,*) soname=${a#-Wl,-soname,} ;; esac
    prev=$a
done
case "$out" in
*/libdaos_rs.so) ;;
*) exec "${DAOS_RS_LINK_CC:-cc}" "$@" ;;
esac
[ -f "$MAP" ] || { echo "cargo-linker.sh: $MAP is missing" >&2; exit 1; }
n=$#
i=0
while [ "$i" -lt "$n" ]; do
    a=$1
    shift
    case "$a" in
    -Wl,--version-script=*) a="-Wl,--version-script=$MAP" ;;
    esac
    set -- "$@" "$a"
    i=$((i + 1))
done
"${DAOS_RS_LINK_CC:-cc}" "$@" || exit
if [ -n "$soname" ] && [ "$(basename "$(dirname "$out")")" = deps ]; then
    ln -sfn libdaos_rs.so "$(dirname "$(dirname "$out")")/$soname"
fi
