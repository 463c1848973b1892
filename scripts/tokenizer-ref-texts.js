// The text sets of the tokenizer conformance test, shared by the reference generators
// (make-tokenizer-refs.js; make-tokenizer-refs.py mirrors it) and the C++ test
// (tests/tokenizer/test_tokenizer_conformance.cpp): same files, same line rules.
'use strict';
const fs = require('fs');
const path = require('path');

// The whole WikiText-103 test file, one text per line (without the newline).
function wikitextLines(root) {
  const text = fs.readFileSync(path.join(root, 'corpus/wikitext103_test.csv'), 'utf8');
  const lines = text.split('\n');
  if (lines.length && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

// The paper's long input: the first 10 lines that are non-empty and do not start with "=", stripped.
function probeLines(root) {
  return wikitextLines(root).map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('=')).slice(0, 10);
}

function textSets(root) {
  const stress = JSON.parse(fs.readFileSync(path.join(root, 'tests/data/tokenizers/stress.json'), 'utf8')).texts;
  return {probe: probeLines(root), stress, wikitext: wikitextLines(root)};
}

// 64-bit FNV-1a of the ids written as decimal numbers joined by ",", as 16 hex digits.
function fnv1a(ids) {
  let h = 0xcbf29ce484222325n;
  const s = ids.join(',');
  for (let i = 0; i < s.length; ++i) {
    h ^= BigInt(s.charCodeAt(i));
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return h.toString(16).padStart(16, '0');
}

// One id list (or hash) per line keeps the files small and diffable.
function compactJson(out) {
  let s = '{"tokenizer": ' + JSON.stringify(out.tokenizer) + ',\n"reference": ' + JSON.stringify(out.reference) +
          ',\n"special_rule": ' + JSON.stringify(out.special_rule) + ',\n"sets": {';
  s += Object.entries(out.sets).map(([set, e]) => '\n' + JSON.stringify(set) + ': {' +
      ['plain', 'special'].map((m) => '\n' + JSON.stringify(m) + ': [\n' +
          e[m].map((x) => JSON.stringify(x)).join(',\n') + ']').join(',') + '}').join(',');
  return s + '}}\n';
}

module.exports = {wikitextLines, probeLines, textSets, fnv1a, compactJson};
