#!/bin/sh
# Build every fuzz target for libFuzzer (STYLE 18):
#   clang -fsanitize=fuzzer,address,undefined
# into OUT (default: ./fuzz-out under the current directory, never the
# source tree), configuring a private out-of-tree build there first.
#
#   tests/fuzz/build.sh [OUT]          build all targets
#   OUT/fuzz_json -max_total_time=60 OUT/corpus/json
#
# CC may name another clang (default clang; Debian 12 ships clang 14, with
# libFuzzer in libclang-rt-14-dev). See tests/fuzz/README.md.
set -eu

srcdir=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$PWD/fuzz-out}
CC=${CC:-clang}
mkdir -p "$out"
out=$(cd "$out" && pwd)
case "$out/" in
"$srcdir"/build*|"$srcdir"/build*/*) ;; # a build directory inside the checkout is fine
"$srcdir"/*) echo "build.sh: OUT must be outside the source tree (or under $srcdir/build*)" >&2; exit 2 ;;
esac

# The library, instrumented for coverage and built with the sanitizers
# (--enable-sanitizers also makes the arena allocate every block alone).
mkdir -p "$out/build"
cd "$out/build"
if [ ! -f Makefile ]; then
    "$srcdir/configure" -q CC="$CC" CFLAGS="-g -O1 -fsanitize=fuzzer-no-link" \
        --enable-sanitizers --disable-werror
fi
# lanyardctl too: live.sh seeds fuzz_live's database with it (migrate, bootstrap)
make -s liblanyard.a lanyardctl
flags=$(make -s fuzz-print-flags)
cppflags=$(printf '%s\n' "$flags" | sed -n 's/^CPPFLAGS=//p')
libs=$(printf '%s\n' "$flags" | sed -n 's/^LIBS=//p')

cflags="-g -O1 -std=c11 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
for src in "$srcdir"/tests/fuzz/fuzz_*.c; do
    name=$(basename "$src" .c)
    extra=
    case $name in fuzz_request|fuzz_auth|fuzz_live) extra="$srcdir/tests/fuzz/ctx.c" ;; esac
    echo "  CCLD     $out/$name"
    # shellcheck disable=SC2086 # word splitting of the flag lists is intended
    $CC $cflags $cppflags -I"$srcdir/tests/fuzz" -o "$out/$name" "$src" $extra \
        "$out/build/liblanyard.a" $libs
    # a working corpus per target, seeded from the committed one
    mkdir -p "$out/corpus/${name#fuzz_}"
    cp -n "$srcdir/tests/fuzz/corpus/${name#fuzz_}"/* "$out/corpus/${name#fuzz_}/" 2>/dev/null || true
done
echo "built in $out; e.g. $out/fuzz_json -max_total_time=60 $out/corpus/json"
