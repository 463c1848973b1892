// report.html of a 64-layer, 256-expert run stays small enough to open (issue: < 10 MB, rendered
// in < 2 s; the render time is measured in a browser by tests/browser/check_report.py --large and
// recorded in docs/reports.md). The run is synthesized: one hypothesis per figure family, each
// layer carrying full-size matrices of noise (the worst case for the PNG compression), and a
// second hypothesis sharing the first's matrices as in the closer_look suite. Set
// MOEPROBE_LARGE_REPORT_OUT=FILE to keep the page.
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <iostream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "reports/html_report.h"
#include "tests/reports/report_fixture.h"

namespace moeprobe {
namespace {

using Json = nlohmann::json;

// A symmetric matrix of deterministic noise around `mean`, ones on the diagonal.
Json noise_matrix(std::size_t n, double mean, std::uint64_t seed) {
  std::vector<std::vector<double>> m(n, std::vector<double>(n, 1.0));
  std::uint64_t s = seed * 0x9e3779b97f4a7c15ull + 1;
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = i + 1; j < n; ++j) {
      s ^= s << 13;
      s ^= s >> 7;
      s ^= s << 17;
      m[i][j] = m[j][i] = mean + 0.3 * (static_cast<double>(s % 20001) / 10000.0 - 1.0);
    }
  return m;
}

RunResult large_run(int layers, std::size_t experts) {
  RunResult r = testing::sample_run();
  r.model.num_experts = static_cast<int>(experts);
  r.model.moe_layers.clear();
  for (int l = 0; l < layers; ++l) r.model.moe_layers.push_back(l);
  Json entities = Json::array();
  for (std::size_t e = 0; e < experts; ++e) entities.push_back(std::to_string(e));
  Json with_f = entities;
  with_f.push_back("F");
  std::vector<Json> families(7);
  r.hypotheses.resize(families.size() + 1);
  for (auto& h : r.hypotheses) h.per_layer.clear();
  for (int l = 0; l < layers; ++l) {
    const std::uint64_t s = static_cast<std::uint64_t>(l) * 16;
    families[0] = {{"entities", with_f},
                   {"similarity",
                    {{"act", noise_matrix(experts + 1, 0.3, s)},
                     {"up", noise_matrix(experts + 1, 0.3, s + 1)},
                     {"down", noise_matrix(experts + 1, 0.3, s + 2)}}}};
    families[1] = {{"entities", entities},
                   {"mean_neuron_similarity",
                    {{"act", noise_matrix(experts, 0.5, s + 3)},
                     {"up", noise_matrix(experts, 0.2, s + 4)},
                     {"down", noise_matrix(experts, 0.2, s + 5)}}},
                   {"router_similarity", noise_matrix(experts, 0.1, s + 6)}};
    Json points = Json::array(), tau = Json::array();
    for (std::size_t e = 0; e <= experts; ++e)
      points.push_back({std::sin(e * 1.0), std::cos(e * 0.7)});
    families[2] = {{"entities", with_f},
                   {"pca_points", points},
                   {"pca_outliers", {3}},
                   {"dark_cross", {3}},
                   {"explained_variance", {0.2, 0.1}},
                   {"matrix", "act"}};
    for (std::size_t a = 1; a < experts; ++a)
      for (std::size_t b = 0; b < a; ++b)
        tau.push_back({{"a", a}, {"b", b}, {"tau", std::cos(a * 0.1 + b)}});
    families[3] =
        l == 0 || l == layers - 1 ? Json{{"matrix", "act"}, {"pairs", tau}} : Json::object();
    families[4] = {{"entities", with_f},
                   {"measure", "angular"},
                   {"mean_output_similarity", noise_matrix(experts + 1, 0.6, s + 7)},
                   {"weight_similarity", noise_matrix(experts, 0.3, s + 8)}};
    Json counts = Json::array();
    for (std::size_t e = 0; e < experts; ++e) counts.push_back(100 + (e * 37) % 50);
    families[5] = {{"rank_count", noise_matrix(experts, 40, s + 9)},
                   {"rank_count_axes", "rows: score rank, columns: norm rank (0 = smallest)"}};
    families[6] = {{"selection_counts", counts}};
    for (std::size_t k = 0; k < families.size(); ++k)
      r.hypotheses[k].per_layer.push_back({l, l, 0.3 + 0.001 * l, families[k]});
    r.hypotheses.back().per_layer.push_back({l, l, 0.3 + 0.001 * l, families[0]});
  }
  return r;
}

TEST(HtmlScale, SixtyFourLayersOf256ExpertsStayUnderTenMegabytes) {
  const auto t0 = std::chrono::steady_clock::now();
  const RunResult r = large_run(64, 256);
  const auto t1 = std::chrono::steady_clock::now();
  const std::string html = render_html(r);
  const auto t2 = std::chrono::steady_clock::now();
  std::cout << "synthesized in " << std::chrono::duration<double>(t1 - t0).count()
            << " s, rendered in " << std::chrono::duration<double>(t2 - t1).count() << " s\n";
  RecordProperty("report_html_bytes", static_cast<int>(html.size()));
  std::cout << "report.html of 64 layers x 256 experts: " << html.size() << " bytes\n";
  EXPECT_LT(html.size(), 10u * 1000 * 1000);
  if (const char* out = std::getenv("MOEPROBE_LARGE_REPORT_OUT")) std::ofstream(out) << html;
}

}  // namespace
}  // namespace moeprobe
