#include "probe/probe_text.h"

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "tokenizer/tokenizer.h"
#include "util/error.h"
#include "util/parse_integer.h"

namespace moeprobe {
namespace {

namespace fs = std::filesystem;

std::string slurp(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw InputError(file.string(), "", "cannot open the probe file");
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

std::string strip(const std::string& s) {
  const char* ws = " \t\r\n\v\f";
  const std::size_t b = s.find_first_not_of(ws);
  if (b == std::string::npos) return {};
  return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

// Splits `text` (which starts on physical line `first_line`) into lines and keeps the usable ones.
void add_lines(const std::string& text, std::size_t first_line, const std::string& file,
               std::vector<ProbeLine>& out) {
  std::size_t start = 0, line = first_line;
  while (start <= text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string s = strip(text.substr(start, end - start));
    if (!s.empty() && s[0] != '=')
      out.push_back({std::move(s), file + ": line " + std::to_string(line)});
    if (end == text.size()) break;
    start = end + 1;
    ++line;
  }
}

// RFC 4180: the first field of every record, with the physical line it starts on.
void read_csv_first_column(const std::string& text, const std::string& file,
                           std::vector<ProbeLine>& out) {
  std::size_t i = 0, line = 1;
  const std::size_t n = text.size();
  while (i < n) {
    std::string field;
    const std::size_t field_line = line;
    if (text[i] == '"') {
      ++i;
      for (;;) {
        if (i >= n)
          throw InputError(file, "line " + std::to_string(field_line),
                           "unterminated quoted CSV field");
        if (text[i] == '"') {
          if (i + 1 < n && text[i + 1] == '"') {
            field.push_back('"');
            i += 2;
            continue;
          }
          ++i;
          break;
        }
        if (text[i] == '\n') ++line;
        field.push_back(text[i++]);
      }
    } else {
      while (i < n && text[i] != ',' && text[i] != '\n') field.push_back(text[i++]);
    }
    // Skip the rest of the record (other columns).
    bool quoted = false;
    while (i < n && (quoted || text[i] != '\n')) {
      if (text[i] == '"') quoted = !quoted;
      if (text[i] == '\n') ++line;
      ++i;
    }
    if (i < n) {
      ++i;  // the record's newline
      ++line;
    }
    add_lines(field, field_line, file, out);
  }
}

std::vector<uint8_t> prefix_mask(const std::vector<int64_t>& with,
                                 const std::vector<int64_t>& bare) {
  std::vector<uint8_t> mask(with.size(), 0);
  // The post-processor's prefix: `with` = prefix + bare + suffix.
  if (with.size() >= bare.size())
    for (std::size_t p = 0; p + bare.size() <= with.size(); ++p)
      if (std::equal(bare.begin(), bare.end(), with.begin() + static_cast<std::ptrdiff_t>(p))) {
        for (std::size_t i = 0; i < p; ++i) mask[i] = 1;
        break;
      }
  return mask;
}

ProbeSequences tokenize_lines(const fs::path& model_dir, const std::vector<ProbeLine>& lines,
                              std::string name) {
  const auto tok = tokenizer::load_tokenizer(model_dir.string());
  ProbeSequences p;
  p.name = std::move(name);
  p.tokenizer = tok->describe();
  for (const ProbeLine& l : lines) {
    std::vector<int64_t> ids = tok->encode(l.text, true, l.origin);
    p.bos.push_back(prefix_mask(ids, tok->encode(l.text, false, l.origin)));
    p.ids.push_back(std::move(ids));
    p.origins.push_back(l.origin);
  }
  return p;
}

std::size_t parse_index(const std::string& s, const std::string& item, const std::string& where) {
  const std::optional<long long> v = parse_integer(s);
  if (!v || *v < 1)
    throw InputError(
        "", where, "expected 1-based line numbers \"N\", \"A-B\" or \"A-\", got \"" + item + "\"");
  return static_cast<std::size_t>(*v);
}

}  // namespace

std::vector<ProbeLine> read_probe_lines(const fs::path& file) {
  const std::string text = slurp(file);
  std::vector<ProbeLine> out;
  if (file.extension() == ".csv")
    read_csv_first_column(text, file.string(), out);
  else
    add_lines(text, 1, file.string(), out);
  return out;
}

std::vector<std::size_t> select_lines(const std::string& spec, std::size_t count,
                                      const std::string& where) {
  std::vector<std::size_t> out;
  if (strip(spec).empty()) {
    for (std::size_t i = 0; i < count; ++i) out.push_back(i);
    return out;
  }
  std::stringstream in(spec);
  std::string item;
  while (std::getline(in, item, ',')) {
    item = strip(item);
    const std::size_t dash = item.find('-');
    std::size_t a, b;
    if (dash == std::string::npos) {
      a = b = parse_index(item, item, where);
    } else {
      a = parse_index(strip(item.substr(0, dash)), item, where);
      const std::string rest = strip(item.substr(dash + 1));
      b = rest.empty() ? count : parse_index(rest, item, where);
      if (b < a) throw InputError("", where, "range \"" + item + "\" ends before it starts");
    }
    if (a > count || b > count)
      throw InputError("", where,
                       "\"" + item + "\" selects beyond the " + std::to_string(count) +
                           " usable lines (non-empty, not starting with \"=\")");
    for (std::size_t i = a; i <= b; ++i) out.push_back(i - 1);
  }
  return out;
}

ProbeSequences text_probe(const fs::path& model_dir, const fs::path& text_file,
                          const std::string& lines_spec, const std::string& lines_where) {
  const std::vector<ProbeLine> all = read_probe_lines(text_file);
  if (all.empty())
    throw InputError(text_file.string(), "",
                     "no usable probe line (every line is empty or starts with \"=\")");
  std::vector<ProbeLine> chosen;
  for (std::size_t i : select_lines(lines_spec, all.size(), lines_where)) chosen.push_back(all[i]);
  if (chosen.empty())
    throw InputError(text_file.string(), lines_where, "the line selection is empty");
  std::string name = text_file.filename().string();
  name += strip(lines_spec).empty() ? " (all " + std::to_string(all.size()) + " lines)"
                                    : " lines " + strip(lines_spec);
  return tokenize_lines(model_dir, chosen, name);
}

ProbeSequences literal_probe(const fs::path& model_dir, const std::string& text,
                             const std::string& name) {
  if (strip(text).empty()) throw InputError("", name, "empty probe text");
  return tokenize_lines(model_dir, {{text, name}}, name);
}

ProbeSequences token_ids_probe(const fs::path& model_dir, const fs::path& ids_file) {
  const std::string text = slurp(ids_file);
  const fs::path config_path = model_dir / "config.json";
  int64_t bos_id = -1;
  {
    std::ifstream in(config_path);
    if (in) {
      const nlohmann::json c = nlohmann::json::parse(in, nullptr, false);
      if (c.is_object() && c.contains("bos_token_id") && c["bos_token_id"].is_number_integer())
        bos_id = c["bos_token_id"].get<int64_t>();
    }
  }
  ProbeSequences p;
  p.name = ids_file.filename().string() + " (token ids)";
  p.tokenizer = "token ids file";
  std::stringstream lines(text);
  std::string line;
  for (std::size_t number = 1; std::getline(lines, line); ++number) {
    for (char& c : line)
      if (c == ',') c = ' ';
    if (strip(line).empty()) continue;
    const std::string origin = ids_file.string() + ": line " + std::to_string(number);
    std::stringstream in(line);
    std::string item;
    std::vector<int64_t> ids;
    std::vector<uint8_t> bos;
    while (in >> item) {
      const std::optional<long long> v = parse_integer(item);
      if (!v)
        throw InputError(ids_file.string(), "line " + std::to_string(number),
                         "expected integer token ids, got \"" + item + "\"");
      ids.push_back(*v);
      bos.push_back(*v == bos_id ? 1 : 0);
    }
    p.ids.push_back(std::move(ids));
    p.bos.push_back(std::move(bos));
    p.origins.push_back(origin);
  }
  if (p.ids.empty())
    throw InputError(ids_file.string(), "", "no token ids (expected one sequence per line)");
  return p;
}

}  // namespace moeprobe
