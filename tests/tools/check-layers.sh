#!/bin/sh
# Layers point one way (STYLE 16): a file may include only Lanyard headers of
# its own rank or lower. A .c file has the rank of its own header (the first
# lanyard/ header it includes); a header has the rank in the table below.
# Usage: check-layers.sh SRCDIR
set -eu
top=${1:-${srcdir:-.}}
rank() {
    case $1 in
    mem|arena|str|err|log|ct|rand|codec|hash|validate|page|civil) echo 0 ;;
    json|password|config|token) echo 1 ;;
    jwt|db|migrate) echo 2 ;;
    users|sessions|throttle|orgs) echo 3 ;;
    http|ctx) echo 4 ;;
    auth|issue|policy|api|ctl) echo 5 ;;
    router|fcgi) echo 6 ;;
    *) echo "check-layers: no rank for header '$1'" >&2; echo 99 ;;
    esac
}
bad=0
for f in "$top"/include/lanyard/*.h "$top"/src/*/*.c; do
    case $f in
    *.h) own=$(basename "$f" .h) ;;
    *) own=$(sed -n 's|^#include "lanyard/\([a-z_]*\)\.h".*|\1|p' "$f" | head -n 1) ;;
    esac
    [ -n "$own" ] || continue
    mine=$(rank "$own")
    for inc in $(sed -n 's|^#include "lanyard/\([a-z_]*\)\.h".*|\1|p' "$f"); do
        theirs=$(rank "$inc")
        if [ "$theirs" -gt "$mine" ]; then
            echo "check-layers: ${f#"$top"/} (layer of $own.h, rank $mine) includes $inc.h (rank $theirs)"
            bad=1
        fi
    done
done
[ $bad -eq 0 ] && echo "check-layers: every include points down"
exit $bad
