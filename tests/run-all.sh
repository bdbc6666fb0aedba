#!/usr/bin/env bash
# The whole test suite, from a clean clone, out of tree only:
#   build/        ../configure && make && make check        (unit + fuzz replay + e2e)
#                 make check-headers, clang-format, cppcheck
#   build-asan/   ../configure --enable-sanitizers && make check (sanitized; e2e on 3 stacks,
#                 no browser tests)
#   build/        make distcheck       (the tarball builds and passes; e2e on the other 3,
#                 no browser or purge tests)
# Installs missing Debian packages with apt-get when run as root.
# Every step runs even after a failure (where it can); the last line says
# PASS or FAIL and the exit status is non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
src=$(pwd)
jobs=${JOBS:-2}
t_all=$(date +%s)
failed=()
failures=()
timings=()
steplog=$(mktemp)
trap 'rm -f "$steplog"' EXIT

step() { # step NAME COMMAND... : run, time, record
    local name=$1 t0 rc
    shift
    # The free space too: a full disk fails a step far from its cause
    printf '\n=== %s === (%s free)\n' "$name" "$(df -h --output=avail . | tail -1 | tr -d ' ')"
    t0=$(date +%s)
    "$@" 2>&1 | tee "$steplog"
    rc=${PIPESTATUS[0]}
    timings+=("$(printf '%-28s %4ss  %s' "$name" $(( $(date +%s) - t0 )) \
        "$([ $rc -eq 0 ] && echo ok || echo "FAILED ($rc)")")")
    if [ $rc -ne 0 ]; then
        failed+=("$name")
        # What failed, for the summary: a long log's tail may not show it
        # (pytest's -r lines, automake's FAIL lines, make's errors)
        mapfile -t -O "${#failures[@]}" failures < <(grep -E \
            '^(FAILED|ERROR|FAIL:|XPASS) |^make.*\*\*\*' "$steplog" | sed "s|^|  $name: |" | head -20)
    fi
    return $rc
}

finish() {
    printf '\n=== summary ===\n'
    printf '%s\n' "${timings[@]}"
    [ ${#failures[@]} -eq 0 ] || { echo "what failed:"; printf '%s\n' "${failures[@]}"; }
    local total=$(( $(date +%s) - t_all ))
    local n_failed=${#failed[@]} n_passed=$(( ${#timings[@]} - ${#failed[@]} ))
    if [ "$n_failed" -eq 0 ]; then
        echo "run-all: PASS (all steps passed in ${total}s)"
    else
        echo "run-all: FAIL (${failed[*]}) after ${total}s"
    fi
    # The plain closing line CI reads: one per step above.
    echo "steps: $n_passed passed, $n_failed failed"
    [ "$n_failed" -eq 0 ]
    exit $?
}

install_packages() {
    # libapache2-mod-fcgid: the e2e suite's fcgid stacks (Apache spawning the workers)
    # nginx, lua-socket, python3-yaml: test_forward_auth.py
    # chromium, chromium-driver, python3-selenium: test_console.py (axe-core: npm ci into the build tree)
    # glewlwyd, python3-cryptography: the OpenID Connect provider of the SSO tests
    #   (tests/e2e/harness/glewlwyd.py signs its keys with python3-cryptography)
    # prometheus: the metrics tests scrape /api/metrics with a real Prometheus (issue 20)
    local pkgs=(autoconf automake pkg-config gcc make libfcgi-dev libcurl4-openssl-dev libjson-c-dev
                libmariadb-dev libssl-dev libyaml-dev libcmocka-dev mariadb-server lighttpd
                apache2 libapache2-mod-fcgid nginx lua-socket
                python3-yaml python3 python3-pytest python3-requests
                chromium chromium-driver python3-selenium
                glewlwyd python3-cryptography
                clang-format cppcheck prometheus)
    # galera-4, rsync: test_galera.py's three-node cluster (rsync SST, harness/galera.py)
    pkgs+=(galera-4 rsync)
    # python3-jsonschema: every e2e response is validated against doc/openapi.json
    #   (tests/e2e/openapi_check.py, imported by conftest.py)
    pkgs+=(python3-jsonschema)
    # valgrind: the soak's workers under memcheck (soak_mixed.py, LANYARD_SOAK_VALGRIND=1)
    pkgs+=(valgrind)
    # dpkg-dev, debhelper, lintian, mmdebstrap: tests/pkg/test-deb.sh builds the Debian
    # package, lints it and installs it in a fresh Debian 12 root
    pkgs+=(dpkg-dev debhelper lintian mmdebstrap)
    local missing=() p
    for p in "${pkgs[@]}"; do
        dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
    done
    # npm installs test_console.py's pinned axe-core (tests/e2e/axe) into the build tree
    command -v npm >/dev/null 2>&1 || missing+=(npm)
    [ ${#missing[@]} -eq 0 ] && { echo "all packages present"; return 0; }
    if [ "$(id -u)" -ne 0 ]; then
        echo "missing packages: ${missing[*]} (run as root, or apt-get install them)"
        return 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q && apt-get install -y -q --no-install-recommends "${missing[@]}"
}

free_work() { # free_work DIR: a passed step's databases and servers' files, on a disk shared
    # with the steps after it (a run holds about 2 GiB of them at its end otherwise)
    rm -rf "${src:?}/$1"
}

configure_in() { # configure_in DIR [ARGS...]
    local dir=$1
    shift
    mkdir -p "$src/$dir" && (cd "$src/$dir" && ../configure --quiet "$@")
}

run_clang_format() {
    local files
    mapfile -t files < <(find src include tests/unit -name '*.[ch]' -type f | sort)
    [ ${#files[@]} -eq 0 ] || clang-format --dry-run -Werror "${files[@]}"
}

step "packages" install_packages
step "autoreconf" autoreconf -fi || finish

if step "build: configure" configure_in build && step "build: make" make -C build -j"$jobs"; then
    # LANYARD_PURGE_SCALE=4: test_purge.py purges a million expired rows here (about 80 s)
    # Every stack runs every test but the API's logic (files marked neutral, the same
    # C code behind every front end), which runs on one stack of each token mode and
    # each web server's config (doc/testing.md, "Stacks in CI").
    step "build: make check" env LANYARD_PURGE_SCALE=4 \
        LANYARD_E2E_NEUTRAL_STACKS=lighttpd-jwt,apache-opaque \
        make -C build -j"$jobs" check VERBOSE=1
    # test_galera.py: a three-node Galera cluster, once, in this tree only (~2 min)
    # Its three datadirs (about 600 MiB) are read by no later step
    step "build: e2e galera" make -C build check-e2e-galera && free_work build/tests/e2e/.work/galera
    # soak_mixed.py for a minute with the workers under valgrind: a few thousand mixed
    # requests, no memcheck error and no definite leak (the ten-minute soak: doc/testing.md)
    step "build: valgrind soak" env LANYARD_SOAK_VALGRIND=1 LANYARD_SOAK_SECONDS=60 \
        make -C build check-e2e-soak
    step "build: check-headers" make -C build check-headers
    step "clang-format" run_clang_format
    step "cppcheck" cppcheck -q --enable=warning,portability --error-exitcode=1 \
        --inline-suppr -I include src
fi

if step "build-asan: configure" configure_in build-asan --enable-sanitizers &&
   step "build-asan: make" make -C build-asan -j"$jobs"; then
    # The sanitizers watch the C code, which every stack runs the same but for its front
    # end and token mode: three stacks cover both modes and the three front ends (the
    # build tree above runs all six; distcheck below the other three).
    # The browser tests (test_console.py, about 3 minutes a tree) run in the build
    # tree only: they test the console's pages, which are the same files in every tree,
    # and the C handlers they reach are all exercised here by the API tests.
    step "build-asan: make check" env LANYARD_E2E_STACKS=lighttpd-jwt,apache-opaque,fcgid-jwt \
        LANYARD_E2E_NEUTRAL_STACKS=lighttpd-jwt,apache-opaque E2E_PYTEST_ARGS=--ignore=test_console.py \
        make -C build-asan -j"$jobs" check VERBOSE=1 && free_work build-asan/tests/e2e/.work
fi

# The Debian package: built from an export of the tree, installed in a fresh root made by
# mmdebstrap, configured as doc/operations.md says, /api/health through lighttpd (~3-5 min)
step "package: deb" bash tests/pkg/test-deb.sh build

if [ -f build/Makefile ]; then
    # The tarball's tree: does what it ships build, and do its unit, fuzz-replay and
    # end-to-end suites run? The trees above ran every test; here the foundation, the
    # check and the OpenAPI files, on the two stacks the sanitizer tree did not run.
    step "build: make distcheck" env LANYARD_E2E_STACKS=lighttpd-opaque,apache-jwt \
        E2E_TESTS="test_foundation.py test_check.py test_openapi.py" \
        make -C build -j"$jobs" distcheck VERBOSE=1
fi
finish
