// report.html's figures: which ones a hypothesis's detail calls for, that repeated bodies are drawn
// once, that hundreds of experts become a binned image with a few ticks, that odd text is escaped
// and that malformed detail draws nothing instead of failing.
#include <cmath>
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
