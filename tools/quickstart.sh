#!/usr/bin/env bash
# Quick start: build Lanyard and run it on http://127.0.0.1:8080 with a
# private MariaDB and lighttpd under ./run/ (nothing system-wide is touched
# besides installing missing Debian packages when run as root).
#
#   tools/quickstart.sh [--port N] [--background]   build, start, print credentials
#   tools/quickstart.sh stop                        stop what --background left running
#
# Re-running is safe: the database, key and administrator under run/ are kept.
set -euo pipefail
cd "$(dirname "$0")/.."
src=$(pwd)
run=$src/run
build=$run/build
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
harness() { # the servers are the test harness's (tests/e2e/harness/quickstart.py)
    PYTHONPATH="$src/tests/e2e" PYTHONDONTWRITEBYTECODE=1 exec "$PY" -m harness quickstart "$@"
}

if [ "${1:-}" = stop ]; then
    harness stop --root "$run"
fi

# curl: the lines printed at the end use it
pkgs=(autoconf automake pkg-config gcc make libfcgi-dev libcurl4-openssl-dev libjson-c-dev libmariadb-dev
      libssl-dev libyaml-dev mariadb-server lighttpd python3 curl)
missing=()
for p in "${pkgs[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "quickstart: missing packages: ${missing[*]} (run as root, or apt-get install them)" >&2
        exit 1
    fi
    echo "quickstart: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
PY=/usr/bin/python3

# Out-of-tree in run/build, so that tests/run-all.sh's build/ still configures.
[ -x configure ] || autoreconf -fi
mkdir -p "$build"
if [ ! -f "$build/Makefile" ]; then
    (cd "$build" && ../../configure --quiet)
fi
make -C "$build" -j"$(nproc)" --no-print-directory

harness up --root "$run" --builddir "$build" --srcdir "$src" "$@"
