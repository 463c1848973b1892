#!/usr/bin/env bash
# Hostile input (docs/RELIABILITY.md), the sanitizer stage of .ci/run: the `debug` preset (clang,
# ASan + UBSan, -O0 here) builds the CLI, the input-handling unit tests (MOEPROBE_TESTS=input: readers
# of untrusted files, bad-input and CLI tests) and the libFuzzer harnesses once, over one sanitized
# core library; the tests run, then every harness for MOEPROBE_SANITIZER_FUZZ_SECONDS (8) each.
# Fails on a test failure, a sanitizer report, a leak, an internal error or a fuzz timeout, with
# the reproducer printed (scripts/fuzz.sh). About 4 minutes from cold on two cores; the whole
# suite under the sanitizers is `cmake --preset debug && cmake --build --preset debug &&
# ctest --preset debug`. MOEPROBE_SANITIZER_BUILD=DIR changes the build directory.
set -euo pipefail
cd "$(dirname "$0")/.."

build="${MOEPROBE_SANITIZER_BUILD:-build-ci-sanitizers}"
seconds="${MOEPROBE_SANITIZER_FUZZ_SECONDS:-8}"
started=$SECONDS
# Build time is most of the stage (docs/RELIABILITY.md, "In CI"): -O0 halves the sanitized compile
# (the tests and 8 s of fuzzing each are short either way), line tables are all a report needs
# (file:line in each frame), and the core and the CLI compile in unity batches of 16 files.
cmake --preset debug -B "$build" -DMOEPROBE_TESTS=input \
  -DCMAKE_CXX_FLAGS_DEBUG="-O0 -gline-tables-only" \
  -DCMAKE_UNITY_BUILD=ON -DCMAKE_UNITY_BUILD_BATCH_SIZE=16 >/dev/null
cmake --build "$build" -j2 --target moeprobe moeprobe_tests fuzzers
echo "sanitizer stage: built in $((SECONDS - started)) s"

tested=$SECONDS
# The install, browser and report-examples tests run on the release build in .ci/run already.
ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:detect_stack_use_after_return=1}" \
  UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}" \
  ctest --test-dir "$build" -j2 --output-on-failure -LE 'install|browser' -E '^reports\.examples_consistent$'
echo "sanitizer stage: tests in $((SECONDS - tested)) s"

fuzzed=$SECONDS
MOEPROBE_FUZZ_BIN="$build/fuzz" MOEPROBE_FUZZ_WORK="$build/fuzz-work" bash scripts/fuzz.sh "$seconds"
echo "sanitizer stage: fuzzing in $((SECONDS - fuzzed)) s, $((SECONDS - started)) s in all"
