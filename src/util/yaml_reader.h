// The one strict YAML reader of moeprobe: suites, family files and synthesis recipes all read
// their YAML through it, so they agree on what a scalar means and report errors the same way.
//
// Rules (documented for users in configs/families/README.md, "YAML rules"):
// - Scalars resolve by the YAML 1.2 core schema, wherever they appear: null | Null | NULL | ~ |
//   empty is null; true | True | TRUE | false | False | FALSE is a boolean (yes/no/on/off are
//   strings); [-+]?[0-9]+, 0o[0-7]+ and 0x[0-9a-fA-F]+ are integers; decimal numbers with a
//   fraction or exponent and [-+]?.inf / .nan are floats; everything else, and every quoted
//   scalar, is a string.
// - An integer that does not fit in 64 bits or a float that overflows a double is an error,
//   never a silent conversion; typed integer getters check their range (4294967296 is no int).
// - Unknown keys and duplicate keys are errors naming the key path and its line.
// - Every error is an InputError(file, key path, "line N: what was expected"); a file that is
//   not YAML at all is InputError(file, "line N", "malformed YAML: ...").
// - Hostile input is bounded before any node is built (docs/RELIABILITY.md): the text must be
//   UTF-8 (a file also a regular file of at most 64 MiB), nesting at most kMaxYamlDepth levels,
//   and the document, with every alias expanded, at most kMaxYamlNodes nodes (an alias bomb of
//   a few hundred bytes would otherwise expand to gigabytes when walked); an alias to a node
//   that encloses it (a cycle) is refused.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>
#include <nlohmann/json.hpp>

namespace moeprobe {

// A scalar after core-schema resolution.
struct YamlScalar {
  enum class Type { Null, Bool, Int, Float, String };
  Type type = Type::Null;
  bool boolean = false;
  int64_t integer = 0;
  double number = 0;  // Int and Float
  std::string text;   // the scalar as written
};

constexpr int kMaxYamlDepth = 64;
constexpr uint64_t kMaxYamlNodes = 200000;

class YamlReader {
 public:
  explicit YamlReader(std::string file) : file_(std::move(file)) {}
  const std::string& file() const { return file_; }

  // Parses YAML text (or a file); malformed YAML is InputError(file, "line N", ...), and so is
  // text beyond the limits above.
  YAML::Node parse(const std::string& text) const;
  YAML::Node load_file(const std::string& what) const;  // what: "family file", "suite file", ...

  static std::string join(const std::string& path, const std::string& key) {
    return path.empty() ? key : path + "." + key;
  }
  static std::string index(const std::string& path, std::size_t i) {
    return path + "[" + std::to_string(i) + "]";
  }
  static int line_of(const YAML::Node& n) {
    return n.IsDefined() && n.Mark().line >= 0 ? n.Mark().line + 1 : 0;
  }

  // InputError(file, path, "line N: problem"); `at` gives the line (may be undefined).
  [[noreturn]] void fail(const YAML::Node& at, const std::string& path,
                         const std::string& problem) const;

  void require_map(const YAML::Node& n, const std::string& path) const;
  // A mapping whose keys are all in `allowed` and none repeated.
  void check_keys(const YAML::Node& n, const std::string& path,
                  const std::set<std::string>& allowed) const;
  // The keys of a mapping in file order, duplicates rejected.
  std::vector<std::string> keys(const YAML::Node& n, const std::string& path) const;

  YamlScalar scalar(const YAML::Node& n, const std::string& path) const;
  // Any non-null scalar, as written.
  std::string string(const YAML::Node& n, const std::string& path,
                     const std::string& expected = "a string") const;
  bool boolean(const YAML::Node& n, const std::string& path) const;
  int64_t integer(const YAML::Node& n, const std::string& path, int64_t lo, int64_t hi) const;
  double number(const YAML::Node& n, const std::string& path, double lo, double hi) const;
  double number(const YAML::Node& n, const std::string& path) const;
  // A string or a list of strings.
  std::vector<std::string> strings(const YAML::Node& n, const std::string& path) const;

  // The one YAML -> JSON conversion (core schema for every scalar; NaN and inf are errors since
  // JSON cannot hold them).
  nlohmann::json to_json(const YAML::Node& n, const std::string& path) const;

 private:
  std::string file_;
};

}  // namespace moeprobe
