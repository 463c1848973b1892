#!/usr/bin/env bash
# The README's main command: installs what is missing, builds moeprobe, generates the built-in demo
# checkpoint (a small Mixtral-like MoE with the paper's signatures planted, plus its dense reference
# FFN) and runs the paper's suite on it. Reports land in out/demo/.
# The dynamic findings (A7-A12) run from text through the model's forward pass: the suite's probes,
# the paper's long input (10 WikiText-103 lines) and, for the findings the paper read on it, its
# short input; the summary names the probe of each finding. The demo model's attention and FFN
# outputs are small next to its token embeddings (recipe `residual_scale`), so every MoE input is
# close to the N(0, I) input its dynamic plants are calibrated for. Without LibTorch the dynamic
# findings are SKIPPED (pass `--activations synthetic` for the synthetic Gaussian probe).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
[ -f build/CMakeCache.txt ] || cmake --preset default
cmake --build --preset default -j2

rm -rf out/demo-model out/demo
./build/bin/moeprobe synth fixtures/recipes/demo.yaml --out out/demo-model
./build/bin/moeprobe run suites/closer_look.yaml --model out/demo-model \
  --reference-model out/demo-model/reference --out out/demo "$@"
