// Checked reading of untrusted text (src/util/input_file.h) and the bounds of the YAML reader:
// depth and number limits while parsing, file types refused without blocking, alias expansion.
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "util/error.h"
#include "util/input_file.h"
#include "util/yaml_reader.h"

namespace moeprobe {
namespace {

namespace fs = std::filesystem;

template <class F>
std::string error_of(F f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected an InputError";
  return "";
}

TEST(InputFile, ParseJsonLimitsDepthAndNumbers) {
  EXPECT_EQ(parse_json("{\"a\": [1, 2.5, \"x\", null, {\"b\": true}]}", "f.json")["a"][4]["b"],
            true);
  EXPECT_EQ(parse_json("18446744073709551615", "f.json").get<uint64_t>(), 18446744073709551615ull);
  EXPECT_EQ(parse_json("-9223372036854775808", "f.json").get<int64_t>(), INT64_MIN);
  const std::string deep = std::string(65, '[') + std::string(65, ']');
  EXPECT_NE(error_of([&] { parse_json(deep, "f.json"); }).find("nesting deeper than 64"),
            std::string::npos);
  EXPECT_NO_THROW(parse_json(std::string(64, '[') + std::string(64, ']'), "f.json"));
  // Beyond 64 bits an integer is a float number (as Python's json reads it): real
  // tokenizer_config.json files carry model_max_length 1000000000000000019884624838656.
  EXPECT_TRUE(parse_json("[18446744073709551616]", "f.json")[0].is_number_float());
  EXPECT_NE(error_of([] { parse_json("{\"x\": 1e999}", "f.json"); }).find("f.json"),
            std::string::npos);
  EXPECT_NE(error_of([] { parse_json("{\"x\": ", "f.json"); }).find("malformed JSON"),
            std::string::npos);
  EXPECT_EQ(parse_json("{\"k\": 1, \"k\": 2}", "f.json")["k"], 2);  // the last duplicate wins
}

TEST(InputFile, ReadTextFileRefusesWhatIsNotARegularFileWithoutBlocking) {
  const fs::path dir = fs::temp_directory_path() / ("moeprobe-input-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "ok.txt") << "hello";
  EXPECT_EQ(read_text_file(dir / "ok.txt", "text file"), "hello");
  EXPECT_NE(
      error_of([&] { read_text_file(dir / "ok.txt", "text file", 4); }).find("above the limit"),
      std::string::npos);
  ASSERT_EQ(::mkfifo((dir / "fifo").c_str(), 0600), 0);
  EXPECT_NE(error_of([&] { read_text_file(dir / "fifo", "suite file"); }).find("FIFO"),
            std::string::npos);
  EXPECT_NE(error_of([&] { read_text_file(dir, "suite file"); }).find("a directory"),
            std::string::npos);
  EXPECT_NE(error_of([] { read_text_file("/dev/zero", "suite file"); }).find("character device"),
            std::string::npos);
  EXPECT_NE(error_of([&] { read_text_file(dir / "absent", "suite file"); }).find("cannot open"),
            std::string::npos);
  EXPECT_TRUE(is_inside(dir / "ok.txt", dir));
  EXPECT_TRUE(is_inside(dir / "x" / ".." / "ok.txt", dir / "ok.txt"));
  EXPECT_FALSE(is_inside(dir / "ok.txt", dir / "ok"));
  EXPECT_FALSE(is_inside(dir, dir / "ok.txt"));
  fs::remove_all(dir);
}

TEST(InputFile, MessagesEscapeControlBytesAndStayShort) {
  const InputError e(std::string("a\0b", 3), "k\x1b[2J", std::string("x\0y", 3));
  EXPECT_EQ(std::string(e.what()), "a\\x00b: k\\x1B[2J: x\\x00y");
  EXPECT_EQ(printable(std::string(500, 'z'), 10), std::string(10, 'z') + "...");
  EXPECT_EQ(json_excerpt(nlohmann::json::array({1, 2})), "[1,2]");
  EXPECT_EQ(json_excerpt(nlohmann::json(std::vector<int>(100, 0))), "an array of 100 values");
  EXPECT_NE(
      error_of([] { check_utf8("ok\nb\xC3\x28", "s.yaml"); }).find("s.yaml: line 2: column 2"),
      std::string::npos);
  EXPECT_NO_THROW(check_utf8("d\xC3\xA9j\xC3\xA0 \xF0\x9F\x98\x80", "s.yaml"));
  EXPECT_THROW(check_utf8("\xED\xA0\x80", "s.yaml"), InputError);  // a UTF-16 surrogate
  EXPECT_THROW(check_utf8("\xC0\xAF", "s.yaml"), InputError);      // overlong
}

TEST(InputFile, MessagesStayBoundedWhateverTheyQuote) {
  const std::string huge(10 << 20, 'v');
  // json_excerpt: a long string value, a long key, a big array or object.
  EXPECT_EQ(json_excerpt(nlohmann::json(huge)), "\"" + std::string(79, 'v') + "...");
  EXPECT_LE(json_excerpt(nlohmann::json{{huge, 1}}).size(), 83u);
  EXPECT_EQ(json_excerpt(nlohmann::json::object({{"a", huge}})).substr(0, 7), "{\"a\":\"v");
  // The last bound in InputError itself, at a UTF-8 boundary (a call site that quotes a
  // value whole still gives a message of a few KB).
  const std::string e_acute = "\xC3\xA9";
  std::string many;
  for (int i = 0; i < 5000; ++i) many += e_acute;
  const InputError e("f.json", huge, "expected x, got " + many);
  const std::string what = e.what();
  EXPECT_LT(what.size(), InputError::kMaxFieldBytes + InputError::kMaxProblemBytes + 32);
  EXPECT_EQ(what.substr(0, 12), "f.json: vvvv");
  EXPECT_NO_THROW(check_utf8(what, "message"));
  EXPECT_EQ(what.substr(what.size() - 3), "...");
  // nlohmann's parse error quotes the last token: an unterminated 10 MB string.
  const std::string msg = error_of([&] { parse_json("{\"k\": \"" + huge, "big.json"); });
  EXPECT_NE(msg.find("big.json: byte "), std::string::npos) << msg.substr(0, 300);
  EXPECT_LT(msg.size(), 400u);
}

TEST(InputFile, YamlBoundsAliasesAndDepth) {
  const YamlReader r("t.yaml");
  EXPECT_EQ(r.to_json(r.parse("a: &x [1, 2]\nb: *x\n"), "")["b"][1], 2);
  std::string bomb = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 8; ++i) {
    bomb += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int k = 0; k < 10; ++k) bomb += (k ? ", *a" : "*a") + std::to_string(i - 1);
    bomb += "]\n";
  }
  EXPECT_NE(error_of([&] { r.parse(bomb); }).find("expands to more than"), std::string::npos);
  EXPECT_NE(error_of([&] { r.parse("a: &p [*p]\n"); }).find("t.yaml: line 1"), std::string::npos);
  const std::string deep = "a: " + std::string(100000, '[') + std::string(100000, ']') + "\n";
  EXPECT_NE(error_of([&] { r.parse(deep); }).find("nesting deeper than 64"), std::string::npos);
  EXPECT_NE(error_of([] { YamlReader("u.yaml").parse("a: \"\xFF\"\n"); }).find("UTF-8"),
            std::string::npos);
}

}  // namespace
}  // namespace moeprobe
