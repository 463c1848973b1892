#!/usr/bin/env python3
"""Writes tests/data/tokenizers/<name>.refs.json for the SentencePiece tokenizer.model files, with
SentencePiece itself as the reference (Debian python3-sentencepiece; run with /usr/bin/python3).
Same text sets, hashing and layout as scripts/make-tokenizer-refs.js; with special tokens the ids
get the model's BOS in front, as Llama/Mixtral-style tokenizers do.
Usage: /usr/bin/python3 scripts/make-tokenizer-refs.py   (from the repository root)"""
import json
import os
import sentencepiece

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = {"mixtral": "tests/data/tokenizers/mixtral/tokenizer.model",
          "grok1": "tests/data/tokenizers/grok1/tokenizer.model"}


def wikitext_lines():
    with open(os.path.join(ROOT, "corpus/wikitext103_test.csv"), encoding="utf-8", newline="") as f:
        lines = f.read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def probe_lines():
    # JavaScript's trim() and Python's strip() agree on the whitespace in this file.
    return [l.strip() for l in wikitext_lines() if l.strip() and not l.strip().startswith("=")][:10]


def fnv1a(ids):
    h = 0xcbf29ce484222325
    for c in ",".join(str(i) for i in ids).encode():
        h = ((h ^ c) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return "%016x" % h


def compact_json(out):
    parts = []
    for name, entry in out["sets"].items():
        modes = ",".join("\n%s: [\n%s]" % (json.dumps(m), ",\n".join(json.dumps(x) for x in entry[m]))
                         for m in ("plain", "special"))
        parts.append("\n%s: {%s}" % (json.dumps(name), modes))
    return ('{"tokenizer": %s,\n"reference": %s,\n"special_rule": %s,\n"sets": {%s}}\n'
            % (json.dumps(out["tokenizer"]), json.dumps(out["reference"]),
               json.dumps(out["special_rule"]), ",".join(parts)))


def main():
    with open(os.path.join(ROOT, "tests/data/tokenizers/stress.json"), encoding="utf-8") as f:
        stress = json.load(f)["texts"]
    sets = {"probe": probe_lines(), "stress": stress, "wikitext": wikitext_lines()}
    for name, rel in MODELS.items():
        sp = sentencepiece.SentencePieceProcessor(model_file=os.path.join(ROOT, rel))
        bos = sp.bos_id()
        out = {"tokenizer": name, "reference": "SentencePiece %s (python3-sentencepiece)" % sentencepiece.__version__,
               "special_rule": {"bos": bos if bos >= 0 else None, "eos": None}, "sets": {}}
        for set_name, texts in sets.items():
            entry = {"plain": [], "special": []}
            for text in texts:
                ids = sp.encode(text)
                special = ([bos] if bos >= 0 else []) + ids
                entry["plain"].append(fnv1a(ids) if set_name == "wikitext" else ids)
                entry["special"].append(fnv1a(special) if set_name == "wikitext" else special)
            out["sets"][set_name] = entry
        dest = os.path.join(ROOT, "tests/data/tokenizers", name + ".refs.json")
        with open(dest, "w", encoding="utf-8") as f:
            f.write(compact_json(out))
        print(name, "->", dest)


if __name__ == "__main__":
    main()
