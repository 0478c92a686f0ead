#!/bin/sh
# Run every test tier and print one total.
#
#   sh tests/run.sh [FILTER]
#
# Sections, in order:
#   1. each C tier binary, first the gcc build then the ASan+UBSan build:
#        build/tests/{unit,scripted,sim}  build/asan/tests/{unit,scripted,sim}
#      (FILTER, when given, is passed on: only tests whose name contains it run)
#   2. each tests/interop/*.sh (but lib.sh), run with bash, USTACK exported
#      (FILTER, when given, selects the scripts whose file name contains it)
#   3. each file named in $TEST_EXTRA_RESULTS (space separated): PASS/FAIL/SKIP
#      lines produced earlier, e.g. by the fuzz run in .ci/run, so they count in
#      the total too
#
# Every section prints lines "PASS name", "FAIL name" or "SKIP name: reason".
# A section that exits non-zero without printing a FAIL line (an ASan abort, a
# segfault, a timeout) counts as one failure of its own. A tier binary that is
# not built, or a tier with no tests, is not an error.
#
# The last line is always "N passed, N failed, N skipped"; the exit status is
# non-zero when anything failed.
#
# Environment: TIERS (default "unit scripted sim"), TEST_BUILDS (default
# "build build/asan"), USTACK (default build/ustack), TIER_TIMEOUT and
# INTEROP_TIMEOUT (seconds per binary / script; defaults 600 and 300).

set -u
cd "$(dirname "$0")/.." || exit 2
ROOT=$(pwd)

FILTER=${1:-}
TIERS=${TIERS:-unit scripted sim}
TEST_BUILDS=${TEST_BUILDS:-build build/asan}
TIER_TIMEOUT=${TIER_TIMEOUT:-600}
INTEROP_TIMEOUT=${INTEROP_TIMEOUT:-300}
USTACK=${USTACK:-$ROOT/build/ustack}
export USTACK

passed=0
failed=0
skipped=0

work=$(mktemp -d "${TMPDIR:-/tmp}/ustack-run.XXXXXX") || exit 2
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

count_lines() { # PREFIX FILE
    grep -c "^$1 " "$2"
}

# Run one section: show its output as it comes, then add its lines to the
# totals. A non-zero exit without any FAIL line is a crash: one more failure.
run_section() { # TITLE COMMAND...
    title=$1
    shift
    echo "==== $title"
    rm -f "$work/rc"
    { "$@" </dev/null 2>&1; echo $? >"$work/rc"; } | tee "$work/out"
    rc=$(cat "$work/rc" 2>/dev/null || echo 1)
    p=$(count_lines PASS "$work/out")
    f=$(count_lines FAIL "$work/out")
    s=$(count_lines SKIP "$work/out")
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        case $rc in
        124|137) why="timed out" ;;
        *) why="exited with status $rc without reporting a failure (crashed?)" ;;
        esac
        echo "FAIL $title: $why"
        f=1
    fi
    passed=$((passed + p))
    failed=$((failed + f))
    skipped=$((skipped + s))
}

# 1. The C tiers.
for build in $TEST_BUILDS; do
    for tier in $TIERS; do
        bin=$build/tests/$tier
        if [ ! -x "$bin" ]; then
            echo "==== $bin: not built, nothing to run"
            continue
        fi
        run_section "$bin" timeout -k 10 "$TIER_TIMEOUT" "$bin" "$FILTER"
    done
done

# 2. Interop scripts: real kernel, real TUN device, inside namespaces they
# create. Each one prints SKIP lines by itself when it lacks root or tools.
for script in tests/interop/*.sh; do
    [ -f "$script" ] || continue
    case ${script##*/} in
    lib.sh) continue ;;
    esac
    case ${script##*/} in
    *"$FILTER"*) ;;
    *) continue ;;
    esac
    run_section "$script" timeout -k 10 "$INTEROP_TIMEOUT" bash "$script"
done

# 3. Results produced before this run (e.g. the CI fuzz run).
for extra in ${TEST_EXTRA_RESULTS:-}; do
    if [ -f "$extra" ]; then
        run_section "$extra" cat "$extra"
    else
        echo "==== $extra"
        echo "FAIL $extra: results file missing"
        failed=$((failed + 1))
    fi
done

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
