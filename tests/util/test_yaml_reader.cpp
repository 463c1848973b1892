// The one YAML reader: core-schema scalars, one JSON conversion, range-checked getters, and
// errors that name the file, the key path and the line.
#include <gtest/gtest.h>

#include "util/error.h"
#include "util/yaml_reader.h"

namespace moeprobe {
namespace {

const YamlReader kReader("t.yaml");

nlohmann::json convert(const std::string& text) {
  return kReader.to_json(kReader.parse(text), "");
}

// Runs f and returns the InputError it throws.
template <class F>
InputError error_of(F f) {
  try {
    f();
  } catch (const InputError& e) {
    return e;
  }
  ADD_FAILURE() << "expected an InputError";
  return InputError("", "", "");
}

TEST(YamlReader, CoreSchemaBooleansNullsAndStrings) {
  const auto j = convert(
      "a: true\nb: True\nc: FALSE\nd: yes\ne: no\nf: on\ng: \"true\"\nh: ~\ni: null\nj:\n"
      "k: Null\nl: tRue\n");
  EXPECT_EQ(j["a"], true);
  EXPECT_EQ(j["b"], true);
  EXPECT_EQ(j["c"], false);
  EXPECT_EQ(j["d"], "yes");  // YAML 1.1 booleans are strings in the core schema
  EXPECT_EQ(j["e"], "no");
  EXPECT_EQ(j["f"], "on");
  EXPECT_EQ(j["g"], "true");  // quoted: always a string
  EXPECT_TRUE(j["h"].is_null());
  EXPECT_TRUE(j["i"].is_null());
  EXPECT_TRUE(j["j"].is_null());
  EXPECT_TRUE(j["k"].is_null());
  EXPECT_EQ(j["l"], "tRue");
}

TEST(YamlReader, CoreSchemaNumbers) {
  const auto j = convert(
      "a: 12\nb: -3\nc: 0x1F\nd: 0o17\ne: 1.5\nf: 1e3\ng: .5\nh: \"12\"\ni: 1_000\nj: 012\n"
      "k: 4294967296\n");
  EXPECT_TRUE(j["a"].is_number_integer());
  EXPECT_EQ(j["a"], 12);
  EXPECT_EQ(j["b"], -3);
  EXPECT_EQ(j["c"], 31);
  EXPECT_EQ(j["d"], 15);
  EXPECT_TRUE(j["e"].is_number_float());
  EXPECT_DOUBLE_EQ(j["f"].get<double>(), 1000.0);
  EXPECT_DOUBLE_EQ(j["g"].get<double>(), 0.5);
  EXPECT_EQ(j["h"], "12");
  EXPECT_EQ(j["i"], "1_000");  // not a core-schema integer
  EXPECT_EQ(j["j"], 12);       // decimal, not octal
  EXPECT_EQ(j["k"], 4294967296LL);
}

TEST(YamlReader, CoreSchemaEdgeSpellings) {
  const auto j = convert(
      "a: 5.\nb: +5\nc: .\nd: 0x\ne: 0o8\nf: 1e\ng: 1e+\nh: +inf\ni: .Infinity\n"
      "k: 0xfF\nl: -0x1\nm: .5e-1\nn: 1.e2\n");
  EXPECT_DOUBLE_EQ(j["a"].get<double>(), 5.0);
  EXPECT_EQ(j["b"], 5);
  for (const char* s : {"c", "d", "e", "f", "g", "h", "i", "l"}) EXPECT_TRUE(j[s].is_string()) << s;
  EXPECT_EQ(j["k"], 255);
  EXPECT_DOUBLE_EQ(j["m"].get<double>(), 0.05);
  EXPECT_DOUBLE_EQ(j["n"].get<double>(), 100.0);
  // Infinities are floats of the schema that JSON cannot hold: named as such, not as strings.
  for (const char* inf : {"+.inf", "-.Inf", ".INF"})
    EXPECT_EQ(error_of([&] { convert(std::string("h: ") + inf + "\n"); }).field(), "h") << inf;
  // A million digits are scanned in constant stack (std::regex overflowed it at 19 kB).
  const std::string digits(1'000'000, '7');
  EXPECT_NE(error_of([&] { convert("big: " + digits + "\n"); }).problem().find("64 bits"),
            std::string::npos);
  EXPECT_DOUBLE_EQ(convert("x: 0." + digits + "\n")["x"].get<double>(), 0.7777777777777778);
  EXPECT_EQ(convert("s: " + digits + "x\n")["s"].get<std::string>().size(), digits.size() + 1);
}

TEST(YamlReader, NumbersThatCannotBeHeldAreErrors) {
  const auto e = error_of([] { convert("x:\n  y: 99999999999999999999\n"); });
  EXPECT_EQ(e.file(), "t.yaml");
  EXPECT_EQ(e.field(), "x.y");
  EXPECT_NE(e.problem().find("line 2"), std::string::npos) << e.what();
  EXPECT_NE(e.problem().find("64 bits"), std::string::npos) << e.what();
  EXPECT_EQ(error_of([] { convert("a: [1, 1e999]\n"); }).field(), "a[1]");
  EXPECT_EQ(error_of([] { convert("a: .nan\n"); }).field(), "a");  // JSON has no NaN
}

TEST(YamlReader, TypedGettersCheckTypeAndRange) {
  const YAML::Node n = kReader.parse("big: 4294967296\nf: 2.5\ns: abc\nb: True\nq: \"7\"\n");
  EXPECT_EQ(kReader.integer(n["big"], "big", 0, int64_t(1) << 40), 4294967296LL);
  const auto range = error_of([&] { kReader.integer(n["big"], "big", 0, 2147483647); });
  EXPECT_EQ(range.field(), "big");
  EXPECT_NE(range.problem().find("line 1"), std::string::npos);
  EXPECT_NE(range.problem().find("out of range"), std::string::npos);
  EXPECT_NE(error_of([&] { kReader.integer(n["f"], "f", 0, 10); }).problem().find("an integer"),
            std::string::npos);
  EXPECT_DOUBLE_EQ(kReader.number(n["f"], "f", 0, 10), 2.5);
  EXPECT_NE(error_of([&] { kReader.number(n["f"], "f", 0, 1); }).problem().find("out of range"),
            std::string::npos);
  EXPECT_NE(error_of([&] { kReader.number(n["s"], "s"); }).problem().find("a number"),
            std::string::npos);
  EXPECT_NE(error_of([&] { kReader.integer(n["q"], "q", 0, 10); }).problem().find("an integer"),
            std::string::npos);  // a quoted number is a string
  EXPECT_TRUE(kReader.boolean(n["b"], "b"));
  EXPECT_NE(error_of([&] { kReader.boolean(n["s"], "s"); }).problem().find("true or false"),
            std::string::npos);
  EXPECT_EQ(kReader.string(n["s"], "s"), "abc");
}

TEST(YamlReader, UnknownAndDuplicateKeysNameThePathAndLine) {
  const YAML::Node n = kReader.parse("top:\n  good: 1\n  typo: 2\n");
  const auto e = error_of([&] { kReader.check_keys(n["top"], "top", {"good"}); });
  EXPECT_EQ(e.field(), "top.typo");
  EXPECT_NE(e.problem().find("line 3"), std::string::npos) << e.what();
  EXPECT_NE(e.problem().find("unknown key"), std::string::npos);
  EXPECT_NE(e.problem().find("good"), std::string::npos);
  const YAML::Node d = kReader.parse("a: 1\nb: 2\na: 3\n");
  const auto dup = error_of([&] { kReader.check_keys(d, "", {"a", "b"}); });
  EXPECT_EQ(dup.field(), "a");
  EXPECT_NE(dup.problem().find("duplicate"), std::string::npos);
  EXPECT_NE(dup.problem().find("line 3"), std::string::npos);
}

TEST(YamlReader, MalformedYamlNamesTheLine) {
  const auto e = error_of([] { kReader.parse("a: 1\nb: [2\n"); });
  EXPECT_EQ(e.field().rfind("line ", 0), 0u) << e.what();
  EXPECT_NE(e.problem().find("malformed YAML"), std::string::npos);
}

}  // namespace
}  // namespace moeprobe
