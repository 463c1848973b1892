#!/usr/bin/env bash
# The README's main command: installs what is missing, builds moeprobe, generates the built-in demo
# checkpoint (a small Mixtral-like MoE with the paper's signatures planted, plus its dense reference
# FFN) and runs the paper's suite on it. Reports land in out/demo/.
# The dynamic findings (A7-A12) run on the synthetic Gaussian probe (seeded x ~ N(0, I) through each
# layer's norm, labelled "not text" in the reports): the demo's dynamic plants are calibrated for
# that input. Text through the forward pass of this random-attention model does not carry them
# (routing entropy 0.74 on the paper's long input), so `--probe-text` is for real checkpoints.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
[ -f build/CMakeCache.txt ] || cmake --preset default
cmake --build --preset default -j2

rm -rf out/demo-model out/demo
./build/bin/moeprobe synth fixtures/recipes/demo.yaml --out out/demo-model
./build/bin/moeprobe run suites/closer_look.yaml --model out/demo-model --activations synthetic \
  --reference-model out/demo-model/reference --out out/demo "$@"
