#!/bin/sh
# Source coverage of a fuzz target's seed corpus (or any corpus).
#
#   sh fuzz/coverage.sh [TARGET [CORPUS_DIR...]] [-- FILES...]
#
# Compiles fuzz/<TARGET>.c (default fuzz_input) and the library with
# clang's source-based coverage (-fprofile-instr-generate
# -fcoverage-mapping) into $BUILD/fuzz-cov/ (BUILD defaults to build), runs
# every input of the corpus once (default: freshly generated seeds from
# fuzz/make_seeds.py), and prints llvm-cov's per-file report for the files
# given after "--" (default: src/tcp/*.c) plus a total line with the
# functions reached. The merged profile stays in $BUILD/fuzz-cov/ for
# `llvm-cov show` (the command is printed).
#
# Environment: FUZZ_CC (default clang), LLVM_PROFDATA, LLVM_COV (default
# llvm-profdata, llvm-cov; versioned names are tried when these are missing).

set -u
cd "$(dirname "$0")/.." || exit 2

TARGET=fuzz_input
if [ $# -gt 0 ] && [ "$1" != "--" ]; then TARGET=$1; shift; fi
CORPORA=
while [ $# -gt 0 ] && [ "$1" != "--" ]; do CORPORA="$CORPORA $1"; shift; done
[ $# -gt 0 ] && shift
FILES=${*:-$(ls src/tcp/*.c)}

FUZZ_CC=${FUZZ_CC:-clang}
OUT=${BUILD:-build}/fuzz-cov
PY=/usr/bin/python3

find_tool() { # NAME: NAME, or NAME-<clang major version>
    if command -v "$1" >/dev/null 2>&1; then echo "$1"; return; fi
    v=$("$FUZZ_CC" --version | sed -n 's/.*version \([0-9]*\).*/\1/p' | head -n 1)
    command -v "$1-$v" 2>/dev/null
}
PROFDATA=${LLVM_PROFDATA:-$(find_tool llvm-profdata)}
COV=${LLVM_COV:-$(find_tool llvm-cov)}
if [ -z "$PROFDATA" ] || [ -z "$COV" ] || ! command -v "$FUZZ_CC" >/dev/null 2>&1; then
    echo "coverage: needs $FUZZ_CC, llvm-profdata and llvm-cov"
    exit 2
fi

rm -rf "$OUT"
mkdir -p "$OUT/profiles"
if [ -z "$CORPORA" ]; then
    "$PY" fuzz/make_seeds.py "$OUT/seeds" || exit 2
    CORPORA=$OUT/seeds
fi

bin=$OUT/$TARGET
# shellcheck disable=SC2086 # word lists
if ! $FUZZ_CC -std=c11 -D_GNU_SOURCE -g -O0 -fsanitize=fuzzer \
        -fprofile-instr-generate -fcoverage-mapping -Iinclude -Isrc \
        -o "$bin" "fuzz/$TARGET.c" ${FUZZ_LIB_SRC:-src/*/*.c} -lpthread; then
    echo "coverage: $TARGET does not build"
    exit 2
fi
# One process per input: a profile is written when the process exits.
n=0
for dir in $CORPORA; do
    for f in "$dir"/*; do
        [ -f "$f" ] || continue
        n=$((n + 1))
        LLVM_PROFILE_FILE="$OUT/profiles/$n.profraw" "$bin" -runs=1 "$f" >/dev/null 2>&1 ||
            echo "coverage: $f: status $?"
    done
done
"$PROFDATA" merge -sparse -o "$OUT/$TARGET.profdata" "$OUT"/profiles/*.profraw || exit 2
rm -rf "$OUT/profiles"
echo "coverage of $TARGET: $n inputs from $CORPORA" | tr -s " "
# shellcheck disable=SC2086 # FILES is a word list
"$COV" report "$bin" -instr-profile="$OUT/$TARGET.profdata" $FILES
echo "details: $COV show $bin -instr-profile=$OUT/$TARGET.profdata FILE"
