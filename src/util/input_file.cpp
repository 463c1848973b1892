#include "util/input_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <vector>

#include "util/error.h"

namespace moeprobe {
namespace {

using json = nlohmann::json;

std::string file_type(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

// s cut to at most max_chars bytes at a UTF-8 character boundary, "..." appended when cut.
std::string cut(std::string s, std::size_t max_chars) {
  if (s.size() <= max_chars) return s;
  std::size_t k = max_chars;
  while (k > 0 && (static_cast<unsigned char>(s[k]) & 0xC0) == 0x80) --k;
  s.resize(k);
  return s + "...";
}

std::string mib(uint64_t bytes) {
  return std::to_string(bytes >> 20) + " MiB";
}

// Builds the DOM from nlohmann's SAX events, refusing nesting beyond a depth. An integer too large
// for 64 bits stays a (float) number, as in Python's json: real tokenizer_config.json files carry
// model_max_length 1000000000000000019884624838656. Where moeprobe reads a size, the checked
// accessor refuses a number that is not an integer in range; 1e999 is refused by the lexer.
class DepthLimitedBuilder {
 public:
  DepthLimitedBuilder(json& root, int max_depth) : root_(root), max_depth_(max_depth) {}

  bool null() { return put(nullptr); }
  bool boolean(bool v) { return put(v); }
  bool number_integer(json::number_integer_t v) { return put(v); }
  bool number_unsigned(json::number_unsigned_t v) { return put(v); }
  bool number_float(json::number_float_t v, const std::string& lexeme) {
    if (!std::isfinite(v)) return refuse("number " + printable(lexeme, 40) + " overflows a double");
    return put(v);
  }
  bool string(std::string& v) { return put(std::move(v)); }
  bool binary(json::binary_t&) { return refuse("binary values are not JSON"); }
  bool start_object(std::size_t) { return open(json::object()); }
  bool key(std::string& k) {
    key_ = std::move(k);
    return true;
  }
  bool end_object() { return close(); }
  bool start_array(std::size_t) { return open(json::array()); }
  bool end_array() { return close(); }
  bool parse_error(std::size_t byte, const std::string&, const nlohmann::detail::exception& e) {
    error_field_ = "byte " + std::to_string(byte);
    error_ = "malformed JSON: " + printable(e.what(), 200);  // nlohmann quotes the last token
    return false;
  }

  const std::string& error() const { return error_; }
  const std::string& error_field() const { return error_field_; }

 private:
  json* place(json&& v) {
    if (stack_.empty()) {
      root_ = std::move(v);
      return &root_;
    }
    json& parent = *stack_.back();
    if (parent.is_array()) {
      parent.push_back(std::move(v));
      return &parent.back();
    }
    json& slot = parent[key_];
    slot = std::move(v);
    return &slot;
  }
  bool put(json v) { return place(std::move(v)) != nullptr; }
  bool open(json v) {
    if (static_cast<int>(stack_.size()) >= max_depth_)
      return refuse("nesting deeper than " + std::to_string(max_depth_) +
                    " levels of arrays and objects");
    stack_.push_back(place(std::move(v)));
    return true;
  }
  bool close() {
    stack_.pop_back();
    return true;
  }
  bool refuse(std::string why) {
    error_ = std::move(why);
    return false;
  }

  json& root_;
  int max_depth_;
  std::vector<json*> stack_;
  std::string key_, error_, error_field_;
};

}  // namespace

int open_regular_file(const std::filesystem::path& path, const std::string& what) {
  const std::string file = path.string();
  if (file.find('\0') != std::string::npos)
    throw InputError(printable(file), "", "the " + what + " path contains a NUL byte");
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer forever.
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) throw InputError(file, "", "cannot open the " + what + ": " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    const std::string type = ::fstat(fd, &st) == 0 ? file_type(st.st_mode) : "unreadable";
    ::close(fd);
    throw InputError(file, "", "the " + what + " is " + type + "; expected a regular file");
  }
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0) ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  return fd;
}

std::string read_text_file(const std::filesystem::path& path, const std::string& what,
                           uint64_t limit) {
  const std::string file = path.string();
  const int fd = open_regular_file(path, what);
  struct stat st {};
  ::fstat(fd, &st);
  if (static_cast<uint64_t>(st.st_size) > limit) {
    ::close(fd);
    throw InputError(file, "",
                     "the " + what + " is " + std::to_string(st.st_size) +
                         " bytes, above the limit of " + mib(limit) + " for text inputs");
  }
  // Read at most limit + 1 bytes: a file growing while it is read cannot exceed the limit either.
  std::string text;
  text.resize(static_cast<std::size_t>(st.st_size));
  std::size_t got = 0;
  while (true) {
    if (got == text.size()) {
      if (text.size() > limit) break;
      text.resize(std::min<uint64_t>(limit + 1, text.size() + 65536));
    }
    const ssize_t n = ::read(fd, text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      throw InputError(file, "", "cannot read the " + what + ": " + std::strerror(err));
    }
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  ::close(fd);
  text.resize(got);
  if (got > limit)
    throw InputError(file, "",
                     "the " + what + " is above the limit of " + mib(limit) + " for text inputs");
  return text;
}

json parse_json(const std::string& text, const std::string& file, int max_depth) {
  json root;
  DepthLimitedBuilder builder(root, max_depth);
  bool ok = false;
  try {
    ok = json::sax_parse(text, &builder, json::input_format_t::json, true);
  } catch (const json::exception& e) {  // defensive: the SAX interface reports errors itself
    throw InputError(file, "", "malformed JSON: " + printable(e.what(), 200));
  }
  if (!ok)
    throw InputError(file, builder.error_field(),
                     builder.error().empty() ? "malformed JSON" : builder.error());
  return root;
}

json read_json_file(const std::filesystem::path& path, const std::string& what, uint64_t limit) {
  return parse_json(read_text_file(path, what, limit), path.string());
}

void check_utf8(const std::string& text, const std::string& file) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  std::size_t line = 1, line_start = 0;
  for (std::size_t i = 0; i < n;) {
    const unsigned char c = p[i];
    if (c == '\n') {
      ++line;
      line_start = i + 1;
    }
    std::size_t len = 0;
    uint32_t min = 0, cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2, min = 0x80, cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3, min = 0x800, cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4, min = 0x10000, cp = c & 0x07;
    }
    bool ok = len > 0 && i + len <= n;
    for (std::size_t k = 1; ok && k < len; ++k) {
      ok = (p[i + k] & 0xC0) == 0x80;
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    ok = ok && cp >= min && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF);
    if (!ok) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02X", c);
      throw InputError(file, "line " + std::to_string(line),
                       "column " + std::to_string(i - line_start + 1) + ": byte " + hex +
                           " is not valid UTF-8 (text inputs must be UTF-8)");
    }
    i += len;
  }
}

bool is_inside(const std::filesystem::path& path, const std::filesystem::path& dir) {
  std::error_code ec;
  const std::filesystem::path p =
      std::filesystem::weakly_canonical(std::filesystem::absolute(path, ec), ec);
  const std::filesystem::path d =
      std::filesystem::weakly_canonical(std::filesystem::absolute(dir, ec), ec);
  if (ec) return false;
  auto pi = p.begin();
  for (auto di = d.begin(); di != d.end(); ++di, ++pi) {
    if (di->empty() && std::next(di) == d.end()) break;  // a trailing "/"
    if (pi == p.end() || *pi != *di) return false;
  }
  return true;
}

std::string json_excerpt(const json& v, std::size_t max_chars) {
  if (v.is_array() && v.size() > 16) return "an array of " + std::to_string(v.size()) + " values";
  if (v.is_object() && v.size() > 16) return "an object of " + std::to_string(v.size()) + " keys";
  return printable(v.dump(-1, ' ', false, json::error_handler_t::replace), max_chars);
}

std::string printable(const std::string& s, std::size_t max_chars) {
  return cut(escape_control_bytes(s.size() > 4 * max_chars ? s.substr(0, 4 * max_chars) : s),
             max_chars);
}

}  // namespace moeprobe
