#!/bin/sh
# Run fuzz targets built by build.sh under libFuzzer one at a time, for
# SECONDS each, one process (-jobs=1 -workers=1: the machine is shared),
# and print each target's final libFuzzer line (execs, cov:, ft:).
#
#   tests/fuzz/campaign.sh OUT SECONDS target...     e.g. OUT 120 json jwt
#
# Logs: OUT/logs/<target>.log; crashes: OUT/artifacts/<target>-crash-…
set -eu
srcdir=$(cd "$(dirname "$0")/../.." && pwd)
out=$(cd "$1" && pwd)
secs=$2
shift 2
mkdir -p "$out/logs" "$out/artifacts"
for t in "$@"; do
    dict=
    [ -f "$srcdir/tests/fuzz/dict/$t.dict" ] && dict="-dict=$srcdir/tests/fuzz/dict/$t.dict"
    rm -f "$out/logs/fuzz-0.log"
    # shellcheck disable=SC2086 # $dict is empty or one word
    (cd "$out/logs" && "$out/fuzz_$t" -max_total_time="$secs" -jobs=1 -workers=1 \
        -rss_limit_mb=4096 -timeout=25 -print_final_stats=1 \
        -artifact_prefix="$out/artifacts/$t-" $dict "$out/corpus/$t" >/dev/null 2>&1) || true
    mv "$out/logs/fuzz-0.log" "$out/logs/$t.log" 2>/dev/null || true
    line=$(grep -E '^#[0-9]+' "$out/logs/$t.log" | tail -1)
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/logs/$t.log" | tail -1)
    echo "$t execs=$execs $line"
done
