#!/bin/sh
# The end-to-end suite, as one `make check` test: pytest (Debian's) against
# private MariaDB, lighttpd and Apache servers built from this build tree.
# Writes only under the build tree (LANYARD_E2E_WORKDIR), never to srcdir.
#   LANYARD_BUILDDIR  the build tree with lanyard and lanyardctl (default: .)
#   LANYARD_SRCDIR    the source tree (default: two levels above this script)
#   E2E_PYTEST_ARGS   extra pytest arguments (e.g. "-x -k health")
#   E2E_TESTS         what pytest collects (default: . , the whole suite)
#   LANYARD_E2E_GALERA=1  collect test_galera.py too (its three-node cluster
#                     runs once, in the plain tree: make check-e2e-galera)
set -u
here=$(cd "$(dirname "$0")" && pwd)
LANYARD_SRCDIR=${LANYARD_SRCDIR:-$(cd "$here/../.." && pwd)}
LANYARD_BUILDDIR=${LANYARD_BUILDDIR:-$(pwd)}
export LANYARD_SRCDIR LANYARD_BUILDDIR
export PYTHONDONTWRITEBYTECODE=1
PYTHON=${E2E_PYTHON:-/usr/bin/python3}

if ! "$PYTHON" -c 'import pytest, requests' 2>/dev/null; then
    echo "SKIP: $PYTHON lacks pytest or requests (apt-get install python3-pytest python3-requests)"
    exit 77
fi

# Automake's harness keeps our output in the .log; fd 9 (AM_TESTS_FD_REDIRECT)
# reaches the terminal, so the pytest summary line shows in `make check`.
if { true >&9; } 2>/dev/null; then console=9; else console=1; fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/lanyard-e2e.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
start=$(date +%s)
cd "$LANYARD_SRCDIR/tests/e2e" || exit 99
galera=--ignore=test_galera.py
[ "${LANYARD_E2E_GALERA:-}" = 1 ] && galera=
# shellcheck disable=SC2086
{ "$PYTHON" -m pytest -p no:cacheprovider -q -rfEs $galera ${E2E_PYTEST_ARGS:-} ${E2E_TESTS:-.} 2>&1
  echo $? >"$tmp/rc"; } | tee "$tmp/log"
rc=$(cat "$tmp/rc")
summary=$(grep -E '[0-9]+ (passed|failed|errors?|skipped)|no tests ran' "$tmp/log" | tail -n 1)
echo "e2e: ${summary:-no pytest summary} [$(( $(date +%s) - start ))s]" >&$console
# conftest.py's own summary: counts per stack, skips by reason, and why a run
# with a skipped stack failed (a stack that does not run fails the run)
# (already on the terminal unless automake keeps the output in the .log)
[ "$console" = 1 ] || grep -E '^e2e-(stack|skips|fail)' "$tmp/log" | sed 's/^/  /' >&$console
case $rc in
0) exit 0 ;;
5) exit 77 ;; # nothing collected
*) exit 1 ;;
esac
