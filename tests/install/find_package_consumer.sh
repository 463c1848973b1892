#!/usr/bin/env bash
# Installs moeprobe into a temporary prefix and builds tests/install/consumer against it with
# find_package(moeprobe), then runs the consumer: it loads the installed smoke suite and runs it
# on a tiny checkpoint from tests/data, with the installed families (via MOEPROBE_DATA_DIR).
# Usage: find_package_consumer.sh CMAKE BUILD_DIR SOURCE_DIR GENERATOR CXX [LAUNCHER]
set -euo pipefail
cmake_bin=$1 build_dir=$2 source_dir=$3 generator=$4 cxx=$5 launcher=${6:-}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$cmake_bin" --install "$build_dir" --prefix "$tmp/prefix" >/dev/null
"$cmake_bin" -S "$source_dir/tests/install/consumer" -B "$tmp/build" -G "$generator" \
  -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$tmp/prefix" -DCMAKE_CXX_COMPILER="$cxx" \
  ${launcher:+-DCMAKE_CXX_COMPILER_LAUNCHER="$launcher"} >"$tmp/configure.log" ||
  { cat "$tmp/configure.log"; exit 1; }
"$cmake_bin" --build "$tmp/build"
data_dir=$(sed -n 's/^-- moeprobe_DATA_DIR=//p' "$tmp/configure.log")
[ "$data_dir" = "$tmp/prefix/share/moeprobe" ] ||
  { echo "FAIL: moeprobe_DATA_DIR is '$data_dir', expected $tmp/prefix/share/moeprobe" >&2; exit 1; }

cd "$tmp"
MOEPROBE_DATA_DIR=$data_dir "$tmp/build/consumer" "$data_dir/suites/smoke.yaml" \
  "$source_dir/tests/data/hf/mixtral_classic" "$tmp/report"
[ -s "$tmp/report/results.json" ] || { echo "FAIL: the consumer wrote no results.json" >&2; exit 1; }
