#!/bin/sh
# make check: replay corpus/live through tests/fuzz/fuzz_live (the standalone
# build) against the private MariaDB of tests/fuzz/live.sh, made under the
# build tree and stopped by its PID when the replay ends.
set -eu
if ! command -v mariadbd >/dev/null 2>&1 || ! command -v mariadb-install-db >/dev/null 2>&1; then
    echo "live-check: skipped: mariadbd is not installed (apt-get install mariadb-server)"
    exit 77
fi
src=${srcdir:-$(dirname "$0")/../..}
out=$PWD/tests/fuzz/live-out
mkdir -p "$out"
LANYARDCTL=$PWD/lanyardctl FUZZ_LIVE_BIN=$PWD/tests/fuzz/fuzz_live \
    exec sh "$src/tests/fuzz/live.sh" "$out" replay
