#!/bin/sh
# Build and run the libFuzzer targets.
#
#   sh fuzz/run.sh SECONDS [TARGET...]      (make fuzz FUZZ_SECONDS=60)
#
# Each fuzz/<TARGET>.c (default: every fuzz/fuzz_*.c) is compiled with the
# library sources into $BUILD/fuzz/<TARGET> with clang
# -fsanitize=fuzzer,address,undefined, then run for SECONDS. Inputs that grow
# coverage accumulate in $BUILD/fuzz/corpus/<TARGET>, starting from the seeds
# fuzz/make_seeds.py writes into $BUILD/fuzz/seeds/ (generated anew each run,
# so they follow the generator). A crash, leak, sanitizer report or hang is
# written to $BUILD/fuzz/crashes/<TARGET>-*; replay it with
#   $BUILD/fuzz/<TARGET> $BUILD/fuzz/crashes/<TARGET>-crash-...
# (FUZZ_INPUT_TRACE=1 in the environment makes fuzz_input print what goes in
# and out, and the counters at the end.)
#
# Environment: BUILD (output folder, default build; `make fuzz BUILD=...`
# passes it), FUZZ_CC (default clang), FUZZ_LIB_SRC (the library sources
# to compile in; default every src/*/*.c).
#
# Prints "PASS <TARGET>: ..." or "FAIL <TARGET>: ..." per target (the same
# lines as the test tiers, so the CI can count them), then one summary line.
# Exits non-zero if any target failed to build or crashed.

set -u
cd "$(dirname "$0")/.." || exit 2

SECONDS_EACH=${1:-60}
[ $# -gt 0 ] && shift
TARGETS=${*:-$(for f in fuzz/fuzz_*.c; do basename "$f" .c; done)}
FUZZ_CC=${FUZZ_CC:-clang}
OUT=${BUILD:-build}/fuzz
PY=/usr/bin/python3

if ! command -v "$FUZZ_CC" >/dev/null 2>&1; then
    for t in $TARGETS; do echo "SKIP $t: $FUZZ_CC not installed"; done
    echo "fuzz: skipped, $FUZZ_CC not installed"
    exit 0
fi

CFLAGS="-std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer
        -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
        -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wstrict-prototypes
        -Iinclude -Isrc"
mkdir -p "$OUT/seeds" "$OUT/crashes"

# Fresh seeds every run; the previous ones stay if generating fails.
rm -rf "$OUT/seeds.new"
if "$PY" fuzz/make_seeds.py "$OUT/seeds.new"; then
    rm -rf "$OUT/seeds"
    mv "$OUT/seeds.new" "$OUT/seeds"
else
    echo "fuzz: could not generate seeds"
fi

passed=0
failed=0
for t in $TARGETS; do
    bin=$OUT/$t
    log=$OUT/$t.log
    # The library is compiled in directly so every line is instrumented.
    # shellcheck disable=SC2086 # CFLAGS is a word list
    if ! $FUZZ_CC $CFLAGS -o "$bin" "fuzz/$t.c" ${FUZZ_LIB_SRC:-src/*/*.c} -lpthread >"$log" 2>&1; then
        sed 's/^/    /' "$log"
        echo "FAIL $t: does not build"
        failed=$((failed + 1))
        continue
    fi
    mkdir -p "$OUT/corpus/$t"
    rm -f "$OUT/crashes/$t"-*
    # The outer timeout is a backstop; -max_total_time ends a normal run.
    timeout -k 10 $((SECONDS_EACH + 120)) "$bin" \
        -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 \
        -max_len=8192 -print_final_stats=1 \
        -artifact_prefix="$OUT/crashes/$t-" \
        "$OUT/corpus/$t" "$OUT/seeds" >"$log" 2>&1
    rc=$?
    runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -n 1)
    corpus=$(ls "$OUT/corpus/$t" | wc -l)
    crash=$(ls "$OUT/crashes/$t"-* 2>/dev/null | head -n 1)
    if [ "$rc" -eq 0 ] && [ -z "$crash" ]; then
        echo "PASS $t: ${runs:-?} runs in ${SECONDS_EACH}s, corpus $corpus inputs"
        passed=$((passed + 1))
    else
        grep -E "ERROR|SUMMARY|$t:|#[0-9]+ 0x" "$log" | head -n 24 | sed 's/^/    /'
        echo "FAIL $t: status $rc${crash:+, input saved as $crash} (log: $log)"
        failed=$((failed + 1))
    fi
done

echo "fuzz: $passed target(s) clean, $failed failed, ${SECONDS_EACH}s each"
[ "$failed" -eq 0 ]
