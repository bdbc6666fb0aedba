#!/bin/sh
# Layers point one way (STYLE 16), decided by folder: every file of
# src/<folder>/ (and every header, by the folder that implements it) has its
# folder's rank, and may include only Lanyard headers of the same rank or
# lower. lanyard-login's folder (login) stands beside the worker: it uses
# only core, codec, json and the HTTP client (httpc), and no other folder
# includes its headers. A second rule: only the layers that own a unit of work begin or
# commit one (db.h): the API layer's dispatcher, lanyardctl and migrations.
# Usage: check-layers.sh [SRCDIR]     check-layers.sh --self-test [SRCDIR]
set -eu

rank_of_folder() {
    case $1 in
    core | codec) echo 0 ;;
    crypto | json | config) echo 1 ;;
    token | http) echo 2 ;;
    db) echo 3 ;;
    store) echo 4 ;;
    auth) echo 5 ;;
    api) echo 6 ;;
    ctl) echo 7 ;;
    login) echo 3 ;; # beside the worker's layers: see login_rule
    *) echo 99 ;;
    esac
}

# The folder of a header: where its module lives. Headers whose name is not
# a .c file of that folder are listed here.
folder_of_header() {
    case $1 in
    mem | arena | str | err | log | ct | rand | validate | slots | civil | page | metrics) echo core ;;
    codec) echo codec ;;
    hash | password | seal) echo crypto ;;
    json) echo json ;;
    config) echo config ;;
    token | jwt | oidc) echo token ;;
    http | router | fcgi | pagetoken | httpc) echo http ;;
    db | migrate) echo db ;;
    users | sessions | throttle | orgs | accounts | apikeys | audit | settings | gate | devices | sso | purge) echo store ;;
    auth) echo auth ;;
    api | ctx | issue | policy | guard) echo api ;;
    ctl) echo ctl ;;
    login | creds) echo login ;;
    *) echo "" ;;
    esac
}

check() {
    top=$1
    bad=0
    for f in "$top"/include/lanyard/*.h "$top"/src/*/*.c "$top"/src/*/*.h; do
        [ -e "$f" ] || continue
        case $f in
        */include/lanyard/*.h)
            folder=$(folder_of_header "$(basename "$f" .h)")
            if [ -z "$folder" ]; then
                echo "check-layers: ${f#"$top"/} belongs to no folder (add it to check-layers.sh)"
                bad=1
                continue
            fi
            ;;
        *) folder=$(basename "$(dirname "$f")") ;;
        esac
        mine=$(rank_of_folder "$folder")
        if [ "$mine" -eq 99 ]; then
            echo "check-layers: folder src/$folder has no rank (add it to check-layers.sh)"
            bad=1
            continue
        fi
        for inc in $(sed -n 's|^#include "lanyard/\([a-z_]*\)\.h".*|\1|p' "$f"); do
            theirs_folder=$(folder_of_header "$inc")
            theirs=$(rank_of_folder "${theirs_folder:-none}")
            if [ "$folder" = login ] && [ "$inc" != httpc ]; then
                case $theirs_folder in
                core | codec | json | login) ;;
                *)
                    echo "check-layers: ${f#"$top"/} (login) includes $inc.h ($theirs_folder): login uses only core, codec, json and httpc"
                    bad=1
                    ;;
                esac
            elif [ "$folder" != login ] && [ "$theirs_folder" = login ]; then
                echo "check-layers: ${f#"$top"/} ($folder) includes $inc.h: nothing but lanyard-login uses login"
                bad=1
            elif [ "$theirs" -gt "$mine" ]; then
                echo "check-layers: ${f#"$top"/} ($folder, rank $mine) includes $inc.h ($theirs_folder, rank $theirs)"
                bad=1
            fi
        done
        case $f in
        "$top"/src/api/api.c | "$top"/src/ctl/* | "$top"/src/db/*) ;;
        *.c)
            if grep -n 'ly_db_\(begin\|commit\)(' "$f" >/dev/null; then
                echo "check-layers: ${f#"$top"/} begins or commits a unit of work (only the dispatcher, lanyardctl and migrations do)"
                bad=1
            fi
            ;;
        esac
    done
    return $bad
}

if [ "${1:-}" = "--self-test" ]; then
    # Plant an upward include and a store that commits in a copy: both must be caught.
    src=${2:-${srcdir:-.}}
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/check-layers.XXXXXX")
    trap 'rm -rf "$tmp"' EXIT
    cp -R "$src/include" "$src/src" "$tmp/"
    check "$tmp" >/dev/null || { echo "check-layers self-test: the tree itself fails"; exit 1; }
    printf '#include "lanyard/api.h"\n' >>"$tmp/src/store/users.c"
    if out=$(check "$tmp"); then
        echo "check-layers self-test: an upward include from src/store/ was not caught"
        exit 1
    fi
    echo "$out" | grep -q 'src/store/users.c (store, rank 4) includes api.h' ||
        { echo "check-layers self-test: wrong report: $out"; exit 1; }
    cp "$src/src/store/users.c" "$tmp/src/store/users.c"
    printf 'static void f(struct ly_db *db) { ly_db_commit(db); }\n' >>"$tmp/src/store/users.c"
    if check "$tmp" >/dev/null; then
        echo "check-layers self-test: a store that commits was not caught"
        exit 1
    fi
    cp "$src/src/store/users.c" "$tmp/src/store/users.c"
    printf '#include "lanyard/router.h"\n' >>"$tmp/include/lanyard/json.h"
    if check "$tmp" >/dev/null; then
        echo "check-layers self-test: an upward include from a header was not caught"
        exit 1
    fi
    cp "$src/include/lanyard/json.h" "$tmp/include/lanyard/json.h"
    printf '#include "lanyard/login.h"\n' >>"$tmp/src/api/api.c"
    if check "$tmp" >/dev/null; then
        echo "check-layers self-test: the worker including login.h was not caught"
        exit 1
    fi
    cp "$src/src/api/api.c" "$tmp/src/api/api.c"
    if [ -d "$tmp/src/login" ]; then
        printf '#include "lanyard/db.h"\n' >>"$tmp/src/login/login.c"
        if check "$tmp" >/dev/null; then
            echo "check-layers self-test: login including db.h was not caught"
            exit 1
        fi
    fi
    echo "check-layers self-test: planted faults are caught"
    exit 0
fi

top=${1:-${srcdir:-.}}
if check "$top"; then
    echo "check-layers: every include points down; units of work are begun only where they belong"
    exit 0
fi
exit 1
