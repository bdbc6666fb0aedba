#!/bin/sh
# No SQL may convert times with FROM_UNIXTIME or UNIX_TIMESTAMP: MariaDB
# answers NULL past 2038-01-19, and SPEC §3 wants every time up to 9999
# stored and answered intact. Times are bound with LY_DB_T and read back as
# seconds by src/db/db.c instead (include/lanyard/db.h). Code and string
# literals are searched, comments are not, so the rule itself can be
# explained where it applies.
# Usage: check-sql-time.sh SRCDIR
set -eu
top=${1:-${srcdir:-.}}

# Print a C file without its comments, keeping line numbers.
strip_c() {
    awk '
    BEGIN { state = "code" }
    {
        line = $0; out = ""; n = length(line)
        for (i = 1; i <= n; i++) {
            c = substr(line, i, 1); d = substr(line, i, 2)
            if (state == "block") {
                if (d == "*/") { state = "code"; i++ }
                continue
            }
            if (state == "str" || state == "chr") {
                out = out c
                if (c == "\\") { out = out substr(line, i + 1, 1); i++ }
                else if ((state == "str" && c == "\"") || (state == "chr" && c == "\047")) state = "code"
                continue
            }
            if (d == "/*") { state = "block"; i++; continue }
            if (d == "//") break
            if (c == "\"") state = "str"
            else if (c == "\047") state = "chr"
            out = out c
        }
        if (state == "str" || state == "chr") state = "code"
        print out
    }' "$1"
}

bad=0
for f in "$top"/src/*.c "$top"/src/*/*.c "$top"/src/*/*.h "$top"/include/lanyard/*.h \
    "$top"/schema/*.sql; do
    [ -f "$f" ] || continue
    grep -q -i -E 'from_unixtime|unix_timestamp' "$f" || continue
    case $f in
    *.sql) hits=$(sed 's/--.*$//' "$f" | grep -n -i -E 'from_unixtime|unix_timestamp' || true) ;;
    *) hits=$(strip_c "$f" | grep -n -i -E 'from_unixtime|unix_timestamp' || true) ;;
    esac
    if [ -n "$hits" ]; then
        printf '%s\n' "$hits" | sed "s|^|check-sql-time: ${f#"$top"/}:|"
        bad=1
    fi
done
if [ $bad -ne 0 ]; then
    echo "check-sql-time: bind times with LY_DB_T and read the column itself (include/lanyard/db.h)"
    exit 1
fi
echo "check-sql-time: no FROM_UNIXTIME or UNIX_TIMESTAMP in the SQL"
