// report.html's figures: which ones a hypothesis's detail calls for, that repeated bodies are drawn
// once, that hundreds of experts become a binned image with a few ticks, that odd text is escaped
// and that malformed detail draws nothing instead of failing.
#include <cmath>
#include <cstring>
#include <map>
#include <regex>
#include <set>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "reports/html_report.h"
#include "reports/png_image.h"
#include "reports/report_figures.h"
#include "reports/svg_plot.h"
#include "tests/reports/report_fixture.h"

namespace moeprobe {
namespace {

using Json = nlohmann::json;

Json square(std::size_t n, double off) {
  Json m = Json::array();
  for (std::size_t i = 0; i < n; ++i) {
    Json row = Json::array();
    for (std::size_t j = 0; j < n; ++j) row.push_back(i == j ? 1.0 : off + 0.001 * (i + j));
    m.push_back(row);
  }
  return m;
}

std::multiset<std::string> figure_keys(const std::string& html) {
  std::multiset<std::string> out;
  const std::regex re("data-figure=\"([^\"]*)\"");
  for (auto it = std::sregex_iterator(html.begin(), html.end(), re); it != std::sregex_iterator();
       ++it)
    out.insert((*it)[1]);
  return out;
}

RunResult run_with_detail(const Json& detail, int layers = 2) {
  RunResult r = testing::sample_run();
  r.hypotheses.resize(1);
  r.hypotheses[0].per_layer.clear();
  for (int l = 0; l < layers; ++l) r.hypotheses[0].per_layer.push_back({l, l, 0.1 * l, detail});
  return r;
}

TEST(HtmlFigures, DetailKeysCallForTheirFigures) {
  Json d = {{"entities", {"0", "1", "2", "3", "F"}},
            {"similarity", {{"act", square(5, 0.3)}, {"up", square(5, 0.2)}}},
            {"mean_neuron_similarity", {{"act", square(4, 0.5)}}},
            {"router_similarity", square(4, 0.1)},
            {"pca_points", {{0, 1}, {1, 0}, {5, 5}, {0, 0}, {1, 1}}},
            {"pca_outliers", {2}},
            {"dark_cross", {2}},
            {"pairs", {{{"a", 1}, {"b", 0}, {"tau", 0.7}}, {{"a", 2}, {"b", 1}, {"tau", 0.6}}}},
            {"mean_output_similarity", square(5, 0.4)},
            {"weight_similarity", square(4, 0.3)},
            {"rank_count", {{3, 1}, {1, 3}}},
            {"rank_count_axes", "rows: score rank, columns: norm rank (0 = smallest)"},
            {"selection_counts", {4, 2, 1, 1}},
            {"routing_map", {{0.7, 0.3, 0, 0}, {0, 0, 0.6, 0.4}}}};
  const std::string html = render_html(run_with_detail(d));
  const auto keys = figure_keys(html);
  for (const char* k :
       {"heatmap:similarity.act", "heatmap:similarity.up", "heatmap:mean_neuron_similarity.act",
        "scatter:router_vs_mean_neuron.act", "pca", "heatmap:pairs.tau",
        "heatmap:mean_output_similarity", "scatter:weight_vs_output", "heatmap:rank_count",
        "bars:selection_counts", "heatmap:routing_map"})
    EXPECT_EQ(keys.count(k), 2u) << k;  // one per layer
  EXPECT_EQ(keys.count("trend"), 1u);
  // Both layers carry the same matrices: the second layer's figures reuse the first's bodies.
  EXPECT_NE(html.find("<use href=\"#g"), std::string::npos);
  EXPECT_NE(html.find("norm rank (0 = smallest)"), std::string::npos);
  EXPECT_NE(html.find("PCA outlier"), std::string::npos);
  EXPECT_NE(html.find("dark-cross expert"), std::string::npos);
  EXPECT_NE(html.find("R² = "), std::string::npos);
  // A layer selector, CSS only, and every panel shown when printed.
  EXPECT_NE(html.find("type=\"radio\""), std::string::npos);
  EXPECT_NE(html.find("@media print"), std::string::npos);
  EXPECT_NE(html.find("prefers-color-scheme:dark"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
}

TEST(HtmlFigures, MalformedDetailDrawsNothingAndDoesNotThrow) {
  for (const Json& bad :
       {Json{{"similarity", "not a map"}}, Json{{"similarity", {{"act", {{1, 2}, {3}}}}}},
        Json{{"similarity", {{"act", {{1, "x"}, {3, 4}}}}}}, Json{{"pca_points", {{1}, {2}}}},
        Json{{"pairs", {{{"a", -1}, {"b", 0}, {"tau", 1}}}}}, Json{{"rank_count", Json::array()}},
        Json{{"selection_counts", {{1}}}}, Json{{"router_similarity", square(3, 0)}}, Json::array(),
        Json("text")}) {
    std::string html;
    ASSERT_NO_THROW(html = render_html(run_with_detail(bad))) << bad.dump();
    const auto keys = figure_keys(html);
    EXPECT_EQ(keys.size(), keys.count("trend")) << bad.dump();
  }
}

TEST(HtmlFigures, HundredsOfExpertsAreBinnedWithFewLabels) {
  HeatMap m;
  m.values = square(384, 0.2).get<std::vector<std::vector<double>>>();
  for (int k = 0; k < 384; ++k) m.labels.push_back(std::to_string(k));
  m.scale = similarity_scale();
  const SvgFigure f = heat_map_svg(m);
  EXPECT_NE(f.body.find("<image"), std::string::npos);
  EXPECT_NE(f.body.find("data:image/png;base64,"), std::string::npos);
  std::size_t rects = 0;  // the colour legend's steps and the frame, no per-cell rectangles
  for (std::size_t p = f.body.find("<rect"); p != std::string::npos;
       p = f.body.find("<rect", p + 1))
    ++rects;
  EXPECT_LT(rects, 30u);
  std::size_t texts = 0;
  for (std::size_t p = f.body.find("<text"); p != std::string::npos;
       p = f.body.find("<text", p + 1))
    ++texts;
  EXPECT_LT(texts, 30u);
  EXPECT_NE(f.body.find("6 × 6 block"), std::string::npos);
  EXPECT_LT(f.body.size(), 40000u);
}

// The chunks of the PNG inside a data URI: type -> payload size.
std::map<std::string, std::size_t> png_chunks(const std::string& body) {
  const std::string marker = "data:image/png;base64,";
  const std::size_t at = body.find(marker);
  if (at == std::string::npos) return {};
  const std::size_t end = body.find('"', at);
  const std::string b64 = body.substr(at + marker.size(), end - at - marker.size());
  std::string bytes;
  unsigned acc = 0;
  int bits = 0;
  for (char c : b64) {
    const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const char* p = std::strchr(alphabet, c);
    if (c == '=' || !p) break;
    acc = acc << 6 | static_cast<unsigned>(p - alphabet);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      bytes += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  std::map<std::string, std::size_t> out;
  for (std::size_t pos = 8; pos + 8 <= bytes.size();) {
    std::size_t n = 0;
    for (int k = 0; k < 4; ++k) n = n << 8 | static_cast<std::uint8_t>(bytes[pos + k]);
    out[bytes.substr(pos + 4, 4)] = n;
    pos += 12 + n;
  }
  return out;
}

TEST(HtmlFigures, BinnedImagesHoldOnlyTheLevelsPresent) {
  HeatMap m;
  m.values.assign(100, std::vector<double>(100, 0.25));
  m.values[0][0] = -1;
  m.scale = similarity_scale();
  auto chunks = png_chunks(heat_map_svg(m).body);
  ASSERT_TRUE(chunks.count("IDAT"));
  EXPECT_EQ(chunks["PLTE"], 2u * 3);  // -1 (the first block) and 0.25; no transparent entry
  EXPECT_FALSE(chunks.count("tRNS"));
  for (auto& row : m.values)
    for (std::size_t j = 0; j < 4; ++j) row[j] = std::nan("");  // two blocks of nothing but NaN
  chunks = png_chunks(heat_map_svg(m).body);
  EXPECT_EQ(chunks["PLTE"], 2u * 3);  // 0.25 and the transparent entry
  EXPECT_EQ(chunks["tRNS"], 2u);
}

TEST(HtmlFigures, LegendsFillWithThePagesGradients) {
  HeatMap m;
  m.values = square(5, 0.1).get<std::vector<std::vector<double>>>();
  m.scale = similarity_scale();
  EXPECT_NE(heat_map_svg(m).body.find("fill=\"url(#moeprobe-diverging)\""), std::string::npos);
  m.scale = count_scale(7);
  EXPECT_NE(heat_map_svg(m).body.find("fill=\"url(#moeprobe-sequential)\""), std::string::npos);
  const std::string defs = colour_scale_defs();
  EXPECT_NE(defs.find("<linearGradient id=\"moeprobe-diverging\""), std::string::npos);
  EXPECT_NE(defs.find("<linearGradient id=\"moeprobe-sequential\""), std::string::npos);
  // The top of the bar is the high end: red for similarity, dark blue for counts.
  EXPECT_NE(defs.find("offset=\"0\" stop-color=\"" + similarity_scale().css(1) + "\""),
            std::string::npos);
  EXPECT_NE(defs.find("offset=\"1\" stop-color=\"" + count_scale(7).css(0) + "\""),
            std::string::npos);
  const std::string html = render_html(testing::sample_run());
  std::size_t defined = 0;
  for (std::size_t p = html.find("id=\"moeprobe-diverging\""); p != std::string::npos;
       p = html.find("id=\"moeprobe-diverging\"", p + 1))
    ++defined;
  EXPECT_EQ(defined, 1u);
}

TEST(HtmlFigures, DotsAreWholePixelsOncePerPixel) {
  Scatter s;
  s.x = {0, 1, 1, 1.0001, 2};
  s.y = {0, 1, 1, 1.0001, 0.5};
  s.fit_line = false;
  const std::string body = scatter_svg(s).body;
  const std::size_t at = body.find("class=\"dots\" d=\"");
  ASSERT_NE(at, std::string::npos);
  const std::string d = body.substr(at + 16, body.find('"', at + 16) - at - 16);
  EXPECT_EQ(d.find('.'), std::string::npos) << d;
  std::size_t dots = 0;
  for (std::size_t p = d.find("h0"); p != std::string::npos; p = d.find("h0", p + 1)) ++dots;
  EXPECT_EQ(dots, 3u) << d;  // the three coinciding points are one dot
  EXPECT_EQ(d[0], 'M');
  // 600 dots of noise fit in a few kilobytes.
  Scatter noise;
  for (int k = 0; k < 600; ++k) {
    noise.x.push_back(std::sin(k * 12.9898) * 43758.5453 -
                      std::floor(std::sin(k * 12.9898) * 43758.5453));
    noise.y.push_back(std::sin(k * 78.233) * 12345.678 -
                      std::floor(std::sin(k * 78.233) * 12345.678));
  }
  EXPECT_LT(scatter_svg(noise).body.size(), 7000u);
}

TEST(HtmlFigures, HundredsOfBarsAreOnePath) {
  BarChart b;
  for (int k = 0; k < 256; ++k) b.values.push_back(k % 7);
  const std::string body = bar_chart_svg(b).body;
  EXPECT_EQ(body.find("class=\"bar\""), std::string::npos);
  ASSERT_NE(body.find("<path class=\"bars\""), std::string::npos);
  std::size_t strokes = 0;
  for (std::size_t p = body.find('V'); p != std::string::npos; p = body.find('V', p + 1)) ++strokes;
  EXPECT_EQ(strokes, 256u - 256u / 7 - 1);  // one per non-zero bar
  b.values.resize(10);
  EXPECT_NE(bar_chart_svg(b).body.find("<rect class=\"bar\""), std::string::npos);
}

TEST(HtmlFigures, TextIsEscapedEverywhere) {
  RunResult r = testing::sample_run();
  r.model.path = "models/<b>&\"quoted\" 'x'";
  r.hypotheses[0].per_layer[0].detail = {{"entities", {"<e0>", "&1"}},
                                         {"similarity", {{"<kind>", square(2, 0.1)}}}};
  const std::string html = render_html(r);
  EXPECT_NE(html.find("models/&lt;b&gt;&amp;&quot;quoted&quot; &apos;x&apos;"), std::string::npos);
  EXPECT_EQ(html.find("<b>&"), std::string::npos);
  EXPECT_EQ(html.find("<e0>"), std::string::npos);
  EXPECT_EQ(html.find("<kind>"), std::string::npos);
  EXPECT_NE(html.find("&lt;e0&gt;"), std::string::npos);
}

TEST(HtmlFigures, LinearFitAndBase64) {
  const auto f = fit_line({0, 1, 2, 3, std::nan("")}, {1, 3, 5, 7, 2});
  ASSERT_TRUE(f);
  EXPECT_NEAR(f->slope, 2, 1e-12);
  EXPECT_NEAR(f->intercept, 1, 1e-12);
  EXPECT_NEAR(f->r2, 1, 1e-12);
  EXPECT_EQ(f->n, 4u);
  EXPECT_FALSE(fit_line({1, 1, 1}, {1, 2, 3}));
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64_encode("fooba"), "Zm9vYmE=");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  PaletteImage im{2, 1, {0, 1}, {{0, 0, 0}, {255, 255, 255}}, -1};
  const std::string uri = png_data_uri(im);
  EXPECT_EQ(uri.rfind("data:image/png;base64,iVBORw0KGgo", 0), 0u);  // the PNG signature
  im.pixels = {0, 2};
  EXPECT_THROW(png_data_uri(im), std::invalid_argument);
}

}  // namespace
}  // namespace moeprobe
