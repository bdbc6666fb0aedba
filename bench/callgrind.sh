#!/bin/sh
# Instruction counts of one in-process request per credential kind, under
# callgrind (issue 17, bench/README.md): a private MariaDB, seeded through
# lanyardctl and the service's own handlers, then bench/check_inproc under
# valgrind for each kind. Everything it starts is stopped by PID.
# Usage: bench/callgrind.sh [--builddir build] [-n 200] [--kinds a,b]
#    or: make -C build bench-callgrind [CALLGRIND_ARGS="-n 100 --kinds health"]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
exec /usr/bin/python3 "$here/callgrind.py" "$@"
