#!/usr/bin/env bash
# Re-records the perf-gate test pairs in this folder from the project's own benchmarks
# (bench_static_metrics, three small CPU benchmarks, 9 repetitions). Needs jq.
#   bash tests/data/perf/record.sh [BUILD_DIR]    (default: build)
# baseline.json    a run
# rerun.json       a second run of the same binary right after it: identical code
# slow20.json      rerun.json with a planted 20% slowdown: every time x1.2, every rate /1.2
# noisy.json       a run while two on/off busy loops (0.2 s on, 0.2 s off) compete for the cores
# renamed.json     rerun.json with BM_Assignment renamed BM_LinearAssignment
# aggregates.json  a run with --benchmark_report_aggregates_only=true (no repetitions kept)
# truncated.json   the first 1500 bytes of baseline.json (malformed JSON)
# no_real_time.json baseline.json without benchmarks[2].real_time
# cuda_skipped.json bench_cuda_kernels where no device is present: every benchmark skipped
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="${1:-build}"
bench="$build/bin/bench_static_metrics"
filter='/16/512/1024/1/|BM_Assignment/128/|BM_NeuronCosine/128/'
run() {
  local out="$1"; shift
  "$bench" --benchmark_filter="$filter" --benchmark_repetitions=9 --benchmark_min_time=0.2 \
    --benchmark_out="$here/$out" --benchmark_out_format=json "$@" >/dev/null
}
run baseline.json
run rerun.json
jq '.benchmarks |= map(if .error_occurred then . else
      (.real_time, .cpu_time) *= 1.2 | (.bytes_per_second, ."FLOP/s", ."GMAC/s") |= (if . then . / 1.2 else . end)
      | (.x_read, .x_gemm) |= (if . then . * 1.2 else . end) end)' \
  "$here/rerun.json" > "$here/slow20.json"
pids=()
for _ in 1 2; do
  timeout 60 sh -c 'while :; do timeout 0.2 sh -c "while :; do :; done"; sleep 0.2; done' &
  pids+=($!)
done
run noisy.json
kill "${pids[@]}" 2>/dev/null || true
jq '.benchmarks |= map((.name, .run_name) |= sub("^BM_Assignment/"; "BM_LinearAssignment/"))' \
  "$here/rerun.json" > "$here/renamed.json"
run aggregates.json --benchmark_report_aggregates_only=true
head -c 1500 "$here/baseline.json" > "$here/truncated.json"
jq 'del(.benchmarks[2].real_time)' "$here/baseline.json" > "$here/no_real_time.json"
if [ -x "$build/bin/bench_cuda_kernels" ]; then
  "$build/bin/bench_cuda_kernels" --benchmark_filter='DeviceCopy|Sgemm' \
    --benchmark_out="$here/cuda_skipped.json" --benchmark_out_format=json >/dev/null
fi
ls -la "$here"
