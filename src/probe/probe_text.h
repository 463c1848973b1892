// Probe inputs before the forward pass: text lines (with a line selection) or token ids, turned
// into the token sequences `capture` runs, each its own sequence, BOS kept as the tokenizer adds
// it and recorded per position.
//
// Text files: every line is a candidate; a .csv file is read as CSV (RFC 4180 quoting) and each
// field of its first column split into lines, as the paper's corpus/wikitext103_test.csv (one
// article per quoted field) is meant to be read. A line is used stripped of surrounding
// whitespace, and only when it is non-empty and does not start with "=" (WikiText headings): the
// paper's long input is the first 10 such lines, `--lines 1-10`.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace moeprobe {

// The paper's short input.
inline constexpr const char* kPaperShortInput = "As an open source alternative to";
// The paper's long input: the corpus file (under the data directory) and its line selection.
inline constexpr const char* kPaperLongInputFile = "corpus/wikitext103_test.csv";
inline constexpr const char* kPaperLongInputLines = "1-10";

struct ProbeSequences {
  std::string name;       // for the activations metadata and reports ("<file> lines 1-10")
  std::string tokenizer;  // what produced the ids ("tokenizer.json (BPE) <path>", "token ids")
  std::vector<std::vector<int64_t>> ids;
  std::vector<std::vector<uint8_t>> bos;  // 1 at BOS positions, per sequence
  std::vector<std::string> origins;       // per sequence, for messages ("<file>: line 12")
};

struct ProbeLine {
  std::string text;
  std::string origin;  // "<file>: line N" (N 1-based in the file; CSV: the physical line)
};

// The usable lines of a text file (see above). Throws InputError naming the file when it cannot
// be read or is not valid CSV.
std::vector<ProbeLine> read_probe_lines(const std::filesystem::path& file);

// SPEC: comma-separated 1-based items over the usable lines, "N", "A-B" (inclusive) or "A-" (to
// the end); empty: every line. Throws InputError naming `where` (the option or suite key) for a
// malformed item or an item beyond the `count` lines available.
std::vector<std::size_t> select_lines(const std::string& spec, std::size_t count,
                                      const std::string& where);

// Tokenizes the selected lines with the model directory's tokenizer (BOS/EOS as it adds them;
// BOS positions = the ids the post-processor puts in front of the text). Throws InputError when
// the selection is empty.
ProbeSequences text_probe(const std::filesystem::path& model_dir,
                          const std::filesystem::path& text_file, const std::string& lines_spec,
                          const std::string& lines_where = "--lines");
// One literal text (the short input).
ProbeSequences literal_probe(const std::filesystem::path& model_dir, const std::string& text,
                             const std::string& name);
// A token-ids file: one sequence per non-blank line, ids separated by spaces or commas. BOS
// positions: ids equal to config.json's bos_token_id. Throws InputError naming the file and line.
ProbeSequences token_ids_probe(const std::filesystem::path& model_dir,
                               const std::filesystem::path& ids_file);

}  // namespace moeprobe
