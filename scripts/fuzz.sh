#!/usr/bin/env bash
# Runs every libFuzzer harness of fuzz/ (one process at a time) for SECONDS each, default 60:
#   bash scripts/fuzz.sh [SECONDS] [HARNESS]      e.g. bash scripts/fuzz.sh 30, bash scripts/fuzz.sh 600 suite
# Builds the `debug` preset (clang, ASan + UBSan, fuzzers) into build-debug/ if needed. Each
# harness starts from its committed seeds (fuzz/corpus/NAME) plus what earlier runs found
# (build-debug/fuzz-work/corpus/NAME) with its dictionary (fuzz/dict/NAME.dict). A crash, a leak,
# an "internal error" (exit 3 in the CLI), a timeout (> 10 s on one input) or more than 4 GB fails
# the script; the reproducer is printed: run the harness binary on it (docs/RELIABILITY.md).
# MOEPROBE_FUZZ_NICE=15 runs the fuzzers under `nice -n 15`. MOEPROBE_FUZZ_BIN=DIR runs the
# fuzz_* executables copied into DIR without building (a long run that goes on while the tree is
# rebuilt); MOEPROBE_FUZZ_WORK=DIR keeps corpora, logs and reproducers there instead;
# MOEPROBE_FUZZ_TIMEOUT=S changes the 10 s per input (a run under `nice -n 19` on a busy machine);
# MOEPROBE_FUZZ_RUNS=N also stops a harness after N executions (the long runs: 10 M or 1 h, first
# reached). The harnesses that need files write them under TMPDIR, /dev/shm unless set (memory,
# not disk, for the index, header and config harnesses).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-60}"
only="${2:-}"
build=build-debug
bin="${MOEPROBE_FUZZ_BIN:-}"
if [ -z "$bin" ]; then
  if [ ! -f "$build/CMakeCache.txt" ]; then
    cmake --preset debug >/dev/null
  fi
  cmake --build "$build" -j2 --target fuzzers >/dev/null
  bin="$build/fuzz"
fi

work="${MOEPROBE_FUZZ_WORK:-$build/fuzz-work}"
mkdir -p "$work"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then export TMPDIR=/dev/shm; fi
runs=()
[ -n "${MOEPROBE_FUZZ_RUNS:-}" ] && runs=(-runs="$MOEPROBE_FUZZ_RUNS")
nice_cmd=()
[ -n "${MOEPROBE_FUZZ_NICE:-}" ] && nice_cmd=(nice -n "$MOEPROBE_FUZZ_NICE")

status=0
printf '%-20s %12s %8s %8s %8s  %s\n' harness executions exec/s cov ft result
for exe in "$bin"/fuzz_*; do
  name=$(basename "$exe")
  name=${name#fuzz_}
  [ -n "$only" ] && [ "$only" != "$name" ] && continue
  corpus="$work/corpus/$name"
  artifacts="$work/artifacts/$name"
  mkdir -p "$corpus" "$artifacts"
  dict="$work/$name.dict"
  cat "fuzz/dict/$name.dict" > "$dict"
  case "$name" in suite | recipe) ;; *) cat fuzz/dict/json_syntax.dict >> "$dict" ;; esac
  log="$work/$name.log"
  result=ok
  if ! "${nice_cmd[@]}" "$exe" -max_total_time="$seconds" -timeout="${MOEPROBE_FUZZ_TIMEOUT:-10}" -rss_limit_mb=4096 \
      -malloc_limit_mb=4096 -max_len=65536 -dict="$dict" -artifact_prefix="$artifacts/" \
      -print_final_stats=1 "${runs[@]}" "$corpus" "fuzz/corpus/$name" >"$log" 2>&1; then
    result=FAILED
    status=1
  fi
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  printf '%-20s %12s %8s %8s %8s  %s\n' "$name" "${execs:-?}" "${speed:-?}" "${cov:-?}" "${ft:-?}" "$result"
  if [ "$result" = FAILED ]; then
    echo "---- $name: last lines of $log"
    tail -n 40 "$log"
    reproducer=$(ls -t "$artifacts" 2>/dev/null | head -1 || true)
    if [ -n "$reproducer" ]; then
      echo "---- reproduce: $exe $artifacts/$reproducer"
      echo "---- input (base64):"
      head -c 4096 "$artifacts/$reproducer" | base64
    fi
  fi
done
exit $status
