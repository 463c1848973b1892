#!/usr/bin/env bash
# Hostile input (docs/RELIABILITY.md): the debug preset (clang, ASan + UBSan, -O1) builds the unit
# tests and the libFuzzer harnesses. The input-handling tests (parsers, bad-input and CLI tests)
# run under the sanitizers -- run `ctest --preset debug` for all of it -- then every harness for
# 20 s (about 3 minutes in all), failing on a crash, a leak, an internal error or a timeout with the
# reproducer printed.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake --preset debug
cmake --build --preset debug -j2
ctest --preset debug -LE install \
  -R 'HostileInput|InputFile|BadInput|ErrorPolicy|YamlReader|Safetensors|Checkpoint|Schema|LayerSelect|BenchmarkJson|Thresholds|SynthCli|CompareCli|ReportCli|RunCli|PerfGateCli|TokenizeCli|Family\.|MoeModel'
bash scripts/fuzz.sh 20
