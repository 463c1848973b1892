#!/usr/bin/env bash
# The CI benchmark set: small CPU shapes of bench_static_metrics (16 MB matrix sets, A2 at
# I = 128) and the two in-process ceilings, 9 repetitions of ~0.1 s each (about 20 s on two cores).
#
#   scripts/update-perf-baseline.sh              # refresh the committed configs/perf/baseline.json
#   scripts/update-perf-baseline.sh --out F.json # run the set into F.json (what .ci/run gates)
#   options: --build DIR (default: build, the `default` preset), --repetitions N
#
# Refresh the baseline on the machine class CI runs on, after a change that is meant to move the
# numbers, and commit it with that change. The JSON is Google Benchmark's own format.
set -euo pipefail
cd "$(dirname "$0")/.."

build=build
out=configs/perf/baseline.json
repetitions=9
source scripts/lib/options.sh
parse_options "$0" 2,11 build out repetitions -- "$@"

# The set, by benchmark name (a Google Benchmark filter regex).
filter='/16/512/1024/|/128/|^BM_Ceiling'

bench="$build/bin/bench_static_metrics"
if [ ! -x "$bench" ]; then
  echo "update-perf-baseline: $bench not found: build with benchmarks first (cmake --preset default && cmake --build --preset default)" >&2
  exit 2
fi
mkdir -p "$(dirname "$out")"
tmp="$out.tmp.$$"
trap 'rm -f "$tmp"' EXIT
"$bench" --benchmark_filter="$filter" --benchmark_repetitions="$repetitions" \
  --benchmark_min_time=0.1 --benchmark_display_aggregates_only=true \
  --benchmark_out="$tmp" --benchmark_out_format=json
mv "$tmp" "$out"
echo "update-perf-baseline: wrote $out"
