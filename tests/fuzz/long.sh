#!/bin/sh
# make fuzz-long: a longer fuzzing campaign than the corpus replay of every CI run.
#
# Runs each libFuzzer target named on the command line (build/fuzz/fuzz_*) for
# FUZZ_MINUTES minutes (default 5), one after the other, starting from its
# checked-in corpus (tests/fuzz/corpus/<target>, read only) and from what
# earlier campaigns found (build/fuzz-long/corpus/<target>, where new entries
# go). Prints, per target, the executions and the new corpus entries, and
# exits non-zero when any target crashed, leaked, timed out or ran out of
# memory; the input that did it is in build/fuzz-long/artifacts/<target>/ and
# the target's output in build/fuzz-long/<target>.log.
set -u
minutes=${FUZZ_MINUTES:-5}
case $minutes in
'' | *[!0-9]* | 0 | 0*) echo "fuzz-long: FUZZ_MINUTES must be a whole number of minutes, at least 1" >&2; exit 2 ;;
esac
work=build/fuzz-long
failed=0
printf '%-22s %14s %12s  %s\n' target executions "new entries" result
for bin in "$@"; do
    t=$(basename "$bin")
    mkdir -p "$work/corpus/$t" "$work/artifacts/$t"
    log="$work/$t.log"
    "$bin" -max_total_time=$((minutes * 60)) -print_final_stats=1 -artifact_prefix="$work/artifacts/$t/" \
        "$work/corpus/$t" "tests/fuzz/corpus/$t" >"$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    new=$(sed -n 's/^stat::new_units_added: *//p' "$log")
    if [ $rc -eq 0 ]; then
        result=ok
    else
        result="FAILED (exit $rc): $(grep -m1 -E '^==[0-9]+==ERROR|^SUMMARY|deadly signal|timeout|out-of-memory' "$log")"
        failed=1
    fi
    printf '%-22s %14s %12s  %s\n' "$t" "${execs:-?}" "${new:-?}" "$result"
done
exit $failed
